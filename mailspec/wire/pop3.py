"""The suite's POP3 client: stdlib poplib, with every byte recorded and every response validated.

`Pop3Client` keeps poplib's command methods (stat, list, retr, ...), but replaces its line
reading with the sans-I/O `Pop3ResponseParser`, so a server that breaks a wire rule is caught
whichever method the test used. Tests mostly use `cmd` / `cmd_multi`, which return the parsed
response for '-ERR' as well instead of raising. Plain blocking sockets only: gevent can patch them.
"""

from __future__ import annotations

import poplib
import socket
import ssl
from collections.abc import Iterable

from mailspec.protocol.pop3 import (
    Continuation,
    Event,
    Expect,
    MultiLine,
    Pop3ProtocolViolation,
    Pop3ResponseParser,
    Rule,
    StatusLine,
    _NeedData,
)
from mailspec.wire.transcript import Transcript

READ_LIMIT = 1 << 16  # one readline() call; the parser enforces the real limits


class Pop3Timeout(TimeoutError):
    """The server did not answer within the target's timeout."""


class Pop3ConnectionClosed(ConnectionError):
    """The server closed the connection while a response was expected."""


class Pop3UnexpectedResponse(AssertionError):
    """A response had the wrong shape for the step (e.g. -ERR where +OK was needed)."""


def tls_description(sock: ssl.SSLSocket) -> str:
    cipher = sock.cipher()
    cert = sock.getpeercert() or {}
    subject = ", ".join(f"{kv[0]}={kv[1]}" for rdn in cert.get("subject", ()) for kv in rdn)
    suite = cipher[0] if cipher else "?"
    return f"TLS handshake: {sock.version()} {suite}; peer certificate {subject or '?'}"


