"""SEARCH and UID SEARCH (RFC 3501 §6.4.4, §6.4.8) and the ESEARCH result options (RFC 4731).

Most tests search one small corpus of four messages whose flags, dates, addresses, sizes and text
were chosen so that every key picks a different, hand-computed subset (see CORPUS). The expected
message numbers below are written from the corpus and the RFC, never taken from a server.

Suite-wide rule kept here: a test about one key uses no other key that a broken server could get
wrong in the same way, so one bug fails one test. In particular only `search-not-negates` uses
NOT, and only `uid-search-returns-uids` runs UID SEARCH where UIDs and numbers differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest

from mailspec.fixtures_imap import imap_date_time
from mailspec.protocol.imap_response import ESearchData, SearchData, SequenceSet, Untagged
from mailspec.wire.imap import ImapClient, Literal, untagged
from suite.imap._selected import fetch, uids
from suite.imap.test_sessions import remove

spec = pytest.mark.spec


@dataclass(frozen=True)
class Mail:
    flags: tuple[str, ...]
    internaldate: str
    headers: tuple[tuple[str, str], ...]
    body: tuple[str, ...]

    @property
    def raw(self) -> bytes:
        lines = [f"{k}: {v}" for k, v in self.headers] + ["", *self.body]
        return ("\r\n".join(lines) + "\r\n").encode("utf-8")


# Internal dates and Date: fields deliberately disagree in order, so a server that uses one for
# the other's keys gets a different subset. Message 3 alone is large (> 1000 octets).
_FILLER = tuple(f"Filler line {n:02d}: the quick brown fox jumps over the lazy dog." for n in range(30))
CORPUS = (
    Mail(("\\Seen", "\\Answered"), "01-Feb-2020 12:00:00 +0000", (
        ("From", "Alice Example <alice@example.org>"), ("To", "Bob <bob@example.net>"),
        ("Cc", "carol@example.com"), ("Subject", "Quarterly report"),
        ("Date", "Sun, 05 May 2019 12:00:00 +0000"), ("X-Corpus-Tag", "first"),
        ("Message-ID", "<corpus-1@mailspec.example>")),
        ("The figures are attached.", "Regards, Alice")),
    Mail(("\\Flagged", "$Work"), "15-Mar-2021 12:00:00 +0000", (
        ("From", "Bob <bob@example.net>"), ("To", "alice@example.org"), ("Bcc", "dave@example.com"),
        ("Subject", "Lunch plans"), ("Date", "Wed, 01 Jan 2025 12:00:00 +0000"),
        ("Message-ID", "<corpus-2@mailspec.example>")),
        ("Pizza or sushi on Friday?",)),
    Mail(("\\Draft", "\\Deleted"), "20-Jun-2022 12:00:00 +0000", (
        ("From", "Carol <carol@example.com>"), ("To", "alice@example.org"),
        ("Subject", "Re: Quarterly report"), ("Date", "Tue, 04 Jun 2024 12:00:00 +0000"),
        ("Message-ID", "<corpus-3@mailspec.example>")),
        ("A zebra crossing near the office.", *_FILLER)),
    Mail((), "10-Oct-2023 12:00:00 +0000", (
        ("From", "Dave <dave@example.com>"), ("To", "bob@example.net"), ("Cc", "alice@example.org"),
        ("Subject", "Hello"), ("Date", "Fri, 01 Nov 2019 12:00:00 +0000"),
        ("Message-ID", "<corpus-4@mailspec.example>")),
        ("Hi.",)),
)
ALL = {1, 2, 3, 4}
NO_MATCH = "SUBJECT mailspec-matches-nothing"


# -- helpers ---------------------------------------------------------------------------------------


def fill(client: ImapClient, mailbox: str, append, mails=CORPUS) -> None:
    """Append the messages in order (so message n is mails[n-1]) and SELECT the mailbox."""
    for mail in mails:
        append(client, mailbox, mail.raw, mail.flags, mail.internaldate)
    _, done = client.select(mailbox)
    assert done.ok, f"SELECT {mailbox} failed: {done.raw!r}"


@pytest.fixture
def corpus(imap, mailbox, append) -> ImapClient:
    """A client with a fresh mailbox holding CORPUS selected."""
    client = imap()
    fill(client, mailbox, append)
    return client


def search_responses(client: ImapClient, criteria: str | bytes, *more: bytes | Literal,
                     uid: bool = False) -> list[Untagged]:
    """Run (UID) SEARCH; the command must succeed. Returns its untagged SEARCH/ESEARCH responses."""
    head = b"UID SEARCH " if uid else b"SEARCH "
    resps, done = client.run(head + (criteria.encode() if isinstance(criteria, str) else criteria), *more)
    assert done.ok, f"SEARCH {criteria!r} was not completed with OK: {done.raw!r}"
    return [r for r in resps if isinstance(r, Untagged) and r.kind in ("SEARCH", "ESEARCH")]


def search(client: ImapClient, criteria: str, uid: bool = False) -> set[int]:
    """The numbers one SEARCH response lists (exactly one is required, RFC3501-6.4.4-02)."""
    found = [r for r in search_responses(client, criteria, uid=uid) if r.kind == "SEARCH"]
    assert len(found) == 1, f"expected exactly one untagged SEARCH response, got {len(found)}"
    data = found[0].data
    assert isinstance(data, SearchData)
    assert len(set(data.numbers)) == len(data.numbers), f"a number is listed twice: {data.numbers}"
    return set(data.numbers)


def esearch(client: ImapClient, criteria: str, uid: bool = False) -> ESearchData:
    """The single ESEARCH response of an extended SEARCH (its TAG correlator is not checked here)."""
    found = search_responses(client, criteria, uid=uid)
    assert [r.kind for r in found] == ["ESEARCH"], (
        f"expected one ESEARCH response and no SEARCH response, got {[r.kind for r in found]}")
    data = found[0].data
    assert isinstance(data, ESearchData)
    return data


def expand(seqset: object) -> set[int]:
    """The numbers a sequence-set of ESEARCH ALL names (it never contains '*')."""
    assert isinstance(seqset, tuple), f"ALL is not a sequence set: {seqset!r}"
    out: set[int] = set()
    ranges: SequenceSet = seqset
    for low, high in ranges:
        assert low is not None and high is not None, "ESEARCH ALL must not use '*'"
        out.update(range(min(low, high), max(low, high) + 1))
    return out


def size(n: int) -> int:
    """RFC822.SIZE of corpus message n: the octets appended (CRLF line ends)."""
    return len(CORPUS[n - 1].raw)


# -- §6.4.4: flag keys -----------------------------------------------------------------------------


@spec("imap/3501/6.4.4/search-all-matches-every-message", "RFC3501-6.4.4-02")
def test_search_all_matches_every_message(corpus):
    """SEARCH ALL lists every message of the mailbox in one untagged SEARCH response."""
    assert search(corpus, "ALL") == ALL


@spec("imap/3501/6.4.4/search-answered")
def test_search_answered(corpus):
    """ANSWERED matches the messages with \\Answered, UNANSWERED the others."""
    assert search(corpus, "ANSWERED") == {1}
    assert search(corpus, "UNANSWERED") == {2, 3, 4}


@spec("imap/3501/6.4.4/search-deleted")
def test_search_deleted(corpus):
    """DELETED matches the messages with \\Deleted, UNDELETED the others."""
    assert search(corpus, "DELETED") == {3}
    assert search(corpus, "UNDELETED") == {1, 2, 4}


@spec("imap/3501/6.4.4/search-draft")
def test_search_draft(corpus):
    """DRAFT matches the messages with \\Draft, UNDRAFT the others."""
    assert search(corpus, "DRAFT") == {3}
    assert search(corpus, "UNDRAFT") == {1, 2, 4}


@spec("imap/3501/6.4.4/search-flagged")
def test_search_flagged(corpus):
    """FLAGGED matches the messages with \\Flagged, UNFLAGGED the others."""
    assert search(corpus, "FLAGGED") == {2}
    assert search(corpus, "UNFLAGGED") == {1, 3, 4}


@spec("imap/3501/6.4.4/search-seen")
def test_search_seen(corpus):
    """SEEN matches the messages with \\Seen, UNSEEN the others."""
    assert search(corpus, "SEEN") == {1}
    assert search(corpus, "UNSEEN") == {2, 3, 4}


@spec("imap/3501/6.4.4/search-keyword")
def test_search_keyword(corpus):
    """KEYWORD matches the messages carrying that keyword, UNKEYWORD the others."""
    assert search(corpus, "KEYWORD $Work") == {2}
    assert search(corpus, "UNKEYWORD $Work") == {1, 3, 4}


@spec("imap/3501/6.4.4/search-flag-keys-ignore-case")
def test_search_flag_keys_ignore_case(corpus):
    """Search key names are case-insensitive atoms: 'flagged' is FLAGGED, 'keyword $work' KEYWORD $Work."""
    assert search(corpus, "flagged") == {2}
    assert search(corpus, "keyword $work") == {2}


# -- §6.4.4: header and text keys ------------------------------------------------------------------


@spec("imap/3501/6.4.4/search-from")
def test_search_from(corpus):
    """FROM matches a substring of the From field only (alice is in To and Cc of other messages)."""
    assert search(corpus, "FROM alice") == {1}
    assert search(corpus, "FROM example.com") == {3, 4}


@spec("imap/3501/6.4.4/search-to")
def test_search_to(corpus):
    """TO matches a substring of the To field."""
    assert search(corpus, "TO bob") == {1, 4}


@spec("imap/3501/6.4.4/search-cc")
def test_search_cc(corpus):
    """CC matches a substring of the Cc field."""
    assert search(corpus, "CC carol") == {1}
    assert search(corpus, "CC alice") == {4}


@spec("imap/3501/6.4.4/search-bcc")
def test_search_bcc(corpus):
    """BCC matches a substring of the Bcc field."""
    assert search(corpus, "BCC dave") == {2}


@spec("imap/3501/6.4.4/search-subject")
def test_search_subject(corpus):
    """SUBJECT matches a substring of the Subject field."""
    assert search(corpus, 'SUBJECT "Quarterly report"') == {1, 3}
    assert search(corpus, "SUBJECT lunch") == {2}


@spec("imap/3501/6.4.4/search-strings-ignore-case")
def test_search_strings_ignore_case(corpus):
    """String keys compare case-insensitively: QUARTERLY finds 'Quarterly', 'ZEBRA' finds 'zebra'."""
    assert search(corpus, "SUBJECT QUARTERLY") == {1, 3}
    assert search(corpus, "BODY ZEBRA") == {3}


@spec("imap/3501/6.4.4/search-strings-match-substrings")
def test_search_strings_match_substrings(corpus):
    """A string key matches when it is any substring of the field, not only a whole word."""
    assert search(corpus, "SUBJECT arterl") == {1, 3}
    assert search(corpus, "FROM xample.or") == {1}


@spec("imap/3501/6.4.4/search-header-field")
def test_search_header_field(corpus):
    """HEADER field-name string matches a substring of any field of that name."""
    assert search(corpus, "HEADER X-Corpus-Tag irs") == {1}
    assert search(corpus, "HEADER Message-ID corpus-2") == {2}


@spec("imap/3501/6.4.4/search-header-name-ignores-case")
def test_search_header_name_ignores_case(corpus):
    """The field name of HEADER matches whatever the case of the field in the message."""
    assert search(corpus, "HEADER x-corpus-tag first") == {1}
    assert search(corpus, "HEADER X-CORPUS-TAG first") == {1}


@spec("imap/3501/6.4.4/search-string-as-literal")
def test_search_string_as_literal(corpus):
    """A search string may be sent as a literal instead of an atom or quoted string."""
    resps = search_responses(corpus, "SUBJECT ", Literal(b"Lunch plans", non_sync=False))
    assert [r.kind for r in resps] == ["SEARCH"] and isinstance(resps[0].data, SearchData)
    assert set(resps[0].data.numbers) == {2}


@spec("imap/3501/6.4.4/search-header-empty-string-matches-presence")
def test_search_header_empty_string_matches_presence(corpus):
    """HEADER with an empty string matches every message that has the field at all."""
    assert search(corpus, 'HEADER X-Corpus-Tag ""') == {1}
    assert search(corpus, 'HEADER Bcc ""') == {2}


@spec("imap/3501/6.4.4/search-body-excludes-header")
def test_search_body_excludes_header(corpus):
    """BODY looks in the body only: body words match, a word that is only in Subject does not."""
    assert search(corpus, "BODY figures") == {1}
    assert search(corpus, "BODY zebra") == {3}
    assert search(corpus, "BODY Quarterly") == set()


@spec("imap/3501/6.4.4/search-text-covers-header-and-body")
def test_search_text_covers_header_and_body(corpus):
    """TEXT looks in the header and the body."""
    assert search(corpus, "TEXT Quarterly") == {1, 3}
    assert search(corpus, "TEXT sushi") == {2}


# -- §6.4.4: dates and sizes -----------------------------------------------------------------------


@spec("imap/3501/6.4.4/search-before-uses-internal-date")
def test_search_before_uses_internal_date(corpus):
    """BEFORE matches internal dates strictly earlier than the date (not the Date: field)."""
    assert search(corpus, "BEFORE 15-Mar-2021") == {1}


@spec("imap/3501/6.4.4/search-on-uses-internal-date")
def test_search_on_uses_internal_date(corpus):
    """ON matches the internal date's day, disregarding the time."""
    assert search(corpus, "ON 15-Mar-2021") == {2}


