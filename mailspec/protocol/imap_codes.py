"""resp-text, response codes, capabilities and flags (RFC 3501/9051 §9 and the extensions' ABNF).

A text that starts with "[" is read as a response code: a client has no other way to tell, and a
known code with malformed arguments (e.g. `[UIDNEXT abc]`) is a broken response even though the
generic `atom [SP 1*<TEXT-CHAR except "]">]` alternative would swallow it. Only codes this grammar
does not know fall back to that generic form, which is how the RFC lets servers add new ones.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

from mailspec.protocol.imap_lexer import U63, Cursor
from mailspec.protocol.imap_response import ImapProtocolViolation, ResponseText

# Codes without arguments: RFC 3501, RFC 9051, RFC 5530, RFC 4315 UIDNOTSTICKY, RFC 7162 NOMODSEQ
# and CLOSED, RFC 9208 OVERQUOTA, RFC 6154 USEATTR, RFC 4978 COMPRESSIONACTIVE.
BARE_CODES = frozenset({
    "ALERT", "PARSE", "READ-ONLY", "READ-WRITE", "TRYCREATE", "UIDNOTSTICKY", "UNAVAILABLE",
    "AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED", "PRIVACYREQUIRED", "CONTACTADMIN",
    "NOPERM", "INUSE", "EXPUNGEISSUED", "CORRUPTION", "SERVERBUG", "CLIENTBUG", "CANNOT", "LIMIT",
    "OVERQUOTA", "ALREADYEXISTS", "NONEXISTENT", "NOTSAVED", "HASCHILDREN", "CLOSED", "UNKNOWN-CTE",
    "NOMODSEQ", "USEATTR", "COMPRESSIONACTIVE",
})
_CODE_TEXT = re.compile(rb"[^\]\r\n\x00\x80-\xff]+")  # 1*<any TEXT-CHAR except "]">
_FLAG = re.compile(rb"\\?" + rb'[^(){ %*"\\\]\x00-\x1f\x7f-\xff]+')
_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\r\n\Z")


def resp_text(cur: Cursor, *, text_required: bool, rule: str = "resp-text") -> ResponseText:
    """["[" resp-text-code "]" SP] text: RFC 3501 needs text, RFC 9051 makes it optional."""
    code = args = None
    if cur.try_char(b"["):
        code, args = resp_text_code(cur)
        cur.char(b"]", "resp-text-code")
        cur.sp(rule)
    text = cur.text(rule, required=text_required)
    return ResponseText(code, args, text)


def resp_text_code(cur: Cursor) -> tuple[str, object]:
    start = cur.pos
    name = cur.atom("resp-text-code").upper().decode("ascii")
    reader = _CODE_READERS.get(name)
    if reader is not None:
        return name, reader(cur)
    if name in BARE_CODES:
        if cur.peek() != b"]":
            raise cur.fail("resp-text-code", f"{name} takes no arguments")
        return name, None
    if not cur.try_char(b" "):
        return name, None
    m = _CODE_TEXT.match(cur.data, cur.pos)
    if not m:
        raise cur.fail("resp-text-code", "an unknown code's arguments are 1*<TEXT-CHAR except ']'>", at=start)
    cur.pos = m.end()
    return name, m.group().decode("ascii")


def capability_list(cur: Cursor, rule: str) -> tuple[str, ...]:
    """*(SP capability); capability = ("AUTH=" auth-type) / atom."""
    caps: list[str] = []
    while cur.peek() == b" ":
        cur.sp(rule)
        cap = cur.atom("capability").decode("ascii")
        if cap.upper() == "AUTH=":
            raise cur.fail("auth-type", "AUTH= must name a mechanism")
        caps.append(cap)
    return tuple(caps)


def capability_data(cur: Cursor) -> tuple[str, ...]:
    """What follows "CAPABILITY": the list must hold IMAP4rev1 (RFC 3501) or IMAP4rev2 (RFC 9051)."""
    start = cur.pos
    caps = capability_list(cur, "capability-data")
    if not {"IMAP4REV1", "IMAP4REV2"} & {c.upper() for c in caps}:
        raise cur.fail("capability-data", "the list must include IMAP4rev1 or IMAP4rev2", at=start)
    return caps


def flag(cur: Cursor, rule: str, *, star: bool = False) -> str:
    """flag (keyword atom or "\\" atom); flag-perm adds "\\*"."""
    if cur.data[cur.pos: cur.pos + 2] == b"\\*":
        if not star:
            raise cur.fail(rule, "'\\*' is only allowed in PERMANENTFLAGS")
        cur.pos += 2
        return "\\*"
    m = _FLAG.match(cur.data, cur.pos)
    if not m:
        raise cur.fail(rule, "expected a flag: an atom, or '\\' and an atom")
    cur.pos = m.end()
    return m.group().decode("ascii")


def flag_list(cur: Cursor, rule: str, item_rule: str, *, star: bool = False) -> tuple[str, ...]:
    """"(" [flag *(SP flag)] ")"."""
    cur.char(b"(", rule)
    out: list[str] = []
    if not cur.try_char(b")"):
        while True:
            out.append(flag(cur, item_rule, star=star))
            if cur.try_char(b")"):
                break
            cur.sp(rule)
    return tuple(out)


def mod_sequence_value(cur: Cursor, rule: str = "mod-sequence-value") -> int:
    return cur.number(rule, nz=True, limit=U63)


def _sp_then(read: Callable[[Cursor], object], rule: str) -> Callable[[Cursor], object]:
    def reader(cur: Cursor) -> object:
        cur.sp(rule)
        return read(cur)
    return reader


def _badcharset(cur: Cursor) -> tuple[str, ...]:
    if not cur.try_char(b" "):
        return ()
    cur.char(b"(", "resp-text-code")
    out = []
    while True:
        charset = cur.quoted("charset") if cur.peek() == b'"' else cur.atom("charset")
        out.append(charset.decode("ascii", "replace"))
        if cur.try_char(b")"):
            return tuple(out)
        cur.sp("resp-text-code")


def _appenduid(cur: Cursor) -> tuple[int, object]:
    validity = cur.nz_number("resp-code-apnd")
    cur.sp("resp-code-apnd")
    return validity, cur.uid_set("append-uid")  # a set only after MULTIAPPEND (RFC 4315 §3)


def _copyuid(cur: Cursor) -> tuple[int, object, object]:
    validity = cur.nz_number("resp-code-copy")
    cur.sp("resp-code-copy")
    start = cur.pos
    source = cur.uid_set()
    cur.sp("resp-code-copy")
    dest = cur.uid_set()
    if _count(source) != _count(dest):
        raise cur.fail("copyuid-sets", "source and destination UID sets differ in size", at=start)
    return validity, source, dest


def _count(uids: tuple[tuple[int | None, int | None], ...]) -> int:
    return sum(abs((hi or 0) - (lo or 0)) + 1 for lo, hi in uids)


_CODE_READERS: dict[str, Callable[[Cursor], object]] = {
    "BADCHARSET": _badcharset,
    "CAPABILITY": capability_data,
    "PERMANENTFLAGS": _sp_then(lambda c: flag_list(c, "resp-text-code", "flag-perm", star=True), "resp-text-code"),
    "UIDNEXT": _sp_then(lambda c: c.nz_number("resp-text-code"), "resp-text-code"),
    "UIDVALIDITY": _sp_then(lambda c: c.nz_number("resp-text-code"), "resp-text-code"),
    "UNSEEN": _sp_then(lambda c: c.nz_number("resp-text-code"), "resp-text-code"),
    "APPENDUID": _sp_then(_appenduid, "resp-code-apnd"),
    "COPYUID": _sp_then(_copyuid, "resp-code-copy"),
    "HIGHESTMODSEQ": _sp_then(mod_sequence_value, "resp-text-code"),
    "MODIFIED": _sp_then(lambda c: c.sequence_set("resp-text-code"), "resp-text-code"),
}


def continuation_payload(cur: Cursor, *, text_required: bool) -> tuple[ResponseText, bytes | None]:
    """After "+" SP: base64 (possibly empty) or resp-text. Both readings are kept when both fit."""
    rest = cur.data[cur.pos:]
    decoded = base64.b64decode(rest[:-2]) if _BASE64.match(rest) else None
    if decoded is not None and rest == b"\r\n":
        return ResponseText(None, None, ""), b""
    try:
        text = resp_text(cur, text_required=text_required, rule="continue-req")
    except ImapProtocolViolation:
        if decoded is None:
            raise
        cur.pos = len(cur.data) - 2
        return ResponseText(None, None, rest[:-2].decode("ascii")), decoded
    return text, decoded
