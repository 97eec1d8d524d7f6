"""The asyncio IMAP server: sockets, TLS, timers, IDLE pushes and limits around `ImapSession`.

One listener for plain IMAP with STARTTLS (RFC 3501 §6.2.1) and one for implicit TLS (RFC 8314).
The session does all protocol work; the connections of listeners.py move bytes, upgrade to TLS when
asked and apply the connection limit; this module says when a session times out (autologout, RFC
3501 §5.4, at least 30 minutes by default, and a limit on how long a started command may take to
arrive). Store events wake sessions that share the
mailbox: an idling client gets the change pushed at once (well under 50 ms). When several processes
serve IMAP (reference_server/workers.py), each tells the others of its durable changes through
`peers` and pushes theirs to its own sessions the same way.

Thousands of sessions may idle in one process, so a connection costs no task and no timer of its
own: one store subscription per server finds the sessions of a changed mailbox, and the listeners'
one sweeper task enforces both timeouts from each connection's time of last input.
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
from reference_server.listeners import Connection, SessionListeners
from reference_server.store import Store, StoreEvent
from reference_server.workers import PeerLink


def imap_settings(config: ServerConfig, tls_available: bool) -> ImapSettings:
    caps = CapabilitySet.from_config(config.imap_capabilities_off, config.imap_literal)
    limits = ReaderLimits(max_line=config.imap_max_line, max_literal=config.imap_max_literal,
                          max_append=config.imap_max_append, max_depth=config.imap_max_depth,
                          literal_plus=caps.literal_mode)
    return ImapSettings(implementation=config.implementation, allow_plaintext_auth=config.allow_plaintext_auth,
                        tls_available=tls_available, capabilities=caps, limits=limits)


class ImapServer(SessionListeners):
    """IMAP listeners over one store. `start()` binds; `ports` then holds the real port numbers."""

    protocol, plain_name, implicit_name = "IMAP", "imap", "imaps"
    too_many_connections = b"* BYE [UNAVAILABLE] too many connections, try again later\r\n"
    internal_error = b"* BYE [SERVERBUG] internal server error\r\n"

    def __init__(self, config: ServerConfig, store: Store, directory: AccountDirectory,
                 ssl_context: ssl.SSLContext | None, faults: frozenset[str] = frozenset()) -> None:
        super().__init__(config, store, directory, ssl_context, faults)
        self.settings = imap_settings(config, ssl_context is not None)
        self._changed: set[int] = set()  # mailbox ids whose sessions are due a push
        self._changed_here: set[int] = set()  # those changed by this process, for the peers
        self._push_waiting: set[Connection] = set()  # idling clients not reading: news waits
        self.peers: PeerLink | None = None  # the other IMAP processes, if any (set before start)
        self._loop_thread = 0
        self._unsubscribe: Callable[[], None] | None = None

    def _listen_ports(self) -> tuple[int | None, int | None]:
        return self.config.imap_port, self.config.imaps_port

    def _handshake_timeout(self) -> float:
        return min(30.0, self.config.imap_command_timeout)

    def _new_session(self, tls: bool) -> ImapSession:
        return ImapSession(self.store, self.directory, self.settings, self.faults, tls_active=tls)

    def _greeting_ends(self, session: ImapSession) -> bool:
        return session.state is State.LOGOUT

    def _timeouts(self) -> tuple[float, ...]:
        return self.config.imap_command_timeout, self.config.imap_idle_timeout

    def _farewell(self, session: ImapSession, quiet: float) -> bytes | None:
        """Autologout after idle_timeout without input (RFC 3501 §5.4: at least 30 minutes by
        default); BYE [LIMIT] when a started command stops arriving for command_timeout."""
        if session.reader.mid_command:
            return session.command_timed_out() if quiet >= self.config.imap_command_timeout else None
        return session.timed_out() if quiet >= self.config.imap_idle_timeout else None

    async def start(self) -> None:
        self._loop_thread = threading.get_ident()
        self._loop = asyncio.get_running_loop()
        self._unsubscribe = self.store.subscribe(self._on_event)
        if self.peers is not None:
            await self.peers.start(self._note_change)
        await super().start()

    async def close(self) -> None:
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
            self._keep(self._push_changes())
        self._changed.add(mailbox_id)
        if here:
            self._changed_here.add(mailbox_id)

    async def _push_changes(self) -> None:
        # After the command that made the change has been answered (its durability wait comes first
        # in the loop), so its own answer goes out first and the idling sessions are told in one pass.
        await asyncio.sleep(0)
        changed, self._changed = self._changed, set()
        here, self._changed_here = self._changed_here, set()
        if here and self.peers is not None:
            # The other processes may announce it only once it is durable (they check the shared
            # ledger too, but telling them after our own flush spares them one).
            if self.group_commit is not None and self.group_commit.pending_here:
                await self.group_commit.durable_here()
            self.peers.tell(here)
        watching = collections.deque(
            conn for conn in self._live
            if (selected := conn.session.selected) is not None and selected.info.id in changed)
        while held := self._push_pass(watching):
            await self._send(*held)

    def _push_pass(self, watching: collections.deque[Connection]) -> tuple[Connection, bytes] | None:
        """Write each session its news as soon as it is known, so the first hear of it while the later
        ones are worked out (they share the store's cached reads of their account). Stops at news
        that may show a commit not yet flushed, and returns it (to be sent after a flush)."""
        group = self.group_commit
        while watching:
            conn = watching.popleft()
            out = self._take_push(conn)
            if out and group is not None and group.pending(conn.session.user):
                return conn, out
            conn.send(out)
        return None

    def _take_push(self, conn: Connection) -> bytes:
        """What an idling session must be told (a session in a command hears of it in its answer)."""
        if not conn.session.idling or conn in self._push_waiting or conn.closing:
            return b""
        if conn.backed_up:
            # The client is not reading: keep the news in the session until its buffer drains.
            self._push_waiting.add(conn)
            self._keep(self._push_when_drained(conn))
            return b""
        return conn.session.idle_updates()  # type: ignore[no-any-return]

    async def _push_when_drained(self, conn: Connection) -> None:
        try:
            await conn.drained()
        finally:
            self._push_waiting.discard(conn)
        out = self._take_push(conn)
        if out:
            await self._send(conn, out)

    async def _send(self, conn: Connection, out: bytes) -> None:
        group = self.group_commit
        if group is not None:  # never announce what a power cut could take back
            await group.durable(conn.session.user)
        conn.send(out)
