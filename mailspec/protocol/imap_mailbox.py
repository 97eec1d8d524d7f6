"""mailbox-data and its extensions: LIST/LSUB (RFC 3501, 5258, 3348, 6154), STATUS (+ RFC 7162,
9208), SEARCH (+ MODSEQ), ESEARCH (RFC 4731/9051), NAMESPACE (RFC 2342), ID (RFC 2971), QUOTA and
QUOTAROOT (RFC 9208), VANISHED (RFC 7162), SORT/THREAD (RFC 5256).

Mailbox names are checked after un-quoting: modified UTF-7 (RFC 3501 §5.1.3) unless UTF-8 was
enabled, in which case they must be valid UTF-8.
"""

from __future__ import annotations

import re

from mailspec.protocol.imap_codes import mod_sequence_value
from mailspec.protocol.imap_lexer import U63, Cursor
from mailspec.protocol.imap_mutf7 import MUtf7Error, decode_mutf7
from mailspec.protocol.imap_response import (
    ESearchData,
    ExtValue,
    MailboxList,
    NamespaceData,
    NamespaceDescr,
    QuotaData,
    QuotaResource,
    QuotaRootData,
    SearchData,
    StatusData,
    VanishedData,
)

# RFC 9051 §9 mbx-list-sflag: at most one of these; RFC 5258 child-mbox-flag: at most one of those.
_SFLAGS = {"\\NONEXISTENT", "\\NOSELECT", "\\MARKED", "\\UNMARKED"}
_CHILD_FLAGS = {"\\HASCHILDREN", "\\HASNOCHILDREN"}
_LIST_FLAG = re.compile(rb'\\[^(){ %*"\\\]\x00-\x1f\x7f-\xff]+')
_LABEL = re.compile(rb"[A-Za-z_.\-][A-Za-z0-9_.\-:]*")  # tagged-ext-label
_ATOMISH = re.compile(rb'[^(){ %*"\\\]\x00-\x1f\x7f-\xff]+')


def mailbox(cur: Cursor, rule: str = "mailbox") -> tuple[bytes, str]:
    """mailbox = "INBOX" / astring; returns the raw name and its decoded form."""
    start = cur.pos
    raw = cur.astring(rule)
    if raw.upper() == b"INBOX":
        return raw, "INBOX"
    if cur.utf8:
        try:
            return raw, raw.decode("utf-8")
        except UnicodeDecodeError:
            raise cur.fail(rule, "mailbox name is not valid UTF-8", at=start) from None
    try:
        return raw, decode_mutf7(raw)
    except MUtf7Error as exc:
        raise cur.fail("mailbox-name-mutf7", str(exc), at=start) from None


def mailbox_list(cur: Cursor) -> MailboxList:
    """"(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox [SP mbox-list-extended]."""
    cur.char(b"(", "mailbox-list")
    flags: list[str] = []
    start = cur.pos
    if not cur.try_char(b")"):
        while True:
            m = _LIST_FLAG.match(cur.data, cur.pos)
            if not m:
                raise cur.fail("mbx-list-flags", "a mailbox attribute is '\\' followed by an atom")
            flags.append(m.group().decode("ascii"))
            cur.pos = m.end()
            if cur.try_char(b")"):
                break
            cur.sp("mbx-list-flags")
    _check_list_flags(cur, flags, start)
    cur.sp("mailbox-list")
    delimiter = None
    if not cur.nil():
        at = cur.pos
        if cur.peek() != b'"':
            raise cur.fail("mailbox-list", "the delimiter is a quoted single character or NIL")
        value = cur.quoted("mailbox-list")
        if len(value.decode("utf-8", "replace")) != 1:
            raise cur.fail("mailbox-list", "the delimiter must be exactly one QUOTED-CHAR", at=at)
        delimiter = value.decode("utf-8")
    cur.sp("mailbox-list")
    raw, name = mailbox(cur)
    extended: dict[str, ExtValue] = {}
    if cur.try_char(b" "):
        extended = _mbox_list_extended(cur)
    return MailboxList(tuple(flags), delimiter, raw, name, extended)


