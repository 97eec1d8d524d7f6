"""FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8) and the FETCH response (§7.4.2).

Structures are checked against the corpus in suite/imap/data/corpus: tricky messages (nested
multiparts, message/rfc822 parts, encoded words, missing and empty header fields, group
addresses, 8-bit text, a 2500-octet line, no final line end) whose ENVELOPE, BODYSTRUCTURE and
section contents were written by hand from the RFC in expected.toml. Comparisons are of the
parsed structures; only what MIME leaves caseless (encodings, parameter names, charsets,
disposition types, language tags) is compared without case.

One bug, one failing test: only `rfc822-size-matches-octets` checks RFC822.SIZE against the
message, only `bodystructure-has-extension-data` requires extension data (the structure tests
compare it where sent), only `body-peek-keeps-unseen` checks \\Seen after BODY.PEEK and only
`body-fetch-sets-seen` checks that a plain BODY[] sets it. Everything else peeks.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailspec.wire.imap import ImapClient
from suite.imap._selected import (
    caseless,
    corpus,
    examine_read_only,
    expected_structure,
    fetch,
    fetch_one,
    flags_of,
    has_extension,
    open_box,
    store,
    uids,
    without_extension,
)

spec = pytest.mark.spec


def corpus_box(imap, mailbox: str, append, *names: str) -> ImapClient:
    """A client with `mailbox` selected after appending the named corpus messages in order."""
    client = imap()
    for name in names:
        append(client, mailbox, corpus(name).raw)
    open_box(client, mailbox)
    return client


def section(client: ImapClient, number: int, part: str, partial: str = "") -> bytes | None:
    """BODY.PEEK[part]<partial> of one message: the value the server returned under BODY[part]."""
    data = fetch_one(client, number, f"(BODY.PEEK[{part}]{partial})")
    origin = f"<{partial[1:].split('.')[0]}>" if partial else ""
    key = f"BODY[{part.upper()}]{origin}"
    assert key in data, f"FETCH BODY.PEEK[{part}]{partial} answered {sorted(data)}, not {key}"
    return data[key]  # type: ignore[return-value]


def header_lines(value: bytes | None) -> list[bytes]:
    """A header section as its lines; the section must end with the empty line."""
    assert value is not None and value.endswith(b"\r\n\r\n"), f"header section without its blank line: {value!r}"
    return value[:-4].split(b"\r\n") if value != b"\r\n" else []


# -- data items ---------------------------------------------------------------------------------------


@spec("imap/3501/7.4.2/rfc822-size-matches-octets")
def test_rfc822_size_matches_octets(imap, mailbox, append):
    """RFC822.SIZE is the number of octets of the message as appended (CRLF line ends); for a message
    whose last line has no CRLF, it is the number of octets BODY[] returns."""
    client = corpus_box(imap, mailbox, append, "simple", "no-trailing-crlf")
    assert fetch_one(client, 1, "(RFC822.SIZE)")["RFC822.SIZE"] == len(corpus("simple").raw)
    data = fetch_one(client, 2, "(BODY.PEEK[] RFC822.SIZE)")
    assert data["RFC822.SIZE"] == len(data["BODY[]"]), \
        f"RFC822.SIZE {data['RFC822.SIZE']}, BODY[] has {len(data['BODY[]'])} octets"


@spec("imap/3501/6.4.5/unterminated-last-line-kept")
def test_unterminated_last_line_kept(imap, mailbox, append):
    """A message whose last line has no CRLF comes back as appended from BODY[] and BODY[TEXT]
    (a server that stores lines may add the one final CRLF, nothing else)."""
    client = corpus_box(imap, mailbox, append, "no-trailing-crlf")
    raw, text = corpus("no-trailing-crlf").raw, corpus("no-trailing-crlf").sections["TEXT"]
    data = fetch_one(client, 1, "(BODY.PEEK[] BODY.PEEK[TEXT])")
    assert data["BODY[]"] in (raw, raw + b"\r\n"), f"BODY[] differs from the appended message: {data['BODY[]']!r}"
    assert data["BODY[TEXT]"] in (text, text + b"\r\n"), f"BODY[TEXT] is {data['BODY[TEXT]']!r}"


@spec("imap/3501/6.4.5/fetch-rfc822-is-whole-message")
def test_fetch_rfc822_is_whole_message(imap, mailbox, append):
    """RFC822 returns the whole message, header and body, octet for octet."""
    client = corpus_box(imap, mailbox, append, "simple")
    assert fetch_one(client, 1, "(RFC822)")["RFC822"] == corpus("simple").raw


@spec("imap/3501/6.4.5/fetch-rfc822-header")
def test_fetch_rfc822_header(imap, mailbox, append):
    """RFC822.HEADER returns the header, up to and including the empty line that ends it."""
    client = corpus_box(imap, mailbox, append, "simple")
    head = corpus("simple").raw.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    assert fetch_one(client, 1, "(RFC822.HEADER)")["RFC822.HEADER"] == head


@spec("imap/3501/6.4.5/fetch-rfc822-text")
def test_fetch_rfc822_text(imap, mailbox, append):
    """RFC822.TEXT returns the body: everything after the empty line that ends the header."""
    client = corpus_box(imap, mailbox, append, "simple")
    body = corpus("simple").raw.split(b"\r\n\r\n", 1)[1]
    assert fetch_one(client, 1, "(RFC822.TEXT)")["RFC822.TEXT"] == body


@spec("imap/3501/6.4.5/rfc822-header-keeps-unseen")
def test_rfc822_header_keeps_unseen(imap, mailbox, append):
    """RFC822.HEADER reads like BODY.PEEK[HEADER]: it does not set \\Seen."""
    client = imap()
    append(client, mailbox)
    open_box(client, mailbox)
    fetch_one(client, 1, "(RFC822.HEADER)")
    assert "\\seen" not in flags_of(client, 1), "RFC822.HEADER set \\Seen"


@spec("imap/3501/6.4.5/fetch-flags")
def test_fetch_flags(imap, mailbox, append):
    """FLAGS returns the flags the message has: after STORE FLAGS (\\Flagged \\Draft), those two."""
    client = imap()
    append(client, mailbox)
    open_box(client, mailbox)
    store(client, "STORE 1 FLAGS (\\Flagged \\Draft)")
    assert flags_of(client, 1) == {"\\flagged", "\\draft"}


@spec("imap/3501/6.4.5/fetch-internaldate-from-append", "RFC3501-6.3.11-07", "RFC3501-2.3.3-03")
def test_fetch_internaldate_from_append(imap, mailbox, append):
    """INTERNALDATE is the date-time given to APPEND (the same instant; the zone may differ)."""
    client = imap()
    append(client, mailbox, internaldate="17-Jul-1996 02:44:25 -0700")
    open_box(client, mailbox)
    got = fetch_one(client, 1, "(INTERNALDATE)")["INTERNALDATE"]
    assert got == datetime(1996, 7, 17, 9, 44, 25, tzinfo=UTC), f"INTERNALDATE {got}"


@spec("imap/3501/6.4.5/fetch-uid-names-the-message")
def test_fetch_uid_names_the_message(imap, mailbox, append):
    """The UID that FETCH UID reports for message 2 is the UID that UID FETCH finds message 2 by."""
    client = imap()
    for _ in range(3):
        append(client, mailbox)
    open_box(client, mailbox)
    uid = fetch_one(client, 2, "(UID)")["UID"]
    assert sorted(fetch(client, str(uid), "(FLAGS)", uid=True)) == [2]


@spec("imap/3501/6.4.5/static-items-do-not-change", "RFC3501-6.4.5-01", "RFC3501-9-16", "RFC9051-6.4.5-01",
      "RFC9051-2.3.1.1-10")
def test_static_items_do_not_change(imap, mailbox, append):
    """ENVELOPE, INTERNALDATE, RFC822.SIZE, BODYSTRUCTURE and the body sections stay the same for a
    message, also after its flags changed and in another session."""
    items = "(ENVELOPE INTERNALDATE RFC822.SIZE BODYSTRUCTURE BODY.PEEK[])"
    client = corpus_box(imap, mailbox, append, "nested-multipart")
    before = fetch_one(client, 1, items)
    store(client, "STORE 1 +FLAGS (\\Answered)")
    other = imap(label="other")
    open_box(other, mailbox)
    for label, now in (("the same session", fetch_one(client, 1, items)),
                       ("another session", fetch_one(other, 1, items))):
        changed = [k for k in before if k != "FLAGS" and now.get(k) != before[k]]
        assert not changed, f"{changed} changed in {label}"


# -- macros -------------------------------------------------------------------------------------------


@spec("imap/3501/6.4.5/fetch-all-macro")
def test_fetch_all_macro(imap, mailbox, append):
    """FETCH ALL returns FLAGS, INTERNALDATE, RFC822.SIZE and ENVELOPE."""
    client = corpus_box(imap, mailbox, append, "simple")
    data = fetch_one(client, 1, "ALL")
    missing = {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"} - set(data)
    assert not missing, f"FETCH ALL lacks {sorted(missing)}"
    assert data["ENVELOPE"] == corpus("simple").envelope


@spec("imap/3501/6.4.5/fetch-fast-macro")
def test_fetch_fast_macro(imap, mailbox, append):
    """FETCH FAST returns FLAGS, INTERNALDATE and RFC822.SIZE."""
    client = corpus_box(imap, mailbox, append, "simple")
    missing = {"FLAGS", "INTERNALDATE", "RFC822.SIZE"} - set(fetch_one(client, 1, "FAST"))
    assert not missing, f"FETCH FAST lacks {sorted(missing)}"


@spec("imap/3501/6.4.5/fetch-full-macro")
def test_fetch_full_macro(imap, mailbox, append):
    """FETCH FULL returns FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE and BODY (without extension
    data: BODY is the non-extensible form)."""
    client = corpus_box(imap, mailbox, append, "nested-multipart")
    data = fetch_one(client, 1, "FULL")
    missing = {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"} - set(data)
    assert not missing, f"FETCH FULL lacks {sorted(missing)}"
    assert caseless(data["BODY"]) == caseless(without_extension(corpus("nested-multipart").bodystructure))


# -- ENVELOPE (§7.4.2) --------------------------------------------------------------------------------


@spec("imap/3501/7.4.2/envelope-fields-in-order")
def test_envelope_fields_in_order(imap, mailbox, append):
    """ENVELOPE gives date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to and message-id,
    in that order, addresses split into name, route, mailbox and host."""
    client = corpus_box(imap, mailbox, append, "simple")
    assert fetch_one(client, 1, "(ENVELOPE)")["ENVELOPE"] == corpus("simple").envelope


@spec("imap/3501/7.4.2/envelope-absent-fields-nil")
def test_envelope_absent_fields_nil(imap, mailbox, append):
    """A header field the message lacks (date, subject, to, cc, bcc, in-reply-to, message-id) is NIL."""
    client = corpus_box(imap, mailbox, append, "missing-headers")
    got = fetch_one(client, 1, "(ENVELOPE)")["ENVELOPE"]
    fields = ("date", "subject", "to", "cc", "bcc", "in_reply_to", "message_id")
    wrong = {f: getattr(got, f) for f in fields if getattr(got, f) is not None}
    assert not wrong, f"fields the message does not have are not NIL: {wrong}"


@spec("imap/3501/7.4.2/envelope-sender-reply-to-default-to-from")
def test_envelope_sender_reply_to_default_to_from(imap, mailbox, append):
    """When Sender is absent and Reply-To is empty, the envelope's sender and reply-to are the from
    address (the server fills them in, not the client)."""
    client = corpus_box(imap, mailbox, append, "missing-headers")
    got = fetch_one(client, 1, "(ENVELOPE)")["ENVELOPE"]
    want = corpus("missing-headers").envelope
    assert got.from_ == want.from_
    assert (got.sender, got.reply_to) == (want.from_, want.from_), f"sender {got.sender}, reply-to {got.reply_to}"


@spec("imap/3501/7.4.2/envelope-group-syntax")
def test_envelope_group_syntax(imap, mailbox, append):
    """A group is sent as a start marker (NIL NIL name NIL), its members, and an end marker
    (NIL NIL NIL NIL); an empty group is start and end alone; a quoted display name loses its quotes."""
    client = corpus_box(imap, mailbox, append, "group-addresses")
    assert fetch_one(client, 1, "(ENVELOPE)")["ENVELOPE"] == corpus("group-addresses").envelope


@spec("imap/3501/7.4.2/envelope-encoded-words-unchanged")
def test_envelope_encoded_words_unchanged(imap, mailbox, append):
    """ENVELOPE strings are the header text as is: RFC 2047 encoded words in the subject and in
    display names are not decoded."""
    client = corpus_box(imap, mailbox, append, "encoded-words")
    assert fetch_one(client, 1, "(ENVELOPE)")["ENVELOPE"] == corpus("encoded-words").envelope


@spec("imap/3501/7.4.2/envelope-folded-field")
def test_envelope_folded_field(imap, mailbox, append):
    """An address field folded over two lines gives both addresses in the envelope."""
    client = corpus_box(imap, mailbox, append, "long-lines")
    assert fetch_one(client, 1, "(ENVELOPE)")["ENVELOPE"] == corpus("long-lines").envelope


# -- BODYSTRUCTURE and BODY (§7.4.2) ---------------------------------------------------------------------


def assert_structure(client: ImapClient, name: str) -> None:
    got = fetch_one(client, 1, "(BODYSTRUCTURE)")["BODYSTRUCTURE"]
    want = expected_structure(corpus(name), got)  # type: ignore[arg-type]
    assert caseless(got) == caseless(want)  # type: ignore[arg-type]


@spec("imap/3501/7.4.2/bodystructure-text-plain")
def test_bodystructure_text_plain(imap, mailbox, append):
    """A text/plain message: type, subtype, charset parameter, encoding, size in octets and lines."""
    client = corpus_box(imap, mailbox, append, "simple")
    assert_structure(client, "simple")


@spec("imap/3501/7.4.2/bodystructure-defaults-without-mime-fields")
def test_bodystructure_defaults_without_mime_fields(imap, mailbox, append):
    """A message without MIME header fields is text/plain; charset=us-ascii, 7bit."""
    client = corpus_box(imap, mailbox, append, "missing-headers")
    assert_structure(client, "missing-headers")


@spec("imap/3501/7.4.2/bodystructure-quoted-printable")
def test_bodystructure_quoted_printable(imap, mailbox, append):
    """A quoted-printable text part: the encoding is named and the size counts the encoded octets."""
    client = corpus_box(imap, mailbox, append, "encoded-words")
    assert_structure(client, "encoded-words")


@spec("imap/3501/7.4.2/bodystructure-8bit")
def test_bodystructure_8bit(imap, mailbox, append):
    """An 8-bit UTF-8 text body: encoding 8BIT, size in octets (not characters), two lines."""
    client = corpus_box(imap, mailbox, append, "eight-bit")
    assert_structure(client, "eight-bit")


@spec("imap/3501/7.4.2/bodystructure-long-line")
def test_bodystructure_long_line(imap, mailbox, append):
    """A body with a 2500-octet line: size and line count as written."""
    client = corpus_box(imap, mailbox, append, "long-lines")
    assert_structure(client, "long-lines")


@spec("imap/3501/7.4.2/bodystructure-nested-multipart")
def test_bodystructure_nested_multipart(imap, mailbox, append):
    """multipart/mixed holding text/plain (with Content-ID and -Description), a multipart/alternative
    and a base64 attachment: every part's fields, the subtypes, and the boundaries."""
    client = corpus_box(imap, mailbox, append, "nested-multipart")
    assert_structure(client, "nested-multipart")


