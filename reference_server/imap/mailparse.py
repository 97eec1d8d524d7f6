"""Header-level parsing for the IMAP message model: fields, structured values, addresses.

IMAP hands clients header values *raw* (ENVELOPE and BODYSTRUCTURE strings are not MIME-decoded),
and the stdlib email package decodes, re-orders and merges as it parses (RFC 2231 continuations,
lower-cased names). So the structure of header values is tokenised here (RFC 5322 §3.2 lexical
tokens, RFC 2045 §5.1 tspecials), while decoding for SEARCH is left to the email package.

Header bytes are handled as latin-1 text: every octet maps to one code point, so 8-bit bytes survive
a round trip unchanged (`.encode("latin-1")` gives the stored octets back).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from email.errors import MessageError
from email.header import decode_header, make_header

# Address strings whose domain is missing: NIL would read as a group marker (RFC 3501 §7.4.2), so a
# placeholder stands in; this is the one Dovecot uses, so clients see the same from both.
MISSING_DOMAIN = "MISSING_DOMAIN"

_ADDRESS_SPECIALS = '()<>[]:;@\\,"'  # RFC 5322 specials, less "." (dot-atoms and obs-phrase use it)
_MIME_SPECIALS = '()<>@,;:\\"/[]?='  # RFC 2045 tspecials


@dataclass(frozen=True)
class HeaderField:
    """One header field: its name as sent and the field's raw octets (folding and CRLFs kept)."""

    name: str
    raw: bytes

    @property
    def value(self) -> str:
        """The value unfolded (line breaks removed, RFC 5322 §2.2.3), surrounding blanks stripped."""
        text = self.raw.decode("latin-1")
        text = text.split(":", 1)[1] if ":" in text else ""
        return re.sub(r"\r?\n", "", text).strip(" \t")


def header_end(data: bytes) -> int:
    """Where the body starts: just after the blank line that ends the header, or len(data)."""
    if data.startswith((b"\r\n", b"\n")):
        return 2 if data.startswith(b"\r\n") else 1
    match = re.search(rb"\n\r?\n", data)
    return match.end() if match else len(data)


def split_fields(header: bytes) -> list[HeaderField]:
    """The fields of a header block; a line starting with a blank continues the field before it.

    Lines with no colon are not fields (they are dropped here, but stay in the stored bytes).
    """
    fields: list[HeaderField] = []
    for line in header.splitlines(keepends=True):
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = HeaderField(fields[-1].name, fields[-1].raw + line)
        elif b":" in line:
            name = line.split(b":", 1)[0].decode("latin-1").strip(" \t")
            fields.append(HeaderField(name, line))
    return fields


def decode_words(value: str) -> str:
    """A header value with RFC 2047 encoded-words decoded; raw 8-bit octets read as UTF-8 if valid."""
    with contextlib.suppress(UnicodeError):  # not UTF-8: keep the latin-1 reading
        value = value.encode("latin-1").decode("utf-8")
    try:
        return str(make_header(decode_header(value)))
    except (MessageError, LookupError, UnicodeError):
        return value  # a malformed encoded-word is searched as the text it is


# --- RFC 5322 lexical tokens ----------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """kind: atom, quoted (text unescaped), comment (text unescaped), literal ([...] kept) or special."""

    kind: str
    text: str


def tokenize(value: str, specials: str) -> list[Token]:
    """Split a header value into tokens; unterminated quotes and comments run to the end."""
    tokens: list[Token] = []
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if ch in " \t\r\n":
            i += 1
        elif ch == '"':
            text, i = _delimited(value, i + 1, '"')
            tokens.append(Token("quoted", text))
        elif ch == "(":
            text, i = _comment(value, i + 1)
            tokens.append(Token("comment", text))
        elif ch == "[" and "[" in specials:
            end = value.find("]", i)
            end = n if end < 0 else end + 1
            tokens.append(Token("literal", value[i:end]))
            i = end
        elif ch in specials:
            tokens.append(Token("special", ch))
            i += 1
        else:
            start = i
            while i < n and value[i] not in specials and value[i] not in " \t\r\n":
                i += 1
            tokens.append(Token("atom", value[start:i]))
    return tokens


def _delimited(value: str, i: int, close: str) -> tuple[str, int]:
    out: list[str] = []
    while i < len(value) and value[i] != close:
        if value[i] == "\\" and i + 1 < len(value):
            i += 1
        out.append(value[i])
        i += 1
    return "".join(out), i + 1


