"""Sans-I/O POP3 client side: bytes from the server in, validated response events out.

The caller says what shape it expects next (a status line, a multi-line response, or an AUTH
step that may be a continuation), feeds whatever bytes arrived, and pulls events. Nothing here
touches a socket, so the same code checks live traffic, recorded transcripts and unit-test bytes.

Every rule the parser enforces is a `Rule`; a broken rule raises `Pop3ProtocolViolation` naming
the rule, the byte offset in the stream and the offending line. Rules listed in `tolerate` are
recorded in `violations` instead and parsing carries on the way a forgiving client would: this
lets one dedicated test own a rule while unrelated tests still run against a server that breaks it.
"""

from __future__ import annotations

import base64
import enum
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

Expect = Literal["status", "multiline", "message", "auth"]
MAX_STATUS_LINE = 512  # octets incl. CRLF: RFC 2449 §4 (first line), §3 ABNF (capability lines)
MAX_BUFFERED_LINE = 1 << 20  # give up on a line that never ends rather than grow without bound


class Rule(enum.Enum):
    """A wire rule the server must follow; the value names the source and says it in our words."""

    LINE_END = "RFC1939 §3: every response line must end with CRLF"
    STATUS_INDICATOR = "RFC1939 §3: a response must start with the status indicator '+OK' or '-ERR'"
    STATUS_CASE = "RFC1939 §3: status indicator must be '+OK' or '-ERR' in upper case"
    STATUS_SEPARATOR = "RFC2449 §3: the status indicator is followed by a space or the line end"
    LINE_LENGTH = "RFC2449 §4: a response's first line (and a CAPA line) is at most 512 octets incl. CRLF"
    BYTE_STUFFING = "RFC1939 §3: a body line starting with '.' must be byte-stuffed with another '.'"
    TERMINATOR = "RFC1939 §3: a multi-line response must end with a line holding a single '.'"
    RESP_CODE = "RFC2449 §3/§8: a response code is '[' level *('/' level) ']' of printable characters"
    CAPA_SYNTAX = "RFC2449 §3/§5: a CAPA line is a capa-tag (no '.') and space-separated parameters"
    SCAN_LISTING = "RFC1939 §5: a scan listing is a message-number, a space and an octet count"
    UIDL_SYNTAX = "RFC1939 §7: a unique-id listing is a message-number and a 1-70 octet id of 0x21-0x7E"
    SASL_CONTINUATION = "RFC5034 §4: a continuation is '+ ' and base64 (or empty) and nothing else"
    UNEXPECTED_DATA = "RFC1939 §3: the server must not send data the client did not ask for"


class Pop3ProtocolViolation(Exception):
    """The server broke a rule; says which, where in the byte stream, and on which line."""

    def __init__(self, rule: Rule, offset: int, line: bytes, detail: str = "") -> None:
        self.rule, self.offset, self.line, self.detail = rule, offset, line, detail
        extra = f" ({detail})" if detail else ""
        super().__init__(f"{rule.value}{extra}; at byte offset {offset}, line {line[:200]!r}")


@dataclass(frozen=True)
class StatusLine:
    ok: bool
    code: str | None  # response code without brackets, e.g. "IN-USE" or "SYS/TEMP"
    text: str  # human-readable text after the code
    raw: bytes  # the line as received, line end included

    @property
    def code_levels(self) -> tuple[str, ...]:
        """Upper-cased hierarchy of the code: clients match it case-insensitively (RFC 2449 §8)."""
        return tuple(p.upper() for p in self.code.split("/")) if self.code else ()


@dataclass(frozen=True)
class MultiLine:
    status: StatusLine
    lines: tuple[bytes, ...]  # body lines, un-stuffed, without line ends
    raw: bytes  # everything from the status line through the terminator

    @property
    def octets(self) -> int:
        """Size of the body as the server counts it: un-stuffed lines with CRLF (RFC 1939 §5)."""
        return sum(len(line) + 2 for line in self.lines)


@dataclass(frozen=True)
class Continuation:
    data: bytes  # decoded challenge (empty for '+ ' or '+')
    raw: bytes


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()
Event = StatusLine | MultiLine | Continuation

_STATUS = re.compile(rb"^([+-][A-Za-z]+)(.*)$", re.S)
_RCHAR = rb"[\x21-\x2e\x30-\x5c\x5e-\x7f]+"
_RESP_CODE = re.compile(rb"^\[(" + _RCHAR + rb"(?:/" + _RCHAR + rb")*)\]")
_B64 = re.compile(rb"^[A-Za-z0-9+/]*={0,2}$")