@spec("imap/3501/7.4.2/bodystructure-message-rfc822", "RFC3501-9-09")
def test_bodystructure_message_rfc822(imap, mailbox, append):
    """A message/rfc822 part carries the encapsulated message's envelope, its body structure and its
    line count, for a multipart and for a plain encapsulated message."""
    client = corpus_box(imap, mailbox, append, "message-rfc822")
    assert_structure(client, "message-rfc822")


@spec("imap/3501/7.4.2/bodystructure-has-extension-data", "RFC3501-7.4.2-07", "RFC3501-7.4.2-10",
      "RFC3501-7.4.2-09", "RFC3501-9-06", "RFC9051-7.5.2-12", "RFC9051-7.5.2-17", "RFC9051-7.5.2-16")
def test_bodystructure_has_extension_data(imap, mailbox, append):
    """BODYSTRUCTURE, unlike BODY, carries extension data, each field in its defined place: the
    multipart's parameters, a part's disposition, language and location; nothing beyond them."""
    client = corpus_box(imap, mailbox, append, "nested-multipart")
    got = fetch_one(client, 1, "(BODYSTRUCTURE)")["BODYSTRUCTURE"]
    assert has_extension(got), "BODYSTRUCTURE of a multipart message has no extension data"
    text, alternative, attachment = got.parts  # type: ignore[union-attr]
    html = alternative.parts[1]
    assert got.params is not None and {k.upper(): v for k, v in got.params}.get(b"BOUNDARY") == b"outer-boundary"
    assert attachment.ext is not None and attachment.ext.disposition is not None, "the attachment has no disposition"
    kind, params = attachment.ext.disposition
    assert kind.upper() == b"ATTACHMENT" and {k.upper(): v for k, v in params or ()} == {b"FILENAME": b"data.bin"}
    assert html.ext is not None and html.ext.language is not None, "the text/html part's language is missing"
    assert [t.lower() for t in html.ext.language] == [b"fr"]
    assert html.ext.location == b"http://example.com/alt.html"
    extra = [p for p in (got, text, alternative, html, attachment) if p.ext is not None and p.ext.more]
    assert not extra, f"extension fields beyond the defined ones: {[p.ext.more for p in extra]}"


