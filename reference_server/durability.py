"""Group commit: one fsync for the commands every session finished in the same moment.

Each store commit used to fsync on its own, so every STORE, APPEND or EXPUNGE paid a disk flush.
Now the loop thread's commits skip their fsync (`Store.defer_fsync`) and the servers follow one
rule: nothing is sent to a client while a commit it could reflect is not yet on disk. Before
writing, a server awaits `GroupCommit.durable(user)`; the first waiter asks for one fsync of the WAL at the end of the
loop's current turn (so the sessions woken in that turn commit first), a dedicated thread runs it
while the loop goes on parsing and answering reads, and everyone whose commits it covers is released
together. So an acknowledged APPEND, flag change or POP3 QUIT is still on disk before its OK, and no
session (nor an IDLE push) ever tells a client of a message that a power cut could take back, which
would let its UID be handed out twice.

The fsync runs in a helper process (wal_sync.py) fed through a pipe, which the loop watches for the
answers: the loop never waits on the disk and never shares its interpreter lock with a thread that
does. Earlier measurements (bench/imap_sessions.py, docs/benchmarks.md): a flush thread fed by a
queue cost about three futex waits per command in lock hand-overs; the loop's default executor cost
more; an fsync in the loop itself stalled every session for the ~0.25 ms of each flush.

Which commits a reply "could reflect" is narrowed to its session's account: a session only ever
sees its own account's mailboxes, so a FETCH of one account does not wait for the flush of another
account's APPEND. With `[imap] workers` the processes share the file, and a session may read a
change another process committed but has not flushed yet; it must not announce that either. The
ledger of commit_marks.py, shared by the processes, says which account each commit touched and
which flushes (by any process: an fsync of the one WAL covers every process's commits before it)
covered it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from reference_server import wal_sync
from reference_server.store import Store

log = logging.getLogger("mailspec.server")
_Waiters = list[Callable[[OSError | None], None]]  # called after a flush, with its error if it failed


class GroupCommit:
    """The durability barrier of one store, shared by the servers of one event loop."""

    # How the fsync helper is started (its WAL path is appended); tests may wrap it.
    helper = [sys.executable, "-I", "-S", str(Path(wal_sync.__file__))]

    def __init__(self, store: Store) -> None:
        self.store = store
        self.marks = store.marks
        self._in_flight: tuple[tuple[int, ...], _Waiters] | None = None  # snapshot, its waiters
        self._next: _Waiters | None = None  # waiters for a flush not begun yet
        self._proc: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def pending(self, user: str | None) -> bool:
        """Whether a commit to `user`'s account (None: a session not logged in) may not be on disk."""
        return self.marks.unflushed(user)

    @property
    def pending_here(self) -> bool:
        """Whether a commit by this process may not be on disk yet."""
        return self.marks.unflushed_here()

    async def durable(self, user: str | None) -> None:
        """Return once every commit to `user`'s account made so far, here or in another process of
        this server, is on disk."""
        await self._wait(lambda: self.marks.unflushed(user))

    async def durable_here(self) -> None:
        """Return once every commit this process made so far is on disk."""
        await self._wait(self.marks.unflushed_here)

    async def _wait(self, unflushed: Callable[[], bool]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def then(error: OSError | None) -> None:
            if not done.done():  # (a waiter that went away cancelled it)
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)

        self.when_durable(unflushed, then)
        await done

    def when_durable(self, unflushed: Callable[[], bool], then: Callable[[OSError | None], None]) -> None:
        """Call `then(None)` once `unflushed()` is false: at once if it is, else after the flush that
        makes it so; `then(error)` if a flush fails. No task or future per waiter: a connection's
        answer goes out from the flush's own callback."""
        if not unflushed():
            then(None)
            return
        before = self.marks.snapshot()

        def flushed(error: OSError | None) -> None:
            if error is not None or not unflushed():
                then(error)
            elif self.marks.snapshot() == before:
                # Another process's commit still in its COMMIT: give it a moment, do not spin.
                asyncio.get_running_loop().call_later(0.0005, self.when_durable, unflushed, then)
            else:
                self.when_durable(unflushed, then)

        if self._next is None:
            self._next = []
            if self._in_flight is None:
                # At the end of this turn of the loop: the sessions woken with this one commit
                # first, and one fsync covers them all.
                asyncio.get_running_loop().call_soon(self._begin)
        self._next.append(flushed)

    def _begin(self) -> None:
        if self._in_flight is not None or not self._next:
            return
        # Commits after this snapshot wait for the next flush.
        self._in_flight, self._next = (self.marks.snapshot(), self._next), None
        try:
            proc = self._proc or self._start_helper()
            assert proc.stdin is not None
            os.write(proc.stdin.fileno(), b"s")
        except OSError as exc:
            self._finish(exc)

    def _start_helper(self) -> subprocess.Popen[bytes]:
        self._loop = asyncio.get_running_loop()
        proc = subprocess.Popen([*self.helper, self.store.wal_path], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        self._loop.add_reader(proc.stdout.fileno(), self._answered)
        self._proc = proc
        return proc

    def _answered(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        try:
            answer = os.read(self._proc.stdout.fileno(), 1)
        except BlockingIOError:
            return
        if not answer:  # the helper is gone: the next flush starts another
            self._stop_helper()
        if self._in_flight is not None:
            self._finish(None if answer == b"k" else OSError(f"fsync of {self.store.wal_path} failed"))

    def _finish(self, error: OSError | None) -> None:
        assert self._in_flight is not None
        snapshot, waiters = self._in_flight
        self._in_flight = None
        if error is None:
            self.marks.flushed(snapshot)
        for flushed in waiters:  # in the order they asked; what they commit now waits for the next
            try:
                flushed(error)
            except Exception:
                log.exception("a group commit waiter failed")
        if self._next:  # asked for while this flush ran: begin the next one now
            self._begin()

    def _stop_helper(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None and proc.stdout is not None and self._loop is not None
        self._loop.remove_reader(proc.stdout.fileno())
        proc.stdin.close()
        proc.stdout.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """End the fsync helper (after the servers stopped; waiters not yet released stay waiting)."""
        self._stop_helper()
