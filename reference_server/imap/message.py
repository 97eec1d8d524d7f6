"""The IMAP view of one stored message: ENVELOPE, BODYSTRUCTURE, BODY[section], what SEARCH and SORT need.

A MessageModel wraps the stored bytes and never changes them; every answer is a slice of them or a
structure computed from them. Parsing is lazy and cached per MIME entity, so building a model costs
nothing and a FETCH of FLAGS never parses anything.

Choices where the RFCs leave room (each says what clients will see):
- BODYSTRUCTURE upper-cases media type, subtype, transfer encoding, disposition type and parameter
  names, as the examples of RFC 3501 §7.4.2 do; parameter values and every other string are sent as
  they appear in the header. Parameters are passed through in the order sent, RFC 2231 continuations
  unmerged. A text part without a charset parameter gets ("CHARSET" "US-ASCII") (RFC 2045 §5.2).
- Line counts count line ends: a last line without CRLF is not counted (what Dovecot does too).
- A mailbox without a domain gets the host "MISSING_DOMAIN" (NIL there would mean a group).
- BODY[section] of a part that does not exist, or HEADER/TEXT of a part that is not message/rfc822,
  is empty (b""), as Dovecot answers; the session decides whether to answer at all.
- A multipart without a boundary parameter, or with no part inside, has one empty text/plain part,
  so its BODYSTRUCTURE still has the one body the grammar requires.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Iterator
from email import message_from_bytes, policy
from functools import cached_property

from reference_server.imap.encode import encode_list, nstring
from reference_server.imap.mailparse import (
    Address,
    HeaderField,
    MimeValue,
    decode_words,
    header_end,
    parse_addresses,
    parse_mime_value,
    split_fields,
)
from reference_server.imap.model import Partial, Section

_ENVELOPE_ADDRESS_FIELDS = ("from", "sender", "reply-to", "to", "cc", "bcc")


class Entity:
    """One MIME entity (a message, or a body part): a header and a body, both slices of stored bytes.

    `default_type` is the type it has without a Content-Type field: text/plain, or message/rfc822
    inside a multipart/digest (RFC 2046 §5.1.5).
    """

    def __init__(self, data: bytes, default_type: str = "text/plain") -> None:
        self.data = data
        self.default_type = default_type

    @cached_property
    def _body_start(self) -> int:
        return header_end(self.data)

    @property
    def header(self) -> bytes:
        """The header, with the blank line that ends it (when there is one)."""
        return self.data[: self._body_start]

    @property
    def body(self) -> bytes:
        return self.data[self._body_start :]

    @cached_property
    def fields(self) -> list[HeaderField]:
        return split_fields(self.header)

    def field(self, name: str) -> HeaderField | None:
        """The first field of that name (later duplicates are ignored, as in most servers)."""
        lname = name.lower()
        return next((f for f in self.fields if f.name.lower() == lname), None)

    def value(self, name: str) -> str | None:
        found = self.field(name)
        return None if found is None else found.value

    @cached_property
    def content_type(self) -> MimeValue:
        """Content-Type; the default type when absent, text/plain when unreadable (RFC 2045 §5.2)."""
        raw = self.value("Content-Type")
        if raw is None:
            return MimeValue(self.default_type, ())
        parsed = parse_mime_value(raw)
        maintype, _, subtype = parsed.value.partition("/")
        if not maintype or not subtype or "/" in subtype:
            return MimeValue("text/plain", ())
        return parsed

    @property
    def maintype(self) -> str:
        return self.content_type.value.split("/")[0].lower()

    @property
    def subtype(self) -> str:
        return self.content_type.value.split("/")[1].lower()

    def param(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.content_type.params if k.lower() == lname), None)

    @property
    def is_multipart(self) -> bool:
        return self.maintype == "multipart"

    @property
    def is_message(self) -> bool:
        return self.maintype == "message" and self.subtype == "rfc822"

    @cached_property
    def parts(self) -> list[Entity]:
        """The body parts of a multipart (RFC 2046 §5.1.1); [] for any other entity."""
        if not self.is_multipart:
            return []
        child_default = "message/rfc822" if self.subtype == "digest" else "text/plain"
        boundary = self.param("boundary")
        found = list(_split_multipart(self.body, boundary.encode("latin-1"))) if boundary else []
        return [Entity(part, child_default) for part in found] or [Entity(b"")]

    @cached_property
    def encapsulated(self) -> Entity | None:
        """The message inside a message/rfc822 entity."""
        return Entity(self.body) if self.is_message else None


def _split_multipart(body: bytes, boundary: bytes) -> Iterator[bytes]:
    """The parts between boundary delimiters; the line end before a delimiter belongs to it.

    A delimiter line is one starting with "--" and the boundary (what follows on the line is ignored,
    as the boundary may not occur in content); "--boundary--" closes. A missing close delimiter ends
    the last part at the end of the body.
    """
    delimiter = b"--" + boundary
    start: int | None = None  # where the current part's content begins
    pos = 0
    while pos <= len(body):
        eol = body.find(b"\n", pos)
        line_end = len(body) if eol < 0 else eol + 1
        if body.startswith(delimiter, pos):
            if start is not None:
                end = pos
                # The CRLF (or LF) before the delimiter is part of the delimiter.
                if body[:end].endswith(b"\r\n"):
                    end -= 2
                elif body[:end].endswith(b"\n"):
                    end -= 1
                yield body[start : max(start, end)]
            if body.startswith(delimiter + b"--", pos):
                return
            start = line_end
        if eol < 0:
            break
        pos = line_end
    if start is not None:
        yield body[start:]


class MessageModel:
    """The message as IMAP FETCH and SEARCH see it. Construction only keeps the bytes."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.root = Entity(raw)

    @property
    def size(self) -> int:
        """RFC822.SIZE: the octets as stored."""
        return len(self.raw)

    # --- FETCH ------------------------------------------------------------------------------------

    def envelope(self) -> bytes:
        """ENVELOPE (RFC 3501 §7.4.2, RFC 9051 §7.5.2)."""
        return _envelope(self.root)

    def bodystructure(self, extensible: bool) -> bytes:
        """BODYSTRUCTURE when `extensible`, else BODY (the same without extension data)."""
        return _bodystructure(self.root, extensible)

    def section(self, section: Section) -> bytes:
        """The octets of BODY[section] (RFC 3501 §6.4.5); b"" for a part that does not exist."""
        if not section.part:
            if section.text == "MIME":
                return b""  # MIME needs a part number; the command parser refuses it
            return self.root.data if section.text == "" else _message_section(self.root, section)
        entity = _resolve_part(self.root, section.part)
        if entity is None:
            return b""
        if section.text == "":
            return entity.body
        if section.text == "MIME":
            return entity.header
        # HEADER, HEADER.FIELDS[.NOT] and TEXT of a part address the message inside a message/rfc822.
        return b"" if entity.encapsulated is None else _message_section(entity.encapsulated, section)

    # --- SEARCH -----------------------------------------------------------------------------------

    def header(self, name: str) -> list[str]:
        """Every value of the named field, unfolded and with encoded-words decoded."""
        lname = name.lower()
        return [decode_words(f.value) for f in self.root.fields if f.name.lower() == lname]

    def date(self) -> dt.datetime | None:
        """The Date: field as a datetime in the sender's own zone; None when absent or unreadable."""
        value = self.root.value("Date")
        if not value:
            return None
        try:
            return email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None

    def first_mailbox(self, name: str) -> str:
        """The local part (addr-mailbox) of the first mailbox in an address field, decoded; "" if none.

        Group markers are passed over: a group's first member is the first mailbox (RFC 5256 §3).
        """
        for _, _, mailbox, host in _addresses(self.root, name):
            if host is not None:
                return decode_words(mailbox or "")
        return ""

    def text_matches(self, needle: str, body_only: bool) -> bool:
        """Whether `needle` occurs, ignoring case, in the decoded text (TEXT) or body only (BODY)."""
        folded = needle.casefold()
        return any(folded in chunk.casefold() for chunk in self._texts(body_only))

    def _texts(self, body_only: bool) -> Iterator[str]:
        if not body_only:
            yield from (decode_words(f.value) for f in self.root.fields)
        yield from _decoded_texts(self.root)