@spec("imap/3501/7.4.2/body-has-no-extension-data", "RFC3501-9-07", "RFC3501-9-08")
def test_body_has_no_extension_data(imap, mailbox, append):
    """FETCH BODY returns the structure without extension data, down to the nested parts."""
    client = corpus_box(imap, mailbox, append, "message-rfc822")
    got = fetch_one(client, 1, "(BODY)")["BODY"]  # the grammar refuses extension data in BODY itself
    assert caseless(got) == caseless(without_extension(corpus("message-rfc822").bodystructure))


# -- body sections (§6.4.5) ---------------------------------------------------------------------------


@spec("imap/3501/6.4.5/body-section-empty-is-whole-message")
def test_body_section_empty_is_whole_message(imap, mailbox, append):
    """BODY[] is the whole message, header included."""
    client = corpus_box(imap, mailbox, append, "nested-multipart")
    assert section(client, 1, "") == corpus("nested-multipart").raw


@spec("imap/3501/6.4.5/body-section-header")
def test_body_section_header(imap, mailbox, append):
    """BODY[HEADER] is the header including the empty line that ends it."""
    client = corpus_box(imap, mailbox, append, "nested-multipart")
    assert section(client, 1, "HEADER") == corpus("nested-multipart").raw.split(b"\r\n\r\n")[0] + b"\r\n\r\n"