@dataclass
class Pop3ResponseParser:
    """Client-side response parser; call `expect` once per command sent, in order."""

    tolerate: frozenset[Rule] = frozenset()
    violations: list[Pop3ProtocolViolation] = field(default_factory=list)
    offset: int = 0  # stream offset of the first unconsumed byte
    _buf: bytearray = field(default_factory=bytearray)
    _expected: deque[Expect] = field(default_factory=deque)
    _status: StatusLine | None = None
    _body: list[bytes] = field(default_factory=list)
    _raw: bytearray = field(default_factory=bytearray)
    _eof: bool = False

    def expect(self, kind: Expect) -> None:
        """Queue the shape of the next response (pipelined commands queue several)."""
        self._expected.append(kind)

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the server; b"" means the server closed the connection."""
        if data:
            self._buf += data
        else:
            self._eof = True

    @property
    def closed(self) -> bool:
        """The server closed the stream and every complete line has been consumed."""
        return self._eof and not self._buf

    @property
    def pending(self) -> int:
        return len(self._expected)

    def violation(self, rule: Rule, offset: int, line: bytes, detail: str = "") -> None:
        """Raise, or record when the rule is tolerated."""
        exc = Pop3ProtocolViolation(rule, offset, line, detail)
        if rule not in self.tolerate:
            raise exc
        self.violations.append(exc)

    def next_event(self) -> Event | _NeedData:
        while True:
            taken = self._take_line()
            if taken is None:
                if self._eof and self._status is not None:
                    raise Pop3ProtocolViolation(Rule.TERMINATOR, self.offset, bytes(self._buf),
                                                "connection closed before the terminating '.'")
                if self._eof and self._buf:
                    raise Pop3ProtocolViolation(Rule.LINE_END, self.offset, bytes(self._buf),
                                                "connection closed mid-line")
                return NEED_DATA
            line, raw, start = taken
            event = self._on_line(line, raw, start)
            if event is not None:
                return event

    # -- internals -------------------------------------------------------------------------

    def _take_line(self) -> tuple[bytes, bytes, int] | None:
        end = self._buf.find(b"\n")
        if end < 0:
            if len(self._buf) > MAX_BUFFERED_LINE:
                raise Pop3ProtocolViolation(Rule.LINE_LENGTH, self.offset, bytes(self._buf[:200]),
                                            "no line end within 1 MiB")
            return None
        raw = bytes(self._buf[: end + 1])
        del self._buf[: end + 1]
        start = self.offset
        self.offset += len(raw)
        if raw.endswith(b"\r\n"):
            line = raw[:-2]
        else:
            self.violation(Rule.LINE_END, start, raw, "bare LF")
            line = raw[:-1]
        if b"\r" in line:
            self.violation(Rule.LINE_END, start, raw, "stray CR inside the line")
        return line, raw, start

    def _on_line(self, line: bytes, raw: bytes, start: int) -> Event | None:
        if self._status is not None:
            return self._on_body_line(line, raw, start)
        if not self._expected:
            self.violation(Rule.UNEXPECTED_DATA, start, raw, "no command is waiting for a response")
            return None
        kind = self._expected[0]
        if kind == "auth" and line[:1] == b"+" and line[:3].upper() != b"+OK":
            self._expected.popleft()
            return self._continuation(line, raw, start)
        status = parse_status_line(line, raw, start, self)
        if kind in ("multiline", "message") and status.ok:
            self._status, self._body, self._raw = status, [], bytearray(raw)
            return None
        self._expected.popleft()
        return status

    def _on_body_line(self, line: bytes, raw: bytes, start: int) -> Event | None:
        kind = self._expected[0]
        self._raw += raw
        if line == b".":
            assert self._status is not None
            event = MultiLine(self._status, tuple(self._body), bytes(self._raw))
            self._expected.popleft()
            self._status = None
            return event
        if line.startswith(b"."):
            if line.startswith(b".."):
                line = line[1:]
            else:
                self.violation(Rule.BYTE_STUFFING, start, raw, "a lone '.' prefix cannot be a stuffed line")
        elif kind == "multiline" and len(raw) > MAX_STATUS_LINE:
            self.violation(Rule.LINE_LENGTH, start, raw, f"{len(raw)} octets")
        self._body.append(line)
        return None

    def _continuation(self, line: bytes, raw: bytes, start: int) -> Continuation:
        payload = line[2:] if line.startswith(b"+ ") else line[1:]
        if line not in (b"+", b"+ ") and not line.startswith(b"+ "):
            self.violation(Rule.SASL_CONTINUATION, start, raw, "'+' must be followed by a space")
        if not _B64.match(payload) or len(payload) % 4:
            self.violation(Rule.SASL_CONTINUATION, start, raw, "challenge is not base64")
            return Continuation(b"", raw)
        return Continuation(base64.b64decode(payload), raw)


def parse_status_line(line: bytes, raw: bytes, start: int = 0,
                      parser: Pop3ResponseParser | None = None) -> StatusLine:
    """Validate one status line (without its line end) and split it into its parts."""
    report = parser.violation if parser is not None else _raise
    if len(raw) > MAX_STATUS_LINE:
        report(Rule.LINE_LENGTH, start, raw, f"{len(raw)} octets")
    m = _STATUS.match(line)
    indicator = m.group(1) if m else b""
    rest = m.group(2) if m else line
    if indicator.upper() not in (b"+OK", b"-ERR"):
        report(Rule.STATUS_INDICATOR, start, raw)
        # a forgiving client treats anything that is not an error as success
        return StatusLine(not line.upper().startswith(b"-ERR"), None, line.decode("utf-8", "replace"), raw)
    if indicator not in (b"+OK", b"-ERR"):
        report(Rule.STATUS_CASE, start, raw, f"got {indicator.decode('ascii')!r}")
    ok = indicator.upper() == b"+OK"
    if rest and not rest.startswith(b" "):
        report(Rule.STATUS_SEPARATOR, start, raw)
    text = rest[1:] if rest.startswith(b" ") else rest
    code = None
    if text.startswith(b"["):
        cm = _RESP_CODE.match(text)
        if cm is None:
            report(Rule.RESP_CODE, start, raw)
        else:
            code = cm.group(1).decode("ascii")
            text = text[cm.end():].lstrip(b" ")
    return StatusLine(ok, code, text.decode("utf-8", "replace"), raw)


def _raise(rule: Rule, offset: int, line: bytes, detail: str = "") -> None:
    raise Pop3ProtocolViolation(rule, offset, line, detail)
