"""IMAP4rev2 behaviour (RFC 9051) once a client has sent ENABLE IMAP4rev2.

A server may offer IMAP4rev1 and IMAP4rev2 side by side (RFC 9051 §2.1, Appendix A); its rev2 rules
then apply to a session only after ENABLE IMAP4rev2. Every test here enables it first, except
`no-utf8-before-enable`, which checks the rev1 session next to it. The tests skip on servers that
do not advertise IMAP4rev2.

Kept out of this module on purpose: rules whose rev1 form another module owns with an injected
fault (BAD for unknown SEARCH return options, the UID indicator of UID SEARCH, READ-ONLY on
EXAMINE), so that one server bug fails one test.
"""

from __future__ import annotations

import secrets
from typing import cast

import pytest

from mailspec.protocol.imap_response import ESearchData, MailboxList, NamespaceData, Untagged
from mailspec.wire.imap import ImapClient, mailbox_arg, untagged
from suite.imap.test_condstore import codes, expand, fetched, filled, select

spec = pytest.mark.spec
REV2 = ("IMAP4rev2", "ENABLE")
UTF8_WORD = "Café crème"  # what the tests search for and name mailboxes with


def rev2(imap, label: str | None = None) -> ImapClient:
    """A logged-in client that has enabled IMAP4rev2 (confirmed by an untagged ENABLED)."""
    client = imap(label=label)
    resps, _ = client.ok("ENABLE IMAP4rev2")
    enabled = {c.upper() for r in untagged(resps, "ENABLED") for c in cast(tuple[str, ...], r.data)}
    assert "IMAP4REV2" in enabled, f"ENABLE IMAP4rev2 was not confirmed by an ENABLED response: {enabled}"
    return client


def quoted_utf8(text: str) -> bytes:
    return b'"' + text.encode("utf-8") + b'"'


def one_esearch(client: ImapClient, command: bytes | str) -> ESearchData | None:
    """Run a SEARCH; it must complete OK with no SEARCH response and at most one ESEARCH (returned)."""
    resps, _ = client.ok(command)
    assert not untagged(resps, "SEARCH"), "an IMAP4rev2 session got a rev1 SEARCH response"
    found = untagged(resps, "ESEARCH")
    assert len(found) <= 1, f"expected a single ESEARCH response, got {len(found)}"
    return cast(ESearchData, found[0].data) if found else None


def marked_message(test_id: str, headers: str, body: str) -> bytes:
    """A message with the suite's marker header and the given extra headers and body."""
    head = (f"From: mailspec <mailspec@localhost>\r\nTo: mailspec@localhost\r\n"
            f"X-Mailspec-Test: {test_id} {secrets.token_hex(6)}\r\n{headers}")
    return (head + "\r\n" + body).encode("utf-8")


# -- SELECT / EXAMINE --------------------------------------------------------------------------------


def _check_select_data(resps: list, mailbox: str) -> None:
    lists = [cast(MailboxList, r.data) for r in untagged(resps, "LIST")]
    assert lists, "no LIST response for the opened mailbox"
    assert [b.name for b in lists] == [mailbox], f"LIST responses name {[b.name for b in lists]}, not {mailbox}"
    odd = [f for f in lists[0].flags if f.lower() in ("\\noselect", "\\nonexistent")]
    assert not odd, f"the mailbox just opened is listed with {odd}"
    kinds = {r.kind for r in resps if isinstance(r, Untagged)}
    missing = [k for k in ("FLAGS", "EXISTS") if k not in kinds]
    missing += [c for c in ("PERMANENTFLAGS", "UIDNEXT", "UIDVALIDITY") if not codes(resps, c)]
    assert not missing, f"missing {missing}"


@spec("imap/9051/6.3.2/select-sends-list-response", "RFC9051-6.3.2-01", "RFC9051-6.3.2-02",
      "RFC9051-6.3.2-03", "RFC9051-6.3.2-04", needs=REV2)