@spec("imap/3501/6.4.4/search-since-includes-the-day")
def test_search_since_includes_the_day(corpus):
    """SINCE matches internal dates on or after the date."""
    assert search(corpus, "SINCE 20-Jun-2022") == {3, 4}


@spec("imap/3501/6.4.4/search-dates-may-be-quoted")
def test_search_dates_may_be_quoted(corpus):
    """A date argument may be a quoted string, and its day may have one digit or two."""
    assert search(corpus, 'ON "15-Mar-2021"') == {2}
    assert search(corpus, 'SENTON "01-Nov-2019"') == {4}


@spec("imap/3501/6.4.4/search-sentbefore-uses-date-field")
def test_search_sentbefore_uses_date_field(corpus):
    """SENTBEFORE compares the Date: header field, strictly earlier."""
    assert search(corpus, "SENTBEFORE 1-Jun-2019") == {1}


@spec("imap/3501/6.4.4/search-senton-uses-date-field")
def test_search_senton_uses_date_field(corpus):
    """SENTON matches the day of the Date: header field."""
    assert search(corpus, "SENTON 1-Nov-2019") == {4}


@spec("imap/3501/6.4.4/search-sentsince-uses-date-field")
def test_search_sentsince_uses_date_field(corpus):
    """SENTSINCE matches Date: fields on or after the date."""
    assert search(corpus, "SENTSINCE 4-Jun-2024") == {2, 3}


