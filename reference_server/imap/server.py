"""The asyncio IMAP server: sockets, TLS, timers, IDLE pushes and limits around `ImapSession`.

One listener for plain IMAP with STARTTLS (RFC 3501 §6.2.1) and one for implicit TLS (RFC 8314).
The session does all protocol work; this module moves bytes, upgrades to TLS when asked, applies the
autologout timer (RFC 3501 §5.4: at least 30 minutes by default), a limit on how long a started
command may take to arrive, and the connection limit. Store events wake sessions that share the
mailbox: an idling client gets the change pushed at once (well under 50 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl

from reference_server.accounts import AccountDirectory
from reference_server.config import ServerConfig
from reference_server.imap.capabilities import CapabilitySet
from reference_server.imap.parser import ReaderLimits
from reference_server.imap.session import ImapSession, ImapSettings
from reference_server.store import Store, StoreEvent

log = logging.getLogger("mailspec.server")
READ_SIZE = 65536


def imap_settings(config: ServerConfig, tls_available: bool) -> ImapSettings:
    caps = CapabilitySet.from_config(config.imap_capabilities_off, config.imap_literal)
    limits = ReaderLimits(max_line=config.imap_max_line, max_literal=config.imap_max_literal,
                          max_append=config.imap_max_append, max_depth=config.imap_max_depth,
                          literal_plus=caps.literal_mode)
    return ImapSettings(implementation=config.implementation, allow_plaintext_auth=config.allow_plaintext_auth,
                        tls_available=tls_available, capabilities=caps, limits=limits)


class ImapServer:
    """IMAP listeners over one store. `start()` binds; `ports` then holds the real port numbers."""

    def __init__(self, config: ServerConfig, store: Store, directory: AccountDirectory,
                 ssl_context: ssl.SSLContext | None, faults: frozenset[str] = frozenset()) -> None:
        self.config = config
        self.store = store
        self.directory = directory
        self.ssl_context = ssl_context
        self.faults = faults
        self.settings = imap_settings(config, ssl_context is not None)
        self.ports: dict[str, int] = {}
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[None]] = set()
        self._closing = False

    async def start(self) -> None:
        c = self.config
        if c.imap_port is not None:
            srv = await asyncio.start_server(self._plain, c.host, c.imap_port)
            self._servers.append(srv)
            self.ports["imap"] = srv.sockets[0].getsockname()[1]
        if c.imaps_port is not None and self.ssl_context is not None:
            srv = await asyncio.start_server(self._implicit, c.host, c.imaps_port, ssl=self.ssl_context,
                                             ssl_handshake_timeout=min(30.0, c.imap_command_timeout))
            self._servers.append(srv)
            self.ports["imaps"] = srv.sockets[0].getsockname()[1]
        log.info("IMAP listening on %s", self.ports)

    async def close(self) -> None:
        """Stop listening and end every open connection."""
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
                writer.write(b"* BYE [UNAVAILABLE] too many connections, try again later\r\n")
                await asyncio.wait_for(writer.drain(), 5)
            await _close(writer)
            return
        self._connections.add(task)
        session = ImapSession(self.store, self.directory, self.settings, self.faults, tls_active=tls)
        wake = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_event(event: StoreEvent) -> None:
            selected = session.selected
            if selected is not None and event.mailbox_id == selected.info.id:
                # Store callbacks run on whichever thread changed the store.
                loop.call_soon_threadsafe(wake.set)

        unsubscribe = self.store.subscribe(on_event)
        try:
            await self._run(session, reader, writer, wake)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
            log.debug("connection %s ended: %r", peer, exc)
        except asyncio.CancelledError:
            pass  # server shutting down
        except Exception:
            log.exception("IMAP session %s crashed", peer)
            with contextlib.suppress(Exception):
                writer.write(b"* BYE [SERVERBUG] internal server error\r\n")
        finally:
            unsubscribe()
            session.connection_lost()
            self._connections.discard(task)
            if self._closing:
                writer.transport.abort()
            else:
                await _close(writer)

    async def _run(self, session: ImapSession, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   wake: asyncio.Event) -> None:
        writer.write(session.greeting())
        await writer.drain()
        read: asyncio.Task[bytes] | None = None
        waiter: asyncio.Task[bool] | None = None
        try:
            while True:
                timeout = (self.config.imap_command_timeout if session.reader.mid_command
                           else self.config.imap_idle_timeout)
                if read is None:
                    read = asyncio.ensure_future(reader.read(READ_SIZE))
                if waiter is None:
                    waiter = asyncio.ensure_future(wake.wait())
                done, _ = await asyncio.wait({read, waiter}, timeout=timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    out = session.command_timed_out() if session.reader.mid_command else session.timed_out()
                    writer.write(out)
                    await asyncio.wait_for(writer.drain(), 5)
                    return
                if waiter in done:
                    wake.clear()
                    waiter = None
                    pushed = session.idle_updates()
                    if pushed:
                        writer.write(pushed)
                        await writer.drain()
                if read not in done:
                    continue
                data = read.result()
                read = None
                if not data:
                    return
                reply = session.receive_data(data)
                if reply.data:
                    writer.write(reply.data)
                    await writer.drain()
                if reply.close:
                    return
                if reply.start_tls:
                    assert self.ssl_context is not None
                    await writer.start_tls(self.ssl_context,
                                           ssl_handshake_timeout=min(30.0, self.config.imap_command_timeout))
                    session.tls_started()
        finally:
            for t in (read, waiter):
                if t is not None and not t.done():
                    t.cancel()


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 2)
