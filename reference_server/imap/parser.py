"""A sans-I/O IMAP command reader: bytes in, `Command` / `NeedContinuation` / `ParseError` out.

`CommandReader` frames commands (RFC 3501 §2.2, §4.3): a command is one or more lines joined by
literals. A synchronising literal ``{n}`` yields `NeedContinuation` so the driver can send ``+``;
a non-synchronising one ``{n+}`` (RFC 7888) does not. Limits (line length, literal size, nesting
depth, LITERAL- 4096 octets) are checked while framing, so an over-long command is refused before
it is buffered, and whatever a client sends after a refused literal is skipped, not run.

`parse_command` turns one complete command (literals inline) into a `Command` with typed arguments
(commands.py). It follows the ABNF of RFC 3501 §9 / RFC 9051 §9 and the extensions' ABNF; anything
else raises `ParseError` for a tagged BAD. Neither part does I/O or touches the store.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from reference_server.imap.commands import (
    Append,
    AppendMessage,
    Authenticate,
    Command,
    CommandArgs,
    CopyArgs,
    Create,
    Enable,
    Fetch,
    FetchItem,
    Id,
    ListArgs,
    Login,
    MailboxArg,
    NeedContinuation,
    NoArgs,
    ParseError,
    Qresync,
    QuotaRoot,
    RawLine,
    ReaderEvent,
    Rename,
    Search,
    Select,
    SetQuota,
    Sort,
    Status,
    StoreArgs,
    UidExpunge,
)
from reference_server.imap.model import (
    SAVED_RESULT,
    SORT_KEYS,
    Partial,
    SearchKey,
    Section,
    SequenceSet,
    SortCriterion,
    SortKeyName,
)

__all__ = ["CommandReader", "ReaderLimits", "parse_command"]

# RFC 7888 §5: with LITERAL- (and in IMAP4rev2) non-synchronising literals are at most this big.
LITERAL_MINUS_MAX = 4096
_LITERAL_MARK = re.compile(rb"(~?)\{([0-9]{1,20})(\+?)\}\r?\n\Z")
_MAX_NUMBER = 2**32 - 1
_MAX_MODSEQ = 2**63 - 1


@dataclass(frozen=True)
class ReaderLimits:
    max_line: int = 8192  # octets of one line (literal data not counted)
    max_literal: int = 65536  # any literal except APPEND's message
    max_append: int = 50 * 1024 * 1024  # an APPEND message literal
    max_depth: int = 16  # nesting of parenthesised lists (search programs, header lists)
    max_literals: int = 64  # literals in one command
    literal_plus: str = "plus"  # "plus" (LITERAL+), "minus" (LITERAL-) or "off"


class _Bad(Exception):
    def __init__(self, message: str, code: str = "", status: str = "BAD") -> None:
        super().__init__(message)
        self.code = code
        self.status = status


_TAG = re.compile(rb"[\x21\x23\x24\x26\x27\x2c-\x5b\x5e-\x7a\x7c\x7e]+")  # ASTRING-CHAR minus "+"


def _tag_of(data: bytes) -> str:
    m = _TAG.match(data)
    return m.group().decode("ascii") if m and data[m.end():m.end() + 1] in (b" ", b"\r", b"\n", b"") else "*"


class CommandReader:
    """Frames commands from a byte stream; call `receive_data()` then `next_event()` until None.

    Set `raw_mode` for IDLE and AUTHENTICATE exchanges: each line then comes out as `RawLine`.
    """

    def __init__(self, limits: ReaderLimits | None = None) -> None:
        self.limits = limits or ReaderLimits()
        self.raw_mode = False
        self._buf = bytearray()
        self._parts: list[bytes] = []  # the command so far: lines ending in literal markers, literals
        self._literal_left = 0  # octets of the current literal still to come
        self._skip = 0  # octets to drop (a refused non-synchronising literal)
        self._discard_command = False  # drop the rest of a refused command
        self._discard_line = False  # drop up to the next line end (an over-long line)
        self._literal_count = 0
        # Only the imap-literal-plus-ignored fault sets this: '+' is sent for {n+} literals too.
        self.nonsync_continuation = False
        # Only case-sensitivity faults set this: a command matching one of these is refused as unknown.
        self.refused_spellings: tuple[re.Pattern[bytes], ...] = ()

    def receive_data(self, data: bytes) -> None:
        self._buf += data

    @property
    def mid_command(self) -> bool:
        """True while a command has started but is not complete (used for the command time limit)."""
        return bool(self._parts or self._literal_left or self._buf)

    def _reset(self) -> None:
        self._parts = []
        self._literal_left = 0
        self._literal_count = 0

    def _refuse(self, message: str, code: str = "", status: str = "BAD", discard: bool = True) -> ParseError:
        tag = _tag_of(self._parts[0]) if self._parts else "*"
        self._reset()
        self._discard_command = discard
        return ParseError(tag, message, code, status)

    def next_event(self) -> ReaderEvent | None:
        """The next event, or None when more data is needed."""
        while True:
            if self._skip:
                n = min(self._skip, len(self._buf))
                del self._buf[:n]
                self._skip -= n
                if self._skip:
                    return None
            if self._literal_left:
                if len(self._buf) < self._literal_left:
                    return None
                self._parts.append(bytes(self._buf[: self._literal_left]))
                del self._buf[: self._literal_left]
                self._literal_left = 0
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) <= self.limits.max_line:
                    return None
                # Keep only the tail: it may hold the literal marker that decides what follows.
                head, tail = bytes(self._buf[:64]), bytes(self._buf[-32:])
                self._buf[:] = tail
                if self._discard_line:
                    return None
                if not self._parts:
                    self._parts = [head]
                err = self._refuse(f"line too long (limit {self.limits.max_line} octets)", "TOOBIG")
                self._discard_line = True
                return err
            line = bytes(self._buf[: nl + 1])
            del self._buf[: nl + 1]
            if self._discard_line:
                # The end of an over-long line: only its literal marker matters now.
                self._discard_line = False
                self._discard_command = True
            if self.raw_mode and not self._parts and not self._discard_command:
                if len(line) > self.limits.max_line:
                    return ParseError("*", "line too long", "TOOBIG")
                return RawLine(line.rstrip(b"\n").rstrip(b"\r"))
            mark = _LITERAL_MARK.search(line)
            if self._discard_command:
                if mark and mark.group(3):
                    self._skip = int(mark.group(2))
                else:
                    self._discard_command = False
                continue
            if len(line) > self.limits.max_line:
                self._parts.append(line[:64])
                nonsync = bool(mark and mark.group(3))
                if mark and nonsync:
                    self._skip = int(mark.group(2))
                return self._refuse(f"line too long (limit {self.limits.max_line} octets)", "TOOBIG",
                                    discard=nonsync)
            self._parts.append(line)
            if mark is None:
                data = b"".join(self._parts)
                self._reset()
                if any(p.search(data) for p in self.refused_spellings):  # FAULT hook
                    return ParseError(_tag_of(data), "unknown command")
                return parse_command(data, self.limits)
            event = self._literal(mark)
            if event is not None:
                return event

    def _literal(self, mark: re.Match[bytes]) -> ReaderEvent | None:
        size = int(mark.group(2))
        nonsync = bool(mark.group(3))
        first = self._parts[0]
        is_append = re.match(rb"[^ ]+ APPEND ", first, re.IGNORECASE) is not None and len(self._parts) > 0
        self._literal_count += 1
        if nonsync and self.limits.literal_plus == "off":
            self._skip = size
            return self._refuse("non-synchronising literals are not supported here")
        if nonsync and self.limits.literal_plus == "minus" and size > LITERAL_MINUS_MAX:
            self._skip = size
            return self._refuse(f"non-synchronising literals are limited to {LITERAL_MINUS_MAX} octets "
                                "(LITERAL-)", "TOOBIG")
        limit = self.limits.max_append if is_append else self.limits.max_literal
        if size > limit:
            if nonsync:
                self._skip = size
            # A synchronising literal was never sent: the tagged reply ends the command (RFC 3501 §7.5).
            return self._refuse(f"literal too big (limit {limit} octets)", "TOOBIG",
                                status="BAD" if nonsync else "NO", discard=nonsync)
        if self._literal_count > self.limits.max_literals:
            if nonsync:
                self._skip = size
            return self._refuse(f"too many literals in one command (limit {self.limits.max_literals})",
                                "LIMIT", discard=nonsync)
        self._literal_left = size
        if nonsync and not self.nonsync_continuation:
            return None
        return NeedContinuation(_tag_of(first), size)


# -- the grammar ------------------------------------------------------------------------------------

_ATOM_SPECIALS = set(b'(){ %*"\\]') | set(range(0x20)) | {0x7F}
_ATOM_CHARS = frozenset(c for c in range(0x21, 0x7F) if c not in _ATOM_SPECIALS)
_ASTRING_CHARS = _ATOM_CHARS | {ord("]")}
_LIST_CHARS = _ASTRING_CHARS | {ord("%"), ord("*")}
_DIGITS = frozenset(b"0123456789")
_LETTERS_DOT = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.")
_ALNUM_DOT = _LETTERS_DOT | _DIGITS
_BASE64_CHARS = (_LETTERS_DOT - {ord(".")}) | _DIGITS | frozenset(b"+/=")
_RUNS: dict[frozenset[int], re.Pattern[bytes]] = {}


def _run_of(allowed: frozenset[int]) -> re.Pattern[bytes]:
    """A pattern matching one or more octets of `allowed` (compiled once per set)."""
    pattern = _RUNS.get(allowed)
    if pattern is None:
        pattern = _RUNS[allowed] = re.compile(b"[" + b"".join(re.escape(bytes([c])) for c in sorted(allowed)) + b"]+")
    return pattern
_MONTHS = {m: i + 1 for i, m in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))}
_SYSTEM_FLAGS = {"\\ANSWERED": "\\Answered", "\\FLAGGED": "\\Flagged", "\\DELETED": "\\Deleted",
                 "\\SEEN": "\\Seen", "\\DRAFT": "\\Draft", "\\RECENT": "\\Recent"}
_STATUS_ITEMS = frozenset({"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE",
                           "HIGHESTMODSEQ", "DELETED-STORAGE"})
_FETCH_SIMPLE = frozenset({"ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE",
                           "RFC822.TEXT", "BODY", "BODYSTRUCTURE", "UID", "MODSEQ"})
_FETCH_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_SEARCH_FLAG_KEYS = frozenset({"ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT",
                               "SEEN", "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN"})
_SEARCH_STRING_KEYS = frozenset({"BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"})
_SEARCH_DATE_KEYS = frozenset({"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"})


def normalise_flag(flag: str) -> str:
    """System flags in their canonical spelling (they are case-insensitive, RFC 3501 §2.3.2)."""
    return _SYSTEM_FLAGS.get(flag.upper(), flag)


def normalise_mailbox(name: str) -> str:
    """INBOX is case-insensitive (RFC 3501 §5.1), also as the first level of a hierarchy."""
    if name.upper() == "INBOX":
        return "INBOX"
    if name[:6].upper() == "INBOX/":
        return "INBOX/" + name[6:]
    return name


class _Grammar:
    """Recursive-descent reader over one complete command (literals inline, final CRLF removed)."""

    def __init__(self, data: bytes, limits: ReaderLimits) -> None:
        self.d = data
        self.p = 0
        self.limits = limits
        self.depth = 0

    # -- lexical ---------------------------------------------------------------------------------

    def peek(self, n: int = 1) -> bytes:
        return self.d[self.p:self.p + n]

    def at_end(self) -> bool:
        return self.p >= len(self.d)

    def expect(self, token: bytes, what: str | None = None) -> None:
        if self.d[self.p:self.p + len(token)].upper() != token.upper():
            raise _Bad(f"expected {what or token.decode()!s} at octet {self.p}")
        self.p += len(token)

    def sp(self) -> None:
        if self.d[self.p:self.p + 1] != b" ":
            raise _Bad(f"expected a space at octet {self.p}")
        self.p += 1

    def maybe(self, token: bytes) -> bool:
        if self.d[self.p:self.p + len(token)].upper() == token.upper():
            self.p += len(token)
            return True
        return False

    def end(self) -> None:
        if not self.at_end():
            raise _Bad(f"unexpected text at octet {self.p}: {self.d[self.p:self.p + 20]!r}")

    def chars(self, allowed: frozenset[int], what: str) -> bytes:
        """The longest run of `allowed` octets here (at least one)."""
        m = _run_of(allowed).match(self.d, self.p)
        if m is None:
            raise _Bad(f"expected {what} at octet {self.p}")
        self.p = m.end()
        return m.group()

    def atom(self) -> str:
        return self.chars(_ATOM_CHARS, "an atom").decode("ascii")

    def number(self, limit: int = _MAX_NUMBER, nonzero: bool = False) -> int:
        digits = self.chars(_DIGITS, "a number")
        value = int(digits)
        if value > limit or (nonzero and value == 0):
            raise _Bad(f"number out of range: {digits.decode()}")
        return value

    def quoted(self) -> bytes:
        self.expect(b'"')
        out = bytearray()
        while True:
            if self.at_end():
                raise _Bad("unterminated quoted string")
            c = self.d[self.p]
            self.p += 1
            if c == 0x22:
                return bytes(out)
            if c == 0x5C:
                if self.at_end() or self.d[self.p] not in (0x22, 0x5C):
                    raise _Bad("only \\\\ and \\\" may be escaped in a quoted string")
                c = self.d[self.p]
                self.p += 1
            elif c in (0x0D, 0x0A, 0x00):
                raise _Bad("CR, LF and NUL are not allowed in a quoted string")
            out.append(c)

    def literal(self, allow8: bool = False) -> tuple[bytes, bool]:
        """A literal's data; second item True for literal8 (~{n}, RFC 3516 / RFC 9051)."""
        binary = allow8 and self.maybe(b"~")
        m = re.compile(rb"\{([0-9]{1,20})\+?\}\r?\n").match(self.d, self.p)
        if m is None:
            raise _Bad(f"expected a literal at octet {self.p}")
        n = int(m.group(1))
        self.p = m.end()
        if self.p + n > len(self.d):
            raise _Bad("literal shorter than announced")
        data = self.d[self.p:self.p + n]
        self.p += n
        if not binary and b"\0" in data:
            raise _Bad("NUL octets are only allowed in literal8")
        return data, binary

    def string(self) -> bytes:
        c = self.peek()
        if c == b'"':
            return self.quoted()
        if c == b"{":
            return self.literal()[0]
        raise _Bad(f"expected a string at octet {self.p}")

    def astring_bytes(self) -> bytes:
        if self.peek() in (b'"', b"{"):
            return self.string()
        return self.chars(_ASTRING_CHARS, "an astring")

    def astring(self) -> str:
        return _text(self.astring_bytes())

    def nstring(self) -> str | None:
        if self.d[self.p:self.p + 3].upper() == b"NIL" and self.d[self.p + 3:self.p + 4] in (b" ", b")", b""):
            self.p += 3
            return None
        return _text(self.string())

    def mailbox(self) -> str:
        name = self.astring()
        if not name:
            raise _Bad("empty mailbox name")
        return normalise_mailbox(name)

    def list_mailbox(self) -> str:
        if self.peek() in (b'"', b"{"):
            return _text(self.string())
        return self.chars(_LIST_CHARS, "a mailbox pattern").decode("ascii")

    def open_list(self) -> None:
        self.expect(b"(")
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise _Bad(f"too deeply nested (limit {self.limits.max_depth})", "LIMIT")

    def close_list(self) -> None:
        self.expect(b")")
        self.depth -= 1

    def parenthesised(self, item: Callable[[], object], allow_empty: bool = True) -> list:  # type: ignore[type-arg]
        self.open_list()
        out = []
        if not (allow_empty and self.peek() == b")"):
            out.append(item())
            while self.maybe(b" "):
                out.append(item())
        self.close_list()
        return out

    def flag(self) -> str:
        if self.maybe(b"\\"):
            if self.maybe(b"*"):
                raise _Bad("\\* is not a flag that can be set")
            name = "\\" + self.atom()
            return normalise_flag(name)
        return self.atom()

    def flag_list(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.parenthesised(self.flag)))

    def seq_number(self) -> int | None:
        if self.maybe(b"*"):
            return None
        return self.number(nonzero=True)

    def sequence_set(self, saved: bool = False) -> SequenceSet:
        """A sequence set; with `saved`, also "$", the search result variable (RFC 9051 §6.4.4.1)."""
        if saved and self.maybe(b"$"):
            return SAVED_RESULT
        ranges: list[tuple[int | None, int | None]] = []
        while True:
            low = self.seq_number()
            high = self.seq_number() if self.maybe(b":") else low
            ranges.append((low, high))
            if not self.maybe(b","):
                return tuple(ranges)

    def date(self) -> dt.date:
        quoted = self.maybe(b'"')
        m = re.compile(rb"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})").match(self.d, self.p)
        if m is None:
            raise _Bad(f"expected a date (d-Mon-yyyy) at octet {self.p}")
        self.p = m.end()
        if quoted:
            self.expect(b'"')
        try:
            return dt.date(int(m.group(3)), _MONTHS[m.group(2).decode().upper()], int(m.group(1)))
        except (KeyError, ValueError) as exc:
            raise _Bad(f"invalid date {m.group().decode()!r}") from exc

    def date_time(self) -> dt.datetime:
        m = re.compile(rb'"([ 0-9][0-9])-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) '
                       rb'([+-])([0-9]{2})([0-9]{2})"').match(self.d, self.p)
        if m is None:
            raise _Bad(f"expected a date-time (\"dd-Mon-yyyy hh:mm:ss +zzzz\") at octet {self.p}")
        self.p = m.end()
        g = [x.decode() for x in m.groups()]
        try:
            offset = dt.timedelta(hours=int(g[7]), minutes=int(g[8]))
            tz = dt.timezone(-offset if g[6] == "-" else offset)
            return dt.datetime(int(g[2]), _MONTHS[g[1].upper()], int(g[0].strip()), int(g[3]), int(g[4]),
                               int(g[5]), tzinfo=tz)
        except (KeyError, ValueError) as exc:
            raise _Bad(f"invalid date-time {m.group().decode()!r}") from exc

    def word(self) -> str:
        """An atom upper-cased (keywords like FLAGS, BODY.PEEK)."""
        return self.atom().upper()


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Bad("string is not valid UTF-8") from exc