# --- helpers ----------------------------------------------------------------------------------------


def _resolve_part(root: Entity, path: tuple[int, ...]) -> Entity | None:
    """The entity a part number names; None when that part does not exist.

    RFC 3501 §6.4.5: the parts of a multipart are numbered from 1; the parts of a message/rfc822
    part are those of the message inside it; an entity that is neither has only a part 1, itself
    (one level deep, as Dovecot allows). For a resolved entity, BODY[part] is its body and
    BODY[part.MIME] its header.
    """
    entity, self_used = root, False
    for number in path:
        container = entity.encapsulated or entity
        if container.is_multipart:
            if not 1 <= number <= len(container.parts):
                return None
            entity, self_used = container.parts[number - 1], False
        elif number != 1:
            return None
        elif container is not entity:
            entity, self_used = container, False  # the single-part message inside message/rfc822
        elif self_used:
            return None
        else:
            self_used = True
    return entity


def _decoded_texts(entity: Entity) -> Iterator[str]:
    """The decoded text of every text/* leaf, and the decoded header of every encapsulated message."""
    if entity.is_multipart:
        for part in entity.parts:
            yield from _decoded_texts(part)
    elif entity.encapsulated is not None:
        yield from (decode_words(f.value) for f in entity.encapsulated.fields)
        yield from _decoded_texts(entity.encapsulated)
    elif entity.maintype == "text":
        yield _decode_body(entity)