def _check_list_flags(cur: Cursor, flags: list[str], start: int) -> None:
    upper = [f.upper() for f in flags]
    if len(set(upper)) != len(upper):
        raise cur.fail("mbx-list-flags-once", "an attribute appears twice", at=start)
    if len(_SFLAGS.intersection(upper)) > 1:
        raise cur.fail("mbx-list-flags", "at most one of \\NonExistent \\Noselect \\Marked \\Unmarked", at=start)
    if len(_CHILD_FLAGS.intersection(upper)) > 1:
        raise cur.fail("child-mbox-flag", "\\HasChildren and \\HasNoChildren together", at=start)


def _mbox_list_extended(cur: Cursor) -> dict[str, ExtValue]:
    """"(" [mbox-list-extended-item *(SP mbox-list-extended-item)] ")"."""
    cur.char(b"(", "mbox-list-extended")
    items: dict[str, ExtValue] = {}
    if cur.try_char(b")"):
        return items
    while True:
        at = cur.pos
        tag = cur.astring("mbox-list-extended-item-tag")
        if not _ATOMISH.fullmatch(tag):
            raise cur.fail("mbox-list-extended-item-tag", "the tag must be an atom (standard or vendor.)", at=at)
        name = tag.upper().decode("ascii")
        cur.sp("mbox-list-extended-item")
        if name == "CHILDINFO":
            items[name] = _childinfo(cur)
        elif name == "OLDNAME":
            cur.char(b"(", "oldname-extended-item")
            items[name] = mailbox(cur, "oldname-extended-item")[0]
            cur.char(b")", "oldname-extended-item")
        else:
            items[name] = cur.tagged_ext_val("mbox-list-extended-item")
        if cur.try_char(b")"):
            return items
        cur.sp("mbox-list-extended")


def _childinfo(cur: Cursor) -> tuple[bytes, ...]:
    cur.char(b"(", "childinfo-extended-item")
    out = []
    while True:
        if cur.peek() != b'"':
            raise cur.fail("list-select-base-opt-quoted", "CHILDINFO options are always quoted")
        out.append(cur.quoted("list-select-base-opt-quoted"))
        if cur.try_char(b")"):
            return tuple(out)
        cur.sp("childinfo-extended-item")


# STATUS items and the rule of their value; unknown items use tagged-ext-val (RFC 9051 §9 comment).
_STATUS_ITEMS = {
    "MESSAGES": "number", "UIDNEXT": "nz-number", "UIDVALIDITY": "nz-number", "UNSEEN": "number",
    "RECENT": "number", "DELETED": "number", "SIZE": "number64", "DELETED-STORAGE": "number64",
    "HIGHESTMODSEQ": "mod-sequence-valzer",
}


def status(cur: Cursor) -> StatusData:
    """mailbox SP "(" [status-att-list] ")"."""
    raw, name = mailbox(cur)
    cur.sp("mailbox-data")
    cur.char(b"(", "mailbox-data")
    items: dict[str, ExtValue] = {}
    if not cur.try_char(b")"):
        while True:
            at = cur.pos
            m = _LABEL.match(cur.data, cur.pos)
            if not m:
                raise cur.fail("status-att-val", "expected a status item name")
            key = m.group().upper().decode("ascii")
            cur.pos = m.end()
            if key in items:
                raise cur.fail("status-att-list", f"{key} appears twice", at=at)
            cur.sp("status-att-val")
            kind = _STATUS_ITEMS.get(key)
            if kind is None:
                items[key] = cur.tagged_ext_val("status-att-val")
            else:
                items[key] = cur.number("status-att-val", nz=kind == "nz-number",
                                        limit=U63 if kind != "number" and kind != "nz-number" else (1 << 32) - 1)
            if cur.try_char(b")"):
                break
            cur.sp("status-att-list")
    return StatusData(raw, name, items)