# -- commands ---------------------------------------------------------------------------------------

def _no_args(g: _Grammar) -> NoArgs:
    return NoArgs()


def _authenticate(g: _Grammar) -> Authenticate:
    g.sp()
    mech = g.word()
    initial = None
    if g.maybe(b" "):
        token = g.chars(_BASE64_CHARS,
                        "a base64 initial response")
        initial = b"" if token == b"=" else _b64(token)
    return Authenticate(mech, initial)


def _b64(token: bytes) -> bytes:
    try:
        return base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _Bad("invalid base64") from exc


def _login(g: _Grammar) -> Login:
    g.sp()
    user = g.astring()
    g.sp()
    return Login(user, g.astring())


def _select(g: _Grammar) -> Select:
    g.sp()
    mailbox = g.mailbox()
    condstore = False
    qresync: Qresync | None = None
    if g.maybe(b" "):
        g.open_list()
        while True:
            name = g.word()
            if name == "CONDSTORE":
                condstore = True
            elif name == "QRESYNC":
                g.sp()
                qresync = _qresync(g)
            else:
                raise _Bad(f"unknown SELECT parameter {name}")
            if not g.maybe(b" "):
                break
        g.close_list()
    return Select(mailbox, condstore, qresync)


def _qresync(g: _Grammar) -> Qresync:
    g.open_list()
    uidvalidity = g.number(nonzero=True)
    g.sp()
    modseq = g.number(_MAX_MODSEQ, nonzero=True)
    known: SequenceSet | None = None
    match: tuple[SequenceSet, SequenceSet] | None = None
    if g.maybe(b" "):
        if g.peek() != b"(":
            known = g.sequence_set()
            if not g.maybe(b" "):
                g.close_list()
                return Qresync(uidvalidity, modseq, known, None)
        g.open_list()
        seqs = g.sequence_set()
        g.sp()
        uids = g.sequence_set()
        g.close_list()
        match = (seqs, uids)
    g.close_list()
    return Qresync(uidvalidity, modseq, known, match)