@spec("imap/3501/6.4.5/body-section-text")
def test_body_section_text(imap, mailbox, append):
    """BODY[TEXT] is everything after the header's empty line (for a multipart: preamble, parts and
    epilogue)."""
    client = corpus_box(imap, mailbox, append, "nested-multipart")
    assert section(client, 1, "TEXT") == corpus("nested-multipart").raw.split(b"\r\n\r\n", 1)[1]


@spec("imap/3501/6.4.5/header-fields-selects-named-fields")
def test_header_fields_selects_named_fields(imap, mailbox, append):
    """BODY[HEADER.FIELDS (SUBJECT CC)] gives exactly the Subject and Cc lines, then the empty line."""
    client = corpus_box(imap, mailbox, append, "simple")
    got = header_lines(section(client, 1, "HEADER.FIELDS (SUBJECT CC)"))
    assert sorted(got) == sorted(header_lines(corpus("simple").sections["HEADER.FIELDS (SUBJECT CC)"]))


@spec("imap/3501/6.4.5/header-fields-match-any-case")
def test_header_fields_match_any_case(imap, mailbox, append):
    """Field names in HEADER.FIELDS match whatever their case: (sUbJeCt) finds 'Subject:'."""
    client = corpus_box(imap, mailbox, append, "simple")
    got = header_lines(section(client, 1, "HEADER.FIELDS (sUbJeCt)"))
    assert got == [b"Subject: IMAP4rev1 WG mtg summary and minutes"]