def test_select_sends_list_response(imap, mailbox, append, account):
    """SELECT sends FLAGS, EXISTS, a LIST naming the mailbox (no \\Noselect), PERMANENTFLAGS, UIDNEXT, UIDVALIDITY."""
    filled(append, account, mailbox, 1)
    _check_select_data(select(rev2(imap), mailbox), mailbox)


@spec("imap/9051/6.3.3/examine-sends-list-response", "RFC9051-6.3.3-01", needs=REV2)
def test_examine_sends_list_response(imap, mailbox, append, account):
    """EXAMINE sends the same data as SELECT, the LIST response included."""
    filled(append, account, mailbox, 1)
    _check_select_data(select(rev2(imap), mailbox, examine=True), mailbox)


@spec("imap/9051/6.3.2/reselect-sends-closed", "RFC9051-6.3.2-06", needs=REV2)
def test_reselect_sends_closed(imap, mailboxes, mailbox):
    """SELECT of another mailbox first closes the current one with OK [CLOSED]."""
    second = mailboxes.create("second")
    client = rev2(imap)
    select(client, mailbox)
    resps = select(client, second)
    marks = [i for i, r in enumerate(resps) if isinstance(r, Untagged) and r.code == "CLOSED"]
    data = [i for i, r in enumerate(resps) if isinstance(r, Untagged) and r.kind in ("FLAGS", "EXISTS", "LIST")]
    assert len(marks) == 1, f"expected one OK [CLOSED], got {len(marks)}"
    assert data and marks[0] < min(data), "OK [CLOSED] came after data about the new mailbox"


# -- SEARCH answers with ESEARCH -----------------------------------------------------------------------


@spec("imap/9051/6.4.4/search-answers-esearch", "RFC9051-6.4.4-10", needs=REV2)
def test_search_answers_esearch(imap, mailbox, append, account):
    """A plain SEARCH is answered with one ESEARCH response whose ALL lists the matches."""
    filled(append, account, mailbox, 3)
    client = rev2(imap)
    select(client, mailbox)
    data = one_esearch(client, "SEARCH ALL")
    assert data is not None, "SEARCH ALL sent no ESEARCH response"
    assert expand(data.items.get("ALL")) == {1, 2, 3}, f"ESEARCH ALL is {data.items.get('ALL')}, expected 1:3"


@spec("imap/9051/6.4.4/search-result-options-in-one-esearch", "RFC9051-6.4.4-10", "RFC9051-7.3.4-04",
      needs=REV2)
def test_search_result_options_in_one_esearch(imap, mailbox, append, account):
    """RETURN (MIN MAX COUNT ALL) gives one ESEARCH with MIN 1, MAX 3, COUNT 3 and ALL 1:3."""
    filled(append, account, mailbox, 3)
    client = rev2(imap)
    select(client, mailbox)
    data = one_esearch(client, "SEARCH RETURN (MIN MAX COUNT ALL) ALL")
    assert data is not None, "no ESEARCH response"
    got = {k: data.items.get(k) for k in ("MIN", "MAX", "COUNT")}
    assert got == {"MIN": 1, "MAX": 3, "COUNT": 3}, f"ESEARCH gave {got}"
    assert expand(data.items.get("ALL")) == {1, 2, 3}, f"ESEARCH ALL is {data.items.get('ALL')}"


@spec("imap/9051/6.4.4/search-no-match-esearch-has-only-count", "RFC9051-6.4.4-05", "RFC9051-6.4.4-06",
      "RFC9051-6.4.4-08", "RFC9051-6.4.4-09", "RFC9051-7.3.4-02", "RFC9051-7.3.4-03", "RFC9051-7.3.4-06",
      "RFC9051-7.3.4-07", needs=REV2)