def _mailbox_arg(g: _Grammar) -> MailboxArg:
    g.sp()
    return MailboxArg(g.mailbox())


def _create(g: _Grammar) -> Create:
    g.sp()
    name = g.mailbox()
    uses: tuple[str, ...] = ()
    if g.maybe(b" "):
        g.open_list()
        g.expect(b"USE", "USE")
        g.sp()
        uses = tuple(g.parenthesised(g.flag, allow_empty=False))  # type: ignore[arg-type]
        g.close_list()
    return Create(name, uses)


def _rename(g: _Grammar) -> Rename:
    g.sp()
    old = g.mailbox()
    g.sp()
    return Rename(old, g.mailbox())


def _list(g: _Grammar, lsub: bool = False) -> ListArgs:
    g.sp()
    selection: tuple[str, ...] = ()
    extended = False
    if not lsub and g.peek() == b"(":
        selection = tuple(g.parenthesised(g.word))  # type: ignore[arg-type]
        extended = True
        g.sp()
    reference = _text(g.astring_bytes())
    g.sp()
    if not lsub and g.peek() == b"(":
        patterns = tuple(g.parenthesised(g.list_mailbox, allow_empty=False))
        extended = True
    else:
        patterns = (g.list_mailbox(),)
    return_opts: list[str] = []
    status_items: tuple[str, ...] = ()
    if not lsub and g.maybe(b" "):
        g.expect(b"RETURN", "RETURN")
        g.sp()
        extended = True
        g.open_list()
        while g.peek() != b")":
            opt = g.word()
            return_opts.append(opt)
            if opt == "STATUS":
                g.sp()
                status_items = _status_items(g)
            if not g.maybe(b" "):
                break
        g.close_list()
    return ListArgs(reference, patterns, selection, tuple(return_opts), status_items,  # type: ignore[arg-type]
                    extended)