@spec("imap/3501/6.4.5/header-fields-absent-field-gives-empty-line")
def test_header_fields_absent_field_gives_empty_line(imap, mailbox, append):
    """HEADER.FIELDS naming only a field the message lacks returns just the empty line."""
    client = corpus_box(imap, mailbox, append, "simple")
    assert section(client, 1, "HEADER.FIELDS (X-NOT-IN-THIS-MESSAGE)") == b"\r\n"


@spec("imap/3501/6.4.5/header-fields-not-leaves-out-named-fields")
def test_header_fields_not_leaves_out_named_fields(imap, mailbox, append):
    """BODY[HEADER.FIELDS.NOT (SUBJECT CC)] is every other header line, then the empty line."""
    client = corpus_box(imap, mailbox, append, "simple")
    everything = corpus("simple").raw.split(b"\r\n\r\n")[0].split(b"\r\n")
    want = [line for line in everything if not line.lower().startswith((b"subject:", b"cc:"))]
    assert sorted(header_lines(section(client, 1, "HEADER.FIELDS.NOT (SUBJECT CC)"))) == sorted(want)


@spec("imap/3501/6.4.5/single-part-message-has-part-one")
def test_single_part_message_has_part_one(imap, mailbox, append):
    """A message that is not multipart has a part 1: its body."""
    client = corpus_box(imap, mailbox, append, "simple")
    assert section(client, 1, "1") == corpus("simple").sections["1"]