def test_search_no_match_esearch_has_only_count(imap, mailbox, append, account):
    """With no match, ESEARCH is still sent: COUNT 0 when asked for, never MIN, MAX or ALL."""
    filled(append, account, mailbox, 2)
    client = rev2(imap)
    select(client, mailbox)
    for command in ("SEARCH RETURN (MIN MAX COUNT ALL) SUBJECT mailspec-matches-nothing",
                    "SEARCH SUBJECT mailspec-matches-nothing"):
        data = one_esearch(client, command)
        assert data is not None, f"{command}: no ESEARCH response for an empty result"
        present = sorted(k for k in ("MIN", "MAX", "ALL") if k in data.items)
        assert not present, f"{command}: ESEARCH for no match carries {present}"
    data = one_esearch(client, "SEARCH RETURN (COUNT) SUBJECT mailspec-matches-nothing")
    assert data is not None and data.items.get("COUNT") == 0, "COUNT 0 missing from the ESEARCH response"


@spec("imap/9051/6.4.4/search-text-is-utf8-by-default", "RFC9051-6.4.4-16", "RFC9051-6.4.4-14",
      "RFC9051-6.4.4-13", "RFC9051-4.3.1-02", needs=REV2)
def test_search_text_is_utf8_by_default(imap, mailbox, append, account, spec):
    """SEARCH SUBJECT with UTF-8 text, with and without CHARSET UTF-8, finds a MIME-encoded subject."""
    headers = "Subject: =?UTF-8?Q?Caf=C3=A9_cr=C3=A8me?=\r\nMIME-Version: 1.0\r\n"
    append(account, mailbox, marked_message(spec.test_id, headers, "An encoded subject.\r\n"))
    filled(append, account, mailbox, 1)  # message 2 does not match
    client = rev2(imap)
    select(client, mailbox)
    for head in (b"SEARCH SUBJECT ", b"SEARCH CHARSET UTF-8 SUBJECT "):
        data = one_esearch(client, head + quoted_utf8("Café"))
        assert data is not None and expand(data.items.get("ALL")) == {1}, (
            f"{head.decode()}\"Café\" found {data.items.get('ALL') if data else None}; expected message 1")


@spec("imap/9051/6.4.4/unknown-charset-is-no", "RFC9051-6.4.4-17", needs=REV2)
def test_unknown_charset_is_no(imap, mailbox, append, account):
    """SEARCH CHARSET with a charset the server does not know is refused with NO, not BAD."""
    filled(append, account, mailbox, 1)
    client = rev2(imap)
    select(client, mailbox)
    _, done = client.run("SEARCH CHARSET X-MAILSPEC-UNKNOWN SUBJECT x")
    assert done.status == "NO", f"an unknown charset: expected NO, got {done.raw!r}"


# -- SEARCH RETURN (SAVE) and "$" ------------------------------------------------------------------


def fetched_numbers(client: ImapClient, command: str) -> set[int]:
    resps, _ = client.ok(command)
    return set(fetched(resps))


@spec("imap/9051/6.4.4.1/save-result-used-by-dollar", "RFC9051-6.4.4.1-01", needs=REV2)
def test_save_result_used_by_dollar(imap, mailbox, append, account):
    """SEARCH RETURN (SAVE) alone sends no ESEARCH and remembers its matches, which "$" then names
    (FETCH $ gives exactly them); a SEARCH without SAVE and one answered BAD leave "$" as it was;
    SAVE with MIN alone keeps only the lowest match."""
    filled(append, account, mailbox, 3)
    client = rev2(imap)
    select(client, mailbox)
    assert one_esearch(client, "SEARCH RETURN (SAVE) 2:3") is None, "RETURN (SAVE) alone sent an ESEARCH response"
    assert fetched_numbers(client, "FETCH $ (UID)") == {2, 3}, "FETCH $ after SEARCH RETURN (SAVE) 2:3"
    one_esearch(client, "SEARCH 1")
    got = fetched_numbers(client, "FETCH $ (UID)")
    assert got == {2, 3}, f"after a SEARCH without SAVE, FETCH $ gave {sorted(got)}; expected 2, 3"
    _, done = client.run("SEARCH RETURN (SAVE) MAILSPEC-NO-SUCH-KEY")
    if done.status == "BAD":  # (BAD itself is another module's rule, under its own fault)
        got = fetched_numbers(client, "FETCH $ (UID)")
        assert got == {2, 3}, f"after a SEARCH answered BAD, FETCH $ gave {sorted(got)}; expected 2, 3"
    data = one_esearch(client, "SEARCH RETURN (SAVE MIN) 2:3")
    assert data is not None and data.items.get("MIN") == 2, "RETURN (SAVE MIN) 2:3 did not answer MIN 2"
    got = fetched_numbers(client, "FETCH $ (UID)")
    assert got == {2}, f"after RETURN (SAVE MIN), FETCH $ gave {sorted(got)}; expected only 2"