def _status_items(g: _Grammar) -> tuple[str, ...]:
    items = tuple(g.parenthesised(g.word, allow_empty=False))
    for it in items:
        if it not in _STATUS_ITEMS:
            raise _Bad(f"unknown STATUS item {it}")
    return items  # type: ignore[return-value]


def _status(g: _Grammar) -> Status:
    g.sp()
    mailbox = g.mailbox()
    g.sp()
    return Status(mailbox, _status_items(g))


def _append(g: _Grammar) -> Append:
    g.sp()
    mailbox = g.mailbox()
    messages: list[AppendMessage] = []
    while g.maybe(b" "):
        flags: tuple[str, ...] = ()
        date = None
        if g.peek() == b"(":
            flags = g.flag_list()
            g.sp()
        if g.peek() == b'"':
            date = g.date_time()
            g.sp()
        data, binary = g.literal(allow8=True)
        messages.append(AppendMessage(flags, date, data, binary))
    if not messages:
        raise _Bad("APPEND needs a message literal")
    return Append(mailbox, tuple(messages))


def _search(g: _Grammar) -> Search:
    g.sp()
    return_opts: tuple[str, ...] | None = None
    charset: str | None = None
    if g.maybe(b"RETURN "):
        return_opts = tuple(g.parenthesised(g.word))  # type: ignore[arg-type]
        for opt in return_opts:
            if opt not in ("MIN", "MAX", "ALL", "COUNT", "SAVE"):
                raise _Bad(f"unknown SEARCH return option {opt}")
        g.sp()
    if g.d[g.p:g.p + 8].upper() == b"CHARSET ":
        g.p += 8
        charset = g.astring().upper()
        g.sp()
    return Search(_search_program(g, charset), charset, return_opts)


