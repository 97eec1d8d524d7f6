"""The suite's IMAP client: raw blocking sockets, every byte recorded, every response validated.

`ImapClient` speaks just enough IMAP to drive tests: it sends what the test gives it (commands as
bytes or text, literals as `Literal`), handles the literal handshake (waits for "+" on a
synchronising literal, sends `{n+}` when LITERAL+ allows), and reads responses through the
sans-I/O `ImapResponseReader`, so a server that breaks the response grammar is caught whatever the
test did. Reads are bounded: `ImapTimeout` when nothing complete arrives in time. `poll` is the
exception, returning None on timeout, for IDLE pushes that may or may not come.

Plain `socket`/`ssl` calls only, looked up at call time, so gevent's monkey-patching applies.
imapclient stays the independent "real client"; this one exists because a test needs the bytes.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mailspec.protocol.imap_mutf7 import encode_mutf7
from mailspec.protocol.imap_reader import ImapResponseReader, NeedData
from mailspec.protocol.imap_response import (
    Continuation,
    ImapProtocolViolation,
    Malformed,
    Response,
    Tagged,
    Untagged,
)
from mailspec.wire.pop3 import tls_description
from mailspec.wire.transcript import Transcript

RECV_SIZE = 1 << 16


class ImapTimeout(TimeoutError):
    """The server sent no complete response within the timeout."""


class ImapConnectionClosed(ConnectionError):
    """The server closed the connection while a response was due; `responses` holds what came."""

    def __init__(self, message: str, responses: list[Response] | None = None) -> None:
        super().__init__(message)
        self.responses = responses or []


class ImapUnexpectedResponse(AssertionError):
    """A response had the wrong shape for the step (e.g. NO where OK was needed)."""


@dataclass(frozen=True)
class Literal:
    """A literal argument. `non_sync` None: use LITERAL+ when the server offers it (RFC 7888).

    `binary` sends a literal8 (`~{n}`, RFC 3516 / RFC 9051) for APPEND of binary content.
    """

    data: bytes
    non_sync: bool | None = None
    binary: bool = False


def quote(value: str | bytes) -> bytes:
    """A quoted string; raises ValueError for what a quoted string cannot carry (use Literal)."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    if any(b in (0, 0x0A, 0x0D) or b >= 0x80 for b in raw):
        raise ValueError("CR, LF, NUL and 8-bit octets need a literal, not a quoted string")
    return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def mailbox_arg(name: str, *, utf8: bool = False) -> bytes:
    """A mailbox name as a quoted string: modified UTF-7 unless UTF-8 was enabled."""
    if utf8:
        raw = name.encode("utf-8")
        return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return quote(encode_mutf7(name))