ZONED = (
    Mail((), "01-Nov-2019 23:30:00 -0500", (("Subject", "late evening west"),
                                            ("Date", "Fri, 01 Nov 2019 23:30:00 -0500")), ("one",)),
    Mail((), "02-Nov-2019 00:30:00 +0900", (("Subject", "early morning east"),
                                            ("Date", "Sat, 02 Nov 2019 00:30:00 +0900")), ("two",)),
)


@spec("imap/3501/6.4.4/search-sent-dates-ignore-zone")
def test_search_sent_dates_ignore_zone(imap, mailbox, append):
    """SENT* keys use the day written in the Date: field, whatever its zone: 23:30 -0500 on
    1 Nov is SENTON 1-Nov even though it is 2 Nov in UTC, and 00:30 +0900 on 2 Nov is 2 Nov."""
    client = imap()
    fill(client, mailbox, append, ZONED)
    assert search(client, "SENTON 1-Nov-2019") == {1}
    assert search(client, "SENTON 2-Nov-2019") == {2}
    assert search(client, "SENTBEFORE 2-Nov-2019") == {1}


@spec("imap/3501/6.4.4/search-dates-follow-fetched-internaldate")
def test_search_dates_follow_fetched_internaldate(imap, mailbox, append):
    """BEFORE, ON and SINCE agree with the internal date FETCH INTERNALDATE reports: the message
    is ON its reported day, SINCE it, and not BEFORE it (checked for dates near midnight in zones
    far from UTC, where a server could use one day for FETCH and another for SEARCH)."""
    client = imap()
    fill(client, mailbox, append, ZONED)
    got = fetch(client, "1:2", "(INTERNALDATE)")
    for n in (1, 2):
        when = got[n]["INTERNALDATE"]
        assert isinstance(when, datetime), f"FETCH {n} sent no INTERNALDATE"
        day = imap_date_time(when).split()[0]  # the day as the server reported it, in its zone
        assert n in search(client, f"ON {day}"), f"message {n} (INTERNALDATE {when}) is not ON {day}"
        assert n in search(client, f"SINCE {day}"), f"message {n} (INTERNALDATE {when}) is not SINCE {day}"
        assert n not in search(client, f"BEFORE {day}"), f"message {n} (INTERNALDATE {when}) is BEFORE {day}"