def _sort(g: _Grammar) -> Sort:
    # RFC 5256 §4: "SORT" SP sort-criteria SP search-criteria; the charset is not optional here.
    g.sp()
    criteria = tuple(g.parenthesised(lambda: _sort_criterion(g), allow_empty=False))
    g.sp()
    charset = g.astring().upper()
    g.sp()
    return Sort(criteria, charset, _search_program(g, charset))


def _sort_criterion(g: _Grammar) -> SortCriterion:
    reverse = g.maybe(b"REVERSE ")
    name = g.word()
    if name not in SORT_KEYS:
        raise _Bad(f"unknown sort key {name}")
    return SortCriterion(cast(SortKeyName, name), reverse)


def _search_program(g: _Grammar, charset: str | None) -> SearchKey:
    """One or more search keys separated by spaces, as the AND of them."""
    decode = _search_decoder(charset)
    keys = [_search_key(g, decode)]
    while g.maybe(b" "):
        keys.append(_search_key(g, decode))
    return SearchKey("AND", (tuple(keys),))


def _search_decoder(charset: str | None) -> Callable[[bytes], str]:
    def decode(data: bytes) -> str:
        if charset == "US-ASCII" and any(c > 0x7F for c in data):
            raise _Bad("8-bit octets in a US-ASCII search string")
        if charset in (None, "US-ASCII", "UTF-8"):
            return _text(data)
        return data.decode("latin-1")  # unknown charset: the session answers NO [BADCHARSET]
    return decode


