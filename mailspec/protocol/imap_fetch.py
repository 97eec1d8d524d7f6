"""FETCH data: msg-att (RFC 3501/9051 §9, BINARY per RFC 9051 and RFC 3516, MODSEQ per RFC 7162).

The result maps the item name, upper-cased, to its value. Body sections keep their section and
origin in the key, normalised the way a client would build it to look them up:
`BODY[]`, `BODY[1.2.MIME]`, `BODY[HEADER.FIELDS (SUBJECT FROM)]<0>`, `BINARY[1]`, `BINARY.SIZE[2]`.
Values: FLAGS a tuple of str, UID/RFC822.SIZE/MODSEQ/BINARY.SIZE an int, INTERNALDATE an aware
datetime, ENVELOPE an `Envelope`, BODY/BODYSTRUCTURE a `Body`, body sections bytes or None (NIL).
There is no generic msg-att: an item this grammar does not know cannot be skipped safely, since
its value's shape is unknown, so it is reported.
"""

from __future__ import annotations

import re

from mailspec.protocol.imap_body import body, envelope
from mailspec.protocol.imap_codes import flag, mod_sequence_value
from mailspec.protocol.imap_lexer import Cursor

_ITEM = re.compile(rb"[A-Za-z0-9.]+")
_SECTION_WORD = re.compile(rb"[A-Za-z.]+")


def msg_att(cur: Cursor) -> dict[str, object]:
    """"(" (msg-att-dynamic / msg-att-static) *(SP ...) ")"."""
    cur.char(b"(", "msg-att")
    out: dict[str, object] = {}
    while True:
        key, value = _item(cur)
        out[key] = value
        if cur.try_char(b")"):
            return out
        cur.sp("msg-att")


def _item(cur: Cursor) -> tuple[str, object]:
    start = cur.pos
    m = _ITEM.match(cur.data, cur.pos)
    if not m:
        raise cur.fail("msg-att", "expected a FETCH data item name")
    name = m.group().upper().decode("ascii")
    cur.pos = m.end()
    if name in ("BODY", "BINARY", "BINARY.SIZE") and cur.peek() == b"[":
        return _section_item(cur, name)
    reader = _SIMPLE.get(name)
    if reader is None:
        raise cur.fail("msg-att", f"unknown FETCH data item {name}", at=start)
    cur.sp("msg-att-static" if name != "FLAGS" else "msg-att-dynamic")
    return name, reader(cur)


def _flags(cur: Cursor) -> tuple[str, ...]:
    """"(" [flag-fetch *(SP flag-fetch)] ")": flags incl. \\Recent, never \\*."""
    cur.char(b"(", "msg-att-dynamic")
    out: list[str] = []
    if not cur.try_char(b")"):
        while True:
            out.append(flag(cur, "flag-fetch"))
            if cur.try_char(b")"):
                break
            cur.sp("msg-att-dynamic")
    return tuple(out)


def _modseq(cur: Cursor) -> int:
    cur.char(b"(", "fetch-mod-resp")
    value = mod_sequence_value(cur, "permsg-modsequence")
    cur.char(b")", "fetch-mod-resp")
    return value


_SIMPLE = {
    "FLAGS": _flags,
    "MODSEQ": _modseq,
    "ENVELOPE": envelope,
    "INTERNALDATE": lambda c: c.date_time("date-time"),
    "RFC822.SIZE": lambda c: c.number64("msg-att-static"),
    "RFC822": lambda c: c.nstring("msg-att-static"),
    "RFC822.HEADER": lambda c: c.nstring("msg-att-static"),
    "RFC822.TEXT": lambda c: c.nstring("msg-att-static"),
    "BODY": lambda c: body(c, extensible=False),
    "BODYSTRUCTURE": lambda c: body(c, extensible=True),
    "UID": lambda c: c.nz_number("uniqueid"),
}


def _section_item(cur: Cursor, name: str) -> tuple[str, object]:
    spec = section(cur) if name == "BODY" else section_binary(cur)
    key = f"{name}[{spec}]"
    if name != "BINARY.SIZE" and cur.try_char(b"<"):
        origin = cur.number("msg-att-static")
        cur.char(b">", "msg-att-static")
        key += f"<{origin}>"
    cur.sp("msg-att-static")
    if name == "BINARY.SIZE":
        return key, cur.number("msg-att-static")
    if name == "BINARY" and cur.peek() == b"~":
        return key, cur.literal8("msg-att-static")
    return key, cur.nstring("msg-att-static")


def section_binary(cur: Cursor) -> str:
    """"[" [section-part] "]"."""
    cur.char(b"[", "section-binary")
    part = _section_part(cur) if cur.peek().isdigit() else ""
    cur.char(b"]", "section-binary")
    return part


def section(cur: Cursor) -> str:
    """"[" [section-spec] "]" with section-spec = section-msgtext / (section-part ["." section-text])."""
    cur.char(b"[", "section")
    spec = ""
    if cur.peek().isdigit():
        spec = _section_part(cur)
        if cur.try_char(b"."):
            spec += "." + _section_text(cur, mime=True)
    elif cur.peek() != b"]":
        spec = _section_text(cur, mime=False)
    cur.char(b"]", "section")
    return spec


def _section_part(cur: Cursor) -> str:
    parts = [str(cur.nz_number("section-part"))]
    while cur.peek() == b"." and cur.data[cur.pos + 1: cur.pos + 2].isdigit():
        cur.pos += 1
        parts.append(str(cur.nz_number("section-part")))
    return ".".join(parts)


def _section_text(cur: Cursor, *, mime: bool) -> str:
    m = _SECTION_WORD.match(cur.data, cur.pos)
    word = m.group().upper().decode("ascii") if m else ""
    allowed = {"HEADER", "TEXT", "HEADER.FIELDS", "HEADER.FIELDS.NOT"} | ({"MIME"} if mime else set())
    if word not in allowed:
        raise cur.fail("section-text" if mime else "section-msgtext",
                       "expected HEADER, HEADER.FIELDS[.NOT], TEXT" + (" or MIME" if mime else ""))
    cur.pos += len(word)
    if word.startswith("HEADER.FIELDS"):
        cur.sp("section-msgtext")
        cur.char(b"(", "header-list")
        names = [cur.astring("header-fld-name")]
        while cur.try_char(b" "):
            names.append(cur.astring("header-fld-name"))
        cur.char(b")", "header-list")
        word += " (" + " ".join(n.decode("ascii", "replace").upper() for n in names) + ")"
    return word