@spec("imap/3501/6.4.5/multipart-parts-numbered-in-order")
def test_multipart_parts_numbered_in_order(imap, mailbox, append):
    """The parts of a multipart message are 1, 2, 3 in the order they appear; a part's text is its
    body, without its MIME header and without the line end before the next boundary."""
    client = corpus_box(imap, mailbox, append, "nested-multipart")
    want = corpus("nested-multipart").sections
    for part in ("1", "2", "3"):
        assert section(client, 1, part) == want[part], f"BODY[{part}]"


@spec("imap/3501/6.4.5/nested-parts-numbered-with-period", "RFC3501-6.4.5-03", "RFC9051-6.4.5.1-01")
def test_nested_parts_numbered_with_period(imap, mailbox, append):
    """The parts inside a nested multipart (part 2) are 2.1 and 2.2."""
    client = corpus_box(imap, mailbox, append, "nested-multipart")
    want = corpus("nested-multipart").sections
    for part in ("2.1", "2.2"):
        assert section(client, 1, part) == want[part], f"BODY[{part}]"


@spec("imap/3501/6.4.5/mime-section-is-part-header", "RFC3501-6.4.5-04", "RFC9051-6.4.5.1-02")
def test_mime_section_is_part_header(imap, mailbox, append):
    """BODY[n.MIME] is the MIME header of part n with its empty line, at any depth."""
    client = corpus_box(imap, mailbox, append, "nested-multipart")
    want = corpus("nested-multipart").sections
    for part in ("1.MIME", "2.MIME", "2.1.MIME"):
        assert section(client, 1, part) == want[part], f"BODY[{part}]"


@spec("imap/3501/6.4.5/mime-section-needs-part-number", "RFC3501-6.4.5-04", "RFC9051-6.4.5.1-02")
def test_mime_section_needs_part_number(imap, mailbox, append):
    """BODY[MIME] without a part number is not a valid section, and FETCH refuses it."""
    client = corpus_box(imap, mailbox, append, "simple")
    _, done = client.run("FETCH 1 (BODY.PEEK[MIME])")
    assert not done.ok, f"FETCH BODY.PEEK[MIME] was answered {done.raw!r}"


@spec("imap/3501/6.4.5/encapsulated-message-header-and-text")
def test_encapsulated_message_header_and_text(imap, mailbox, append):
    """For a message/rfc822 part n, BODY[n.HEADER] and BODY[n.TEXT] are the header and body of the
    encapsulated message."""
    client = corpus_box(imap, mailbox, append, "message-rfc822")
    want = corpus("message-rfc822").sections
    for part in ("2.HEADER", "2.TEXT", "3.HEADER", "3.TEXT"):
        assert section(client, 1, part) == want[part], f"BODY[{part}]"


@spec("imap/3501/6.4.5/encapsulated-message-parts", "RFC3501-6.4.5-03", "RFC9051-6.4.5.1-01")
def test_encapsulated_message_parts(imap, mailbox, append):
    """The parts of a multipart message inside message/rfc822 part 2 are 2.1 and 2.2 (and 2.1.MIME
    their MIME header); a plain encapsulated message in part 3 has the one part 3.1."""
    client = corpus_box(imap, mailbox, append, "message-rfc822")
    want = corpus("message-rfc822").sections
    for part in ("2.1", "2.2", "2.1.MIME", "3.1"):
        assert section(client, 1, part) == want[part], f"BODY[{part}]"


@spec("imap/3501/6.4.5/encapsulated-message-mime-is-outer-header")
def test_encapsulated_message_mime_is_outer_header(imap, mailbox, append):
    """BODY[2.MIME] of a message/rfc822 part is the part's own MIME header in the enclosing message,
    not the encapsulated message's header."""
    client = corpus_box(imap, mailbox, append, "message-rfc822")
    assert section(client, 1, "2.MIME") == corpus("message-rfc822").sections["2.MIME"]


@spec("imap/3501/6.4.5/encapsulated-message-header-fields")
def test_encapsulated_message_header_fields(imap, mailbox, append):
    """BODY[2.HEADER.FIELDS (SUBJECT)] picks the field from the encapsulated message's header."""
    client = corpus_box(imap, mailbox, append, "message-rfc822")
    got = section(client, 1, "2.HEADER.FIELDS (SUBJECT)")
    assert got == corpus("message-rfc822").sections["2.HEADER.FIELDS (SUBJECT)"]