@spec("imap/3501/6.4.4/search-larger")
def test_search_larger(corpus):
    """LARGER n matches messages whose RFC822.SIZE is above n, and not those of exactly n octets."""
    assert search(corpus, "LARGER 1000") == {3}
    assert search(corpus, f"LARGER {size(4)}") == {1, 2, 3}


@spec("imap/3501/6.4.4/search-smaller")
def test_search_smaller(corpus):
    """SMALLER n matches messages whose RFC822.SIZE is below n, and not those of exactly n octets."""
    assert search(corpus, "SMALLER 1000") == {1, 2, 4}
    assert search(corpus, f"SMALLER {size(4) + 1}") == {4}
    assert search(corpus, f"SMALLER {size(4)}") == set()


# -- §6.4.4: numbers, UIDs and combinations --------------------------------------------------------


@spec("imap/3501/6.4.4/search-sequence-set")
def test_search_sequence_set(corpus):
    """A sequence set as a key matches those message numbers; '*' is the last message."""
    assert search(corpus, "2:3") == {2, 3}
    assert search(corpus, "2,4") == {2, 4}
    assert search(corpus, "3:*") == {3, 4}
    assert search(corpus, "*") == {4}


@spec("imap/3501/6.4.4/search-uid-key")
def test_search_uid_key(corpus):
    """UID uid-set matches the messages with those UIDs; SEARCH still answers with numbers."""
    numbered = uids(corpus)
    assert search(corpus, f"UID {numbered[1]},{numbered[3]}") == {2, 4}
    assert search(corpus, "UID *") == {4}


