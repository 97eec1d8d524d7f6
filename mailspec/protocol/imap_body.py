"""ENVELOPE and BODY/BODYSTRUCTURE (RFC 3501 §9, RFC 9051 §9): the nested FETCH structures.

Written from the ABNF: a one-part body is body-type-basic, -msg or -text depending on its media
type (the quoted "MESSAGE" "RFC822"/"GLOBAL" and "TEXT" forms take priority, as §9's ordering rule
says); multipart bodies are bodies side by side with no SP between them. Extension data is parsed
fully, and the non-extensible BODY item must not carry any (the comment on body-ext-1part).
"""

from __future__ import annotations

from mailspec.protocol.imap_lexer import Cursor
from mailspec.protocol.imap_response import (
    Address,
    Body,
    BodyExtension,
    BodyPart,
    Envelope,
    ExtValue,
    Multipart,
)

MAX_DEPTH = 100  # nesting a client can afford to follow; deeper is an attack, not a message
Params = tuple[tuple[bytes, bytes], ...]


def envelope(cur: Cursor) -> Envelope:
    cur.char(b"(", "envelope")
    date = cur.nstring("env-date")
    cur.sp("envelope")
    subject = cur.nstring("env-subject")
    lists = []
    for name in ("env-from", "env-sender", "env-reply-to", "env-to", "env-cc", "env-bcc"):
        cur.sp("envelope")
        lists.append(_address_list(cur, name))
    cur.sp("envelope")
    in_reply_to = cur.nstring("env-in-reply-to")
    cur.sp("envelope")
    message_id = cur.nstring("env-message-id")
    cur.char(b")", "envelope")
    from_, sender, reply_to, to, cc, bcc = lists
    return Envelope(date, subject, from_, sender, reply_to, to, cc, bcc, in_reply_to, message_id)


def _address_list(cur: Cursor, rule: str) -> tuple[Address, ...] | None:
    """"(" 1*address ")" / nil: addresses abut, and an empty list must be NIL."""
    if cur.nil():
        return None
    cur.char(b"(", rule)
    out = []
    while cur.peek() == b"(":
        out.append(_address(cur))
    if not out:
        raise cur.fail(rule, "an address list holds at least one address (an empty one is NIL)")
    cur.char(b")", rule)
    return tuple(out)


def _address(cur: Cursor) -> Address:
    cur.char(b"(", "address")
    name = cur.nstring("addr-name")
    cur.sp("address")
    adl = cur.nstring("addr-adl")
    cur.sp("address")
    mailbox = cur.nstring("addr-mailbox")
    cur.sp("address")
    host = cur.nstring("addr-host")
    cur.char(b")", "address")
    return Address(name, adl, mailbox, host)


def body(cur: Cursor, *, extensible: bool, depth: int = 0) -> Body:
    """body = "(" (body-type-1part / body-type-mpart) ")"."""
    if depth > MAX_DEPTH:
        raise cur.fail("limit", f"body nested deeper than {MAX_DEPTH}")
    cur.char(b"(", "body")
    value = _mpart(cur, extensible, depth) if cur.peek() == b"(" else _one_part(cur, extensible, depth)
    cur.char(b")", "body")
    return value


def _mpart(cur: Cursor, extensible: bool, depth: int) -> Multipart:
    parts = []
    while cur.peek() == b"(":
        parts.append(body(cur, extensible=extensible, depth=depth + 1))
    cur.sp("body-type-mpart")
    subtype = cur.string("media-subtype").decode("ascii", "replace").upper()
    if cur.peek() != b" ":
        return Multipart(tuple(parts), subtype)
    _no_extension_on_body(cur, extensible)
    cur.sp("body-ext-mpart")
    params = _param(cur)
    ext = _ext_tail(cur, md5=None, rule="body-ext-mpart")
    return Multipart(tuple(parts), subtype, params, ext)