@spec("imap/3501/7.4.2/base64-part-sent-encoded", "RFC3501-7.4.2-05", "RFC3501-4.3.1-02",
      "RFC9051-7.5.2-10")
def test_base64_part_sent_encoded(imap, mailbox, append):
    """The body of a base64 part is sent as stored, in its transfer encoding, and BODYSTRUCTURE
    names the encoding."""
    client = corpus_box(imap, mailbox, append, "nested-multipart")
    assert section(client, 1, "3") == corpus("nested-multipart").sections["3"]
    attachment = fetch_one(client, 1, "(BODYSTRUCTURE)")["BODYSTRUCTURE"].parts[2]  # type: ignore[union-attr]
    assert attachment.encoding.upper() == b"BASE64"


@spec("imap/3501/6.4.5/eight-bit-text-unchanged")
def test_eight_bit_text_unchanged(imap, mailbox, append):
    """An 8-bit body comes back octet for octet (in a literal)."""
    client = corpus_box(imap, mailbox, append, "eight-bit")
    assert section(client, 1, "TEXT") == corpus("eight-bit").sections["TEXT"]


@spec("imap/3501/6.4.5/long-line-unchanged")
def test_long_line_unchanged(imap, mailbox, append):
    """A body line of 2500 octets comes back whole."""
    client = corpus_box(imap, mailbox, append, "long-lines")
    assert section(client, 1, "TEXT") == corpus("long-lines").raw.split(b"\r\n\r\n", 1)[1]


# -- partial fetches ------------------------------------------------------------------------------------


@spec("imap/3501/7.4.2/partial-fetch-echoes-origin")
def test_partial_fetch_echoes_origin(imap, mailbox, append):
    """BODY.PEEK[]<0.10> and BODY.PEEK[TEXT]<6.11> return those octets, under BODY[]<0> and
    BODY[TEXT]<6>: the response names the origin octet."""
    client = corpus_box(imap, mailbox, append, "simple")
    raw = corpus("simple").raw
    assert section(client, 1, "", "<0.10>") == raw[:10]
    assert section(client, 1, "TEXT", "<6.11>") == raw.split(b"\r\n\r\n", 1)[1][6:17]


@spec("imap/3501/7.4.2/full-fetch-has-no-origin", "RFC3501-7.4.2-03", "RFC9051-7.5.2-08")
def test_full_fetch_has_no_origin(imap, mailbox, append):
    """A FETCH without <partial> gets BODY[...] with no origin octet in the response."""
    client = corpus_box(imap, mailbox, append, "simple")
    data = fetch_one(client, 1, "(BODY.PEEK[] BODY.PEEK[TEXT])")
    with_origin = [k for k in data if "<" in k]
    assert not with_origin, f"origin octets in the response to a fetch without <partial>: {with_origin}"
    assert "BODY[]" in data and "BODY[TEXT]" in data, f"FETCH answered {sorted(data)}"


@spec("imap/3501/6.4.5/partial-beyond-end-is-empty")
def test_partial_beyond_end_is_empty(imap, mailbox, append):
    """A partial fetch that starts after the last octet returns an empty string."""
    client = corpus_box(imap, mailbox, append, "simple")
    start = len(corpus("simple").raw) + 10
    assert section(client, 1, "", f"<{start}.20>") == b""


@spec("imap/3501/6.4.5/partial-truncated-at-end")
def test_partial_truncated_at_end(imap, mailbox, append):
    """A partial fetch that runs past the end returns the octets up to the end."""
    client = corpus_box(imap, mailbox, append, "simple")
    raw = corpus("simple").raw
    assert section(client, 1, "", f"<{len(raw) - 7}.100>") == raw[-7:]


# -- \Seen ------------------------------------------------------------------------------------------------


@spec("imap/3501/6.4.5/body-peek-keeps-unseen")
def test_body_peek_keeps_unseen(imap, mailbox, append):
    """BODY.PEEK[] returns the message without setting \\Seen."""
    client = imap()
    append(client, mailbox)
    open_box(client, mailbox)
    fetch_one(client, 1, "(BODY.PEEK[])")
    assert "\\seen" not in flags_of(client, 1), "BODY.PEEK[] set \\Seen"


@spec("imap/3501/6.4.5/body-fetch-sets-seen")
def test_body_fetch_sets_seen(imap, mailbox, append):
    """BODY[] of an unseen message in a mailbox opened with SELECT sets \\Seen."""
    client = imap()
    append(client, mailbox)
    open_box(client, mailbox)
    fetch_one(client, 1, "(BODY[])")
    assert "\\seen" in flags_of(client, 1), "BODY[] left the message unseen"


