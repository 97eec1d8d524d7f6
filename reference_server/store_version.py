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
Every writer of the file must go through `Store` (the project's programs all do).
"""

from __future__ import annotations

import mmap
import os

_CELLS = 2  # begun, ended


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

    def begin(self) -> int:
        """Inside a write transaction, before its COMMIT: returns the number `end` takes."""
        n = self._q[0] + 1
        self._q[0] = n
        return n

    def end(self, n: int) -> None:
        """After that COMMIT or ROLLBACK."""
        self._q[1] = n

    def settled(self) -> int | None:
        """The number of the last transaction if every one begun has ended (what is read after this
        call may be cached under it), else None (read without caching)."""
        q = self._q
        begun = q[0]
        return begun if q[1] == begun else None
