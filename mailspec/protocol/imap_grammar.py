"""The IMAP server-response grammar: one framed response in, a validated value out.

`parse_response` follows `response` of RFC 3501 §9 / RFC 9051 §9: a continue-req ("+"), a
response-data or response-fatal ("*"), or a response-tagged. The rule names in errors are those of
the ABNF. The two revisions differ in a few places; the grammar accepts what either allows, except
where the difference is a mode of the session:

* non-ASCII in quoted strings and text only with `utf8` (after ENABLE IMAP4rev2 or UTF8=ACCEPT);
* resp-text may omit its text only with `rev2` (RFC 9051 made `text` optional).

An untagged response with an unknown name is accepted when its data is well formed (`known=False`)
unless `allow_unknown` is off: RFC 3501 §7 tells clients to be ready for any response, and
extensions add new ones. A known name must match its own grammar.

This module is client-side only and shares no code with the reference server's command grammar.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mailspec.protocol import imap_mailbox as mbx
from mailspec.protocol.imap_codes import capability_data, capability_list, continuation_payload, flag_list, resp_text
from mailspec.protocol.imap_fetch import msg_att
from mailspec.protocol.imap_lexer import Cursor
from mailspec.protocol.imap_response import Continuation, Tagged, Untagged

_TAG = re.compile(rb'[^(){ %*"\\+\x00-\x1f\x7f-\xff]+')  # 1*<any ASTRING-CHAR except "+">
_STATUS_KINDS = ("OK", "NO", "BAD", "BYE", "PREAUTH")
# Names of responses this grammar does not define: extensions name theirs like atoms of letters,
# digits and "-"/"." (e.g. XLIST, X-STATE); a name like "-1" is a garbled message number.
_RESPONSE_NAME = re.compile(r"[A-Z][A-Z0-9.\-_]*")


def parse_response(raw: bytes, offset: int = 0, *, utf8: bool = False, rev2: bool = False,
                   allow_unknown: bool = True) -> Untagged | Tagged | Continuation:
    """Validate one whole response (as framed by `ResponseFramer`) and return its value."""
    cur = Cursor(raw, offset, utf8=utf8)
    first = cur.peek()
    if first == b"+":
        cur.pos += 1
        cur.sp("continue-req")
        text, decoded = continuation_payload(cur, text_required=not rev2)
        cur.end("continue-req")
        return Continuation(text.text, text.code, text.code_args, raw, offset, decoded)
    if first == b"*" and cur.data[1:2] == b" ":
        cur.pos = 2
        return _untagged(cur, rev2=rev2, allow_unknown=allow_unknown)
    return _tagged(cur, rev2=rev2)


def _tagged(cur: Cursor, *, rev2: bool) -> Tagged:
    m = _TAG.match(cur.data)
    if not m:
        raise cur.fail("tag", "a response starts with '*', '+' or a tag (ASTRING-CHARs except '+')")
    cur.pos = m.end()
    cur.sp("response-tagged")
    status = cur.atom("resp-cond-state").upper().decode("ascii")
    if status not in ("OK", "NO", "BAD"):
        raise cur.fail("resp-cond-state", "a tagged response is OK, NO or BAD", at=m.end() + 1)
    cur.sp("resp-cond-state")
    text = resp_text(cur, text_required=not rev2)
    cur.end("response-tagged")
    return Tagged(m.group().decode("ascii"), status, text.code, text.code_args, text.text, cur.data, cur.base)


def _untagged(cur: Cursor, *, rev2: bool, allow_unknown: bool) -> Untagged:
    number = None
    if cur.peek().isdigit():
        number = cur.number("message-data")
        cur.sp("message-data")
    at = cur.pos
    kind = cur.atom("response-data").upper().decode("ascii")
    known = True
    if number is not None:
        data = _numbered(cur, kind, number, at)
        if data is _UNKNOWN:
            known, data = False, _unknown(cur, kind, at, allow_unknown)
    elif kind in _STATUS_KINDS:
        cur.sp("resp-cond-state" if kind in ("OK", "NO", "BAD") else
               "resp-cond-bye" if kind == "BYE" else "resp-cond-auth")
        data = resp_text(cur, text_required=not rev2)
    elif kind in _NAMED:
        data = _NAMED[kind](cur)
    else:
        known, data = False, _unknown(cur, kind, at, allow_unknown)
    cur.end("response-data")
    return Untagged(kind, number, data, cur.data, cur.base, known)


_UNKNOWN = object()


def _numbered(cur: Cursor, kind: str, number: int, at: int) -> object:
    if kind in ("EXISTS", "RECENT"):
        return number
    if kind not in ("EXPUNGE", "FETCH"):
        return _UNKNOWN
    if number == 0:
        raise cur.fail("message-data", f"{kind} takes a non-zero message number (nz-number)", at=2)
    if kind == "EXPUNGE":
        return number
    cur.sp("message-data")
    return msg_att(cur)


def _unknown(cur: Cursor, kind: str, at: int, allow_unknown: bool) -> object:
    if not allow_unknown:
        raise cur.fail("response-data", f"{kind} is not a response this client knows", at=at)
    if not _RESPONSE_NAME.fullmatch(kind):
        raise cur.fail("response-data", "a response name starts with a letter", at=at)
    if cur.try_char(b" "):
        return cur.generic("response-data")
    return ()


def _sp_then(read: Callable[[Cursor], object], rule: str) -> Callable[[Cursor], object]:
    def reader(cur: Cursor) -> object:
        cur.sp(rule)
        return read(cur)
    return reader


_NAMED: dict[str, Callable[[Cursor], object]] = {
    "CAPABILITY": capability_data,
    "ENABLED": lambda c: capability_list(c, "enable-data"),
    "FLAGS": _sp_then(lambda c: flag_list(c, "flag-list", "flag"), "mailbox-data"),
    "LIST": _sp_then(mbx.mailbox_list, "mailbox-data"),
    "LSUB": _sp_then(mbx.mailbox_list, "mailbox-data"),
    "STATUS": _sp_then(mbx.status, "mailbox-data"),
    "SEARCH": lambda c: mbx.search(c, "mailbox-data"),
    "SORT": lambda c: mbx.search(c, "sort-data"),
    "ESEARCH": mbx.esearch,
    "NAMESPACE": _sp_then(mbx.namespace_response, "namespace-response"),
    "ID": _sp_then(mbx.id_params, "id_response"),
    "QUOTA": _sp_then(mbx.quota, "quota-response"),
    "QUOTAROOT": _sp_then(mbx.quotaroot, "quotaroot-response"),
    "VANISHED": mbx.vanished,
    "THREAD": mbx.thread,
}
