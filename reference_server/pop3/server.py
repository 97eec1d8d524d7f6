"""The asyncio POP3 server: sockets, TLS, timers and limits around `Pop3Session`.

One listener for plain POP3 with STLS (RFC 2595) and one for implicit TLS (RFC 8314). The session
does all protocol work; this module only moves bytes, upgrades to TLS when the session asks, applies
the idle timer (autologout) and the connection limit, and makes sure every connection ends cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl

from reference_server.accounts import AccountDirectory
from reference_server.config import ServerConfig
from reference_server.pop3.session import Pop3Session, SessionSettings
from reference_server.store import Store

log = logging.getLogger("mailspec.server")
READ_SIZE = 65536


class Pop3Server:
    """POP3 listeners over one store. `start()` binds; `ports` then holds the real port numbers."""

    def __init__(self, config: ServerConfig, store: Store, directory: AccountDirectory,
                 ssl_context: ssl.SSLContext | None, faults: frozenset[str] = frozenset()) -> None:
        self.config = config
        self.store = store
        self.directory = directory
        self.ssl_context = ssl_context
        self.faults = faults
        self.ports: dict[str, int] = {}
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[None]] = set()
        self._closing = False

    def _settings(self) -> SessionSettings:
        c = self.config
        return SessionSettings(
            implementation=c.implementation, allow_plaintext_auth=c.allow_plaintext_auth,
            tls_available=self.ssl_context is not None, max_line=c.max_line, login_delay=c.login_delay,
            expire=c.expire, apop=any(a.apop_secret for a in c.accounts),
        )

    async def start(self) -> None:
        c = self.config
        if c.pop3_port is not None:
            srv = await asyncio.start_server(self._plain, c.host, c.pop3_port)
            self._servers.append(srv)
            self.ports["pop3"] = srv.sockets[0].getsockname()[1]
        if c.pop3s_port is not None and self.ssl_context is not None:
            srv = await asyncio.start_server(self._implicit, c.host, c.pop3s_port, ssl=self.ssl_context,
                                             ssl_handshake_timeout=min(30.0, c.idle_timeout))
            self._servers.append(srv)
            self.ports["pop3s"] = srv.sockets[0].getsockname()[1]
        log.info("POP3 listening on %s", self.ports)

    async def close(self) -> None:
        """Stop listening and end every open connection (without UPDATE: nothing is deleted)."""
        self._closing = True
        for srv in self._servers:
            srv.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=2)
        for srv in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(srv.wait_closed(), 1)
        self._servers.clear()

    async def _plain(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve(reader, writer, tls=False)

    async def _implicit(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve(reader, writer, tls=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tls: bool) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = writer.get_extra_info("peername")
        if len(self._connections) >= self.config.max_connections:
            log.info("refusing %s: %d connections open", peer, len(self._connections))
            with contextlib.suppress(Exception):
                writer.write(b"-ERR [SYS/TEMP] too many connections, try again later\r\n")
                await asyncio.wait_for(writer.drain(), 5)
            await _close(writer)
            return
        self._connections.add(task)
        session = Pop3Session(self.store, self.directory, self._settings(), self.faults, tls_active=tls)
        log.debug("connection from %s (tls=%s)", peer, tls)
        try:
            await self._run(session, reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
            log.debug("connection %s ended: %r", peer, exc)
        except asyncio.CancelledError:
            pass  # server shutting down
        except Exception:
            log.exception("POP3 session %s crashed", peer)
            with contextlib.suppress(Exception):
                writer.write(b"-ERR [SYS/TEMP] internal server error\r\n")
        finally:
            session.connection_lost()
            self._connections.discard(task)
            if self._closing:
                # Shutting down: do not wait for a TLS peer's close_notify.
                writer.transport.abort()
            else:
                await _close(writer)

    async def _run(self, session: Pop3Session, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter) -> None:
        writer.write(session.greeting())
        await writer.drain()
        while True:
            try:
                data = await asyncio.wait_for(reader.read(READ_SIZE), self.config.idle_timeout)
            except TimeoutError:
                writer.write(session.timed_out().data)
                await asyncio.wait_for(writer.drain(), 5)
                return
            if not data:
                return  # peer closed: connection_lost() in the caller deletes nothing
            reply = session.receive_data(data)
            if reply.data:
                writer.write(reply.data)
                await writer.drain()
            if reply.close:
                return
            if reply.start_tls:
                assert self.ssl_context is not None
                await writer.start_tls(self.ssl_context,
                                       ssl_handshake_timeout=min(30.0, self.config.idle_timeout))
                session.tls_started()


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 2)