def _one_part(cur: Cursor, extensible: bool, depth: int) -> BodyPart:
    mtype = cur.string("media-basic")
    type_quoted = cur.last_quoted
    cur.sp("media-basic")
    subtype = cur.string("media-subtype")
    sub_quoted = cur.last_quoted
    mtype_u, sub_u = mtype.upper(), subtype.upper()
    cur.sp("body-fields")
    params, fid, desc, enc, size = _body_fields(cur)
    lines = env = inner = None
    if type_quoted and mtype_u == b"MESSAGE" and sub_quoted and sub_u in (b"RFC822", b"GLOBAL"):
        cur.sp("body-type-msg")
        env = envelope(cur)
        cur.sp("body-type-msg")
        inner = body(cur, extensible=extensible, depth=depth + 1)
        cur.sp("body-type-msg")
        lines = cur.number64("body-fld-lines")
    elif type_quoted and mtype_u == b"TEXT":
        cur.sp("body-type-text")
        lines = cur.number64("body-fld-lines")
    ext = None
    if cur.peek() == b" ":
        _no_extension_on_body(cur, extensible)
        cur.sp("body-ext-1part")
        md5 = cur.nstring("body-fld-md5")
        ext = _ext_tail(cur, md5=md5, rule="body-ext-1part")
    return BodyPart(mtype_u.decode("ascii", "replace"), sub_u.decode("ascii", "replace"), params, fid, desc,
                    enc, size, lines, env, inner, ext)


def _no_extension_on_body(cur: Cursor, extensible: bool) -> None:
    if not extensible:
        raise cur.fail("non-extensible-body", "the BODY item must not carry extension data (BODYSTRUCTURE may)")


def _body_fields(cur: Cursor) -> tuple[Params | None, bytes | None, bytes | None, bytes, int]:
    params = _param(cur)
    cur.sp("body-fields")
    fid = cur.nstring("body-fld-id")
    cur.sp("body-fields")
    desc = cur.nstring("body-fld-desc")
    cur.sp("body-fields")
    enc = cur.string("body-fld-enc")
    cur.sp("body-fields")
    size = cur.number("body-fld-octets")
    return params, fid, desc, enc, size


def _param(cur: Cursor) -> Params | None:
    """body-fld-param: NIL or at least one attribute/value pair of strings."""
    if cur.nil():
        return None
    cur.char(b"(", "body-fld-param")
    pairs = []
    while True:
        key = cur.string("body-fld-param")
        cur.sp("body-fld-param")
        pairs.append((key, cur.string("body-fld-param")))
        if not cur.try_char(b" "):
            break
    cur.char(b")", "body-fld-param")
    return tuple(pairs)


def _ext_tail(cur: Cursor, *, md5: bytes | None, rule: str) -> BodyExtension:
    """[SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]]."""
    dsp = lang = loc = None
    more: list[ExtValue] = []
    if cur.try_char(b" "):
        dsp = _disposition(cur)
        if cur.try_char(b" "):
            lang = _language(cur)
            if cur.try_char(b" "):
                loc = cur.nstring("body-fld-loc")
                while cur.try_char(b" "):
                    more.append(_body_extension(cur, 0))
    return BodyExtension(md5, dsp, lang, loc, tuple(more))


def _disposition(cur: Cursor) -> tuple[bytes, Params | None] | None:
    if cur.nil():
        return None
    cur.char(b"(", "body-fld-dsp")
    kind = cur.string("body-fld-dsp")
    cur.sp("body-fld-dsp")
    params = _param(cur)
    cur.char(b")", "body-fld-dsp")
    return kind, params


def _language(cur: Cursor) -> tuple[bytes, ...] | None:
    if cur.try_char(b"("):
        out = [cur.string("body-fld-lang")]
        while cur.try_char(b" "):
            out.append(cur.string("body-fld-lang"))
        cur.char(b")", "body-fld-lang")
        return tuple(out)
    value = cur.nstring("body-fld-lang")
    return None if value is None else (value,)


def _body_extension(cur: Cursor, depth: int) -> ExtValue:
    """nstring / number / number64 / "(" body-extension *(SP body-extension) ")"."""
    if depth > MAX_DEPTH:
        raise cur.fail("limit", "body-extension nested too deeply")
    if cur.try_char(b"("):
        items = [_body_extension(cur, depth + 1)]
        while cur.try_char(b" "):
            items.append(_body_extension(cur, depth + 1))
        cur.char(b")", "body-extension")
        return tuple(items)
    if cur.peek().isdigit():
        return cur.number64("body-extension")
    return cur.nstring("body-extension")
