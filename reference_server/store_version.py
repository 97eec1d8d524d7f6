"""A store file's change count, kept beside it and shared by every process that opens it.

The store caches reads per thread (store.py) until the file changes. SQLite's `PRAGMA data_version`
says so, but asking is a statement with its own read transaction and file locks, a few microseconds
each time, and the IMAP server asked about twice per command. So every `Store` transaction also
counts itself in `<store>-version`, a small file each process maps into memory, and a cache check is
two memory reads.

Two counters, so no lock is needed: `begun` is advanced inside the write transaction (writers are
serialised by SQLite's write lock, so the increment is never lost), and `ended` is set to the same
number after COMMIT (or ROLLBACK). When the two are equal, every transaction begun so far has ended
and is visible: what a reader then reads may be cached under that number, and any later commit
changes `begun` before it becomes visible. While they differ (a transaction is under way, or an
`ended` write arrived late, after a newer transaction's) nothing is cached: the pair could come back,
but a settled number never does, since `begun` only grows.

Beside the two, one cell per account slot (commit_marks.account_slot) holds the number of the last
transaction that changed that account (the last cell: one that changed every account), written
inside the transaction too. A session only ever reads its own account, so its cached mailbox stays
valid while its account's label (the larger of its slot and the every-account slot) is unchanged,
however busy the other accounts are.
Every writer of the file must go through `Store` (the project's programs all do).
"""

from __future__ import annotations

import mmap
import os

from reference_server.commit_marks import SLOTS, account_slot

_BEGUN, _ENDED, _ACCOUNTS = 0, 1, 2
_ANY = _ACCOUNTS + SLOTS
_CELLS = _ACCOUNTS + SLOTS + 1


class StoreVersion:
    """The change count of one store file (`path` is the store's own path)."""

    def __init__(self, path: str) -> None:
        fd = os.open(path + "-version", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _CELLS * 8:
                os.ftruncate(fd, _CELLS * 8)  # zeros: a new count (or a racing opener's, the same)
            self._map = mmap.mmap(fd, _CELLS * 8)
        finally:
            os.close(fd)
        self._q = memoryview(self._map).cast("q")

    def begin(self, user: str | None) -> int:
        """Inside a write transaction changing `user`'s account (None: every account), before its
        COMMIT: returns the number `end` takes."""
        q = self._q
        n = q[_BEGUN] + 1
        q[_BEGUN] = n
        q[_ACCOUNTS + account_slot(user)] = n
        return n

    def end(self, n: int) -> None:
        """After that COMMIT or ROLLBACK."""
        self._q[_ENDED] = n

    def settled(self) -> int | None:
        """The number of the last transaction if every one begun has ended (what is read after this
        call may be cached under it), else None (read without caching)."""
        q = self._q
        begun = q[_BEGUN]
        return begun if q[_ENDED] == begun else None

    def label(self, user: str | None) -> int:
        """The last transaction that changed `user`'s account (or every account)."""
        q = self._q
        return max(q[_ACCOUNTS + account_slot(user)], q[_ANY])
