"""SEARCH evaluation against one message at a time (RFC 3501 §6.4.4, RFC 9051 §6.4.4, RFC 7162 §3.1.5)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from reference_server.imap.message import MessageModel
from reference_server.imap.model import SearchKey
from reference_server.imap.search import SearchContext, matches

MESSAGES = Path(__file__).parent / "messages"
# encoded-words.eml: sent Thu, 4 Jan 2024 23:59:59 -0800; 392 octets.
RAW = (MESSAGES / "encoded-words.eml").read_bytes()
PST = dt.timezone(dt.timedelta(hours=-8))


def ctx(**changes: object) -> SearchContext:
    base = SearchContext(
        seq=3,
        uid=30,
        flags=frozenset({"\\Seen", "\\Flagged", "$Label1"}),
        # 23:30 on the 10th in its own zone, which is already the 11th in UTC.
        internaldate=dt.datetime(2024, 1, 10, 23, 30, tzinfo=PST),
        size=len(RAW),
        modseq=17,
        model=lambda: MessageModel(RAW),
        largest_seq=5,
        largest_uid=50,
        recent=False,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def K(name: str, *args: object) -> SearchKey:
    return SearchKey(name, args)  # type: ignore[arg-type]


def no_model() -> MessageModel:
    raise AssertionError("the message was parsed for a key that does not need its content")


D = dt.date

CASES = [
    # (key, matches the default context)
    (K("ALL"), True),
    (K("SEEN"), True),
    (K("UNSEEN"), False),
    (K("FLAGGED"), True),
    (K("UNFLAGGED"), False),
    (K("ANSWERED"), False),
    (K("UNANSWERED"), True),
    (K("DELETED"), False),
    (K("UNDELETED"), True),
    (K("DRAFT"), False),
    (K("UNDRAFT"), True),
    (K("KEYWORD", "$Label1"), True),
    (K("KEYWORD", "$label1"), True),  # flags are atoms: case-insensitive
    (K("KEYWORD", "$Label"), False),  # a whole flag, never a prefix
    (K("UNKEYWORD", "$Label1"), False),
    (K("UNKEYWORD", "$Other"), True),
    (K("RECENT"), False),
    (K("OLD"), True),
    (K("NEW"), False),
    (K("LARGER", len(RAW) - 1), True),
    (K("LARGER", len(RAW)), False),  # strictly larger
    (K("SMALLER", len(RAW) + 1), True),
    (K("SMALLER", len(RAW)), False),  # strictly smaller
    (K("MODSEQ", 17), True),
    (K("MODSEQ", 18), False),
    (K("SEQSET", ((3, 3),)), True),
    (K("SEQSET", ((1, 2), (4, None))), False),
    (K("SEQSET", ((None, 4),)), False),  # *:4 is 4:5
    (K("SEQSET", ((None, 3),)), True),
    (K("UID", ((30, 30),)), True),
    (K("UID", ((31, None),)), False),
    (K("UID", ((None, None),)), False),  # * is 50
    (K("UID", ((1, 4_000_000_000),)), True),  # large ranges are not built
    # INTERNALDATE's own date is the 10th.
    (K("BEFORE", D(2024, 1, 10)), False),
    (K("BEFORE", D(2024, 1, 11)), True),
    (K("ON", D(2024, 1, 10)), True),
    (K("ON", D(2024, 1, 11)), False),
    (K("SINCE", D(2024, 1, 10)), True),
    (K("SINCE", D(2024, 1, 11)), False),
    # The Date: field's own date is the 4th (the 5th in UTC).
    (K("SENTBEFORE", D(2024, 1, 4)), False),
    (K("SENTBEFORE", D(2024, 1, 5)), True),
    (K("SENTON", D(2024, 1, 4)), True),
    (K("SENTON", D(2024, 1, 5)), False),
    (K("SENTSINCE", D(2024, 1, 4)), True),
    (K("SENTSINCE", D(2024, 1, 5)), False),
    # Strings: case-insensitive substrings of decoded values.
    (K("FROM", "jörg"), True),
    (K("FROM", "JOERG@EXAMPLE"), True),
    (K("FROM", "jane"), False),
    (K("TO", "doe, jane"), True),
    (K("TO", "bob smith"), True),
    (K("CC", ""), False),  # no Cc field at all
    (K("BCC", "x"), False),
    (K("SUBJECT", "äpfel UND"), True),
    (K("SUBJECT", "Birnen!"), False),
    (K("HEADER", "In-Reply-To", "PREV@"), True),
    (K("HEADER", "in-reply-to", ""), True),  # empty: the field is present
    (K("HEADER", "References", ""), False),
    (K("BODY", "grüße"), True),
    (K("BODY", "äpfel"), False),  # the subject is not the body
    (K("TEXT", "äpfel"), True),
    (K("TEXT", "content-transfer-encoding: quoted"), False),  # values are searched, not field names
    (K("TEXT", "kiwi"), False),
]


@pytest.mark.parametrize(("key", "expected"), CASES, ids=[f"{k.name}-{i}" for i, (k, _) in enumerate(CASES)])
def test_key(key: SearchKey, expected: bool) -> None:
    assert matches(key, ctx()) is expected
    # The negation is the complement: a key that cannot fail in one direction would show here.
    assert matches(K("NOT", key), ctx()) is not expected


@pytest.mark.parametrize(
    ("recent", "flags", "new", "old"),
    [(True, frozenset(), True, False), (True, frozenset({"\\SEEN"}), False, False), (False, frozenset(), False, True)],
)
def test_new_and_old(recent: bool, flags: frozenset[str], new: bool, old: bool) -> None:
    context = ctx(recent=recent, flags=flags)
    assert matches(K("NEW"), context) is new
    assert matches(K("OLD"), context) is old
    assert matches(K("RECENT"), context) is recent
    assert matches(K("UNSEEN"), context) is not flags


def test_star_always_names_the_largest() -> None:
    # UID 60:* includes the largest UID even though 60 is beyond it (the range is read as 50:60).
    last = ctx(uid=50, seq=5)
    assert matches(K("UID", ((60, None),)), last)
    assert matches(K("SEQSET", ((9, None),)), last)
    assert not matches(K("UID", ((60, None),)), ctx())


def test_internaldate_in_utc_is_compared_in_utc() -> None:
    utc = ctx(internaldate=dt.datetime(2024, 1, 11, 7, 30, tzinfo=dt.UTC))  # the same instant as above
    assert matches(K("ON", D(2024, 1, 11)), utc)


def test_sent_keys_never_match_without_a_date() -> None:
    undated = ctx(model=lambda: MessageModel(b"Subject: x\r\n\r\n"))
    for name in ("SENTBEFORE", "SENTON", "SENTSINCE"):
        assert not matches(K(name, D(2024, 1, 4)), undated)


def test_and_or_not_nesting() -> None:
    seen_and_from = K("AND", (K("SEEN"), K("FROM", "jörg")))
    assert matches(seen_and_from, ctx())
    assert not matches(K("AND", (K("SEEN"), K("FROM", "nobody"))), ctx())
    assert matches(K("AND", ()), ctx())  # an empty list is no restriction
    assert matches(K("OR", K("DELETED"), K("SUBJECT", "birnen")), ctx())
    assert not matches(K("OR", K("DELETED"), K("SUBJECT", "kiwi")), ctx())
    # NOT (OR DELETED (NOT SEEN)) == UNDELETED SEEN
    assert matches(K("NOT", K("OR", K("DELETED"), K("NOT", K("SEEN")))), ctx())
    # OR (OR ANSWERED DRAFT) (AND FLAGGED (NOT LARGER 10000))
    nested = K("OR", K("OR", K("ANSWERED"), K("DRAFT")), K("AND", (K("FLAGGED"), K("NOT", K("LARGER", 10_000)))))
    assert matches(nested, ctx())
    assert not matches(nested, ctx(size=20_000))


def test_content_is_parsed_only_when_needed_and_once() -> None:
    cheap = K("AND", (K("UNDELETED"), K("UID", ((1, None),)), K("SINCE", D(2020, 1, 1)), K("NOT", K("LARGER", 1))))
    assert not matches(cheap, ctx(model=no_model))
    # A failing cheap key in an AND saves the parse, whatever the order the client wrote.
    assert not matches(K("AND", (K("BODY", "x"), K("DELETED"))), ctx(model=no_model))
    assert matches(K("OR", K("SEEN"), K("BODY", "x")), ctx(model=no_model))

    calls = []

    def counted() -> MessageModel:
        calls.append(1)
        return MessageModel(RAW)

    context = ctx(model=counted)
    assert matches(K("AND", (K("FROM", "jörg"), K("BODY", "grüße"), K("SENTON", D(2024, 1, 4)))), context)
    assert calls == [1]


def test_unknown_key_and_bad_arguments_are_errors() -> None:
    with pytest.raises(ValueError, match="FUZZY"):
        matches(K("FUZZY"), ctx())
    with pytest.raises(TypeError):
        matches(K("LARGER", "10"), ctx())
    with pytest.raises(TypeError):
        matches(K("NOT", "SEEN"), ctx())
