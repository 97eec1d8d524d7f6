"""What every protocol's asyncio server shares: listeners, the connection limit, clean endings.

A protocol server (POP3, IMAP) subclasses `SessionListeners`, names its two listeners (plain with an
in-band TLS upgrade, and implicit TLS per RFC 8314) and the lines it sends when it refuses or fails
a connection, and implements `_new_session` and `_run`; the byte moving itself stays per protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from abc import ABC, abstractmethod
from typing import Any

from reference_server.accounts import AccountDirectory
from reference_server.config import ServerConfig
from reference_server.durability import GroupCommit
from reference_server.store import Store

log = logging.getLogger("mailspec.server")
READ_SIZE = 65536


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
        # before `await self._durable()` (durability.py).
        self.group_commit: GroupCommit | None = None
        # Listening sockets bound beforehand, by name (`plain_name`, `implicit_name`), used instead of
        # binding the configured ports: how the worker processes of reference_server/workers.py share them.
        self.listen_sockets: dict[str, socket.socket] = {}
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[None]] = set()
        self._closing = False

    @abstractmethod
    def _listen_ports(self) -> tuple[int | None, int | None]:
        """(plain port, implicit-TLS port) from the config; None leaves that listener out."""

    @abstractmethod
    def _handshake_timeout(self) -> float: ...

    @abstractmethod
    def _new_session(self, tls: bool) -> Any: ...

    @abstractmethod
    async def _run(self, session: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Move bytes between the connection and the session until either side ends it."""

    async def start(self) -> None:
        plain, implicit = self._listen_ports()
        host = self.config.host
        bound = self.listen_sockets
        if plain is not None:
            where: dict[str, Any] = {"sock": bound[self.plain_name]} if bound else {"host": host, "port": plain}
            await self._listen(self.plain_name, asyncio.start_server(self._plain, **where))
        if implicit is not None and self.ssl_context is not None:
            where = {"sock": bound[self.implicit_name]} if bound else {"host": host, "port": implicit}
            await self._listen(self.implicit_name, asyncio.start_server(
                self._implicit, ssl=self.ssl_context, ssl_handshake_timeout=self._handshake_timeout(), **where))
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
            log.info("refusing %s: %d %s connections open", peer, len(self._connections), self.protocol)
            with contextlib.suppress(Exception):
                writer.write(self.too_many_connections)
                await asyncio.wait_for(writer.drain(), 5)
            await close_writer(writer)
            return
        self._connections.add(task)
        session = self._new_session(tls)
        log.debug("%s connection from %s (tls=%s)", self.protocol, peer, tls)
        try:
            await self._run(session, reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
            log.debug("connection %s ended: %r", peer, exc)
        except asyncio.CancelledError:
            pass  # server shutting down
        except Exception:
            log.exception("%s session %s crashed", self.protocol, peer)
            with contextlib.suppress(Exception):
                writer.write(self.internal_error)
        finally:
            session.connection_lost()
            self._connections.discard(task)
            if self._closing:
                writer.transport.abort()  # shutting down: do not wait for a TLS peer's close_notify
            else:
                await close_writer(writer)

    async def _durable(self) -> None:
        """Wait until what the store committed so far is on disk; call before sending anything."""
        if self.group_commit is not None and self.group_commit.pending:
            await self.group_commit.durable()

    async def _start_tls(self, writer: asyncio.StreamWriter) -> None:
        assert self.ssl_context is not None
        await writer.start_tls(self.ssl_context, ssl_handshake_timeout=self._handshake_timeout())


async def close_writer(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 2)