def _search_key(g: _Grammar, decode: Callable[[bytes], str]) -> SearchKey:
    c = g.peek()
    if c == b"(":
        keys = g.parenthesised(lambda: _search_key(g, decode), allow_empty=False)
        return SearchKey("AND", (tuple(keys),))
    if c.isdigit() or c in (b"*", b"$"):
        return SearchKey("SEQSET", (g.sequence_set(saved=True),))
    name = g.word()
    if name in _SEARCH_FLAG_KEYS:
        return SearchKey(name)
    g.sp()
    if name in _SEARCH_STRING_KEYS:
        return SearchKey(name, (decode(g.astring_bytes()),))
    if name in _SEARCH_DATE_KEYS:
        return SearchKey(name, (g.date(),))
    if name == "HEADER":
        field_name = _text(g.astring_bytes())
        g.sp()
        return SearchKey(name, (field_name, decode(g.astring_bytes())))
    if name in ("KEYWORD", "UNKEYWORD"):
        return SearchKey(name, (g.flag(),))
    if name in ("LARGER", "SMALLER"):
        return SearchKey(name, (g.number(),))
    if name == "UID":
        return SearchKey(name, (g.sequence_set(saved=True),))
    if name == "NOT":
        g.depth += 1
        if g.depth > g.limits.max_depth:
            raise _Bad(f"search program too deeply nested (limit {g.limits.max_depth})", "LIMIT")
        inner = _search_key(g, decode)
        g.depth -= 1
        return SearchKey(name, (inner,))
    if name == "OR":
        g.depth += 1
        if g.depth > g.limits.max_depth:
            raise _Bad(f"search program too deeply nested (limit {g.limits.max_depth})", "LIMIT")
        a = _search_key(g, decode)
        g.sp()
        b = _search_key(g, decode)
        g.depth -= 1
        return SearchKey(name, (a, b))
    if name == "MODSEQ":
        if g.peek() == b'"':  # entry-name and entry-type (RFC 7162 §3.1.5), not used here
            g.quoted()
            g.sp()
            kind = g.word()
            if kind not in ("PRIV", "SHARED", "ALL"):
                raise _Bad(f"unknown MODSEQ entry type {kind}")
            g.sp()
        return SearchKey(name, (g.number(_MAX_MODSEQ),))
    raise _Bad(f"unknown search key {name}")