# -- UTF-8 ------------------------------------------------------------------------------------------------


@spec("imap/9051/4.3.1/utf8-mailbox-name-accepted", "RFC9051-4.3.1-02", needs=REV2)
def test_utf8_mailbox_name_accepted(imap, mailboxes):
    """CREATE with a UTF-8 quoted name works, and LIST gives the name back in UTF-8."""
    name = mailboxes.name(UTF8_WORD.replace(" ", "-"))
    client = rev2(imap)
    client.ok(b"CREATE " + quoted_utf8(name))
    try:
        resps, _ = client.ok(b'LIST "" ' + quoted_utf8(name))
        names = [cast(MailboxList, r.data).name for r in untagged(resps, "LIST")]
        assert names == [name], f"LIST of the new mailbox gave {names}"
    finally:
        _delete_utf8(client, name)


def _delete_utf8(client: ImapClient, name: str) -> None:
    """Delete a UTF-8-named mailbox from the rev2 session itself: the fixtures' rev1 cleanup
    connection could not name it if the server wrongly lists it in raw UTF-8."""
    if client.sock is not None:
        client.run(b"DELETE " + quoted_utf8(name))


@spec("imap/9051/A/no-utf8-before-enable", "RFC9051-A-02", "RFC9051-A-03", needs=REV2)
def test_no_utf8_before_enable(imap, mailboxes):
    """A session that did not enable IMAP4rev2 sees a UTF-8 mailbox name in modified UTF-7, never raw UTF-8."""
    name = mailboxes.name(UTF8_WORD.replace(" ", "-"))
    creator = rev2(imap, "creator")
    creator.ok(b"CREATE " + quoted_utf8(name))
    try:
        plain = imap(label="rev1")
        resps, _ = plain.ok(b'LIST "" ' + mailbox_arg(f"{mailboxes.prefix}*"))  # the grammar rejects 8-bit
        names = [cast(MailboxList, r.data) for r in untagged(resps, "LIST")]
        assert [b.name for b in names] == [name], f"the rev1 session listed {[b.name for b in names]}"
        assert names[0].raw_name.isascii(), f"raw name {names[0].raw_name!r} is not modified UTF-7"
    finally:
        _delete_utf8(creator, name)


# -- response codes, FETCH ----------------------------------------------------------------------------------


@spec("imap/9051/7.1/appenduid-single-uid", "RFC9051-7.1-05", "RFC9051-7.1-06", needs=REV2)
def test_appenduid_single_uid(imap, mailbox, spec):
    """APPEND of one message gives APPENDUID with one UID, not a set or a range like 7:7."""
    client = rev2(imap)
    message = marked_message(spec.test_id, "Subject: one\r\n", "One message.\r\n")
    _, done = client.append(mailbox, message)
    assert done.ok and done.code == "APPENDUID", f"APPEND completed without APPENDUID: {done.raw!r}"
    code = done.raw.split(b"[", 1)[1].split(b"]", 1)[0]
    uid_part = code.split()[-1]
    assert uid_part.isdigit(), f"APPENDUID names {uid_part.decode()!r} for a single message"