@spec("imap/3501/6.4.8/search-uid-range-past-last-includes-last")
def test_search_uid_range_past_last_includes_last(corpus):
    """A UID range n:* with n above every UID still names the message with the highest UID ('*'
    is that UID, and a range means the same in either order)."""
    beyond = uids(corpus)[-1] + 1000
    assert search(corpus, f"UID {beyond}:*") == {4}


@spec("imap/3501/6.4.4/search-keys-are-anded")
def test_search_keys_are_anded(corpus):
    """Several keys match the intersection of what each matches."""
    assert search(corpus, "TO alice UNFLAGGED") == {3}
    assert search(corpus, "FROM example.com UNDELETED SINCE 1-Jan-2020") == {4}


@spec("imap/3501/6.4.4/search-parenthesised-list")
def test_search_parenthesised_list(corpus):
    """A parenthesised list of keys is one key matching their intersection."""
    assert search(corpus, "(TO alice UNFLAGGED)") == {3}
    assert search(corpus, "(SUBJECT report) (SEEN)") == {1}


@spec("imap/3501/6.4.4/search-or")
def test_search_or(corpus):
    """OR key1 key2 matches messages that match either key."""
    assert search(corpus, "OR ANSWERED DRAFT") == {1, 3}
    assert search(corpus, "OR FROM alice FROM dave") == {1, 4}


@spec("imap/3501/6.4.4/search-nested-keys")
def test_search_nested_keys(corpus):
    """OR and parenthesised lists nest to any depth."""
    assert search(corpus, "OR OR ANSWERED FLAGGED DRAFT") == {1, 2, 3}
    assert search(corpus, "OR (SUBJECT report DELETED) (TO bob CC alice)") == {3, 4}
    assert search(corpus, "((OR (FROM alice SEEN) (FROM dave)) SMALLER 1000)") == {1, 4}


@spec("imap/3501/6.4.4/search-not-negates")
def test_search_not_negates(corpus):
    """NOT key matches exactly the messages that key does not match."""
    assert search(corpus, "NOT SEEN") == {2, 3, 4}
    assert search(corpus, "NOT (OR FLAGGED DRAFT)") == {1, 4}


@spec("imap/3501/6.4.4/search-no-match-still-answers", "RFC3501-6.4.4-02")
def test_search_no_match_still_answers(corpus):
    """A search that matches nothing still sends its untagged SEARCH response, with no numbers."""
    assert search(corpus, NO_MATCH) == set()


# -- §6.4.4: recent keys (need messages that are recent and others that are not) -------------------


RECENT_SET = (
    Mail(("\\Seen",), "01-Jan-2021 12:00:00 +0000", (("Subject", "old seen"),), ("one",)),
    Mail((), "01-Jan-2021 12:00:00 +0000", (("Subject", "old unseen"),), ("two",)),
    Mail(("\\Seen",), "01-Jan-2021 12:00:00 +0000", (("Subject", "new seen"),), ("three",)),
    Mail((), "01-Jan-2021 12:00:00 +0000", (("Subject", "new unseen"),), ("four",)),
)