def _section(g: _Grammar) -> Section:
    g.expect(b"[")
    part: list[int] = []
    text = ""
    fields: tuple[str, ...] = ()
    while g.peek().isdigit():
        part.append(g.number(nonzero=True))
        if not g.maybe(b"."):
            break
    if g.peek() != b"]":
        word = g.chars(_LETTERS_DOT, "a section")
        text = word.decode().upper()
        if text not in ("HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"):
            raise _Bad(f"unknown section text {text}")
        if text == "MIME" and not part:
            raise _Bad("MIME needs a part number")
        if text.startswith("HEADER.FIELDS"):
            g.sp()
            fields = tuple(f.upper() for f in g.parenthesised(g.astring, allow_empty=False))
    g.expect(b"]")
    return Section(tuple(part), text, fields)  # type: ignore[arg-type]


def _binary_section(g: _Grammar) -> Section:
    g.expect(b"[")
    part: list[int] = []
    if g.peek() != b"]":
        part.append(g.number(nonzero=True))
        while g.maybe(b"."):
            part.append(g.number(nonzero=True))
    g.expect(b"]")
    return Section(tuple(part))


def _partial(g: _Grammar) -> Partial | None:
    if not g.maybe(b"<"):
        return None
    start = g.number()
    g.expect(b".")
    length = g.number(nonzero=True)
    g.expect(b">")
    return Partial(start, length)


def _fetch_item(g: _Grammar) -> FetchItem:
    name = g.chars(_ALNUM_DOT,
                   "a fetch item").decode().upper()
    if g.peek() == b"[":
        if name in ("BODY", "BODY.PEEK"):
            section = _section(g)
        elif name in ("BINARY", "BINARY.PEEK", "BINARY.SIZE"):
            section = _binary_section(g)
        else:
            raise _Bad(f"{name} takes no section")
        partial = _partial(g) if name != "BINARY.SIZE" else None
        return FetchItem(name, section, partial)
    if name not in _FETCH_SIMPLE:
        raise _Bad(f"unknown fetch item {name}")
    return FetchItem(name)


def _fetch(g: _Grammar) -> Fetch:
    g.sp()
    seq = g.sequence_set(saved=True)
    g.sp()
    if g.peek() == b"(":
        items = tuple(g.parenthesised(lambda: _fetch_item(g), allow_empty=False))
    else:
        start = g.p
        word = g.chars(_LETTERS_DOT, "a fetch item")
        macro = _FETCH_MACROS.get(word.decode().upper())
        if macro is not None and g.peek() != b"[":
            items = tuple(FetchItem(n) for n in macro)
        else:
            g.p = start
            items = (_fetch_item(g),)
    changedsince = None
    vanished = False
    if g.maybe(b" "):
        g.open_list()
        while True:
            mod = g.word()
            if mod == "CHANGEDSINCE":
                g.sp()
                changedsince = g.number(_MAX_MODSEQ, nonzero=True)
            elif mod == "VANISHED":
                vanished = True
            else:
                raise _Bad(f"unknown FETCH modifier {mod}")
            if not g.maybe(b" "):
                break
        g.close_list()
    return Fetch(seq, items, changedsince, vanished)


