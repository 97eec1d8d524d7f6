"""The IMAP message model: ENVELOPE, BODYSTRUCTURE, BODY[section], search helpers, and encoders.

Expected structures are worked out by hand from RFC 3501 §7.4.2 / RFC 9051 §7.5.2 and the corpus in
tests/messages/ (sizes counted from the files; the comments show the counting). They were checked
against a real Dovecot's answers to the same messages, which agree apart from the letter case of
the MIME tokens (see message.py for the case this model uses).
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from reference_server.imap.encode import (
    astring,
    decode_mutf7,
    encode_list,
    encode_mutf7,
    nstring,
    quoted_or_literal,
)
from reference_server.imap.message import MessageModel, apply_partial
from reference_server.imap.model import Partial, Section

MESSAGES = Path(__file__).parent / "messages"


def model(name: str) -> MessageModel:
    return MessageModel((MESSAGES / name).read_bytes())


def addr(name: str, mailbox: str, host: str) -> str:
    return f'({name} NIL "{mailbox}" "{host}")'


# --- encode.py ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        ("plain", b'"plain"'),
        ("", b'""'),
        ('say "hi" \\o/', b'"say \\"hi\\" \\\\o/"'),
        ("two\r\nlines", b"{10}\r\ntwo\r\nlines"),
        ("Grüße", b"{7}\r\nGr\xc3\xbc\xc3\x9fe"),
        (b"nul\x00", b"{4}\r\nnul\x00"),
        ("x" * 1001, b"{1001}\r\n" + b"x" * 1001),
    ],
)
def test_quoted_or_literal(value: str | bytes, wire: bytes) -> None:
    assert quoted_or_literal(value) == wire


def test_nstring_astring_and_lists() -> None:
    assert nstring(None) == b"NIL"
    assert nstring("NIL") == b'"NIL"'
    assert astring("INBOX") == b"INBOX"
    assert astring("a]b") == b"a]b"
    assert astring("nil") == b'"nil"'
    assert astring("with space") == b'"with space"'
    assert astring("") == b'""'
    assert astring("a*") == b'"a*"'
    assert encode_list([b"\\Seen", "s", 7, None, [b"A", []]]) == b'(\\Seen "s" 7 NIL (A ()))'
    with pytest.raises(TypeError):
        encode_list([True])


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("INBOX", "INBOX"),
        ("Tom & Jerry", "Tom &- Jerry"),
        # RFC 3501 §5.1.3's example: Japanese 台北 then "/日本語" — worked out from UTF-16BE in base64.
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("😀", "&2D3eAA-"),
    ],
)
def test_mutf7_round_trip(name: str, wire: str) -> None:
    assert encode_mutf7(name) == wire
    assert decode_mutf7(wire) == name


@pytest.mark.parametrize(
    "bad",
    [
        "Entw\u00fcrfe",  # raw non-ASCII must be encoded
        "a&AGE",  # no closing "-"
        "&AGE-",  # base64 of "a", which must stand for itself
        "&APw-&APw-",  # two adjacent runs: the canonical form is one run
        "&APx-",  # non-zero padding bits
        "&AP-",  # odd number of octets
        "&2D0-",  # a lone high surrogate
        "&A!w-",  # outside the alphabet
        "a&",
    ],
)
def test_mutf7_rejects_invalid(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_mutf7(bad)


# --- ENVELOPE -----------------------------------------------------------------------------------------


def test_envelope_simple() -> None:
    fred = addr('"Fred Foobar"', "foobar", "Blurdybloop.example")
    expected = (
        f'("Mon, 7 Feb 1994 21:52:25 -0800" "afternoon meeting" ({fred}) ({fred}) ({fred}) '
        f'({addr("NIL", "mooch", "owatagu.siam.edu.example")}'
        f'{addr(chr(34) + "Ann Other" + chr(34), "ann", "example.org")}) '
        'NIL NIL NIL "<B27397-0100000@Blurdybloop.example>")'
    )
    assert model("simple.eml").envelope() == expected.encode()


def test_envelope_keeps_encoded_words_and_takes_comment_names() -> None:
    joerg = addr('"=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?="', "joerg", "example.de")
    expected = (
        '("Thu, 4 Jan 2024 23:59:59 -0800" "=?UTF-8?B?w4RwZmVs?= und =?ISO-8859-1?Q?Birnen?=" '
        f"({joerg}) ({joerg}) ({joerg}) "
        f'({addr(chr(34) + "Doe, Jane" + chr(34), "jane", "example.com")}'
        f'{addr(chr(34) + "Bob Smith" + chr(34), "bob", "example.com")}) '
        'NIL NIL "<prev@example.de>" NIL)'
    )
    assert model("encoded-words.eml").envelope() == expected.encode()


def test_envelope_missing_and_empty_fields() -> None:
    # No Date (NIL), empty Subject (""), empty Reply-To and absent Sender default to From; empty Cc NIL.
    lonely = addr("NIL", "lonely", "example.com")
    expected = f'(NIL "" ({lonely}) ({lonely}) ({lonely}) NIL NIL NIL NIL NIL)'
    assert model("missing-headers.eml").envelope() == expected.encode()


def test_envelope_groups_routes_and_missing_domain() -> None:
    expected = (
        '("Fri, 5 Jan 2024 12:00:00 +0000" "groups" '
        '(("Group Sender" NIL "gs" "example.com")) (("Secretary" NIL "sec" "example.com")) '
        '((NIL NIL "replies" "example.com")) '
        '((NIL NIL "Undisclosed recipients" NIL)(NIL NIL NIL NIL)) '
        '((NIL NIL "Team" NIL)(NIL NIL "a" "x.example")("B" NIL "b" "y.example")(NIL NIL NIL NIL)'
        '(NIL NIL "c" "z.example")) '
        '((NIL "@relay1.example,@relay2.example" "joe" "example.org")(NIL NIL "postmaster" "MISSING_DOMAIN")) '
        'NIL "<groups@example.com>")'
    )
    assert model("groups.eml").envelope() == expected.encode()


def test_envelope_8bit_subject_is_a_literal_and_folding_is_undone() -> None:
    utf8 = addr("NIL", "utf8", "example.com")
    expected = (
        '("Mon, 8 Jan 2024 00:00:00 +0000" {7}\r\nGr\xc3\xbc\xc3\x9fe '.encode("latin-1")
        + f"({utf8}) ({utf8}) ({utf8}) NIL NIL NIL NIL NIL)".encode()
    )
    assert model("eightbit.eml").envelope() == expected
    assert b'"a subject that is folded over two lines"' in model("long-lines.eml").envelope()


def test_envelope_odd_address_forms() -> None:
    raw = (
        b'From: "john doe"@example.com, Joe   Q.  Public <jq@x.org>, <>, (Lead) me@[10.0.0.1]\r\n'
        b"To: broken <no-close@x, ok@y.example\r\n\r\n"
    )
    # A comment before the address does not name it; "<>" names no mailbox; "broken <..." is skipped.
    envelope = MessageModel(raw).envelope()
    assert envelope.startswith(
        b'(NIL NIL ((NIL NIL "john doe" "example.com")("Joe Q. Public" NIL "jq" "x.org")'
        b'(NIL NIL "me" "[10.0.0.1]")) '
    )
    assert b'((NIL NIL "ok" "y.example"))' in envelope


# --- BODYSTRUCTURE ------------------------------------------------------------------------------------

TEXT_DEFAULT = '"TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT"'


def test_bodystructure_single_part() -> None:
    # Body "Hello Joe, do you think we can meet at 3:30 tomorrow?" CRLF: 53 + 2 octets, 1 line.
    simple = model("simple.eml")
    assert simple.bodystructure(True) == f"({TEXT_DEFAULT} 55 1 NIL NIL NIL NIL)".encode()
    assert simple.bodystructure(False) == f"({TEXT_DEFAULT} 55 1)".encode()


def test_bodystructure_encodings_charsets_and_line_counts() -> None:
    # "Q2Fm6SBjcuhtZSBicvts6WU=" CRLF: 24 + 2.
    assert model("base64-text.eml").bodystructure(False) == (
        b'("TEXT" "PLAIN" ("CHARSET" "iso-8859-1") NIL NIL "BASE64" 26 1)'
    )
    # "Sch=C3=B6ne Gr=C3=BC=C3=9Fe, soft=" CRLF (34 + 2) + "break joined" CRLF (12 + 2).
    assert model("encoded-words.eml").bodystructure(False) == (
        b'("TEXT" "PLAIN" ("CHARSET" "UTF-8") NIL NIL "QUOTED-PRINTABLE" 50 2)'
    )
    # "Käse und Brötchen" is 17 characters, 19 octets in UTF-8, + CRLF.
    assert model("eightbit.eml").bodystructure(False) == b'("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "8BIT" 21 1)'
    # 1200 x's + CRLF + "short" CRLF.
    assert model("long-lines.eml").bodystructure(False) == f"({TEXT_DEFAULT} 1209 2)".encode()
    # "first line" CRLF "last line": the unterminated last line is not counted.
    assert model("no-trailing-crlf.eml").bodystructure(False) == f"({TEXT_DEFAULT} 21 1)".encode()
    assert model("empty-body.eml").bodystructure(True) == f"({TEXT_DEFAULT} 0 0 NIL NIL NIL NIL)".encode()


def test_bodystructure_nested_multipart_with_extension_data() -> None:
    plain = '("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 32 0 NIL NIL NIL NIL)'
    html = '("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 9 0 NIL NIL NIL NIL)'
    pdf = (
        '("APPLICATION" "PDF" ("NAME" "report.pdf") "<pdf1@example.net>" "the report" "BASE64" 12 '
        '"Q2hlY2sgSW50ZWdyaXR5IQ==" ("ATTACHMENT" ("FILENAME" "report.pdf")) ("en" "de") '
        '"http://example.net/report.pdf")'
    )
    empty = f"({TEXT_DEFAULT} 0 0 NIL NIL NIL NIL)"
    expected = (
        f'(({plain}{html} "ALTERNATIVE" ("BOUNDARY" "inner") NIL NIL NIL){pdf}{empty} '
        '"MIXED" ("BOUNDARY" "outer") NIL NIL NIL)'
    )
    assert model("nested-multipart.eml").bodystructure(True) == expected.encode()
    body = (
        '((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 32 0)'
        '("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 9 0) "ALTERNATIVE")'
        '("APPLICATION" "PDF" ("NAME" "report.pdf") "<pdf1@example.net>" "the report" "BASE64" 12)'
        f'({TEXT_DEFAULT} 0 0) "MIXED")'
    )
    assert model("nested-multipart.eml").bodystructure(False) == body.encode()


def test_bodystructure_message_rfc822() -> None:
    inner = addr('"Inner Sender"', "inner", "example.org")
    envelope = (
        f'("Tue, 2 Jan 2024 07:00:00 -0500" "inner" ({inner}) ({inner}) ({inner}) NIL NIL NIL NIL '
        '"<inner-1@example.org>")'
    )
    # The encapsulated message: 5 header lines (181 octets with the blank line) + 102 octets of body
    # = 283, over 15 lines (6 header lines incl. the blank one, 9 body lines).
    inner_structure = (
        f'(({TEXT_DEFAULT} 11 0 NIL NIL NIL NIL)("TEXT" "HTML" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 12 0 '
        'NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "b2") NIL NIL NIL)'
    )
    expected = (
        f"(({TEXT_DEFAULT} 13 0 NIL NIL NIL NIL)"
        f'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 283 {envelope} {inner_structure} 15 NIL ("INLINE" NIL) NIL NIL) '
        '"MIXED" ("BOUNDARY" "b1") NIL NIL NIL)'
    )
    assert model("rfc822-attachment.eml").bodystructure(True) == expected.encode()


def test_bodystructure_digest_parts_default_to_message_rfc822() -> None:
    one = addr("NIL", "one", "example.com")
    # The part is a blank line (no MIME header) then a 51-octet message over 3 lines.
    expected = (
        f'(("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 51 (NIL "first" ({one}) ({one}) ({one}) NIL NIL NIL NIL NIL) '
        f'({TEXT_DEFAULT} 10 0) 3) "DIGEST")'
    )
    assert model("digest.eml").bodystructure(False) == expected.encode()


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (b"multipart/mixed", f'(({TEXT_DEFAULT} 0 0) "MIXED")'),  # no boundary: one empty part
        (b"text", f"({TEXT_DEFAULT} 5 1)"),  # unreadable type: text/plain
        (b'TEXT/Html; Format=flowed (a comment); name*0="a"', '("TEXT" "HTML" ("FORMAT" "flowed" "NAME*0" "a" '
         '"CHARSET" "US-ASCII") NIL NIL "7BIT" 5 1)'),
    ],
)
def test_bodystructure_unusual_content_types(content_type: bytes, expected: str) -> None:
    raw = b"Content-Type: " + content_type + b"\r\n\r\nabc\r\n"
    assert MessageModel(raw).bodystructure(False) == expected.encode()


# --- BODY[section] -----------------------------------------------------------------------------------

NESTED_ALTERNATIVE_BODY = (
    b"--inner\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"Gr=C3=BC=C3=9Fe aus M=C3=BCnchen\r\n--inner\r\nContent-Type: text/html; charset=\"utf-8\"\r\n\r\n"
    b"<p>Hi</p>\r\n--inner--"
)
INNER_HEADER = (
    b"From: Inner Sender <inner@example.org>\r\nSubject: inner\r\nDate: Tue, 2 Jan 2024 07:00:00 -0500\r\n"
    b"Message-ID: <inner-1@example.org>\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n"
)
INNER_BODY = (
    b"--b2\r\nContent-Type: text/plain\r\n\r\ninner plain\r\n--b2\r\nContent-Type: text/html\r\n\r\n"
    b"<b>inner</b>\r\n--b2--\r\n"
)


def S(part: tuple[int, ...] = (), text: str = "", fields: tuple[str, ...] = ()) -> Section:
    return Section(part, text, fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "section", "expected"),
    [
        ("simple.eml", S(), (MESSAGES / "simple.eml").read_bytes()),
        ("simple.eml", S(text="TEXT"), b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"),
        ("simple.eml", S((1,)), b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"),
        ("simple.eml", S((1, 1)), b""),
        ("simple.eml", S((2,)), b""),
        ("simple.eml", S(text="MIME"), b""),
        ("long-lines.eml", S(text="HEADER.FIELDS", fields=("X-LONG", "SUBJECT")),
         b"Subject: a subject that is folded\r\n over two lines\r\nX-Long: one\r\n\ttwo\r\n\r\n"),
        ("long-lines.eml", S(text="HEADER.FIELDS.NOT", fields=("subject", "X-LONG", "DATE")),
         b"From: folder@example.com\r\nX-Other: ignore me\r\n\r\n"),
        ("long-lines.eml", S(text="HEADER.FIELDS", fields=("X-NONE",)), b"\r\n"),
        ("nested-multipart.eml", S((1,)), NESTED_ALTERNATIVE_BODY),
        ("nested-multipart.eml", S((1,), "MIME"), b"Content-Type: multipart/alternative; boundary=inner\r\n\r\n"),
        ("nested-multipart.eml", S((1, 1)), b"Gr=C3=BC=C3=9Fe aus M=C3=BCnchen"),
        ("nested-multipart.eml", S((1, 1, 1)), b"Gr=C3=BC=C3=9Fe aus M=C3=BCnchen"),
        ("nested-multipart.eml", S((1, 1, 1, 1)), b""),
        ("nested-multipart.eml", S((1, 2), "MIME"), b'Content-Type: text/html; charset="utf-8"\r\n\r\n'),
        ("nested-multipart.eml", S((1, 3)), b""),
        ("nested-multipart.eml", S((2,)), b"JVBERi0xLjQK"),
        ("nested-multipart.eml", S((2,), "HEADER"), b""),  # not a message/rfc822 part
        ("nested-multipart.eml", S((2,), "TEXT"), b""),
        ("nested-multipart.eml", S((3,)), b""),
        ("nested-multipart.eml", S((3,), "MIME"), b"Content-Type: text/plain\r\n"),
        ("nested-multipart.eml", S((4,)), b""),
        ("nested-multipart.eml", S(text="HEADER.FIELDS.NOT", fields=("FROM", "TO", "SUBJECT", "DATE", "MIME-VERSION")),
         b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'),
        ("rfc822-attachment.eml", S((1,)), b"See attached."),
        ("rfc822-attachment.eml", S((1, 1, 1)), b""),
        ("rfc822-attachment.eml", S((2,)), INNER_HEADER + INNER_BODY),
        ("rfc822-attachment.eml", S((2,), "MIME"),
         b"Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n"),
        ("rfc822-attachment.eml", S((2,), "HEADER"), INNER_HEADER),
        ("rfc822-attachment.eml", S((2,), "TEXT"), INNER_BODY),
        ("rfc822-attachment.eml", S((2,), "HEADER.FIELDS", ("subject",)), b"Subject: inner\r\n\r\n"),
        ("rfc822-attachment.eml", S((2, 1)), b"inner plain"),
        ("rfc822-attachment.eml", S((2, 1), "MIME"), b"Content-Type: text/plain\r\n\r\n"),
        ("rfc822-attachment.eml", S((2, 2)), b"<b>inner</b>"),
        ("rfc822-attachment.eml", S((2, 3)), b""),
        ("digest.eml", S((1,), "HEADER"), b"From: one@example.com\r\nSubject: first\r\n\r\n"),
        ("digest.eml", S((1, 1)), b"first body"),
        ("empty-body.eml", S(text="TEXT"), b""),
        ("empty-body.eml", S(text="HEADER"), b"From: empty@example.com\r\nSubject: empty\r\n\r\n"),
    ],
)
def test_section(name: str, section: Section, expected: bytes) -> None:
    assert model(name).section(section) == expected


def test_sections_of_a_message_without_blank_line() -> None:
    headers_only = MessageModel(b"From: a@b\r\nSubject: x")
    assert headers_only.section(S(text="HEADER")) == b"From: a@b\r\nSubject: x"
    assert headers_only.section(S(text="TEXT")) == b""
    no_header = MessageModel(b"\r\nbody\r\n")
    assert no_header.section(S(text="HEADER")) == b"\r\n"
    assert no_header.section(S(text="TEXT")) == b"body\r\n"


@pytest.mark.parametrize(
    ("partial", "expected"),
    [(None, b"0123456789"), (Partial(0, 4), b"0123"), (Partial(8, 5), b"89"), (Partial(10, 1), b""),
     (Partial(3), b"3456789"), (Partial(2, 0), b"")],
)
def test_apply_partial(partial: Partial | None, expected: bytes) -> None:
    assert apply_partial(b"0123456789", partial) == expected


# --- helpers for SEARCH -------------------------------------------------------------------------------


def test_header_values_are_decoded_and_unfolded() -> None:
    words = model("encoded-words.eml")
    assert words.header("subject") == ["Äpfel und Birnen"]
    assert words.header("FROM") == ["Jörg Müller <joerg@example.de>"]
    assert words.header("X-Missing") == []
    assert model("long-lines.eml").header("X-Long") == ["one\ttwo"]
    assert model("eightbit.eml").header("Subject") == ["Grüße"]


def test_date_keeps_the_senders_zone() -> None:
    sent = model("encoded-words.eml").date()
    assert sent is not None
    assert sent.date() == dt.date(2024, 1, 4)  # 07:59 UTC on the 5th, but the 4th where it was sent
    assert sent.utcoffset() == dt.timedelta(hours=-8)
    assert model("missing-headers.eml").date() is None
    assert MessageModel(b"Date: not a date\r\n\r\n").date() is None


@pytest.mark.parametrize(
    ("name", "needle", "body_only", "found"),
    [
        ("encoded-words.eml", "schöne grüße", True, True),  # quoted-printable, UTF-8
        ("encoded-words.eml", "softbreak", True, True),  # a soft line break joins
        ("encoded-words.eml", "äPFEL", False, True),  # in the decoded Subject
        ("encoded-words.eml", "äpfel", True, False),  # ... which BODY does not look at
        ("base64-text.eml", "CRÈME", True, True),  # base64, ISO-8859-1
        ("base64-text.eml", "Q2Fm", True, False),  # the encoded form is not the text
        ("eightbit.eml", "brötchen", True, True),
        ("nested-multipart.eml", "münchen", True, True),
        ("nested-multipart.eml", "JVBERi", True, False),  # application/pdf is not searched
        ("rfc822-attachment.eml", "inner sender", True, True),  # the encapsulated message's header
        ("rfc822-attachment.eml", "INNER PLAIN", True, True),
        ("simple.eml", "", True, True),
    ],
)
def test_text_matches(name: str, needle: str, body_only: bool, found: bool) -> None:
    assert model(name).text_matches(needle, body_only=body_only) is found


def test_construction_is_lazy() -> None:
    # A body that would be expensive to split is never touched by size or construction.
    built = MessageModel(b"Content-Type: multipart/mixed; boundary=x\r\n\r\n" + b"--x\r\n" * 100_000)
    assert built.size == 45 + 500_000
    assert "parts" not in built.root.__dict__


def test_8bit_parameters_keep_their_octets() -> None:
    # "µ" upper-cases to a letter outside latin-1; only ASCII letters may change case.
    raw = b"Content-Type: text/plain; \xb5x=\xff\r\nContent-Transfer-Encoding: \xb5\r\n\r\n"
    assert MessageModel(raw).bodystructure(False) == (
        b'("TEXT" "PLAIN" ({2}\r\n\xb5X {1}\r\n\xff "CHARSET" "US-ASCII") NIL NIL {1}\r\n\xb5 0 0)'
    )


def test_damaged_messages_never_raise() -> None:
    """Mangled copies of the corpus: every answer is still computed (a server must not crash on mail)."""
    rng = random.Random(20240101)
    corpus = [path.read_bytes() for path in sorted(MESSAGES.glob("*.eml"))]
    noise = [b'"', b"(", b"<", b"\\", b":", b";", b"\r\n", b"--", b"=?", b"\xff", b"@", b",", b"[", b"\n", b"--b1"]
    sections = [S(), S((1,)), S((2, 1)), S((1,), "MIME"), S((2,), "HEADER"), S(text="HEADER.FIELDS", fields=("FROM",))]
    for _ in range(300):
        raw = bytearray(rng.choice(corpus))
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(raw) + 1)
            if rng.random() < 0.3:
                del raw[pos : pos + rng.randint(1, 20)]
            else:
                raw[pos:pos] = rng.choice(noise) if rng.random() < 0.7 else rng.randbytes(3)
        mangled = MessageModel(bytes(raw))
        assert mangled.envelope().startswith(b"(")
        assert mangled.bodystructure(True).startswith(b"(")
        for section in sections:
            mangled.section(section)
        mangled.text_matches("x", body_only=False)
        mangled.date()