@spec("imap/9051/7.5.2/unsolicited-fetch-carries-uid", "RFC9051-7.5.2-19", "RFC9051-6.3.13-01", needs=REV2)
def test_unsolicited_fetch_carries_uid(imap, mailbox, append, account):
    """A FETCH about another session's flag change carries the message's UID."""
    filled(append, account, mailbox, 1)
    watcher = rev2(imap, "watcher")
    select(watcher, mailbox)
    changer = imap(label="changer")
    select(changer, mailbox)
    changer.ok("STORE 1 +FLAGS (\\Flagged)")
    resps, _ = watcher.ok("NOOP")
    found = fetched(resps)
    if 1 not in found:
        pytest.skip("the target sent no FETCH for another session's flag change (RFC 3501 §5.2: SHOULD)")
    assert "UID" in found[1], f"unsolicited FETCH without UID: {found[1]}"


_MIME = ("MIME-Version: 1.0\r\nSubject: binary parts\r\n"
         "Content-Type: multipart/mixed; boundary=\"mailspec-b1\"\r\n")
_PARTS = ("--mailspec-b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
          "\r\nAAECAwQFBgcICQ==\r\n"
          "--mailspec-b1\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-mailspec-unknown\r\n"
          "\r\nNo server knows this encoding.\r\n--mailspec-b1--\r\n")


@spec("imap/9051/7.5.2/binary-size-matches-binary", "RFC9051-7.5.2-04", "RFC9051-4.3.1-04", needs=REV2)
def test_binary_size_matches_binary(imap, mailbox, append, account, spec):
    """BINARY[1] of a base64 part is its decoded octets, and BINARY.SIZE[1] is their number."""
    append(account, mailbox, marked_message(spec.test_id, _MIME, _PARTS))
    client = rev2(imap)
    select(client, mailbox)
    resps, _ = client.ok("FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])")
    items = fetched(resps)[1]
    assert items.get("BINARY[1]") == bytes(range(10)), f"BINARY[1] is {items.get('BINARY[1]')!r}"
    assert items.get("BINARY.SIZE[1]") == 10, f"BINARY.SIZE[1] is {items.get('BINARY.SIZE[1]')}, expected 10"


@spec("imap/9051/7.5.2/unknown-encoding-refused-with-unknown-cte", "RFC9051-7.5.2-03", "RFC9051-7.5.2-05",
      needs=REV2)
def test_unknown_encoding_refused_with_unknown_cte(imap, mailbox, append, account, spec):
    """FETCH BINARY of a part in an encoding the server cannot decode fails with NO [UNKNOWN-CTE]."""
    append(account, mailbox, marked_message(spec.test_id, _MIME, _PARTS))
    client = rev2(imap)
    select(client, mailbox)
    _, done = client.run("FETCH 1 (BINARY.PEEK[2])")
    assert done.status == "NO" and done.code == "UNKNOWN-CTE", f"expected NO [UNKNOWN-CTE], got {done.raw!r}"


@spec("imap/9051/7.5.2/body-section-keeps-crlf", "RFC9051-7.5.2-02", "RFC9051-4.3-02", needs=REV2)
def test_body_section_keeps_crlf(imap, mailbox, append, account):
    """BODY.PEEK[] returns the appended octets exactly, every line ending in CRLF, as a synchronising literal."""
    appended = append(account, mailbox)
    client = rev2(imap)
    select(client, mailbox)
    resps, _ = client.ok("FETCH 1 (BODY.PEEK[])")
    assert fetched(resps)[1].get("BODY[]") == appended.message, "BODY[] differs from the appended message"


# -- NAMESPACE, tags, LIST --------------------------------------------------------------------------------