def _store(g: _Grammar) -> StoreArgs:
    g.sp()
    seq = g.sequence_set(saved=True)
    g.sp()
    unchangedsince = None
    if g.peek() == b"(":
        g.open_list()
        g.expect(b"UNCHANGEDSINCE", "UNCHANGEDSINCE")
        g.sp()
        unchangedsince = g.number(_MAX_MODSEQ)
        g.close_list()
        g.sp()
    mode = "+" if g.maybe(b"+") else "-" if g.maybe(b"-") else ""
    item = g.word()
    if item not in ("FLAGS", "FLAGS.SILENT"):
        raise _Bad(f"unknown STORE item {item}")
    g.sp()
    if g.peek() == b"(":
        flags = g.flag_list()
    else:
        flags_list = [g.flag()]
        while g.maybe(b" "):
            flags_list.append(g.flag())
        flags = tuple(dict.fromkeys(flags_list))
    return StoreArgs(seq, mode, item.endswith(".SILENT"), flags, unchangedsince)  # type: ignore[arg-type]


def _copy(g: _Grammar) -> CopyArgs:
    g.sp()
    seq = g.sequence_set(saved=True)
    g.sp()
    return CopyArgs(seq, g.mailbox())


def _uid_expunge(g: _Grammar) -> UidExpunge:
    g.sp()
    return UidExpunge(g.sequence_set(saved=True))


def _enable(g: _Grammar) -> Enable:
    caps = []
    while g.maybe(b" "):
        caps.append(g.chars(_ATOM_CHARS, "a capability").decode().upper())
    if not caps:
        raise _Bad("ENABLE needs at least one capability")
    return Enable(tuple(caps))


def _id(g: _Grammar) -> Id:
    g.sp()
    if g.maybe(b"NIL"):
        return Id(None)

    def pair() -> tuple[str, str | None]:
        key = _text(g.string())
        g.sp()
        return key, g.nstring()

    pairs = g.parenthesised(pair)
    if len(pairs) > 30:  # RFC 2971 §3.3
        raise _Bad("ID takes at most 30 field-value pairs")
    return Id(tuple(pairs))  # type: ignore[arg-type]


def _getquota(g: _Grammar) -> QuotaRoot:
    g.sp()
    return QuotaRoot(g.astring())


def _setquota(g: _Grammar) -> SetQuota:
    g.sp()
    root = g.astring()
    g.sp()
    g.open_list()
    limits: list[tuple[str, int]] = []
    while g.peek() != b")":
        name = g.word()
        g.sp()
        limits.append((name, g.number(_MAX_MODSEQ)))
        if not g.maybe(b" "):
            break
    g.close_list()
    return SetQuota(root, tuple(limits))


_COMMANDS: dict[str, Callable[[_Grammar], CommandArgs]] = {
    "CAPABILITY": _no_args, "NOOP": _no_args, "LOGOUT": _no_args, "STARTTLS": _no_args,
    "AUTHENTICATE": _authenticate, "LOGIN": _login, "SELECT": _select, "EXAMINE": _select,
    "CREATE": _create, "DELETE": _mailbox_arg, "RENAME": _rename, "SUBSCRIBE": _mailbox_arg,
    "UNSUBSCRIBE": _mailbox_arg, "LIST": _list, "LSUB": lambda g: _list(g, lsub=True), "STATUS": _status,
    "APPEND": _append, "CHECK": _no_args, "CLOSE": _no_args, "EXPUNGE": _no_args, "SEARCH": _search, "SORT": _sort,
    "FETCH": _fetch, "STORE": _store, "COPY": _copy, "MOVE": _copy, "UNSELECT": _no_args,
    "IDLE": _no_args, "NAMESPACE": _no_args, "ENABLE": _enable, "ID": _id, "GETQUOTA": _getquota,
    "GETQUOTAROOT": _mailbox_arg, "SETQUOTA": _setquota,
}
_UID_COMMANDS: dict[str, Callable[[_Grammar], CommandArgs]] = {
    "COPY": _copy, "MOVE": _copy, "FETCH": _fetch, "SEARCH": _search, "SORT": _sort, "STORE": _store,
    "EXPUNGE": _uid_expunge,
}


def parse_command(data: bytes, limits: ReaderLimits | None = None) -> Command | ParseError:
    """Parse one complete command (with its final CRLF, literals inline)."""
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    tag = _tag_of(data)
    if tag == "*":
        return ParseError("*", "missing or invalid tag" if data.strip() else "empty command line")
    g = _Grammar(data, limits or ReaderLimits())
    g.p = len(tag)
    try:
        g.sp()
        name = g.word()
        uid = False
        table = _COMMANDS
        if name == "UID":
            g.sp()
            name = g.word()
            uid = True
            table = _UID_COMMANDS
        handler = table.get(name)
        if handler is None:
            return ParseError(tag, f"unknown command {'UID ' if uid else ''}{name}")
        args = handler(g)
        g.end()
    except _Bad as exc:
        return ParseError(tag, str(exc), exc.code, exc.status)
    return Command(tag, name, uid, args)