def _decode_body(entity: Entity) -> str:
    """A text leaf's body with its transfer encoding and charset undone (the email package's work)."""
    parsed = message_from_bytes(entity.data, policy=policy.compat32)
    payload = parsed.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else entity.body
    charset = entity.param("charset") or "us-ascii"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")  # unknown charset: UTF-8 is the best guess


def _message_section(message: Entity, section: Section) -> bytes:
    """HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT or TEXT of a message; header fetches end with the
    blank line (added when the stored header has none, or when no field was selected)."""
    if section.text == "TEXT":
        return message.body
    if section.text == "HEADER":
        return message.header
    wanted = {name.lower() for name in section.fields}
    keep = section.text == "HEADER.FIELDS"
    return b"".join(f.raw for f in message.fields if (f.name.lower() in wanted) == keep) + b"\r\n"


def _latin1(value: str | None) -> bytes | None:
    return None if value is None else value.encode("latin-1")


def _upper(value: str) -> bytes:
    """Upper-cased octets; only ASCII letters change (str.upper would move some 8-bit letters
    out of latin-1, and those octets must stay as stored)."""
    return value.encode("latin-1").upper()


def _addresses(entity: Entity, name: str) -> list[Address]:
    value = entity.value(name)
    return parse_addresses(value) if value else []


def _address_list(addresses: list[Address]) -> bytes:
    if not addresses:
        return b"NIL"
    return b"(" + b"".join(encode_list([nstring(_latin1(part)) for part in addr]) for addr in addresses) + b")"


def _envelope(entity: Entity) -> bytes:
    addresses = {name: _addresses(entity, name) for name in _ENVELOPE_ADDRESS_FIELDS}
    for name in ("sender", "reply-to"):
        if not addresses[name]:
            addresses[name] = addresses["from"]
    items = [nstring(_latin1(entity.value(name))) for name in ("Date", "Subject")]
    items += [_address_list(addresses[name]) for name in _ENVELOPE_ADDRESS_FIELDS]
    items += [nstring(_latin1(entity.value(name))) for name in ("In-Reply-To", "Message-ID")]
    return encode_list(items)


def _params(params: tuple[tuple[str, str], ...]) -> bytes:
    if not params:
        return b"NIL"
    return encode_list([nstring(x) for k, v in params for x in (_upper(k), v.encode("latin-1"))])


def _line_count(data: bytes) -> int:
    return data.count(b"\n")


def _extension(entity: Entity) -> list[bytes]:
    """Disposition, language and location: the extension data common to all body types."""
    disposition_raw = entity.value("Content-Disposition")
    disposition = b"NIL"
    if disposition_raw:
        parsed = parse_mime_value(disposition_raw)
        disposition = encode_list([nstring(_upper(parsed.value)), _params(parsed.params)])
    language_raw = entity.value("Content-Language")
    tags = [t.strip() for t in language_raw.split(",") if t.strip()] if language_raw else []
    if not tags:
        language = b"NIL"
    elif len(tags) == 1:
        language = nstring(_latin1(tags[0]))
    else:
        language = encode_list([nstring(_latin1(t)) for t in tags])
    return [disposition, language, nstring(_latin1(entity.value("Content-Location")))]


def _bodystructure(entity: Entity, extensible: bool) -> bytes:
    if entity.is_multipart:
        items = [b"".join(_bodystructure(p, extensible) for p in entity.parts), nstring(_upper(entity.subtype))]
        if extensible:
            items += [_params(entity.content_type.params), *_extension(entity)]
        return encode_list(items)
    params = entity.content_type.params
    if entity.maintype == "text" and entity.param("charset") is None:
        params = (*params, ("CHARSET", "US-ASCII"))
    items = [
        nstring(_upper(entity.maintype)),
        nstring(_upper(entity.subtype)),
        _params(params),
        nstring(_latin1(entity.value("Content-ID"))),
        nstring(_latin1(entity.value("Content-Description"))),
        nstring(_upper(entity.value("Content-Transfer-Encoding") or "7BIT")),
        b"%d" % len(entity.body),
    ]
    inner = entity.encapsulated
    if inner is not None:
        items += [_envelope(inner), _bodystructure(inner, extensible), b"%d" % _line_count(entity.body)]
    elif entity.maintype == "text":
        items.append(b"%d" % _line_count(entity.body))
    if extensible:
        items += [nstring(_latin1(entity.value("Content-MD5"))), *_extension(entity)]
    return encode_list(items)


def apply_partial(data: bytes, partial: Partial | None) -> bytes:
    """The <start.length> slice of a section (RFC 3501 §6.4.5); past the end gives b""."""
    if partial is None:
        return data
    end = None if partial.length is None else partial.start + partial.length
    return data[partial.start : end]


__all__ = ["Entity", "MessageModel", "apply_partial"]