class ImapClient:
    """One recorded, validating IMAP connection. Connects and reads the greeting on creation."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 10.0,
        transcript: Transcript | None = None,
        label: str = "imap",
        tls_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        implicit_tls: bool = False,
        tolerate: Iterable[str] = (),
        tag_prefix: str = "A",
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.transcript = transcript if transcript is not None else Transcript()
        self.label = label
        self.tls_context = tls_context
        self.server_hostname = server_hostname or host
        self.reader = ImapResponseReader(tolerate=frozenset(tolerate))
        self._tag_prefix, self._tag_n = tag_prefix, 0
        self._backlog: list[Response] = []  # arrived while a command was still being sent
        self._done: dict[str, Tagged] = {}  # completions of other (pipelined) commands
        self._reported = 0
        self._idle_tag: str | None = None
        self._non_sync_tags: set[str] = set()  # commands sent with {n+} literals (RFC 7888)
        self.transcript.event(label, f"connect {host}:{port}{' (implicit TLS)' if implicit_tls else ''}")
        try:
            self.sock: socket.socket = socket.create_connection((host, port), timeout)
            # A synchronising literal goes out in several small writes; without this, Nagle's
            # algorithm holds each back until the server's delayed ACK (about 40 ms a literal).
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except TimeoutError as exc:
            self.transcript.event(label, "connect timed out")
            raise ImapTimeout(f"{label}: no connection to {host}:{port} within {timeout}s") from exc
        except OSError as exc:
            self.transcript.event(label, f"connection failed: {exc}")
            raise
        if implicit_tls:
            self._start_tls()
        greeting = self.read_response()
        self.greeting = greeting

    # -- raw I/O ------------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        """Send bytes exactly as given (bad-input tests send malformed commands with this)."""
        self.transcript.record(self.label, "C", data)
        try:
            self.sock.settimeout(self.timeout)
            self.sock.sendall(data)
        except TimeoutError as exc:
            raise ImapTimeout(f"{self.label}: send timed out after {self.timeout}s") from exc

    def _receive(self, timeout: float) -> None:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(RECV_SIZE)
        except (ConnectionResetError, ssl.SSLError) as exc:
            self.transcript.event(self.label, f"connection error: {exc}")
            data = b""
        if data:
            self.transcript.record(self.label, "S", data)
        else:
            self.transcript.event(self.label, "connection closed by server")
        self.reader.receive_data(data)

    def _next(self, deadline: float) -> Response | None:
        """The next response; None when `deadline` (monotonic) passes first."""
        while True:
            try:
                resp = self.reader.next_response()
            except ImapProtocolViolation as exc:
                self.transcript.event(self.label, f"protocol violation: {exc}")
                raise
            finally:
                self._note_violations()
            if not isinstance(resp, NeedData):
                return resp
            if self.reader.closed:
                raise ImapConnectionClosed(f"{self.label}: server closed the connection; a response was due")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                self._receive(remaining)
            except TimeoutError:
                continue  # the loop re-checks the deadline

    def _note_violations(self) -> None:
        for v in self.reader.violations[self._reported:]:
            self.transcript.event(self.label, f"protocol violation (tolerated here): {v}")
        self._reported = len(self.reader.violations)

    def read_response(self, timeout: float | None = None) -> Response:
        """One response, or ImapTimeout when none is complete within `timeout` (default: the client's)."""
        wait = self.timeout if timeout is None else timeout
        resp = self._next(time.monotonic() + wait)
        if resp is None:
            self.transcript.event(self.label, f"timeout: no complete response within {wait}s")
            raise ImapTimeout(f"{self.label}: no complete response within {wait}s")
        return resp

    def poll(self, timeout: float) -> Response | None:
        """A response if one completes within `timeout`, else None (IDLE pushes, unsolicited data)."""
        if self._backlog:
            return self._backlog.pop(0)
        return self._next(time.monotonic() + timeout)

    def read_until_closed(self, timeout: float | None = None) -> list[Response]:
        """Responses until the server closes; ImapTimeout if it does not within the timeout."""
        got: list[Response] = []
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            while True:
                resp = self._next(deadline)
                if resp is None:
                    raise ImapTimeout(f"{self.label}: connection still open after the timeout")
                got.append(resp)
        except ImapConnectionClosed:
            return got

    # -- commands -----------------------------------------------------------------------------

    def next_tag(self) -> str:
        self._tag_n += 1
        return f"{self._tag_prefix}{self._tag_n:04d}"

    def send_command(self, *parts: str | bytes | Literal, tag: str | None = None) -> str:
        """Send `tag SP parts... CRLF`, doing the literal handshakes; returns the tag.

        If the server refuses a synchronising literal (a tagged response instead of "+"), the
        rest of the command is not sent and the completion is kept for `complete`.
        """
        tag = tag or self.next_tag()
        self.reader.command_sent(tag)
        pending = tag.encode() + b" "
        for part in parts:
            if not isinstance(part, Literal):
                pending += part.encode("utf-8") if isinstance(part, str) else part
                continue
            non_sync = part.non_sync
            if non_sync is None:
                non_sync = self.reader.has_capability("LITERAL+") or (
                    self.reader.has_capability("LITERAL-") and len(part.data) <= 4096)
            pending += b"~" if part.binary else b""
            pending += b"{%d%s}\r\n" % (len(part.data), b"+" if non_sync else b"")
            if non_sync:
                self._non_sync_tags.add(tag)
                pending += part.data
                continue
            self.send_raw(pending)
            pending = b""
            if not self._await_continuation(tag):
                return tag
            self.send_raw(part.data)
        self.send_raw(pending + b"\r\n")
        return tag

    def _await_continuation(self, tag: str) -> bool:
        while True:
            resp = self.read_response()
            if isinstance(resp, Continuation):
                return True
            if isinstance(resp, Tagged | Malformed) and _tag_of(resp) == tag:
                self._backlog.append(resp)
                return False
            self._backlog.append(resp)

    def complete(self, tag: str, *, timeout: float | None = None,
                 on_continuation: Callable[[Continuation], bytes] | None = None,
                 ) -> tuple[list[Response], Tagged]:
        """Read until the tagged completion of `tag`; returns (the other responses, the completion).

        Continuations go to `on_continuation` (its return value is sent with CRLF); without it
        a continuation here is unexpected.
        """
        got: list[Response] = []
        backlog, self._backlog = self._backlog, []
        if tag in self._done:
            return backlog, self._done.pop(tag)
        queue = list(backlog)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            resp = queue.pop(0) if queue else self._complete_next(tag, deadline, got)
            if isinstance(resp, Tagged) and resp.tag != tag:
                self._done[resp.tag] = resp
            elif isinstance(resp, Tagged):
                self._non_sync_tags.discard(tag)
                return got, resp
            elif isinstance(resp, Malformed) and resp.tag == tag:
                raise ImapUnexpectedResponse(f"{self.label}: completion of {tag} is malformed: {resp.violation}")
            elif isinstance(resp, Continuation) and on_continuation is None and tag in self._non_sync_tags:
                # A "+" after a {n+} literal breaks RFC 7888 §3; the test that owns that rule reads
                # the raw responses. Everyone else notes it in the transcript and carries on.
                self.transcript.event(self.label, f"stray continuation after a non-synchronising literal of {tag}")
            elif isinstance(resp, Continuation):
                if on_continuation is None:
                    raise ImapUnexpectedResponse(f"{self.label}: unexpected continuation while {tag} runs: "
                                                 f"{resp.raw!r}")
                self.send_raw(on_continuation(resp) + b"\r\n")
            else:
                got.append(resp)

    def _complete_next(self, tag: str, deadline: float, got: list[Response]) -> Response:
        try:
            resp = self._next(deadline)
        except ImapConnectionClosed as exc:
            raise ImapConnectionClosed(str(exc), got) from None
        if resp is None:
            self.transcript.event(self.label, f"timeout waiting for the completion of {tag}")
            raise ImapTimeout(f"{self.label}: no completion of {tag} within the timeout")
        return resp

    def run(self, *parts: str | bytes | Literal, timeout: float | None = None,
            on_continuation: Callable[[Continuation], bytes] | None = None) -> tuple[list[Response], Tagged]:
        """Send one command and read its responses: (untagged and other responses, tagged completion)."""
        tag = self.send_command(*parts)
        return self.complete(tag, timeout=timeout, on_continuation=on_continuation)

    def ok(self, *parts: str | bytes | Literal, timeout: float | None = None) -> tuple[list[Response], Tagged]:
        """`run` that requires a tagged OK (test set-up steps)."""
        untagged, done = self.run(*parts, timeout=timeout)
        if not done.ok:
            first = parts[0] if parts else b""
            name = (first.data if isinstance(first, Literal) else first)
            name = name.encode() if isinstance(name, str) else name
            raise ImapUnexpectedResponse(f"{self.label}: {name.split(b' ')[0].decode(errors='replace')} "
                                         f"was refused: {done.raw!r}")
        return untagged, done

    # -- session helpers ----------------------------------------------------------------------

    @property
    def capabilities(self) -> tuple[str, ...]:
        """The server's capability list, asking for it when no current one is known."""
        if self.reader.capabilities is None:
            self.ok("CAPABILITY")
        return self.reader.capabilities or ()

    def has_capability(self, name: str) -> bool:
        return name.upper() in {c.upper() for c in self.capabilities}

    def starttls(self) -> Tagged:
        """STARTTLS, then the handshake verified against the given context and server name."""
        _, done = self.run("STARTTLS")
        if not done.ok:
            return done
        if self.reader.framer.buffered or self._backlog:
            raise ImapProtocolViolation("starttls-cleartext", self.reader.offset, self.reader.framer.buffered,
                                        "clear-text data after the STARTTLS OK")
        self._start_tls()
        self.reader.forget_capabilities()
        return done

    def _start_tls(self) -> None:
        ctx = self.tls_context or ssl.create_default_context()
        try:
            self.sock = ctx.wrap_socket(self.sock, server_hostname=self.server_hostname)
        except (ssl.SSLError, OSError) as exc:
            self.transcript.event(self.label, f"TLS handshake failed: {exc}")
            self.sock.close()
            raise
        assert isinstance(self.sock, ssl.SSLSocket)
        self.transcript.event(self.label, tls_description(self.sock))

    @property
    def tls_active(self) -> bool:
        return isinstance(self.sock, ssl.SSLSocket)

    def login(self, user: str, password: str) -> Tagged:
        """LOGIN with quoted arguments; the capability list is asked again afterwards."""
        _, done = self.run(b"LOGIN " + quote(user) + b" " + quote(password))
        if done.ok and done.code != "CAPABILITY":
            self.reader.forget_capabilities()
        return done

    def select(self, mailbox: str, *, readonly: bool = False) -> tuple[list[Response], Tagged]:
        return self.run(b"EXAMINE " if readonly else b"SELECT ", mailbox_arg(mailbox, utf8=self.reader.utf8))

    def append(self, mailbox: str, message: bytes, flags: Iterable[str] = (), date: str | None = None,
               *, non_sync: bool | None = None) -> tuple[list[Response], Tagged]:
        """APPEND with the message as a literal; `date` is an RFC 3501 date-time without quotes."""
        head = b"APPEND " + mailbox_arg(mailbox, utf8=self.reader.utf8)
        flag_list = list(flags)
        if flag_list:
            head += b" (" + " ".join(flag_list).encode("ascii") + b")"
        if date is not None:
            head += b" " + quote(date)
        return self.run(head + b" ", Literal(message, non_sync=non_sync))

    def idle(self) -> Continuation:
        """Start IDLE (RFC 2177) and wait for the server's "+"; pushes then come from `poll`."""
        tag = self.send_command("IDLE")
        while True:
            resp = self.read_response()
            if isinstance(resp, Continuation):
                self._idle_tag = tag
                return resp
            if isinstance(resp, Tagged) and resp.tag == tag:
                raise ImapUnexpectedResponse(f"{self.label}: IDLE was refused: {resp.raw!r}")
            self._backlog.append(resp)

    def done(self, timeout: float | None = None) -> tuple[list[Response], Tagged]:
        """End IDLE with DONE and read the IDLE command's completion."""
        if self._idle_tag is None:
            raise RuntimeError("done() without idle()")
        tag, self._idle_tag = self._idle_tag, None
        self.send_raw(b"DONE\r\n")
        return self.complete(tag, timeout=timeout)

    def logout(self) -> tuple[list[Response], Tagged]:
        """LOGOUT: the untagged BYE comes back among the responses; then the socket is closed."""
        try:
            return self.run("LOGOUT")
        finally:
            self.close()

    def close(self) -> None:
        """Drop the connection (without LOGOUT when called directly)."""
        if getattr(self, "sock", None) is None:
            return
        self.transcript.event(self.label, "client closed the connection")
        try:
            self.sock.close()
        finally:
            self.sock = None  # type: ignore[assignment]

    def __enter__(self) -> ImapClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def untagged(responses: Iterable[Response], kind: str) -> list[Untagged]:
    """The untagged responses of one kind (upper-case), e.g. untagged(resps, "FETCH")."""
    return [r for r in responses if isinstance(r, Untagged) and r.kind == kind]


def _tag_of(resp: Tagged | Malformed) -> str | None:
    return resp.tag
