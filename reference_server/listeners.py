"""What every protocol's asyncio server shares: listeners, connections, limits, timeouts, clean endings.

A protocol server (POP3, IMAP) subclasses `SessionListeners`, names its two listeners (plain with an
in-band TLS upgrade, and implicit TLS per RFC 8314), the lines it sends when it refuses or fails a
connection, and how a session times out; the sessions themselves are sans-I/O state machines with
one driver interface (greeting, receive_data -> Reply, tls_started, connection_lost).

Each connection is an `asyncio.Protocol` (`Connection`): what arrives goes straight to the session
and its reply straight to the transport, with no task, stream or future per connection. A reply
that could reflect a commit not yet on disk waits for the group commit (durability.py); meanwhile
the connection reads nothing more, so commands are still answered in order. A client that does not
read its answers (the transport's buffer over its high-water mark) is not read from either.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import ssl
from abc import ABC, abstractmethod
from collections.abc import Coroutine
from typing import Any

from reference_server.accounts import AccountDirectory
from reference_server.config import ServerConfig
from reference_server.durability import GroupCommit
from reference_server.store import Store

log = logging.getLogger("mailspec.server")
_HOLD = 1 << 20  # octets of input kept while a reply waits for a flush, before reading stops


class SessionListeners(ABC):
    """Plain and implicit-TLS listeners over one store; `start()` binds, `ports` then holds the ports."""

    protocol = ""  # "POP3", for logs
    plain_name = ""  # key in `ports` ("pop3")
    implicit_name = ""  # ("pop3s")
    too_many_connections = b""  # sent to a connection over the limit, which is then closed
    internal_error = b""  # sent when a session raises

    def __init__(self, config: ServerConfig, store: Store, directory: AccountDirectory,
                 ssl_context: ssl.SSLContext | None, faults: frozenset[str] = frozenset()) -> None:
        self.config = config
        self.store = store
        self.directory = directory
        self.ssl_context = ssl_context
        self.faults = faults
        self.ports: dict[str, int] = {}
        # Set by the runtime when the store defers its fsyncs: then nothing may be sent to a client
        # before its account's commits are on disk (durability.py).
        self.group_commit: GroupCommit | None = None
        # Listening sockets bound beforehand, by name (`plain_name`, `implicit_name`), used instead of
        # binding the configured ports: how the worker processes of reference_server/workers.py share them.
        self.listen_sockets: dict[str, socket.socket] = {}
        self._servers: list[asyncio.Server] = []
        self._live: set[Connection] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False

    @abstractmethod
    def _listen_ports(self) -> tuple[int | None, int | None]:
        """(plain port, implicit-TLS port) from the config; None leaves that listener out."""

    @abstractmethod
    def _handshake_timeout(self) -> float: ...

    @abstractmethod
    def _new_session(self, tls: bool) -> Any: ...

    @abstractmethod
    def _timeouts(self) -> tuple[float, ...]:
        """Every timeout `_farewell` applies, so the sweeper looks often enough."""

    @abstractmethod
    def _farewell(self, session: Any, quiet: float) -> bytes | None:
        """What to send before closing a session that has sent nothing for `quiet` seconds, or None
        to keep it (autologout, or a command that stopped arriving halfway)."""

    def _greeting_ends(self, session: Any) -> bool:
        """Whether the greeting just sent ends the session (a BYE greeting)."""
        return False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        plain, implicit = self._listen_ports()
        host = self.config.host
        bound = self.listen_sockets
        loop = self._loop
        if plain is not None:
            where: dict[str, Any] = {"sock": bound[self.plain_name]} if bound else {"host": host, "port": plain}
            await self._listen(self.plain_name, loop.create_server(lambda: Connection(self, False), **where))
        if implicit is not None and self.ssl_context is not None:
            where = {"sock": bound[self.implicit_name]} if bound else {"host": host, "port": implicit}
            await self._listen(self.implicit_name, loop.create_server(
                lambda: Connection(self, True), ssl=self.ssl_context,
                ssl_handshake_timeout=self._handshake_timeout(), **where))
        self._keep(self._sweep())
        log.info("%s listening on %s", self.protocol, self.ports)

    async def _listen(self, name: str, starting: Any) -> None:
        srv: asyncio.Server = await starting
        self._servers.append(srv)
        self.ports[name] = srv.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and end every open connection (for POP3: without UPDATE, nothing deleted)."""
        self._closing = True
        for srv in self._servers:
            srv.close()
        for task in list(self._background):
            task.cancel()
        for conn in list(self._live):
            conn.abort()  # shutting down: do not wait for a TLS peer's close_notify
        for _ in range(2):
            await asyncio.sleep(0)  # the aborted connections' connection_lost() runs
        for srv in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(srv.wait_closed(), 1)
        self._servers.clear()

    def _keep(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` as a task the server holds on to (and cancels when it closes)."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _sweep(self) -> None:
        """One task for every connection's timeouts, from its time of last input (thousands of
        sessions may idle: no timer of their own)."""
        interval = min(1.0, *(t / 4 for t in self._timeouts()))
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            for conn in list(self._live):
                if conn.closing:
                    continue
                farewell = self._farewell(conn.session, now - conn.last_input)
                if farewell is not None:
                    conn.send(farewell)
                    conn.close()


class Connection(asyncio.Protocol):
    """One client connection between the transport and its sans-I/O session."""

    def __init__(self, server: SessionListeners, tls: bool) -> None:
        self.server = server
        self.tls = tls
        self.transport: asyncio.Transport | None = None
        self.session: Any = None
        self.last_input = 0.0
        self.closing = False
        self._held: list[bytes] = []  # input that came while a reply waited for a flush
        self._held_size = 0
        self._busy = False  # a reply waits for a flush, or TLS is starting: input is held
        self._upgrading = False  # TLS is starting: nothing may be read
        self._write_paused = False  # the client is not reading its answers
        self._drained: asyncio.Future[None] | None = None

    # -- asyncio.Protocol ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        srv = self.server
        peer = transport.get_extra_info("peername")
        if len(srv._live) >= srv.config.max_connections:
            log.info("refusing %s: %d %s connections open", peer, len(srv._live), srv.protocol)
            self.send(srv.too_many_connections)
            self.close()
            return
        assert srv._loop is not None
        self.last_input = srv._loop.time()
        self.session = srv._new_session(self.tls)
        srv._live.add(self)
        log.debug("%s connection from %s (tls=%s)", srv.protocol, peer, self.tls)
        self.send(self.session.greeting())  # before login: nothing of an account to wait for
        if srv._greeting_ends(self.session):
            self.close()

    def data_received(self, data: bytes) -> None:
        if self.closing or self.session is None:
            return
        assert self.server._loop is not None
        self.last_input = self.server._loop.time()
        if self._busy:
            self._held.append(data)
            self._held_size += len(data)
            if self._held_size > _HOLD:
                self._reading()
        else:
            self._feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if exc is not None:
            log.debug("connection ended: %r", exc)
        if self in self.server._live:
            self.server._live.discard(self)
            self.session.connection_lost()
        self._wake_writer()

    def pause_writing(self) -> None:
        self._write_paused = True
        self._reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._reading()
        self._wake_writer()

    # -- sending and ending ----------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        """Close after what is buffered has been sent."""
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    async def drained(self) -> None:
        """Return once the client has read enough of what was sent (or the connection is gone)."""
        while self._write_paused and not self.closing:
            if self._drained is None:
                self._drained = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._drained)

    @property
    def backed_up(self) -> bool:
        """Whether the client has stopped reading what it is sent."""
        return self._write_paused

    def _wake_writer(self) -> None:
        if self._drained is not None:
            if not self._drained.done():
                self._drained.set_result(None)
            self._drained = None

    def _reading(self) -> None:
        """Read while neither a reply nor the client holds us up."""
        if self.transport is None or self.transport.is_closing():
            return
        if self._upgrading or self._write_paused or self._held_size > _HOLD:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    # -- the session -----------------------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        srv = self.server
        try:
            reply = self.session.receive_data(data)
        except Exception:
            log.exception("%s session %s crashed", srv.protocol, self.transport.get_extra_info("peername")
                          if self.transport is not None else None)
            self.send(srv.internal_error)
            self.close()
            return
        group = srv.group_commit
        if reply.data and group is not None and group.pending(self.session.user):
            # Input meanwhile is held, not left unread: pausing and resuming the transport would
            # cost two system calls per reply, and the client mostly waits for this one anyway.
            self._busy = True
            user = self.session.user
            group.when_durable(lambda: group.pending(user), functools.partial(self._reply_durable, reply))
        else:
            self._act(reply)

    def _reply_durable(self, reply: Any, error: OSError | None) -> None:
        """An OK only once what the command stored is on disk (durability.py)."""
        if error is not None:
            log.error("%s: the store could not be synced: %s", self.server.protocol, error)
            self.send(self.server.internal_error)
            self.close()
            return
        self._busy = False
        self._act(reply)
        self._feed_held()
        self._reading()

    def _feed_held(self) -> None:
        while self._held and not self._busy and not self.closing:
            data = b"".join(self._held)
            self._held.clear()
            self._held_size = 0
            self._feed(data)

    def _act(self, reply: Any) -> None:
        if reply.start_tls and not reply.close:
            # Stop reading before the go-ahead goes out: the client's TLS hello is for the TLS
            # layer; whatever came in clear after the upgrade command is never run (RFC 3501 §6.2.1,
            # RFC 2595 §4).
            self._busy = self._upgrading = True
            self._held.clear()
            self._held_size = 0
            self._reading()
            self.send(reply.data)
            self.server._keep(self._start_tls())
            return
        self.send(reply.data)
        if reply.close:
            self.close()

    async def _start_tls(self) -> None:
        srv, transport = self.server, self.transport
        assert srv.ssl_context is not None and transport is not None and srv._loop is not None
        try:
            upgraded = await srv._loop.start_tls(transport, self, srv.ssl_context, server_side=True,
                                                 ssl_handshake_timeout=srv._handshake_timeout())
        except (ConnectionError, ssl.SSLError, TimeoutError, OSError) as exc:
            log.debug("%s TLS upgrade failed: %r", srv.protocol, exc)
            transport.abort()
            return
        if upgraded is None:
            transport.abort()
            return
        self.transport = upgraded
        self.session.tls_started()
        self._busy = self._upgrading = False
        self._feed_held()  # what the client sent over TLS before the upgrade call returned
        self._reading()
