"""Parsers for the payloads of POP3 responses: CAPA, STAT/LIST scan listings, UIDL, greeting.

Each parser validates the grammar strictly and raises `Pop3ProtocolViolation` naming the rule.
Offsets are relative to the line (or response) handed in, as these parsers see no stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailspec.protocol.pop3 import MAX_STATUS_LINE, MultiLine, Pop3ProtocolViolation, Rule, StatusLine

_CAPA_TAG = re.compile(rb"^[\x21-\x2d\x2f-\x7f]+$")
_PARAM = re.compile(rb"^[\x21-\x7e]+$")
_SCAN = re.compile(rb"^([1-9][0-9]*) ([0-9]+)(?: .*)?$")
_UIDL = re.compile(rb"^([1-9][0-9]*) ([\x21-\x7e]{1,70})$")
_STAT = re.compile(r"^([0-9]+) ([0-9]+)(?: .*)?$")
_TIMESTAMP = re.compile(r"<[^<>\s]+@[^<>\s]+>")


@dataclass(frozen=True)
class Capabilities:
    """CAPA response as tag (upper-cased) -> parameters."""

    entries: dict[str, tuple[str, ...]]

    def __contains__(self, tag: object) -> bool:
        return isinstance(tag, str) and tag.upper() in self.entries

    def params(self, tag: str) -> tuple[str, ...]:
        return self.entries.get(tag.upper(), ())

    @property
    def sasl_mechanisms(self) -> tuple[str, ...]:
        return tuple(m.upper() for m in self.params("SASL"))


def parse_capa(response: MultiLine) -> Capabilities:
    """Validate each capability line (RFC 2449 §3 ABNF) and collect them."""
    entries: dict[str, tuple[str, ...]] = {}
    for n, line in enumerate(response.lines):
        if len(line) + 2 > MAX_STATUS_LINE:
            raise Pop3ProtocolViolation(Rule.LINE_LENGTH, 0, line, f"CAPA line {n + 1}")
        tag, *params = line.split(b" ")
        if not _CAPA_TAG.match(tag) or not all(_PARAM.match(p) for p in params):
            raise Pop3ProtocolViolation(Rule.CAPA_SYNTAX, 0, line, f"CAPA line {n + 1}")
        entries[tag.decode("ascii").upper()] = tuple(p.decode("ascii") for p in params)
    return Capabilities(entries)


def parse_stat(status: StatusLine) -> tuple[int, int]:
    """STAT's '+OK count octets' (RFC 1939 §5 drop listing)."""
    m = _STAT.match(status.text)
    if not status.ok or m is None:
        raise Pop3ProtocolViolation(Rule.SCAN_LISTING, 0, status.raw, "STAT needs '+OK nn mm'")
    return int(m.group(1)), int(m.group(2))


def parse_scan_line(line: bytes) -> tuple[int, int]:
    """One 'msg octets' scan listing: LIST lines, or the text of a single LIST reply."""
    m = _SCAN.match(line)
    if m is None:
        raise Pop3ProtocolViolation(Rule.SCAN_LISTING, 0, line)
    return int(m.group(1)), int(m.group(2))


def parse_list(response: MultiLine) -> dict[int, int]:
    """LIST without argument: message-number -> size; numbers must not repeat."""
    out: dict[int, int] = {}
    for line in response.lines:
        num, size = parse_scan_line(line)
        if num in out:
            raise Pop3ProtocolViolation(Rule.SCAN_LISTING, 0, line, "message-number listed twice")
        out[num] = size
    return out


def parse_uidl_line(line: bytes, strict: bool = True) -> tuple[int, str]:
    """One 'msg unique-id' line: the id is 1-70 octets in 0x21-0x7E (RFC 1939 §7).

    strict=False only splits at the space, for tests that are about something other than the
    id's syntax (the syntax has its own test).
    """
    m = _UIDL.match(line) if strict else re.match(rb"^([0-9]+) (\S+)$", line)
    if m is None:
        raise Pop3ProtocolViolation(Rule.UIDL_SYNTAX, 0, line)
    return int(m.group(1)), m.group(2).decode("latin-1")


def parse_uidl(response: MultiLine, strict: bool = True) -> dict[int, str]:
    """UIDL without argument: message-number -> unique-id; ids must be unique in the listing."""
    out: dict[int, str] = {}
    for line in response.lines:
        num, uid = parse_uidl_line(line, strict)
        if num in out or uid in out.values():
            raise Pop3ProtocolViolation(Rule.UIDL_SYNTAX, 0, line, "number or unique-id listed twice")
        out[num] = uid
    return out


def greeting_timestamp(greeting: StatusLine) -> str | None:
    """The APOP timestamp '<...@...>' in a greeting, if any (RFC 1939 §7, RFC 2449 §3)."""
    m = _TIMESTAMP.search(greeting.text)
    return m.group(0) if m else None
