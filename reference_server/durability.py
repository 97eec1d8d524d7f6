"""Group commit: one fsync for the commands every session finished in the same moment.

Each store commit used to fsync on its own, in the event loop, so every STORE, APPEND or EXPUNGE
stopped all sessions for the length of a disk flush. Now the loop thread's commits skip their fsync
(`Store.defer_fsync`) and the servers follow one rule: nothing is sent to any client while a commit
is not yet on disk. Before writing, a server awaits `GroupCommit.durable()`; the first waiter starts
an fsync of the WAL in a worker thread (the loop goes on parsing and answering reads meanwhile), and
everyone whose commits it covers is released together. So an acknowledged APPEND, flag change or
POP3 QUIT is still on disk before its OK, and no session (nor an IDLE push) ever tells a client of
a message that a power cut could take back, which would let its UID be handed out twice.
"""

from __future__ import annotations

import asyncio

from reference_server.store import Store


class GroupCommit:
    """The durability barrier of one store, shared by the servers of one event loop."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.synced = 0  # store.commits covered by a finished fsync
        self._flush: asyncio.Future[None] | None = None

    @property
    def pending(self) -> bool:
        return self.store.commits > self.synced

    async def durable(self) -> None:
        """Return once every commit made so far is on disk."""
        target = self.store.commits
        while self.synced < target:
            if self._flush is None:
                self._flush = asyncio.ensure_future(self._sync())
            # shield: a session that goes away must not cancel the others' fsync
            await asyncio.shield(self._flush)

    async def _sync(self) -> None:
        target = self.store.commits  # commits after this point wait for the next fsync
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.store.sync_wal)
            self.synced = max(self.synced, target)
        finally:
            self._flush = None