def search(cur: Cursor, rule: str) -> SearchData:
    """*(SP nz-number) [SP search-sort-mod-seq] (the MODSEQ part only after at least one number)."""
    numbers: list[int] = []
    modseq = None
    while cur.try_char(b" "):
        if cur.peek() == b"(":
            if not numbers:
                raise cur.fail("search-sort-mod-seq", "(MODSEQ n) only follows at least one number")
            cur.pos += 1
            cur.keyword(b"MODSEQ", "search-sort-mod-seq")
            cur.sp("search-sort-mod-seq")
            modseq = mod_sequence_value(cur)
            cur.char(b")", "search-sort-mod-seq")
            break
        numbers.append(cur.nz_number(rule))
    return SearchData(tuple(numbers), modseq)


def esearch(cur: Cursor) -> ESearchData:
    """[search-correlator] [SP "UID"] *(SP search-return-data)."""
    tag = None
    uid = False
    if cur.data[cur.pos: cur.pos + 2] == b" (":
        cur.pos += 2
        cur.keyword(b"TAG", "search-correlator")
        cur.sp("search-correlator")
        tag = cur.astring("search-correlator")
        cur.char(b")", "search-correlator")
    items: dict[str, object] = {}
    if cur.data[cur.pos: cur.pos + 1] == b" ":
        save = cur.pos
        cur.pos += 1
        if cur.try_keyword(b"UID"):
            uid = True
        else:
            cur.pos = save
    while cur.peek() == b" ":
        cur.sp("esearch-response")
        at = cur.pos
        m = _LABEL.match(cur.data, cur.pos)
        if not m:
            raise cur.fail("search-return-data", "expected a return data name")
        key = m.group().upper().decode("ascii")
        cur.pos = m.end()
        if key in items:
            raise cur.fail("search-return-data", f"{key} appears twice", at=at)
        cur.sp("search-return-data")
        if key in ("MIN", "MAX"):
            items[key] = cur.nz_number("search-return-data")
        elif key == "COUNT":
            items[key] = cur.number("search-return-data")
        elif key == "ALL":
            items[key] = cur.sequence_set("search-return-data")
        elif key == "MODSEQ":
            items[key] = mod_sequence_value(cur)
        else:
            items[key] = cur.tagged_ext_val("search-return-data")
    return ESearchData(tag, uid, items)


def namespace_response(cur: Cursor) -> NamespaceData:
    """namespace SP namespace SP namespace: personal, other users', shared."""
    personal = _namespace(cur)
    cur.sp("namespace-response")
    other = _namespace(cur)
    cur.sp("namespace-response")
    return NamespaceData(personal, other, _namespace(cur))


def _namespace(cur: Cursor) -> tuple[NamespaceDescr, ...] | None:
    if cur.nil():
        return None
    cur.char(b"(", "namespace")
    out = []
    while cur.try_char(b"("):
        prefix = cur.string("namespace-descr")
        cur.sp("namespace-descr")
        delim = None
        if not cur.nil():
            at = cur.pos
            if cur.peek() != b'"':
                raise cur.fail("namespace-descr", "the delimiter is a quoted single character or NIL")
            value = cur.quoted("namespace-descr")
            if len(value.decode("utf-8", "replace")) != 1:
                raise cur.fail("namespace-descr", "the delimiter must be exactly one QUOTED-CHAR", at=at)
            delim = value.decode("utf-8")
        exts = []
        while cur.try_char(b" "):
            key = cur.string("namespace-response-extension")
            cur.sp("namespace-response-extension")
            cur.char(b"(", "namespace-response-extension")
            values = [cur.string("namespace-response-extension")]
            while cur.try_char(b" "):
                values.append(cur.string("namespace-response-extension"))
            cur.char(b")", "namespace-response-extension")
            exts.append((key, tuple(values)))
        cur.char(b")", "namespace-descr")
        out.append(NamespaceDescr(prefix, delim, tuple(exts)))
    if not out:
        raise cur.fail("namespace", "a namespace list holds at least one description (or is NIL)")
    cur.char(b")", "namespace")
    return tuple(out)