@pytest.fixture
def recent_mix(imap, mailbox, append) -> ImapClient:
    """Messages 1-2 seen by an earlier SELECT (no longer recent), 3-4 appended afterwards (recent).

    Skips when the server keeps \\Recent on messages an earlier selection already announced:
    recent-in-one-session-only judges that, and without it these keys cannot be told apart.
    """
    client = imap()
    fill(client, mailbox, append, RECENT_SET[:2])
    client.ok("CLOSE")  # nothing is \\Deleted, so nothing is expunged
    for mail in RECENT_SET[2:]:
        append(client, mailbox, mail.raw, mail.flags, mail.internaldate)
    resps, done = client.select(mailbox)
    assert done.ok
    recent = [r.number for r in untagged(resps, "RECENT")]
    if recent != [2]:
        pytest.skip(f"after a second SELECT the server reports RECENT {recent}, not 2 "
                    "(imap/3501/2.3.2/recent-in-one-session-only covers \\Recent)")
    return client


@spec("imap/3501/6.4.4/search-recent")
def test_search_recent(recent_mix):
    """RECENT matches the messages with \\Recent in this session."""
    assert search(recent_mix, "RECENT") == {3, 4}


@spec("imap/3501/6.4.4/search-new-is-recent-and-unseen")
def test_search_new_is_recent_and_unseen(recent_mix):
    """NEW matches messages that are recent and not seen."""
    assert search(recent_mix, "NEW") == {4}


@spec("imap/3501/6.4.4/search-old-is-not-recent")
def test_search_old_is_not_recent(recent_mix):
    """OLD matches the messages without \\Recent."""
    assert search(recent_mix, "OLD") == {1, 2}


# -- §6.4.4: CHARSET -------------------------------------------------------------------------------


@spec("imap/3501/6.4.4/search-charset-us-ascii", "RFC3501-6.4.4-06")
def test_search_charset_us_ascii(corpus):
    """CHARSET US-ASCII is always supported and searches as without CHARSET."""
    assert search(corpus, "CHARSET US-ASCII SUBJECT lunch") == {2}


@spec("imap/3501/6.4.4/search-unknown-charset-is-no", "RFC3501-6.4.4-07")
def test_search_unknown_charset_is_no(corpus):
    """A charset the server does not support is refused with a tagged NO, not BAD."""
    resps, done = corpus.run("SEARCH CHARSET X-MAILSPEC-UNKNOWN SUBJECT lunch")
    assert done.status == "NO", f"expected NO for an unsupported charset, got {done.raw!r}"
    assert not untagged(resps, "SEARCH"), "a refused SEARCH sent search results"


@spec("imap/3501/6.4.4/search-unknown-charset-badcharset-code", "RFC3501-6.4.4-08")
def test_search_unknown_charset_badcharset_code(corpus):
    """The NO for an unsupported charset carries the BADCHARSET response code."""
    _, done = corpus.run("SEARCH CHARSET X-MAILSPEC-UNKNOWN SUBJECT lunch")
    assert done.status == "NO", f"expected NO for an unsupported charset, got {done.raw!r}"
    assert done.code == "BADCHARSET", f"the NO has no [BADCHARSET] code: {done.raw!r}"