def _comment(value: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    depth = 1
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    return "".join(out), i


# --- MIME structured fields (RFC 2045 §5.1, RFC 2183) ---------------------------------------------


@dataclass(frozen=True)
class MimeValue:
    """`value` is the leading token(s) ("text/plain", "attachment"); params in the order sent.

    Parameter names and values are as sent (quotes removed); RFC 2231 continuations are not merged,
    because BODYSTRUCTURE passes parameters through rather than interpreting them.
    """

    value: str
    params: tuple[tuple[str, str], ...]


def parse_mime_value(text: str) -> MimeValue:
    """Parse `value *(";" attribute "=" value)`, skipping comments and malformed parameters."""
    tokens = [t for t in tokenize(text, _MIME_SPECIALS) if t.kind != "comment"]
    head: list[str] = []
    i = 0
    while i < len(tokens) and tokens[i].text != ";":
        head.append(tokens[i].text)
        i += 1
    params: list[tuple[str, str]] = []
    while i < len(tokens):
        i += 1  # the ";"
        chunk: list[Token] = []
        while i < len(tokens) and not (tokens[i].kind == "special" and tokens[i].text == ";"):
            chunk.append(tokens[i])
            i += 1
        if len(chunk) >= 3 and chunk[0].kind == "atom" and chunk[1].text == "=":
            params.append((chunk[0].text, "".join(t.text for t in chunk[2:])))
    return MimeValue("".join(head), tuple(params))


# --- Addresses (RFC 5322 §3.4, obs-route of §4.4) for ENVELOPE ----------------------------------

# (display name, at-domain-list, mailbox, host) as in the IMAP address structure.
Address = tuple[str | None, str | None, str | None, str | None]
GROUP_END: Address = (None, None, None, None)


def parse_addresses(value: str) -> list[Address]:
    """The address structures of an address-list header, groups as start/end markers.

    Lenient the way servers are: a mailbox with no phrase takes a following comment as its name,
    a mailbox without a domain gets MISSING_DOMAIN, and a piece that cannot be parsed is skipped
    up to the next comma.
    """
    return _AddressParser(tokenize(value, _ADDRESS_SPECIALS)).address_list()


class _AddressParser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.comment: str | None = None  # the latest comment seen, the name fallback

    def peek(self) -> Token | None:
        while self.pos < len(self.tokens) and self.tokens[self.pos].kind == "comment":
            self.comment = self.tokens[self.pos].text
            self.pos += 1
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def at(self, special: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "special" and tok.text == special

    def address_list(self, *, in_group: bool = False) -> list[Address]:
        out: list[Address] = []
        while (tok := self.peek()) is not None:
            if tok.kind == "special" and tok.text == ",":
                self.pos += 1
            elif in_group and self.at(";"):
                return out
            else:
                out.extend(self.address(in_group=in_group))
            self.comment = None  # a comment names only the address it is in
        return out

    def words(self) -> list[Token]:
        words: list[Token] = []
        while (tok := self.peek()) is not None and tok.kind in ("atom", "quoted"):
            words.append(tok)
            self.pos += 1
        return words

    def address(self, *, in_group: bool) -> list[Address]:
        words = self.words()
        phrase = " ".join(w.text for w in words) or None
        if self.at(":") and not in_group:
            self.pos += 1
            members = self.address_list(in_group=True)
            if self.at(";"):
                self.pos += 1
            return [(None, None, phrase or "", None), *members, GROUP_END]
        if self.at("<"):
            self.pos += 1
            addr = self.angle_addr(phrase)
            return [addr] if addr else []
        if self.at("@") and words:
            self.pos += 1
            self.comment = None  # only a comment after the addr-spec names it (as in Dovecot)
            host = self.domain()
            name = self._trailing_comment()
            return [(name, None, "".join(w.text for w in words), host or MISSING_DOMAIN)]
        if words and (self.peek() is None or self.at(",") or self.at(";")):
            return [(self._trailing_comment(), None, "".join(w.text for w in words), MISSING_DOMAIN)]
        self.skip_to_comma()
        return []

    def _trailing_comment(self) -> str | None:
        self.peek()  # consumes comments that follow the address, recording the last one
        return self.comment

    def angle_addr(self, name: str | None) -> Address | None:
        route: list[str] = []
        while self.at("@") or (route and self.at(",")):
            self.pos += 1
            if self.at("@"):
                continue
            route.append("@" + self.domain())
        if route and self.at(":"):
            self.pos += 1
        local = "".join(w.text for w in self.words())
        host = ""
        if self.at("@"):
            self.pos += 1
            host = self.domain()
        if not self.at(">"):
            self.skip_to_comma()
            return None
        self.pos += 1
        if not local and not host:
            return None  # "<>" (a null return path) names no mailbox
        return (name, ",".join(route) or None, local, host or MISSING_DOMAIN)

    def domain(self) -> str:
        parts: list[str] = []
        while (tok := self.peek()) is not None and tok.kind in ("atom", "literal"):
            parts.append(tok.text)
            self.pos += 1
        return "".join(parts)

    def skip_to_comma(self) -> None:
        while (tok := self.peek()) is not None and not (tok.kind == "special" and tok.text == ","):
            self.pos += 1