class Pop3Client(poplib.POP3):
    """A recorded, validating POP3 connection. `implicit_tls` wraps the socket before the greeting."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float,
        transcript: Transcript | None = None,
        label: str = "pop3",
        tls_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        implicit_tls: bool = False,
        tolerate: Iterable[Rule] = (),
        lenient_greeting: bool = False,
    ) -> None:
        self.transcript = transcript if transcript is not None else Transcript()
        self.label = label
        self.tls_context = tls_context
        self.server_hostname = server_hostname or host
        self.implicit_tls = implicit_tls
        self.parser = Pop3ResponseParser(tolerate=frozenset(tolerate))
        self.greeting: StatusLine | None = None
        self.last: Event | None = None
        self._reported = 0
        self._lenient_greeting = lenient_greeting
        self.transcript.event(label, f"connect {host}:{port}{' (implicit TLS)' if implicit_tls else ''}")
        try:
            super().__init__(host, port, timeout)  # connects, then reads the greeting via _getresp
        except TimeoutError as exc:
            raise Pop3Timeout(f"{label}: no greeting from {host}:{port} within {timeout}s") from exc
        except OSError:
            self.transcript.event(label, "connection failed")
            raise

    # -- poplib hooks -------------------------------------------------------------------------

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout)
        if not self.implicit_tls:
            return sock
        ctx = self.tls_context or ssl.create_default_context()
        try:
            tls = ctx.wrap_socket(sock, server_hostname=self.server_hostname)
        except (ssl.SSLError, OSError) as exc:
            sock.close()
            self.transcript.event(self.label, f"TLS handshake failed: {exc}")
            raise
        self._tls_established = True
        self.transcript.event(self.label, tls_description(tls))
        return tls

    def _putline(self, line: bytes) -> None:
        self.send_raw(line + b"\r\n")

    def _getresp(self) -> bytes:
        """poplib's single-line read: raises error_proto on -ERR, like the stdlib."""
        ev = self.read_status()
        if not ev.ok:
            raise poplib.error_proto(ev.raw.rstrip(b"\r\n"))
        return ev.raw.rstrip(b"\r\n")

    def _getlongresp(self) -> tuple[bytes, list[bytes], int]:
        ev = self.read_multiline()
        if isinstance(ev, StatusLine):
            raise poplib.error_proto(ev.raw.rstrip(b"\r\n"))
        return ev.status.raw.rstrip(b"\r\n"), list(ev.lines), ev.octets

    # -- raw I/O --------------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        """Send bytes exactly as given (bad-input tests send malformed commands with this)."""
        self.transcript.record(self.label, "C", data)
        try:
            self.sock.sendall(data)
        except TimeoutError as exc:
            raise Pop3Timeout(f"{self.label}: send timed out") from exc

    def _next_event(self, kind: Expect) -> Event:
        self.parser.expect(kind)
        return self._pull()

    def _pull(self) -> Event:
        while True:
            try:
                ev = self.parser.next_event()
            finally:
                self._note_violations()
            if not isinstance(ev, _NeedData):
                self.last = ev
                return ev
            if self.parser.closed:
                self.transcript.event(self.label, "connection closed by server")
                raise Pop3ConnectionClosed(f"{self.label}: server closed the connection; a response was due")
            try:
                data = self.file.readline(READ_LIMIT)
            except TimeoutError as exc:
                self.transcript.event(self.label, f"timeout: no data within {self.sock.gettimeout()}s")
                raise Pop3Timeout(
                    f"{self.label}: no complete response within {self.sock.gettimeout()}s"
                ) from exc
            if data:
                self.transcript.record(self.label, "S", data)
            self.parser.receive_data(data)

    def _note_violations(self) -> None:
        for v in self.parser.violations[self._reported:]:
            self.transcript.event(self.label, f"protocol violation (tolerated here): {v}")
        self._reported = len(self.parser.violations)

    def read_status(self) -> StatusLine:
        """Read one single-line response."""
        greeting = self.greeting is None
        saved = self.parser.tolerate
        if greeting and self._lenient_greeting:
            # the greeting's indicator has its own test; elsewhere a forgiving read keeps going
            self.parser.tolerate = saved | {Rule.STATUS_INDICATOR}
        try:
            ev = self._next_event("status")
        finally:
            self.parser.tolerate = saved
        assert isinstance(ev, StatusLine)
        if greeting:
            self.greeting = ev
        return ev

    def read_multiline(self, kind: Expect = "multiline") -> MultiLine | StatusLine:
        """Read a multi-line response ("message" for RETR/TOP bodies, which may have long lines)."""
        ev = self._next_event(kind)
        assert isinstance(ev, MultiLine | StatusLine)
        return ev

    def read_auth(self) -> Continuation | StatusLine:
        """Read a response during AUTH: a '+ ' continuation or the final status."""
        ev = self._next_event("auth")
        assert isinstance(ev, Continuation | StatusLine)
        return ev

    def read_until_closed(self) -> bytes:
        """Read until the server closes; Pop3Timeout if it does not within the timeout."""
        got = b""
        while True:
            try:
                data = self.sock.recv(4096)
            except TimeoutError as exc:
                waited = self.sock.gettimeout()
                raise Pop3Timeout(f"{self.label}: connection still open after {waited}s") from exc
            except (ConnectionResetError, ssl.SSLError):
                data = b""
            if not data:
                self.transcript.event(self.label, "connection closed by server")
                return got
            self.transcript.record(self.label, "S", data)
            got += data

    # -- commands -------------------------------------------------------------------------------

    def cmd(self, line: str | bytes) -> StatusLine:
        """Send one command, return its single-line response (+OK or -ERR)."""
        self.send_raw((line.encode() if isinstance(line, str) else line) + b"\r\n")
        return self.read_status()

    def cmd_multi(self, line: str | bytes, kind: Expect = "multiline") -> MultiLine | StatusLine:
        """Send a command answered multi-line on success; -ERR comes back as a StatusLine."""
        self.send_raw((line.encode() if isinstance(line, str) else line) + b"\r\n")
        return self.read_multiline(kind)

    def ok(self, line: str) -> StatusLine:
        """`cmd` that requires +OK (test set-up steps)."""
        ev = self.cmd(line)
        if not ev.ok:
            raise Pop3UnexpectedResponse(f"{line.split()[0]} was refused: {ev.raw!r}")
        return ev

    def ok_multi(self, line: str, kind: Expect = "multiline") -> MultiLine:
        ev = self.cmd_multi(line, kind)
        if not isinstance(ev, MultiLine):
            raise Pop3UnexpectedResponse(f"{line.split()[0]} was refused: {ev.raw!r}")
        return ev

    def pipeline(self, commands: list[tuple[str, Expect]]) -> list[Event]:
        """Send all commands in one write, then read the responses in order (RFC 2449 §6.6)."""
        self.send_raw(b"".join(c.encode() + b"\r\n" for c, _ in commands))
        for _, kind in commands:
            self.parser.expect(kind)
        return [self._pull() for _ in commands]

    def starttls(self) -> StatusLine:
        """STLS, then the TLS handshake verified against the target's CA and server name."""
        ev = self.cmd("STLS")
        if not ev.ok:
            return ev
        if self.parser.pending or self.parser._buf:
            # bytes after the +OK arrived in clear text: a client must not treat them as secure
            raise Pop3ProtocolViolation(Rule.UNEXPECTED_DATA, self.parser.offset, bytes(self.parser._buf),
                                        "clear-text data after the STLS +OK")
        ctx = self.tls_context or ssl.create_default_context()
        try:
            self.sock = ctx.wrap_socket(self.sock, server_hostname=self.server_hostname)
        except (ssl.SSLError, OSError) as exc:
            self.transcript.event(self.label, f"TLS handshake failed: {exc}")
            # wrap_socket took the socket over and closed it: nothing is left for close() to shut down
            self.file.close()
            self.file = self.sock = None  # type: ignore[assignment]  # as poplib's close() leaves them
            raise
        self.file = self.sock.makefile("rb")
        self._tls_established = True
        assert isinstance(self.sock, ssl.SSLSocket)
        self.transcript.event(self.label, tls_description(self.sock))
        return ev

    def stls(self, context: ssl.SSLContext | None = None) -> bytes:
        if context is not None:
            self.tls_context = context
        ev = self.starttls()
        if not ev.ok:
            raise poplib.error_proto(ev.raw.rstrip(b"\r\n"))
        return ev.raw.rstrip(b"\r\n")

    @property
    def tls_active(self) -> bool:
        return isinstance(self.sock, ssl.SSLSocket)

    def close(self) -> None:
        """Drop the connection without QUIT (the RFC 1939 §6 'no UPDATE state' path)."""
        if getattr(self, "sock", None) is not None:
            self.transcript.event(self.label, "client closed the connection")
        super().close()

    def quit(self) -> bytes:  # type: ignore[override]
        ev = self.cmd("QUIT")
        super().close()
        if not ev.ok:
            raise poplib.error_proto(ev.raw.rstrip(b"\r\n"))
        return ev.raw.rstrip(b"\r\n")
