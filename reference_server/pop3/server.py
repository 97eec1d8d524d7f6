"""The asyncio POP3 server: sockets, TLS, timers and limits around `Pop3Session`.

One listener for plain POP3 with STLS (RFC 2595) and one for implicit TLS (RFC 8314). The session
does all protocol work; the connections of listeners.py move bytes, upgrade to TLS when the session
asks, apply the connection limit and end every connection cleanly; this module says when a session
has idled too long (autologout).
"""

from __future__ import annotations

from reference_server.listeners import SessionListeners
from reference_server.pop3.session import Pop3Session, SessionSettings


class Pop3Server(SessionListeners):
    """POP3 listeners over one store. `start()` binds; `ports` then holds the real port numbers."""

    protocol, plain_name, implicit_name = "POP3", "pop3", "pop3s"
    too_many_connections = b"-ERR [SYS/TEMP] too many connections, try again later\r\n"
    internal_error = b"-ERR [SYS/TEMP] internal server error\r\n"

    def _listen_ports(self) -> tuple[int | None, int | None]:
        return self.config.pop3_port, self.config.pop3s_port

    def _handshake_timeout(self) -> float:
        return min(30.0, self.config.idle_timeout)

    def _settings(self) -> SessionSettings:
        c = self.config
        return SessionSettings(
            implementation=c.implementation, allow_plaintext_auth=c.allow_plaintext_auth,
            tls_available=self.ssl_context is not None, max_line=c.max_line, login_delay=c.login_delay,
            expire=c.expire, apop=any(a.apop_secret for a in c.accounts),
        )

    def _new_session(self, tls: bool) -> Pop3Session:
        if "pop3-implicit-tls-not-trusted" in self.faults:
            tls = False  # FAULT: implicit-TLS sessions get the clear-text login rules
        return Pop3Session(self.store, self.directory, self._settings(), self.faults, tls_active=tls)

    def _timeouts(self) -> tuple[float, ...]:
        return (self.config.idle_timeout,)

    def _farewell(self, session: Pop3Session, quiet: float) -> bytes | None:
        """Autologout after idle_timeout without input (RFC 1939 §3: at least 10 minutes by default)."""
        return session.timed_out().data if quiet >= self.config.idle_timeout else None