@spec("imap/3501/6.4.5/body-fetch-reports-new-seen", "RFC3501-6.4.5-05", "RFC9051-6.4.5-03")
def test_body_fetch_reports_new_seen(imap, mailbox, append):
    """When BODY[] sets \\Seen, the FETCH response carries the new FLAGS."""
    client = imap()
    append(client, mailbox)
    open_box(client, mailbox)
    data = fetch_one(client, 1, "(BODY[])")
    if "\\seen" not in flags_of(client, 1):
        pytest.skip("BODY[] did not set \\Seen; imap/3501/6.4.5/body-fetch-sets-seen covers that")
    assert "FLAGS" in data and "\\seen" in {f.lower() for f in data["FLAGS"]}, f"FETCH gave {sorted(data)}"


@spec("imap/3501/6.3.2/examine-fetch-keeps-unseen", "RFC3501-6.3.2-02")
def test_examine_fetch_keeps_unseen(imap, mailbox, append):
    """In a mailbox opened with EXAMINE, BODY[] does not set \\Seen."""
    client = imap()
    append(client, mailbox)
    examine_read_only(client, mailbox)
    fetch_one(client, 1, "(BODY[])")
    assert "\\seen" not in flags_of(client, 1), "BODY[] set \\Seen in a read-only mailbox"


# -- message sets and UID FETCH (§6.4.8) ----------------------------------------------------------------


@spec("imap/3501/6.4.5/fetch-sequence-sets")
def test_fetch_sequence_sets(imap, mailbox, append):
    """FETCH answers exactly the messages a sequence set names: 1,3 / 2:* / *:3 (a range read either
    way) / *, each FETCH response carrying the message's sequence number."""
    client = imap()
    for _ in range(4):
        append(client, mailbox)
    open_box(client, mailbox)
    for sequence, numbers in (("1,3", [1, 3]), ("2:*", [2, 3, 4]), ("*:3", [3, 4]), ("*", [4])):
        assert sorted(fetch(client, sequence, "(UID)")) == numbers, f"FETCH {sequence}"


@spec("imap/3501/6.4.5/fetch-missing-message-number-refused")
def test_fetch_missing_message_number_refused(imap, mailbox, append):
    """FETCH of a message number above EXISTS is refused (the message does not exist)."""
    client = imap()
    for _ in range(2):
        append(client, mailbox)
    open_box(client, mailbox)
    _, done = client.run("FETCH 3 (FLAGS)")
    assert not done.ok, f"FETCH 3 in a mailbox of two messages was answered {done.raw!r}"


@spec("imap/3501/6.4.8/uid-fetch-includes-uid", "RFC3501-6.4.8-01", "RFC9051-6.4.9-02")
def test_uid_fetch_includes_uid(imap, mailbox, append):
    """Every FETCH response to UID FETCH carries the UID item, though only FLAGS was asked for."""
    client = imap()
    for _ in range(2):
        append(client, mailbox)
    open_box(client, mailbox)
    got = fetch(client, "1:*", "(FLAGS)", uid=True)
    assert sorted(got) == [1, 2]
    assert all("UID" in data for data in got.values()), f"UID FETCH responses without UID: {got}"


@spec("imap/3501/6.4.8/uid-range-to-star-includes-newest")
def test_uid_range_to_star_includes_newest(imap, mailbox, append):
    """UID FETCH n:* with n above every UID still returns the newest message: * is the highest UID
    in use, so the range is read as *:n."""
    client = imap()
    for _ in range(3):
        append(client, mailbox)
    open_box(client, mailbox)
    newest = uids(client)[-1]
    got = fetch(client, f"{newest + 100}:*", "(UID)", uid=True)
    assert [data["UID"] for data in got.values()] == [newest]


@spec("imap/3501/6.4.8/uid-fetch-ignores-missing-uids")
def test_uid_fetch_ignores_missing_uids(imap, mailbox, append):
    """UID FETCH of UIDs no message has answers OK with no FETCH for them, and returns the ones that
    exist when mixed with them."""
    client = imap()
    for _ in range(2):
        append(client, mailbox)
    open_box(client, mailbox)
    known = uids(client)
    assert fetch(client, str(known[-1] + 50), "(UID)", uid=True) == {}
    got = fetch(client, f"{known[0]},{known[-1] + 50}", "(UID)", uid=True)
    assert [data["UID"] for data in got.values()] == [known[0]]
