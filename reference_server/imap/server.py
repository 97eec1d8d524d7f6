"""The asyncio IMAP server: sockets, TLS, timers, IDLE pushes and limits around `ImapSession`.

One listener for plain IMAP with STARTTLS (RFC 3501 §6.2.1) and one for implicit TLS (RFC 8314).
The session does all protocol work; this module moves bytes, upgrades to TLS when asked, applies the
autologout timer (RFC 3501 §5.4: at least 30 minutes by default), a limit on how long a started
command may take to arrive, and the connection limit. Store events wake sessions that share the
mailbox: an idling client gets the change pushed at once (well under 50 ms). When several processes
serve IMAP (reference_server/workers.py), each tells the others of its durable changes through
`peers` and pushes theirs to its own sessions the same way.

Thousands of sessions may idle in one process, so a connection costs one task and no timer of its
own: one store subscription per server finds the sessions of a changed mailbox, and one sweeper
task enforces both timeouts from each connection's time of last input.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
import threading
from collections.abc import Callable

from reference_server.accounts import AccountDirectory
from reference_server.config import ServerConfig
from reference_server.imap.capabilities import CapabilitySet
from reference_server.imap.parser import ReaderLimits
from reference_server.imap.session import ImapSession, ImapSettings, State
from reference_server.listeners import READ_SIZE, SessionListeners
from reference_server.store import Store, StoreEvent
from reference_server.workers import PeerLink


def imap_settings(config: ServerConfig, tls_available: bool) -> ImapSettings:
    caps = CapabilitySet.from_config(config.imap_capabilities_off, config.imap_literal)
    limits = ReaderLimits(max_line=config.imap_max_line, max_literal=config.imap_max_literal,
                          max_append=config.imap_max_append, max_depth=config.imap_max_depth,
                          literal_plus=caps.literal_mode)
    return ImapSettings(implementation=config.implementation, allow_plaintext_auth=config.allow_plaintext_auth,
                        tls_available=tls_available, capabilities=caps, limits=limits)


class _Connection:
    """A live session as the server tracks it, for pushes and timeouts."""

    __slots__ = ("last_input", "push_waiting", "session", "writer")

    def __init__(self, session: ImapSession, writer: asyncio.StreamWriter, now: float) -> None:
        self.session = session
        self.writer = writer
        self.last_input = now
        self.push_waiting = False


class ImapServer(SessionListeners):
    """IMAP listeners over one store. `start()` binds; `ports` then holds the real port numbers."""

    protocol, plain_name, implicit_name = "IMAP", "imap", "imaps"
    too_many_connections = b"* BYE [UNAVAILABLE] too many connections, try again later\r\n"
    internal_error = b"* BYE [SERVERBUG] internal server error\r\n"

    def __init__(self, config: ServerConfig, store: Store, directory: AccountDirectory,
                 ssl_context: ssl.SSLContext | None, faults: frozenset[str] = frozenset()) -> None:
        super().__init__(config, store, directory, ssl_context, faults)
        self.settings = imap_settings(config, ssl_context is not None)
        self._live: dict[ImapSession, _Connection] = {}
        self._changed: set[int] = set()  # mailbox ids whose sessions are due a push
        self._changed_here: set[int] = set()  # those changed by this process, for the peers
        self.peers: PeerLink | None = None  # the other IMAP processes, if any (set before start)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._background: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] | None = None

    def _listen_ports(self) -> tuple[int | None, int | None]:
        return self.config.imap_port, self.config.imaps_port

    def _handshake_timeout(self) -> float:
        return min(30.0, self.config.imap_command_timeout)

    def _new_session(self, tls: bool) -> ImapSession:
        return ImapSession(self.store, self.directory, self.settings, self.faults, tls_active=tls)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._unsubscribe = self.store.subscribe(self._on_event)
        if self.peers is not None:
            await self.peers.start(self._note_change)
        self._keep(asyncio.ensure_future(self._sweep()))
        await super().start()

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await super().close()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.peers is not None:
            self.peers.close()

    # -- pushes -----------------------------------------------------------------------------------------

    def _on_event(self, event: StoreEvent) -> None:
        # Store callbacks run on whichever thread changed the store. Pushes go out from the loop
        # after the changing command has been answered, once per batch of changes.
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._note_change(event.mailbox_id, True)
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to tell
                loop.call_soon_threadsafe(self._note_change, event.mailbox_id, True)

    def _note_change(self, mailbox_id: int, here: bool = False) -> None:
        """A mailbox changed, in this process (`here`) or in a peer process, which made it durable."""
        if not self._changed:
            self._keep(asyncio.ensure_future(self._push_changes()))
        self._changed.add(mailbox_id)
        if here:
            self._changed_here.add(mailbox_id)

    def _keep(self, task: asyncio.Task[None]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _push_changes(self) -> None:
        # After the durability wait of the command that made the change, so its own answer goes
        # out first and the idling sessions are then told in one pass.
        await self._durable()
        changed, self._changed = self._changed, set()
        here, self._changed_here = self._changed_here, set()
        if here and self.peers is not None:
            self.peers.tell(here)  # durable now, so the other processes may announce it too
        watching = collections.deque(
            conn for conn in self._live.values()
            if (selected := conn.session.selected) is not None and selected.info.id in changed)
        while held := self._push_pass(watching):
            await self._send(*held)

    def _push_pass(self, watching: collections.deque[_Connection]) -> tuple[_Connection, bytes] | None:
        """Write each session its news as soon as it is known, so the first hear of it while the later
        ones are worked out; one look at SQLite's data_version serves the pass. Stops at news that may
        show another process's commit not yet flushed, and returns it (to be sent after a flush)."""
        group = self.group_commit
        with self.store.pinned_reads():
            while watching:
                conn = watching.popleft()
                out = self._take_push(conn)
                if out and group is not None and group.pending:
                    return conn, out
                if out and not conn.writer.transport.is_closing():
                    conn.writer.write(out)
        return None

    def _take_push(self, conn: _Connection) -> bytes:
        """What an idling session must be told (a session in a command hears of it in its answer)."""
        if not conn.session.idling or conn.push_waiting:
            return b""
        transport = conn.writer.transport
        if transport.is_closing():
            return b""
        if transport.get_write_buffer_size() > transport.get_write_buffer_limits()[1]:
            # The client is not reading: keep the news in the session until its buffer drains.
            conn.push_waiting = True
            self._keep(asyncio.ensure_future(self._push_when_drained(conn)))
            return b""
        return conn.session.idle_updates()

    async def _push_when_drained(self, conn: _Connection) -> None:
        try:
            await conn.writer.drain()
        except ConnectionError:
            return
        finally:
            conn.push_waiting = False
        out = self._take_push(conn)
        if out:
            await self._send(conn, out)

    async def _send(self, conn: _Connection, out: bytes) -> None:
        await self._durable()  # never announce a message a power cut could still take back
        if not conn.writer.transport.is_closing():
            conn.writer.write(out)

    # -- timeouts -----------------------------------------------------------------------------------------

    async def _sweep(self) -> None:
        """Autologout after idle_timeout without input; BYE [LIMIT] when a started command stalls."""
        cfg = self.config
        interval = min(1.0, cfg.imap_command_timeout / 4, cfg.imap_idle_timeout / 4)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            for conn in list(self._live.values()):
                session, writer = conn.session, conn.writer
                stalled = session.reader.mid_command
                limit = cfg.imap_command_timeout if stalled else cfg.imap_idle_timeout
                if now - conn.last_input >= limit and not writer.transport.is_closing():
                    writer.write(session.command_timed_out() if stalled else session.timed_out())
                    writer.close()  # sends what is buffered first; the reader then sees the end

    # -- one connection -------------------------------------------------------------------------------------

    async def _run(self, session: ImapSession, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        conn = _Connection(session, writer, loop.time())
        self._live[session] = conn
        try:
            writer.write(session.greeting())
            await writer.drain()
            while True:
                data = await reader.read(READ_SIZE)
                if not data or session.state is State.LOGOUT:
                    return
                conn.last_input = loop.time()
                reply = session.receive_data(data)
                if reply.data:
                    await self._durable()  # an OK only once what the command stored is on disk
                    writer.write(reply.data)
                    await writer.drain()
                if reply.close:
                    return
                if reply.start_tls:
                    await self._start_tls(writer)
                    session.tls_started()
        finally:
            del self._live[session]
