"""Which account each not-yet-flushed commit touched, shared by the processes of one server.

The durability rule (durability.py): nothing reaches a client while a commit it could reflect is not
on disk. A session only ever sees its own account's mailboxes, so "a commit it could reflect" is a
commit to that account, made by this process or, with `[imap] workers`, by another one on the same
store file. Before this ledger every unflushed commit anywhere held every reply back, so a FETCH of
one account waited for the fsync of another account's APPEND, and with several processes any commit
by another process did.

The ledger is an array of 64-bit counters in an anonymous shared mapping, made before the workers
are forked so that they all see it. Every cell has exactly one writer, so no lock is needed:

- ``done[p]``: the commits process p has made with a deferred fsync (written by p's loop thread);
- ``flushed[r][p]``: the value of ``done[p]`` when an fsync by process r began, i.e. p's commits
  that r's flush made durable (an fsync of the WAL covers whatever any process wrote to it before);
  written by r's loop thread when r's flush has ended;
- ``marks[a][p]``: the number ``done[p]`` takes with the last commit by p to an account whose name
  hashes to slot a (written by p's loop thread inside the write transaction, before its COMMIT, so
  a reader who can see the commit also sees its mark). Accounts sharing a slot just wait together.

A commit to account A by p is unflushed while ``marks[slot(A)][p]`` exceeds every ``flushed[r][p]``.
Only the loop threads of the server's processes defer their fsync; any other writer (another thread,
another program) syncs each commit before it returns, so nothing of theirs can be unflushed.
"""

from __future__ import annotations

import functools
import mmap
import zlib

MAX_PROCESSES = 64  # [imap] workers is checked against this (config.py)
SLOTS = 1024  # account hash slots; one more slot stands for "every account"
_DONE = 0
_FLUSHED = MAX_PROCESSES
_MARKS = _FLUSHED + MAX_PROCESSES * MAX_PROCESSES
_ANY = _MARKS + SLOTS * MAX_PROCESSES  # process 0's mark in the "every account" slot
_CELLS = _MARKS + (SLOTS + 1) * MAX_PROCESSES


@functools.lru_cache(maxsize=4096)
def account_slot(user: str | None) -> int:
    """The slot of an account's marks (the same in every process: not Python's salted hash)."""
    return SLOTS if user is None else zlib.crc32(user.encode()) % SLOTS


class CommitMarks:
    """The ledger of one store: create it before forking; each process then sets `me` and `count`."""

    def __init__(self) -> None:
        self._map = mmap.mmap(-1, _CELLS * 8)  # anonymous and MAP_SHARED: forked children share it
        self._q = memoryview(self._map).cast("q")
        self.me = 0  # this process's index (0: the first; workers 1..n-1)
        self.count = 1  # how many processes write to the store with deferred fsyncs

    @property
    def commits(self) -> int:
        """Commits this process made with a deferred fsync."""
        return self._q[_DONE + self.me]

    # -- the writer: the loop thread, inside a write transaction ------------------------------------

    def mark(self, user: str | None) -> tuple[int, int]:
        """Before COMMIT: the coming commit touches `user`'s account (None: any account). Returns
        what `unmark` needs should the COMMIT fail."""
        cell = _MARKS + account_slot(user) * MAX_PROCESSES + self.me
        old = self._q[cell]
        self._q[cell] = self._q[_DONE + self.me] + 1
        return cell, old

    def unmark(self, token: tuple[int, int]) -> None:
        cell, old = token
        self._q[cell] = old

    def committed(self) -> None:
        """After COMMIT: one more deferred commit by this process."""
        self._q[_DONE + self.me] += 1

    # -- the flush: snapshot before the fsync, record after it ---------------------------------------

    def snapshot(self) -> tuple[int, ...]:
        """Every process's commit count now: an fsync beginning after this covers them all."""
        return tuple(self._q[_DONE:_DONE + self.count])

    def flushed(self, snapshot: tuple[int, ...]) -> None:
        """An fsync by this process that began after `snapshot` has finished."""
        row = _FLUSHED + self.me * MAX_PROCESSES
        q = self._q
        for p, n in enumerate(snapshot):
            if n > q[row + p]:
                q[row + p] = n

    # -- readers ---------------------------------------------------------------------------------------

    def unflushed(self, user: str | None) -> bool:
        """Whether a commit to `user`'s account (or to every account) may not be on disk yet."""
        q, count = self._q, self.count
        if count == 1:  # one process: its own marks against its own flushes
            flushed = q[_FLUSHED]
            return q[_MARKS + account_slot(user) * MAX_PROCESSES] > flushed or q[_ANY] > flushed
        for slot in (account_slot(user), SLOTS):
            base = _MARKS + slot * MAX_PROCESSES
            for p in range(count):
                mark = q[base + p]
                if mark and all(mark > q[_FLUSHED + r * MAX_PROCESSES + p] for r in range(count)):
                    return True
        return False

    def unflushed_here(self) -> bool:
        """Whether a commit by this process may not be on disk yet."""
        q, me = self._q, self.me
        return all(q[_DONE + me] > q[_FLUSHED + r * MAX_PROCESSES + me] for r in range(self.count))