@spec("imap/9051/5.1.2/inbox-in-personal-namespace", "RFC9051-5.1.2-01", "RFC9051-6.3.10-01", needs=REV2)
def test_inbox_in_personal_namespace(imap):
    """NAMESPACE names a personal namespace, and INBOX falls under one of its prefixes."""
    client = rev2(imap)
    resps, _ = client.ok("NAMESPACE")
    found = [cast(NamespaceData, r.data) for r in untagged(resps, "NAMESPACE")]
    assert len(found) == 1, f"expected one NAMESPACE response, got {len(found)}"
    personal = found[0].personal or ()
    assert personal, "NAMESPACE reports no personal namespace, but the user has an INBOX"
    prefixes = [p.prefix.decode("utf-8", "replace").upper() for p in personal]
    assert any("INBOX".startswith(p) or p.startswith("INBOX") for p in prefixes), (
        f"INBOX is under none of the personal prefixes {prefixes}")


@spec("imap/9051/2.2.1/tag-reuse-accepted", "RFC9051-2.2.1-01", needs=REV2)
def test_tag_reuse_accepted(imap):
    """Two commands in a row with the same tag are both carried out and answered."""
    client = rev2(imap)
    for _ in range(2):
        client.reader.command_sent("same")
        client.send_raw(b"same NOOP\r\n")
        _, done = client.complete("same")
        assert done.ok, f"NOOP under a reused tag: {done.raw!r}"


@spec("imap/9051/6.3.9.1/subscribed-selection-in-base-protocol", "RFC9051-6.3.9-14", "RFC9051-6.3.9.1-01",
      "RFC9051-6.3.9.1-02", needs=REV2)
def test_subscribed_selection_in_base_protocol(imap, mailboxes):
    """LIST (SUBSCRIBED) works in IMAP4rev2 (advertised LIST-EXTENDED or not): exactly the subscribed names."""
    kept, other = mailboxes.create("kept"), mailboxes.create("other")
    client = rev2(imap)
    client.ok(b"SUBSCRIBE " + quoted_utf8(kept))
    resps, _ = client.ok(b'LIST (SUBSCRIBED) "" ' + quoted_utf8(f"{mailboxes.prefix}*"))
    listed = {cast(MailboxList, r.data).name: cast(MailboxList, r.data) for r in untagged(resps, "LIST")}
    assert set(listed) == {kept}, f"LIST (SUBSCRIBED) gave {sorted(listed)}; only {kept} is subscribed"
    assert listed[kept].has("\\Subscribed"), f"{kept} is listed without \\Subscribed"
    assert other not in listed


@spec("imap/9051/6.3.9.2/children-and-status-return-options", "RFC9051-6.3.9.5-02", "RFC9051-6.3.9.5-04",
      "RFC9051-6.3.9.2-03", "RFC9051-6.3.9-14", needs=REV2)
def test_children_and_status_return_options(imap, mailboxes):
    """RETURN (CHILDREN STATUS (UIDNEXT)): \\HasChildren/\\HasNoChildren, and a STATUS after each LIST."""
    parent = mailboxes.create("parent")
    child = mailboxes.child(parent, "child")
    mailboxes.setup_client().ok(b"CREATE " + mailbox_arg(child))
    client = rev2(imap)
    resps, _ = client.ok(b'LIST "" ' + quoted_utf8(f"{mailboxes.prefix}*") + b" RETURN (CHILDREN STATUS (UIDNEXT))")
    seq = [r for r in resps if isinstance(r, Untagged) and r.kind in ("LIST", "STATUS")]
    lists = {cast(MailboxList, r.data).name: cast(MailboxList, r.data) for r in seq if r.kind == "LIST"}
    assert set(lists) == {parent, child}, f"LIST gave {sorted(lists)}"
    assert lists[parent].has("\\HasChildren") and lists[child].has("\\HasNoChildren"), (
        f"children attributes: {parent} {lists[parent].flags}, {child} {lists[child].flags}")
    for i, r in enumerate(seq):
        if r.kind == "LIST":
            after = seq[i + 1] if i + 1 < len(seq) else None
            assert after is not None and after.kind == "STATUS", f"no STATUS right after LIST {r.raw!r}"
