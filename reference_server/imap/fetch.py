"""Rendering FETCH data items for one message (RFC 3501 §6.4.5 / §7.4.2, RFC 9051 §6.4.5 / §7.5.2,
RFC 3516 BINARY, RFC 7162 MODSEQ). The message model (message.py) supplies envelope, structure and
sections; this module picks the items, names them as the response must, and frames the data."""

from __future__ import annotations

import base64
import binascii
import quopri
from collections.abc import Callable
from dataclasses import dataclass

from reference_server.imap.commands import FetchItem
from reference_server.imap.message import MessageModel, apply_partial
from reference_server.imap.model import Section
from reference_server.imap.responses import flag_list, internaldate

# Items that set \Seen when the mailbox is read-write (RFC 3501 §6.4.5).
SETS_SEEN = frozenset({"BODY", "BINARY", "RFC822", "RFC822.TEXT"})


class UnknownEncoding(ValueError):
    """BINARY of a part whose Content-Transfer-Encoding cannot be undone (RFC 3516 UNKNOWN-CTE)."""


class MessageGone(LookupError):
    """The message's bytes were needed but it has been expunged meanwhile (by another session)."""


def _nothing() -> bytes | None:
    return None


@dataclass
class MessageFacts:
    uid: int
    flags: tuple[str, ...]
    internaldate: float
    size: int
    modseq: int
    load: Callable[[], bytes | None] = _nothing  # reads the bytes, only when an item needs them
    # ENVELOPE and BODYSTRUCTURE as rendered before for this message (Store.memo), else None
    memo: dict[object, bytes] | None = None

    _model: MessageModel | None = None

    @property
    def model(self) -> MessageModel:
        if self._model is None:
            raw = self.load()
            if raw is None:
                raise MessageGone(self.uid)
            self._model = MessageModel(raw)
        return self._model

    def derived(self, key: object, compute: Callable[[MessageModel], bytes]) -> bytes:
        """`compute(model)`, or what it gave before for this message."""
        if self.memo is None:
            return compute(self.model)
        value = self.memo.get(key)
        if value is None:
            value = self.memo[key] = compute(self.model)
        return value


def sets_seen(item: FetchItem) -> bool:
    return item.name in SETS_SEEN and not (item.name == "BODY" and item.section is None)


def literal(data: bytes) -> bytes:
    # literal8 when the octets hold NUL (RFC 3516 §4.2, RFC 9051 §4.3).
    return (b"~" if b"\0" in data else b"") + b"{%d}\r\n" % len(data) + data


def _binary(facts: MessageFacts, part: tuple[int, ...]) -> bytes:
    from reference_server.imap.message import _resolve_part  # the part walker of message.py
    model = facts.model
    entity = model.root if not part else _resolve_part(model.root, part)
    if entity is None:
        return b""
    if not part:
        return entity.data
    cte = (entity.value("Content-Transfer-Encoding") or "7bit").strip().lower()
    body = entity.body
    if cte in ("7bit", "8bit", "binary"):
        return body
    if cte == "base64":
        try:
            return base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UnknownEncoding("invalid base64 content") from exc
    if cte == "quoted-printable":
        return quopri.decodestring(body)
    raise UnknownEncoding(f"unknown Content-Transfer-Encoding {cte}")


def render_item(item: FetchItem, facts: MessageFacts, faults: frozenset[str]) -> bytes:
    """One `name value` pair of a FETCH response."""
    name = item.name
    if name == "UID":
        return b"UID %d" % facts.uid
    if name == "FLAGS":
        return b"FLAGS " + flag_list(facts.flags).encode()
    if name == "INTERNALDATE":
        return b"INTERNALDATE " + internaldate(facts.internaldate).encode()
    if name == "RFC822.SIZE":
        return b"RFC822.SIZE %d" % (facts.size + (1 if "imap-rfc822-size-off-by-one" in faults else 0))
    if name == "MODSEQ":
        return b"MODSEQ (%d)" % facts.modseq
    if name == "ENVELOPE":
        return b"ENVELOPE " + facts.derived(name, MessageModel.envelope)
    if name == "BODYSTRUCTURE":
        extensible = "imap-bodystructure-no-extension" not in faults
        return b"BODYSTRUCTURE " + facts.derived((name, extensible), lambda m: m.bodystructure(extensible))
    if name == "BODY" and item.section is None:
        return b"BODY " + facts.derived(("BODYSTRUCTURE", False), lambda m: m.bodystructure(False))
    model = facts.model
    if name == "RFC822":
        return b"RFC822 " + literal(model.raw)
    if name == "RFC822.HEADER":
        return b"RFC822.HEADER " + literal(model.section(Section((), "HEADER")))
    if name == "RFC822.TEXT":
        return b"RFC822.TEXT " + literal(model.section(Section((), "TEXT")))
    assert item.section is not None
    origin = b"<%d>" % item.partial.start if item.partial is not None else b""
    if name in ("BODY", "BODY.PEEK"):
        data = apply_partial(model.section(item.section), item.partial)
        return b"BODY[" + item.section.spec().encode() + b"]" + origin + b" " + literal(data)
    part = ".".join(map(str, item.section.part)).encode()
    decoded = _binary(facts, item.section.part)
    if name == "BINARY.SIZE":
        if "imap-binary-size-encoded" in faults:  # FAULT: the size of the part as stored, not decoded
            decoded = model.section(Section(item.section.part))
        return b"BINARY.SIZE[" + part + b"] %d" % len(decoded)
    return b"BINARY[" + part + b"]" + origin + b" " + literal(apply_partial(decoded, item.partial))
