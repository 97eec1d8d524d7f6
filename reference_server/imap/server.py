"""The asyncio IMAP server: sockets, TLS, timers, IDLE pushes and limits around `ImapSession`.

One listener for plain IMAP with STARTTLS (RFC 3501 §6.2.1) and one for implicit TLS (RFC 8314).
The session does all protocol work; this module moves bytes, upgrades to TLS when asked, applies the
autologout timer (RFC 3501 §5.4: at least 30 minutes by default), a limit on how long a started
command may take to arrive, and the connection limit. Store events wake sessions that share the
mailbox: an idling client gets the change pushed at once (well under 50 ms).
"""

from __future__ import annotations

import asyncio
import ssl

from reference_server.accounts import AccountDirectory
from reference_server.config import ServerConfig
from reference_server.imap.capabilities import CapabilitySet
from reference_server.imap.parser import ReaderLimits
from reference_server.imap.session import ImapSession, ImapSettings
from reference_server.listeners import READ_SIZE, SessionListeners
from reference_server.store import Store, StoreEvent


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

    def _listen_ports(self) -> tuple[int | None, int | None]:
        return self.config.imap_port, self.config.imaps_port

    def _handshake_timeout(self) -> float:
        return min(30.0, self.config.imap_command_timeout)

    def _new_session(self, tls: bool) -> ImapSession:
        return ImapSession(self.store, self.directory, self.settings, self.faults, tls_active=tls)

    async def _run(self, session: ImapSession, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter) -> None:
        wake = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_event(event: StoreEvent) -> None:
            selected = session.selected
            if selected is not None and event.mailbox_id == selected.info.id:
                # Store callbacks run on whichever thread changed the store.
                loop.call_soon_threadsafe(wake.set)

        unsubscribe = self.store.subscribe(on_event)
        try:
            await self._exchange(session, reader, writer, wake)
        finally:
            unsubscribe()

    async def _exchange(self, session: ImapSession, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter, wake: asyncio.Event) -> None:
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
                    await self._start_tls(writer)
                    session.tls_started()
        finally:
            for t in (read, waiter):
                if t is not None and not t.done():
                    t.cancel()