def id_params(cur: Cursor) -> dict[str, bytes | None] | None:
    """"(" #(string SP nstring) ")" / nil, within RFC 2971 §3.3's size limits."""
    if cur.nil():
        return None
    cur.char(b"(", "id_params_list")
    out: dict[str, bytes | None] = {}
    if cur.try_char(b")"):
        return out
    while True:
        at = cur.pos
        key = cur.string("id_params_list")
        cur.sp("id_params_list")
        value = cur.nstring("id_params_list")
        if len(key) > 30 or (value is not None and len(value) > 1024):
            raise cur.fail("id-limits", "field names are at most 30 octets, values at most 1024", at=at)
        out[key.decode("utf-8", "replace").lower()] = value
        if len(out) > 30:
            raise cur.fail("id-limits", "at most 30 field-value pairs", at=at)
        if cur.try_char(b")"):
            return out
        cur.sp("id_params_list")


def quota(cur: Cursor) -> QuotaData:
    """quota-root-name SP "(" quota-resource *(SP quota-resource) ")"."""
    root = cur.astring("quota-root-name")
    cur.sp("quota-response")
    cur.char(b"(", "quota-list")
    out = []
    while True:
        name = cur.atom("resource-name").upper().decode("ascii")
        cur.sp("quota-resource")
        usage = cur.number64("quota-resource")
        cur.sp("quota-resource")
        out.append(QuotaResource(name, usage, cur.number64("quota-resource")))
        if cur.try_char(b")"):
            return QuotaData(root, tuple(out))
        cur.sp("quota-list")


def quotaroot(cur: Cursor) -> QuotaRootData:
    """mailbox *(SP quota-root-name)."""
    raw, name = mailbox(cur, "quotaroot-response")
    roots = []
    while cur.try_char(b" "):
        roots.append(cur.astring("quota-root-name"))
    return QuotaRootData(raw, name, tuple(roots))


def vanished(cur: Cursor) -> VanishedData:
    """[SP "(EARLIER)"] SP known-uids; "*" is not allowed in known-uids."""
    cur.sp("expunged-resp")
    earlier = False
    if cur.peek() == b"(":
        cur.pos += 1
        cur.keyword(b"EARLIER", "expunged-resp")
        cur.char(b")", "expunged-resp")
        cur.sp("expunged-resp")
        earlier = True
    return VanishedData(earlier, cur.sequence_set("known-uids", star=False))


def thread(cur: Cursor) -> tuple[object, ...]:
    """"THREAD" [SP 1*thread-list] (RFC 5256): nested tuples of message numbers."""
    out = []
    if cur.try_char(b" "):
        out.append(_thread_list(cur, 0))
        while cur.peek() == b"(":
            out.append(_thread_list(cur, 0))
    return tuple(out)


def _thread_list(cur: Cursor, depth: int) -> tuple[object, ...]:
    """"(" (thread-members / thread-nested) ")"; thread-nested = 2*thread-list."""
    if depth > 1000:
        raise cur.fail("limit", "THREAD nested too deeply")
    cur.char(b"(", "thread-data")
    items: list[object] = []
    if cur.peek() != b"(":
        items.append(cur.nz_number("thread-data"))
        while cur.try_char(b" "):
            if cur.peek() == b"(":
                break
            items.append(cur.nz_number("thread-data"))
    nested = []
    while cur.peek() == b"(":
        nested.append(_thread_list(cur, depth + 1))
    if len(nested) == 1 or not (items or nested):
        raise cur.fail("thread-data", "a thread list holds numbers and/or at least two nested lists")
    cur.char(b")", "thread-data")
    return tuple(items) + tuple(nested)
