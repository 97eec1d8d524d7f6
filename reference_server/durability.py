"""Group commit: one fsync for the commands every session finished in the same moment.

Each store commit used to fsync on its own, so every STORE, APPEND or EXPUNGE paid a disk flush.
Now the loop thread's commits skip their fsync (`Store.defer_fsync`) and the servers follow one
rule: nothing is sent to any client while a commit is not yet on disk. Before writing, a server
awaits `GroupCommit.durable()`; the first waiter asks for one fsync of the WAL at the end of the
loop's current turn (so the sessions woken in that turn commit first), a dedicated thread runs it
while the loop goes on parsing and answering reads, and everyone whose commits it covers is released
together. So an acknowledged APPEND, flag change or POP3 QUIT is still on disk before its OK, and no
session (nor an IDLE push) ever tells a client of a message that a power cut could take back, which
would let its UID be handed out twice.

The flush thread is a plain thread fed by a queue rather than the loop's default executor, which
cost ~17 us more per fsync in CPU; running the fsync in the loop itself was cheaper still in CPU but
stalled every session for the ~0.25 ms of each flush and gave fewer commands per second
(bench/imap_sessions.py, both ways, docs/benchmarks.md).

With `[imap] workers` the processes share the file, and a session may read a change another process
committed but has not flushed yet; it must not announce that either. So in a shared store
(`shared=True`) a commit by any other connection since the last flush (SQLite's `data_version`
moved) also counts as pending, and the flush, an fsync of the one WAL all processes write, covers
it too.
"""

from __future__ import annotations

import asyncio
import queue
import threading

from reference_server.store import Store

_Request = tuple[int, int, "asyncio.Future[None]"]  # commits and data_version covered, and who waits


class GroupCommit:
    """The durability barrier of one store, shared by the servers of one event loop."""

    def __init__(self, store: Store, shared: bool = False) -> None:
        self.store = store
        self.shared = shared  # other processes commit to the same file
        self.synced = 0  # store.commits covered by a finished fsync
        self.synced_version = 0  # data_version read when that fsync began (shared only)
        self._flush: asyncio.Future[None] | None = None
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()  # None: stop
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pending(self) -> bool:
        return self.store.commits > self.synced or (
            self.shared and self.store.data_version() > self.synced_version)

    async def durable(self) -> None:
        """Return once every commit made so far, here or (when shared) anywhere, is on disk."""
        target = self.store.commits
        version = self.store.data_version() if self.shared else 0
        while self.synced < target or self.synced_version < version:
            if self._flush is None:
                # At the end of this turn of the loop: the sessions woken with this one commit
                # first, and one fsync covers them all.
                self._flush = asyncio.get_running_loop().create_future()
                asyncio.get_running_loop().call_soon(self._sync)
            # shield: a session that goes away must not cancel the others' wait
            await asyncio.shield(self._flush)

    def _sync(self) -> None:
        target = self.store.commits  # commits after this point wait for the next fsync
        version = self.store.data_version() if self.shared else 0
        flush, self._flush = self._flush, None
        assert flush is not None
        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            self._thread = threading.Thread(target=self._flusher, name="group-commit", daemon=True)
            self._thread.start()
        self._requests.put((target, version, flush))

    def close(self) -> None:
        """End the flush thread (after the servers stopped; waiters not yet released stay waiting)."""
        if self._thread is not None:
            self._requests.put(None)
            self._thread.join(5)
            self._thread = None

    def _flusher(self) -> None:
        while True:
            first = self._requests.get()
            if first is None:
                return
            batch = [first]
            while not self._requests.empty():  # one fsync covers every request made before it
                request = self._requests.get()
                if request is None:
                    self._requests.put(None)  # stop after this flush
                    break
                batch.append(request)
            error: OSError | None = None
            try:
                self.store.sync_wal()
            except OSError as exc:
                error = exc
            assert self._loop is not None
            try:
                self._loop.call_soon_threadsafe(self._done, batch, error)
            except RuntimeError:
                return  # the loop is closed

    def _done(self, batch: list[_Request], error: OSError | None) -> None:
        for target, version, flush in batch:
            if flush.done():
                continue
            if error is not None:
                flush.set_exception(error)
                continue
            self.synced = max(self.synced, target)
            self.synced_version = max(self.synced_version, version)
            flush.set_result(None)
