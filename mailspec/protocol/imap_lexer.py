"""IMAP response lexing: framing a byte stream into whole responses, and the ABNF primitives.

`ResponseFramer` cuts the server's stream into responses, whatever the chunking: a response is a
line, unless the line ends in a literal announcement (`{n}` or `~{n}`), in which case the n octets
and the next line belong to it too. It knows nothing of the grammar beyond that, so framing goes on
after a malformed response and one bad response never desynchronises the rest.

`Cursor` walks one framed response and offers the RFC 3501 / RFC 9051 §9 terminals (atom, number,
quoted, literal, string, astring, nstring, sequence-set, date-time, text, tagged-ext-val). Each
method is named after the rule it reads; a mismatch raises `ImapProtocolViolation` naming the rule
of the caller, with the absolute stream offset and the line it happened on.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field

from mailspec.protocol.imap_response import ExtValue, ImapProtocolViolation, Range, SequenceSet, utc_offset

MAX_LINE = 16 << 20  # give up on a line that never ends rather than grow without bound
MAX_LITERAL = 256 << 20
U32 = (1 << 32) - 1
U63 = (1 << 63) - 1

# RFC 3501 §9: atom-specials are ( ) { SP CTL % * " \ and resp-specials "]"; CHAR is 7-bit, no NUL.
_ATOM = re.compile(rb'[^(){ %*"\\\]\x00-\x1f\x7f-\xff]+')
_ASTRING_ATOM = re.compile(rb'[^(){ %*"\\\x00-\x1f\x7f-\xff]+')  # ATOM-CHAR / resp-specials
_DIGITS = re.compile(rb"[0-9]+")
_EXT_SIMPLE = re.compile(rb"[0-9*][0-9,:*]*")
_GENERIC_ATOM = re.compile(rb'[^(){ "\\\x00-\x1f\x7f-\xff]+')  # atoms, also "[...]" and wildcards
_LITERAL_END = re.compile(rb"(~?)\{([0-9]+)(\+?)\}\r?\n\Z")
# A status response or continuation has resp-text to the line end, never a literal, even when the
# human-readable text happens to end in "{5}".
_TEXT_LINE = re.compile(rb"(?:\+|[^ \r\n]+ (?:OK|NO|BAD|BYE|PREAUTH)(?=[ \r\n]))", re.I)
_MONTHS = {m.upper(): i for i, m in enumerate(
    (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"), 1)}
_DATE_TIME = re.compile(rb'"([ 0-9][0-9])-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{4})"')


def line_at(data: bytes, pos: int) -> bytes:
    """The line of `data` that holds position `pos` (for error messages)."""
    start = data.rfind(b"\n", 0, max(pos, 0)) + 1
    end = data.find(b"\n", pos)
    return data[start: len(data) if end < 0 else end + 1]


@dataclass(frozen=True)
class Frame:
    raw: bytes  # the whole response: lines with their CRLFs and literal octets
    offset: int  # stream offset of its first byte


@dataclass
class ResponseFramer:
    """Sans-I/O: `receive_data` bytes, `next_frame` whole responses (or None when more is needed).

    Bare LF line ends still end a line here (the grammar then reports them), so a server that
    sends LF-only lines is diagnosed at the right line instead of hanging the client.
    """

    max_line: int = MAX_LINE
    max_literal: int = MAX_LITERAL
    offset: int = 0  # stream offset of the first byte not yet returned in a frame
    _buf: bytearray = field(default_factory=bytearray)
    _scan: int = 0  # bytes of _buf that already belong to the current frame
    _literal: int | None = None  # octets still owed to the current literal
    eof: bool = False

    def receive_data(self, data: bytes) -> None:
        if data:
            self._buf += data
        else:
            self.eof = True

    @property
    def buffered(self) -> bytes:
        """Received bytes not yet framed (e.g. clear-text bytes after a STARTTLS OK)."""
        return bytes(self._buf)

    @property
    def closed(self) -> bool:
        return self.eof and not self._buf

    def next_frame(self) -> Frame | None:
        while True:
            if self._literal is not None:
                if len(self._buf) - self._scan < self._literal:
                    if self.eof:
                        raise ImapProtocolViolation("CRLF", self.offset, bytes(self._buf[:300]),
                                                    "connection closed inside a literal")
                    return None
                self._scan += self._literal
                self._literal = None
            end = self._buf.find(b"\n", self._scan)
            if end < 0:
                if len(self._buf) - self._scan > self.max_line:
                    raise ImapProtocolViolation("limit", self.offset + self._scan, bytes(self._buf[self._scan:][:300]),
                                                f"no line end within {self.max_line} octets")
                if self.eof and self._buf:
                    raise ImapProtocolViolation("CRLF", self.offset, bytes(self._buf[:300]),
                                                "connection closed in the middle of a response")
                return None
            line = bytes(self._buf[self._scan: end + 1])
            first = self._scan == 0
            self._scan = end + 1
            m = _LITERAL_END.search(line)
            if m and not (first and _TEXT_LINE.match(line)):
                size = int(m.group(2))
                if size > self.max_literal:
                    raise ImapProtocolViolation("limit", self.offset + self._scan - len(line), line,
                                                f"literal of {size} octets exceeds {self.max_literal}")
                self._literal = size
                continue
            raw = bytes(self._buf[: self._scan])
            del self._buf[: self._scan]
            frame = Frame(raw, self.offset)
            self.offset += len(raw)
            self._scan = 0
            return frame


@dataclass
class Cursor:
    """A position in one framed response, with the terminals of the response grammar."""

    data: bytes
    base: int = 0  # stream offset of data[0]
    utf8: bool = False  # UTF-8 allowed in quoted/text (IMAP4rev2 or UTF8=ACCEPT enabled)
    pos: int = 0
    last_quoted: bool = False  # the last string() was a quoted string, not a literal

    # -- basics ----------------------------------------------------------------------------

    def fail(self, rule: str, detail: str = "", at: int | None = None) -> ImapProtocolViolation:
        pos = self.pos if at is None else at
        got = self.data[pos: pos + 20]
        where = f"; found {got!r}" if got else "; found the end of the response"
        return ImapProtocolViolation(rule, self.base + pos, line_at(self.data, pos), detail + where)

    def peek(self, n: int = 1) -> bytes:
        return self.data[self.pos: self.pos + n]

    def at_eol(self) -> bool:
        return self.data[self.pos: self.pos + 2] == b"\r\n" or self.data[self.pos: self.pos + 1] in (b"\n", b"")

    def end(self, rule: str) -> None:
        """CRLF, and nothing after it."""
        if self.data[self.pos:] == b"\r\n":
            self.pos += 2
            return
        if self.data[self.pos:] == b"\n":
            raise self.fail("CRLF", "line ends with a bare LF")
        if self.data[self.pos:self.pos + 1] == b"\r" and self.data[self.pos + 1: self.pos + 2] != b"\n":
            raise self.fail("CRLF", "stray CR inside the line")
        raise self.fail(rule, "expected CRLF (end of response)")

    def sp(self, rule: str) -> None:
        if self.data[self.pos: self.pos + 1] != b" ":
            raise self.fail(rule, "expected exactly one SP")
        self.pos += 1
        if self.data[self.pos: self.pos + 1] == b" ":
            raise self.fail(rule, "SP is exactly one space; found two")

    def char(self, c: bytes, rule: str) -> None:
        if self.data[self.pos: self.pos + 1] != c:
            raise self.fail(rule, f"expected {c.decode()!r}")
        self.pos += 1

    def try_char(self, c: bytes) -> bool:
        if self.data[self.pos: self.pos + 1] == c:
            self.pos += 1
            return True
        return False

    def try_keyword(self, word: bytes) -> bool:
        """A case-insensitive keyword that is not merely the start of a longer atom."""
        end = self.pos + len(word)
        if self.data[self.pos: end].upper() != word.upper():
            return False
        if _ATOM.match(self.data, end):
            return False
        self.pos = end
        return True

    def keyword(self, word: bytes, rule: str) -> None:
        if not self.try_keyword(word):
            raise self.fail(rule, f"expected {word.decode()}")

    # -- atoms and numbers -----------------------------------------------------------------

    def atom(self, rule: str) -> bytes:
        m = _ATOM.match(self.data, self.pos)
        if not m:
            raise self.fail(rule, "expected an atom")
        self.pos = m.end()
        return m.group()

    def number(self, rule: str, *, nz: bool = False, limit: int = U32) -> int:
        m = _DIGITS.match(self.data, self.pos)
        if not m:
            raise self.fail(rule, "expected a number")
        value = int(m.group())
        if nz and m.group()[:1] == b"0":
            raise self.fail(rule, "expected a non-zero number without leading zero")
        if value > limit:
            raise self.fail(rule, f"number exceeds {limit}")
        self.pos = m.end()
        return value

    def nz_number(self, rule: str) -> int:
        return self.number(rule, nz=True)

    def number64(self, rule: str) -> int:
        return self.number(rule, limit=U63)

    # -- strings ---------------------------------------------------------------------------

    def quoted(self, rule: str) -> bytes:
        """DQUOTE *QUOTED-CHAR DQUOTE; only \\" and \\\\ may be escaped."""
        start = self.pos
        self.char(b'"', rule)
        out = bytearray()
        data = self.data
        while True:
            c = data[self.pos: self.pos + 1]
            if c == b'"':
                self.pos += 1
                break
            if c == b"\\":
                nxt = data[self.pos + 1: self.pos + 2]
                if nxt not in (b'"', b"\\"):
                    raise self.fail("QUOTED-CHAR", "backslash may only escape DQUOTE or backslash")
                out += nxt
                self.pos += 2
                continue
            if c in (b"", b"\r", b"\n"):
                raise self.fail("quoted", "quoted string not closed before the line end", at=start)
            if c == b"\x00":
                raise self.fail("QUOTED-CHAR", "NUL inside a quoted string")
            if c[0] >= 0x80:
                out += self._utf8_char("QUOTED-CHAR")
                continue
            out += c
            self.pos += 1
        self.last_quoted = True
        return bytes(out)

    def _utf8_char(self, rule: str) -> bytes:
        if not self.utf8:
            raise self.fail(rule, "8-bit octet outside a literal (allowed only after UTF-8 was enabled)")
        lead = self.data[self.pos]
        size = 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else 4 if lead >> 3 == 0b11110 else 0
        chunk = self.data[self.pos: self.pos + size]
        try:
            if not size or len(chunk) != size:
                raise UnicodeDecodeError("utf-8", chunk, 0, 1, "bad lead octet")
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(rule, "malformed UTF-8 sequence") from None
        self.pos += size
        return chunk

    def literal(self, rule: str) -> bytes:
        """"{" number64 "}" CRLF *CHAR8 (no NUL); a server never sends the {n+} form."""
        start = self.pos
        self.char(b"{", rule)
        size = self.number64("literal")
        if self.try_char(b"+"):
            raise self.fail("server-literal-plus", "non-synchronizing literal sent by a server", at=start)
        self.char(b"}", "literal")
        if self.data[self.pos: self.pos + 2] != b"\r\n":
            raise self.fail("literal", "literal size must be followed by CRLF")
        self.pos += 2
        body = self.data[self.pos: self.pos + size]
        if len(body) != size:
            raise self.fail("literal", "response ends inside the literal")
        nul = body.find(b"\x00")
        if nul >= 0:
            raise self.fail("literal", "NUL octet in a literal (CHAR8 excludes it; only literal8 allows it)",
                            at=self.pos + nul)
        self.pos += size
        self.last_quoted = False
        return body

    def literal8(self, rule: str) -> bytes:
        self.char(b"~", rule)
        if self.peek() != b"{":
            raise self.fail("literal8", "expected '{' after '~'")
        self.pos += 1
        size = self.number64("literal8")
        if self.peek() == b"+":
            raise self.fail("server-literal-plus", "non-synchronizing literal sent by a server")
        self.char(b"}", "literal8")
        if self.data[self.pos: self.pos + 2] != b"\r\n":
            raise self.fail("literal8", "literal size must be followed by CRLF")
        self.pos += 2
        body = self.data[self.pos: self.pos + size]
        if len(body) != size:
            raise self.fail("literal8", "response ends inside the literal")
        self.pos += size
        return body

    def string(self, rule: str) -> bytes:
        c = self.peek()
        if c == b'"':
            return self.quoted(rule)
        if c == b"{":
            return self.literal(rule)
        raise self.fail(rule, "expected a string (quoted or literal)")

    def nil(self) -> bool:
        return self.try_keyword(b"NIL")

    def nstring(self, rule: str) -> bytes | None:
        if self.nil():
            return None
        return self.string(rule)

    def astring(self, rule: str) -> bytes:
        if self.peek() in (b'"', b"{"):
            return self.string(rule)
        m = _ASTRING_ATOM.match(self.data, self.pos)
        if not m:
            raise self.fail(rule, "expected an astring (atom or string)")
        self.pos = m.end()
        self.last_quoted = False
        return m.group()

    def text(self, rule: str, *, required: bool) -> str:
        """text = 1*(TEXT-CHAR / UTF8-2..4) up to the line end; UTF-8 only after enabling it."""
        start = self.pos
        data = self.data
        while True:
            c = data[self.pos: self.pos + 1]
            if c in (b"", b"\n") or (c == b"\r" and data[self.pos + 1: self.pos + 2] == b"\n"):
                break
            if c in (b"\r", b"\x00"):
                raise self.fail("TEXT-CHAR", "CR or NUL inside the text")
            if c[0] >= 0x80:
                self._utf8_char("TEXT-CHAR")
                continue
            self.pos += 1
        if required and self.pos == start:
            raise self.fail(rule, "text must have at least one character")
        return data[start: self.pos].decode("utf-8")

    # -- composite terminals ---------------------------------------------------------------

    def seq_number(self, rule: str, star: bool) -> int | None:
        if self.try_char(b"*"):
            if not star:
                raise self.fail(rule, "'*' is not allowed here", at=self.pos - 1)
            return None
        return self.nz_number(rule)

    def sequence_set(self, rule: str, *, star: bool = True) -> SequenceSet:
        """sequence-set of nz-number / "*" and ranges; "$" never appears in a response."""
        out: list[Range] = []
        while True:
            lo = self.seq_number(rule, star)
            hi = self.seq_number(rule, star) if self.try_char(b":") else lo
            out.append((lo, hi))
            if not self.try_char(b","):
                return tuple(out)

    def uid_set(self, rule: str = "uid-set") -> SequenceSet:
        return self.sequence_set(rule, star=False)

    def date_time(self, rule: str = "date-time") -> _dt.datetime:
        m = _DATE_TIME.match(self.data, self.pos)
        if not m or m.group(2).upper() not in _MONTHS:
            raise self.fail(rule, 'expected "dd-Mon-yyyy hh:mm:ss +zzzz" (day padded with SP or 0)')
        day, _, year, hh, mm, ss, sign, zone = m.groups()
        if day in (b" 0", b"00"):
            raise self.fail(rule, "day of month 0")
        minutes = int(zone[:2]) * 60 + int(zone[2:])
        if int(zone[2:]) > 59 or int(ss) > 60:
            raise self.fail(rule, "seconds above 60 or zone minutes above 59")
        try:
            value = _dt.datetime(int(year), _MONTHS[m.group(2).upper()], int(day), int(hh), int(mm),
                                 min(int(ss), 59), tzinfo=utc_offset(-minutes if sign == b"-" else minutes))
        except ValueError as exc:
            raise self.fail(rule, f"not a calendar date/time ({exc})") from None
        self.pos = m.end()
        return value

    def tagged_ext_val(self, rule: str = "tagged-ext-val") -> ExtValue:
        """tagged-ext-simple (sequence-set / number / number64) or "(" [tagged-ext-comp] ")"."""
        if self.try_char(b"("):
            if self.try_char(b")"):
                return ()
            value = self._ext_comp_list("tagged-ext-comp")
            self.char(b")", rule)
            return value
        m = _EXT_SIMPLE.match(self.data, self.pos)
        if not m:
            raise self.fail("tagged-ext-simple", "expected a number, a sequence-set or '('")
        text = m.group()
        if text.isdigit():
            self.pos = m.end()
            if int(text) > U63:
                raise self.fail("number64", "number exceeds 2^63-1")
            return int(text)
        self.sequence_set("tagged-ext-simple")
        return text

    def _ext_comp_list(self, rule: str) -> tuple[ExtValue, ...]:
        """tagged-ext-comp *(SP tagged-ext-comp): astrings and parenthesised groups."""
        items: list[ExtValue] = []
        while True:
            if self.try_char(b"("):
                items.append(self._ext_comp_list(rule))
                self.char(b")", rule)
            else:
                items.append(self.astring(rule))
            if self.peek() != b" ":
                return tuple(items)
            self.sp(rule)

    def generic(self, rule: str) -> tuple[ExtValue, ...]:
        """Data of a response this grammar does not define: atoms, numbers, strings, NIL, lists.

        Lists may abut (THREAD-like "(1)(2)"), but every token must be well formed.
        """
        items: list[ExtValue] = []
        while not self.at_eol() and self.peek() != b")":
            c = self.peek()
            if c == b"(":
                self.pos += 1
                items.append(self.generic(rule))
                self.char(b")", rule)
            elif c in (b'"', b"{"):
                items.append(self.string(rule))
            elif c == b"~":
                items.append(self.literal8(rule))
            elif self.nil():
                items.append(None)
            else:
                m = _GENERIC_ATOM.match(self.data, self.pos)
                if not m:
                    raise self.fail(rule, "not an atom, number, string or list")
                self.pos = m.end()
                items.append(int(m.group()) if m.group().isdigit() else m.group())
            if self.peek() == b" ":
                self.sp(rule)
                if self.at_eol() or self.peek() == b")":
                    raise self.fail(rule, "trailing SP")
            elif not (self.at_eol() or self.peek() in (b")", b"(")):
                raise self.fail(rule, "tokens must be separated by SP")
        return tuple(items)