_GRUSS = "Grüße aus Köln"
I18N = (
    Mail((), "01-Jan-2021 12:00:00 +0000", (
        ("Subject", "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?="), ("MIME-Version", "1.0"),
        ("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "quoted-printable")),
        ("K=C3=A4se vom Markt",)),
    Mail((), "01-Jan-2021 12:00:00 +0000", (
        ("Subject", "=?UTF-8?B?U23DuHJyZWJyw7hk?="), ("MIME-Version", "1.0"),  # Smørrebrød
        ("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "base64")),
        ("w4ZibGVza2l2ZXIgbWVkIGzDuGc=",)),  # "Æbleskiver med løg"
    Mail((), "01-Jan-2021 12:00:00 +0000", (("Subject", "Plain ASCII"),), ("Kase and Koln without accents",)),
)


def utf8_search(client: ImapClient, key: str, text: str) -> set[int]:
    """SEARCH CHARSET UTF-8 key {literal}; skips when UTF-8 is not supported (only US-ASCII must be)."""
    resps, done = client.run(f"SEARCH CHARSET UTF-8 {key} ".encode(), Literal(text.encode("utf-8"), non_sync=False))
    if done.status == "NO" and done.code == "BADCHARSET":
        pytest.skip("the server does not support CHARSET UTF-8 (RFC 3501 only requires US-ASCII)")
    assert done.ok, f"SEARCH CHARSET UTF-8 {key} failed: {done.raw!r}"
    found = untagged(resps, "SEARCH")
    assert len(found) == 1 and isinstance(found[0].data, SearchData)
    return set(found[0].data.numbers)


@spec("imap/3501/6.4.4/search-utf8-decodes-encoded-words", "RFC3501-6.4.4-05")
def test_search_utf8_decodes_encoded_words(imap, mailbox, append):
    """With CHARSET UTF-8, header fields are compared after decoding MIME encoded-words (Q and B)."""
    client = imap()
    fill(client, mailbox, append, I18N)
    assert utf8_search(client, "SUBJECT", "Köln") == {1}
    assert utf8_search(client, "SUBJECT", "Smørrebrød") == {2}


@spec("imap/3501/6.4.4/search-utf8-decodes-transfer-encoding", "RFC3501-6.4.4-05")
def test_search_utf8_decodes_transfer_encoding(imap, mailbox, append):
    """With CHARSET UTF-8, bodies are compared after undoing quoted-printable and base64."""
    client = imap()
    fill(client, mailbox, append, I18N)
    assert utf8_search(client, "BODY", "Käse") == {1}
    assert utf8_search(client, "BODY", "løg") == {2}


# -- §6.4.8: UID SEARCH ----------------------------------------------------------------------------


@spec("imap/3501/6.4.8/uid-search-returns-uids")
def test_uid_search_returns_uids(imap, mailbox, append):
    """UID SEARCH answers with UIDs, not message numbers (told apart after expunging message 1)."""
    client = imap()
    fill(client, mailbox, append, (CORPUS[0], CORPUS[1], CORPUS[3]))  # none \Deleted
    remove(client, [uids(client)[0]])
    left = uids(client)
    assert len(left) == 2 and left[0] != 1, f"after the expunge the mailbox should hold 2 messages: {left}"
    assert search(client, "ALL", uid=True) == set(left)
    assert search(client, "FLAGGED", uid=True) == {left[0]}


# -- RFC 4731: ESEARCH -----------------------------------------------------------------------------


@spec("imap/4731/3.1/esearch-carries-tag", "RFC4731-3.1-06", needs=("ESEARCH",))
def test_esearch_carries_tag(corpus):
    """The ESEARCH response names the command it answers with (TAG "<tag>")."""
    tag = corpus.send_command("SEARCH RETURN (COUNT) ALL")
    resps, done = corpus.complete(tag)
    assert done.ok, f"SEARCH RETURN (COUNT) failed: {done.raw!r}"
    found = untagged(resps, "ESEARCH")
    assert len(found) == 1 and isinstance(found[0].data, ESearchData)
    assert found[0].data.tag == tag.encode(), f"ESEARCH correlator is {found[0].data.tag!r}, the tag was {tag}"


@spec("imap/4731/3.1/esearch-min", "RFC4731-3.1-06", needs=("ESEARCH",))
def test_esearch_min(corpus):
    """RETURN (MIN) gives the lowest matching message number and nothing else."""
    assert esearch(corpus, "RETURN (MIN) UNSEEN").items == {"MIN": 2}


@spec("imap/4731/3.1/esearch-max", "RFC4731-3.1-06", needs=("ESEARCH",))
def test_esearch_max(corpus):
    """RETURN (MAX) gives the highest matching message number and nothing else."""
    assert esearch(corpus, "RETURN (MAX) UNDELETED").items == {"MAX": 4}


@spec("imap/4731/3.1/esearch-count", "RFC4731-3.1-05", needs=("ESEARCH",))
def test_esearch_count(corpus):
    """RETURN (COUNT) gives the number of matches."""
    assert esearch(corpus, "RETURN (COUNT) UNSEEN").items == {"COUNT": 3}


@spec("imap/4731/3.1/esearch-all", "RFC4731-3.1-06", needs=("ESEARCH",))
def test_esearch_all(corpus):
    """RETURN (ALL) gives every match as a sequence set."""
    data = esearch(corpus, "RETURN (ALL) UNSEEN")
    assert set(data.items) == {"ALL"}
    assert expand(data.items["ALL"]) == {2, 3, 4}


@spec("imap/4731/3.1/esearch-empty-return-is-all", "RFC4731-3.1-06", needs=("ESEARCH",))
def test_esearch_empty_return_is_all(corpus):
    """RETURN () asks for an ESEARCH response and means the same as RETURN (ALL)."""
    data = esearch(corpus, "RETURN () SUBJECT quarterly")
    assert set(data.items) == {"ALL"}
    assert expand(data.items["ALL"]) == {1, 3}


@spec("imap/4731/3.1/esearch-options-combine", "RFC4731-3.1-06", needs=("ESEARCH",))
def test_esearch_options_combine(corpus):
    """Several result options give all of them in the one ESEARCH response."""
    data = esearch(corpus, "RETURN (MIN MAX COUNT ALL) UNANSWERED")
    assert data.items.keys() == {"MIN", "MAX", "COUNT", "ALL"}
    assert (data.items["MIN"], data.items["MAX"], data.items["COUNT"]) == (2, 4, 3)
    assert expand(data.items["ALL"]) == {2, 3, 4}


@spec("imap/4731/3.1/esearch-no-match-omits-min-max-all",
      "RFC4731-3.1-01", "RFC4731-3.1-02", "RFC4731-3.1-04", needs=("ESEARCH",))
def test_esearch_no_match_omits_min_max_all(corpus):
    """With no match, the ESEARCH response still comes but carries no MIN, MAX or ALL."""
    data = esearch(corpus, f"RETURN (MIN MAX ALL) {NO_MATCH}")
    assert not {"MIN", "MAX", "ALL"} & set(data.items), f"no message matched, yet got {data.items}"


@spec("imap/4731/3.1/esearch-no-match-count-zero", "RFC4731-3.1-05", needs=("ESEARCH",))
def test_esearch_no_match_count_zero(corpus):
    """COUNT is always included when asked for: 0 when nothing matches."""
    assert esearch(corpus, f"RETURN (COUNT) {NO_MATCH}").items == {"COUNT": 0}


@spec("imap/4731/3.1/esearch-uid-indicator", "RFC4731-3.1-07", needs=("ESEARCH",))
def test_esearch_uid_indicator(corpus):
    """An extended UID SEARCH answers with the UID indicator and UIDs; plain SEARCH without it."""
    numbered = uids(corpus)
    data = esearch(corpus, "RETURN (ALL) FLAGGED", uid=True)
    assert data.uid, "ESEARCH of UID SEARCH lacks the UID indicator"
    assert expand(data.items["ALL"]) == {numbered[1]}
    assert not esearch(corpus, "RETURN (ALL) FLAGGED").uid, "ESEARCH of plain SEARCH has the UID indicator"


@spec("imap/4731/4/esearch-return-options-ignore-case", "RFC4731-4-01", needs=("ESEARCH",))
def test_esearch_return_options_ignore_case(corpus):
    """Result option names are accepted in any case."""
    data = esearch(corpus, "RETURN (min Max cOUNT) UNSEEN")
    assert data.items == {"MIN": 2, "MAX": 4, "COUNT": 3}


@spec("imap/4731/3.1/plain-search-keeps-search-response", needs=("ESEARCH",))
def test_plain_search_keeps_search_response(corpus):
    """Without RETURN, SEARCH still answers with a SEARCH response even when ESEARCH is offered."""
    found = search_responses(corpus, "FLAGGED")
    assert [r.kind for r in found] == ["SEARCH"], f"expected one SEARCH response, got {[r.kind for r in found]}"


@spec("imap/4731/3.2/esearch-modseq-with-modseq-key", "RFC4731-3.2-01", needs=("ESEARCH", "CONDSTORE"))
def test_esearch_modseq_with_modseq_key(corpus):
    """With a MODSEQ criterion, the ESEARCH response carries MODSEQ: for a single MAX, that
    message's mod-sequence."""
    data = esearch(corpus, "RETURN (MAX) MODSEQ 1")
    assert data.items.get("MAX") == 4 and "MODSEQ" in data.items, f"expected MAX 4 and MODSEQ: {data.items}"
    resps, _ = corpus.ok("FETCH 4 (MODSEQ)")
    fetched = [r.data["MODSEQ"] for r in untagged(resps, "FETCH") if isinstance(r.data, dict) and r.number == 4]
    assert fetched and data.items["MODSEQ"] == fetched[0], (
        f"ESEARCH MODSEQ {data.items['MODSEQ']} is not message 4's mod-sequence {fetched}")
