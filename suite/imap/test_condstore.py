"""CONDSTORE (RFC 7162 §3.1): mod-sequences, HIGHESTMODSEQ, UNCHANGEDSINCE, CHANGEDSINCE, MODSEQ search.

Rules kept in this module (and in test_qresync.py, which reuses the helpers below), so that one
server bug fails one test:

* The session that changes a message is not the one that reads the new mod-sequence back, except
  in `store-raises-modseq`: that reading is what a server that reports a wrong MODSEQ after STORE
  breaks. Readers open the mailbox after the change (a fresh view), so they do not depend on
  unsolicited updates either, which RFC 3501 §5.2 only recommends.
* Only `unchangedsince-refuses-modified` lets a conditional STORE fail; the other UNCHANGEDSINCE
  tests use a value every message passes.
* UIDs come from FETCH, never from APPENDUID, and the messages are appended before any test
  session selects the mailbox.
* Sessions that change flags open the mailbox with SELECT (CONDSTORE): RFC 7162 §3.1.2.1 notes that
  servers may only start keeping mod-sequences once a client has announced it uses them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import pytest

from mailspec.protocol.imap_response import (
    ESearchData,
    Response,
    SearchData,
    SequenceSet,
    StatusData,
    Tagged,
    Untagged,
)
from mailspec.wire.imap import ImapClient, mailbox_arg, untagged

spec = pytest.mark.spec
CONDSTORE = ("CONDSTORE",)
# A flag change a test makes on purpose; \Flagged is a system flag every server keeps.
FLAG = "\\Flagged"


# -- helpers (test_qresync.py uses them too) -------------------------------------------------------


def select(client: ImapClient, mailbox: str, params: bytes | str = b"", *, examine: bool = False,
           ) -> list[Response]:
    """SELECT (or EXAMINE) with optional parameters; the command must complete with OK."""
    verb = b"EXAMINE " if examine else b"SELECT "
    extra = params.encode() if isinstance(params, str) else params
    resps, _ = client.ok(verb + mailbox_arg(mailbox, utf8=client.reader.utf8) + extra)
    return resps


def codes(responses: Iterable[Response], code: str) -> list[object]:
    """The arguments of every untagged status response that carries the response code `code`."""
    return [r.code_args for r in responses if isinstance(r, Untagged) and r.code == code]


def highestmodseq(responses: Iterable[Response]) -> int:
    """The one HIGHESTMODSEQ of a SELECT/EXAMINE; skips the test for a NOMODSEQ mailbox."""
    resps = list(responses)
    if codes(resps, "NOMODSEQ"):
        pytest.skip("the target keeps no mod-sequences for this mailbox (NOMODSEQ)")
    found = codes(resps, "HIGHESTMODSEQ")
    assert len(found) == 1, f"expected one OK [HIGHESTMODSEQ n] response, got {found}"
    return cast(int, found[0])


def fetched(responses: Iterable[Response]) -> dict[int, dict[str, object]]:
    """message number -> the data items of its FETCH responses (merged when there are several)."""
    out: dict[int, dict[str, object]] = {}
    for r in untagged(responses, "FETCH"):
        assert r.number is not None
        out.setdefault(r.number, {}).update(cast(dict[str, object], r.data))
    return out


def uid_modseqs(client: ImapClient, sequence: str = "1:*") -> dict[int, int]:
    """UID -> MODSEQ of the messages of the selected mailbox (FETCH, so no UID SEARCH is involved)."""
    resps, _ = client.ok(f"FETCH {sequence} (UID MODSEQ)")
    out = {}
    for items in fetched(resps).values():
        assert "UID" in items and "MODSEQ" in items, f"FETCH (UID MODSEQ) answered {items}"
        out[cast(int, items["UID"])] = cast(int, items["MODSEQ"])
    return out


def uids(client: ImapClient) -> list[int]:
    """The UIDs of the selected mailbox in message-number order."""
    resps, _ = client.ok("FETCH 1:* (UID)")
    found = fetched(resps)
    return [cast(int, found[n]["UID"]) for n in sorted(found)]


def flags_of(items: dict[str, object]) -> set[str]:
    return {f.lower() for f in cast(tuple[str, ...], items.get("FLAGS", ()))}


def expand(uid_set: object) -> set[int]:
    """The numbers of a sequence set without '*' (VANISHED, MODIFIED, ESEARCH ALL)."""
    assert isinstance(uid_set, tuple), f"not a sequence set: {uid_set!r}"
    out: set[int] = set()
    for low, high in cast(SequenceSet, uid_set):
        assert low is not None and high is not None, f"'*' in a set the server computed: {uid_set!r}"
        out.update(range(min(low, high), max(low, high) + 1))
    return out


def status_items(client: ImapClient, mailbox: str, items: str) -> dict[str, object]:
    resps, _ = client.ok(b"STATUS " + mailbox_arg(mailbox, utf8=client.reader.utf8) + f" ({items})".encode())
    found = [r.data for r in untagged(resps, "STATUS") if isinstance(r.data, StatusData)]
    assert len(found) == 1, f"expected one STATUS response, got {len(found)}"
    return dict(found[0].items)


def filled(append, account, mailbox: str, count: int) -> None:
    """Append `count` marked test messages (before any test session selects the mailbox)."""
    for _ in range(count):
        append(account, mailbox)


def one_search(responses: Iterable[Response]) -> SearchData:
    found = [r.data for r in untagged(responses, "SEARCH")]
    assert len(found) == 1, f"expected exactly one untagged SEARCH response, got {len(found)}"
    return cast(SearchData, found[0])


def completion_code(done: Tagged) -> tuple[str | None, object]:
    return done.code, done.code_args


# -- SELECT / EXAMINE / STATUS: HIGHESTMODSEQ -------------------------------------------------------


@spec("imap/7162/3.1.8/select-condstore-reports-highestmodseq", "RFC7162-3.1.2-01", needs=CONDSTORE)
def test_select_condstore_reports_highestmodseq(imap, mailbox, append, account):
    """SELECT (CONDSTORE) is answered with exactly one of OK [HIGHESTMODSEQ n] and OK [NOMODSEQ]."""
    filled(append, account, mailbox, 1)
    resps = select(imap(), mailbox, b" (CONDSTORE)")
    found = codes(resps, "HIGHESTMODSEQ") + codes(resps, "NOMODSEQ")
    assert len(found) == 1, (
        f"expected one untagged OK with HIGHESTMODSEQ or NOMODSEQ, got {len(found)}")


@spec("imap/7162/3.1.2.1/examine-after-enabling-reports-highestmodseq", "RFC7162-3.1.2.1-01",
      "RFC7162-3.1.2-01", needs=CONDSTORE)
def test_examine_after_enabling_reports_highestmodseq(imap, mailbox, append, account):
    """After a CONDSTORE enabling command (STATUS HIGHESTMODSEQ), a plain EXAMINE reports the code."""
    filled(append, account, mailbox, 1)
    client = imap()
    status_items(client, mailbox, "HIGHESTMODSEQ")
    resps = select(client, mailbox, examine=True)
    found = codes(resps, "HIGHESTMODSEQ") + codes(resps, "NOMODSEQ")
    assert len(found) == 1, f"expected HIGHESTMODSEQ or NOMODSEQ once in EXAMINE's responses, got {found}"


@spec("imap/7162/3.1.2.1/highestmodseq-is-highest-message-modseq", "RFC7162-3.1.2-02",
      "RFC7162-3.1.2.1-01", needs=CONDSTORE)
def test_highestmodseq_is_highest_message_modseq(imap, mailbox, append, account):
    """In a mailbox nothing was expunged from, HIGHESTMODSEQ equals the largest message MODSEQ."""
    filled(append, account, mailbox, 3)
    changer = imap(label="changer")
    select(changer, mailbox, b" (CONDSTORE)")
    changer.ok(f"STORE 2 +FLAGS ({FLAG})")
    reader = imap(label="reader")
    highest = highestmodseq(select(reader, mailbox, b" (CONDSTORE)"))
    per_message = uid_modseqs(reader)
    assert highest == max(per_message.values()), (
        f"HIGHESTMODSEQ {highest}, but the messages' MODSEQs are {per_message}")


@spec("imap/7162/3.1.7/status-highestmodseq-matches-select", "RFC7162-3.1.7-01", needs=CONDSTORE)
def test_status_highestmodseq_matches_select(imap, mailbox, append, account):
    """STATUS (HIGHESTMODSEQ) gives the SELECT value, or 0 for a mailbox answered with NOMODSEQ."""
    filled(append, account, mailbox, 2)
    client = imap()
    status = status_items(client, mailbox, "HIGHESTMODSEQ")
    assert "HIGHESTMODSEQ" in status, f"STATUS did not return HIGHESTMODSEQ: {status}"
    resps = select(client, mailbox, b" (CONDSTORE)")
    expected = 0 if codes(resps, "NOMODSEQ") else highestmodseq(resps)
    assert status["HIGHESTMODSEQ"] == expected, (
        f"STATUS HIGHESTMODSEQ {status['HIGHESTMODSEQ']}, SELECT reported {expected}")


@spec("imap/7162/3.1.7/status-highestmodseq-rises-after-flag-change", "RFC7162-3.1-04", needs=CONDSTORE)
def test_status_highestmodseq_rises_after_flag_change(imap, mailbox, append, account):
    """A flag change raises the mailbox's HIGHESTMODSEQ as STATUS reports it to another session."""
    filled(append, account, mailbox, 1)
    watcher = imap(label="watcher")
    before = status_items(watcher, mailbox, "HIGHESTMODSEQ")["HIGHESTMODSEQ"]
    changer = imap(label="changer")
    select(changer, mailbox, b" (CONDSTORE)")
    changer.ok(f"STORE 1 +FLAGS ({FLAG})")
    after = status_items(watcher, mailbox, "HIGHESTMODSEQ")["HIGHESTMODSEQ"]
    if before == 0:
        pytest.skip("the target keeps no mod-sequences for this mailbox (STATUS HIGHESTMODSEQ 0)")
    assert cast(int, after) > cast(int, before), f"HIGHESTMODSEQ {before} before the STORE, {after} after"


@spec("imap/7162/3.1.2.2/nomodseq-mailbox-refuses-modseq-commands", "RFC7162-3.1.2.2-01",
      "RFC7162-3.1.2.2-02", "RFC7162-3.1.2-03", needs=CONDSTORE)
def test_nomodseq_mailbox_refuses_modseq_commands(imap, mailbox, mailboxes, append, account):
    """In a mailbox opened with NOMODSEQ, CHANGEDSINCE, MODSEQ and UNCHANGEDSINCE are answered BAD.
    Checked in a mailbox with a message and in an empty one (UID forms there, as it has no message
    numbers), whichever of them the target opens with NOMODSEQ."""
    empty = mailboxes.create("empty")
    filled(append, account, mailbox, 1)
    client = imap()
    per_mailbox = {
        mailbox: ("FETCH 1 (FLAGS) (CHANGEDSINCE 1)", "FETCH 1 (MODSEQ)", "SEARCH MODSEQ 1",
                  f"STORE 1 (UNCHANGEDSINCE 1) +FLAGS ({FLAG})"),
        empty: ("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)", "UID FETCH 1:* (MODSEQ)", "SEARCH MODSEQ 1",
                f"UID STORE 1:* (UNCHANGEDSINCE 1) +FLAGS ({FLAG})"),
    }
    checked = 0
    for box, commands in per_mailbox.items():
        if not codes(select(client, box, b" (CONDSTORE)"), "NOMODSEQ"):
            continue
        checked += 1
        for command in commands:
            _, done = client.run(command)
            assert done.status == "BAD", f"{command} in NOMODSEQ mailbox {box}: expected BAD, got {done.raw!r}"
    if not checked:
        pytest.skip("the target keeps mod-sequences for the suite's mailboxes, empty or not (no NOMODSEQ to test)")


# -- mod-sequences of messages ----------------------------------------------------------------------


@spec("imap/7162/3.1/fetch-modseq-for-every-message", "RFC7162-3.1-01", needs=CONDSTORE)
def test_fetch_modseq_for_every_message(imap, mailbox, append, account):
    """FETCH 1:* (MODSEQ) gives each message a positive 63-bit mod-sequence (the grammar checks the range)."""
    filled(append, account, mailbox, 3)
    client = imap()
    select(client, mailbox)
    resps, _ = client.ok("FETCH 1:* (MODSEQ)")
    found = fetched(resps)
    assert sorted(found) == [1, 2, 3], f"FETCH responses for messages {sorted(found)}, expected 1, 2, 3"
    missing = [n for n, items in found.items() if "MODSEQ" not in items]
    assert not missing, f"no MODSEQ for messages {missing}"


@spec("imap/7162/3.1/first-enabling-command-reports-highestmodseq", "RFC7162-3.1-08", needs=CONDSTORE)
def test_first_enabling_command_reports_highestmodseq(imap, mailbox, append, account):
    """The first CONDSTORE enabling command with a mailbox selected brings OK [HIGHESTMODSEQ n]."""
    filled(append, account, mailbox, 1)
    client = imap()
    resps = select(client, mailbox)
    if codes(resps, "NOMODSEQ"):
        pytest.skip("the mailbox was opened with NOMODSEQ, which exempts the server")
    resps, _ = client.ok("FETCH 1 (MODSEQ)")
    assert codes(resps, "HIGHESTMODSEQ"), (
        "FETCH (MODSEQ), the session's first CONDSTORE enabling command, came without OK [HIGHESTMODSEQ n]")


@spec("imap/7162/3.1.3/store-raises-modseq", "RFC7162-3.1.3-14", "RFC7162-3.1-04", needs=CONDSTORE)
def test_store_raises_modseq(imap, mailbox, append, account):
    """STORE that adds a flag answers with a MODSEQ above the one FETCH gave just before."""
    filled(append, account, mailbox, 1)
    client = imap()
    select(client, mailbox)
    before = next(iter(uid_modseqs(client).values()))
    resps, _ = client.ok(f"STORE 1 +FLAGS ({FLAG})")
    # Every FETCH for the message counts: a second one with the right value does not undo a wrong one.
    reported = [cast(dict[str, object], r.data).get("MODSEQ") for r in untagged(resps, "FETCH") if r.number == 1]
    assert any(m is not None for m in reported), "STORE's FETCH responses for message 1 carry no MODSEQ"
    assert all(cast(int, m) > before for m in reported if m is not None), (
        f"MODSEQ {reported} reported after the flag change, {before} before")


@spec("imap/7162/3.1/flag-change-raises-modseq", "RFC7162-3.1-04", needs=CONDSTORE)
def test_flag_change_raises_modseq(imap, mailbox, append, account):
    """Adding and then removing a flag each raise the message's MODSEQ, as a new session sees it."""
    filled(append, account, mailbox, 1)
    changer, reader = imap(label="changer"), imap(label="reader")
    select(changer, mailbox, b" (CONDSTORE)")
    seen = []
    for change in ("+FLAGS", "-FLAGS"):
        changer.ok(f"STORE 1 {change} ({FLAG})")
        select(reader, mailbox)  # a fresh view: no reliance on unsolicited updates
        seen.append(next(iter(uid_modseqs(reader).values())))
    assert seen[1] > seen[0], f"MODSEQ {seen[0]} after adding {FLAG}, {seen[1]} after removing it"


@spec("imap/7162/3.1/unchanged-flag-keeps-modseq", "RFC7162-3.1-05", "RFC7162-3.1.11-01", needs=CONDSTORE)
def test_unchanged_flag_keeps_modseq(imap, mailbox, append, account):
    """Adding a flag the message already has leaves its MODSEQ as it was."""
    filled(append, account, mailbox, 1)
    changer = imap(label="changer")
    select(changer, mailbox, b" (CONDSTORE)")
    changer.ok(f"STORE 1 +FLAGS ({FLAG})")
    reader = imap(label="reader")
    select(reader, mailbox)
    before = uid_modseqs(reader)
    changer.ok(f"STORE 1 +FLAGS ({FLAG})")
    reader.ok("NOOP")
    select(reader, mailbox)
    assert uid_modseqs(reader) == before, "storing a flag that was already set changed the MODSEQ"


@spec("imap/7162/3.1/stores-in-one-session-get-rising-modseqs", "RFC7162-3.1-03", needs=CONDSTORE)
def test_stores_in_one_session_get_rising_modseqs(imap, mailbox, append, account):
    """Of two STOREs one session completes in turn, the second gets the higher mod-sequence."""
    filled(append, account, mailbox, 2)
    changer = imap(label="changer")
    select(changer, mailbox, b" (CONDSTORE)")
    changer.ok(f"STORE 2 +FLAGS ({FLAG})")
    changer.ok(f"STORE 1 +FLAGS ({FLAG})")  # message 1 second: the order of numbers must not matter
    reader = imap(label="reader")
    select(reader, mailbox)
    resps, _ = reader.ok("FETCH 1:2 (MODSEQ)")
    found = fetched(resps)
    first, second = cast(int, found[2]["MODSEQ"]), cast(int, found[1]["MODSEQ"])
    assert second > first, f"the first STORE got MODSEQ {first}, the later one {second}"


@spec("imap/7162/3.1/stores-from-two-sessions-get-distinct-modseqs", "RFC7162-3.1-02", needs=CONDSTORE)
def test_stores_from_two_sessions_get_distinct_modseqs(imap, mailbox, append, account):
    """STOREs from two sessions on one mailbox get different mod-sequences."""
    filled(append, account, mailbox, 2)
    one, two = imap(label="one"), imap(label="two")
    select(one, mailbox, b" (CONDSTORE)")
    select(two, mailbox, b" (CONDSTORE)")
    one.ok(f"STORE 1 +FLAGS ({FLAG})")
    two.ok(f"STORE 2 +FLAGS ({FLAG})")
    reader = imap(label="reader")
    select(reader, mailbox)
    resps, _ = reader.ok("FETCH 1:2 (MODSEQ)")
    found = fetched(resps)
    assert found[1]["MODSEQ"] != found[2]["MODSEQ"], (
        f"both STOREs got MODSEQ {found[1]['MODSEQ']}")


@spec("imap/7162/3.1/store-fetch-carries-modseq-after-enabling", "RFC7162-3.1-07", "RFC7162-3.1.3-15",
      needs=CONDSTORE)
def test_store_fetch_carries_modseq_after_enabling(imap, mailbox, append, account):
    """After FETCH (MODSEQ) enabled CONDSTORE, the FETCH responses of a later STORE carry MODSEQ."""
    filled(append, account, mailbox, 2)
    client = imap()
    select(client, mailbox)
    client.ok("FETCH 1 (MODSEQ)")
    resps, _ = client.ok(f"STORE 2 +FLAGS ({FLAG})")
    found = fetched(resps)
    assert 2 in found, "STORE (without .SILENT) sent no FETCH response for message 2"
    assert "MODSEQ" in found[2], f"the FETCH response of STORE lacks MODSEQ: {found[2]}"


def _other_session_change(imap, mailbox: str, watcher: ImapClient) -> dict[str, object]:
    """Change message 1's flags from another session; the watcher's NOOP brings its FETCH (or skip)."""
    changer = imap(label="changer")
    select(changer, mailbox, b" (CONDSTORE)")
    changer.ok(f"STORE 1 +FLAGS ({FLAG})")
    resps, _ = watcher.ok("NOOP")
    found = fetched(resps)
    if 1 not in found:
        pytest.skip("the target sent no FETCH for another session's flag change (RFC 3501 §5.2: SHOULD)")
    return found[1]


@spec("imap/7162/3.1.8/select-condstore-makes-unsolicited-fetch-carry-modseq", "RFC7162-3.1.8-01",
      "RFC7162-3.1-07", "RFC7162-3.1.3-15", needs=CONDSTORE)
def test_select_condstore_makes_unsolicited_fetch_carry_modseq(imap, mailbox, append, account):
    """After SELECT (CONDSTORE), a FETCH about another session's flag change carries MODSEQ."""
    filled(append, account, mailbox, 1)
    watcher = imap(label="watcher")
    select(watcher, mailbox, b" (CONDSTORE)")
    items = _other_session_change(imap, mailbox, watcher)
    assert "MODSEQ" in items, f"unsolicited FETCH without MODSEQ: {items}"


@spec("imap/7162/3.1/enable-condstore-makes-unsolicited-fetch-carry-modseq", "RFC7162-3.1-07",
      "RFC7162-3.1.3-15", "RFC7162-3.1.2-01", needs=(*CONDSTORE, "ENABLE"))
def test_enable_condstore_makes_unsolicited_fetch_carry_modseq(imap, mailbox, append, account):
    """ENABLE CONDSTORE is an enabling command: SELECT then reports HIGHESTMODSEQ, FETCHes carry MODSEQ."""
    filled(append, account, mailbox, 1)
    watcher = imap(label="watcher")
    resps, _ = watcher.ok("ENABLE CONDSTORE")
    enabled = {c.upper() for r in untagged(resps, "ENABLED") for c in cast(tuple[str, ...], r.data)}
    assert "CONDSTORE" in enabled, f"ENABLE CONDSTORE was not confirmed by an ENABLED response: {enabled}"
    resps = select(watcher, mailbox)
    assert codes(resps, "HIGHESTMODSEQ") or codes(resps, "NOMODSEQ"), (
        "SELECT after ENABLE CONDSTORE reported neither HIGHESTMODSEQ nor NOMODSEQ")
    items = _other_session_change(imap, mailbox, watcher)
    assert "MODSEQ" in items, f"unsolicited FETCH without MODSEQ: {items}"


# -- STORE (UNCHANGEDSINCE) -------------------------------------------------------------------------


@spec("imap/7162/3.1.3/unchangedsince-refuses-modified", "RFC7162-3.1.3-03", "RFC7162-3.1.3-04",
      needs=CONDSTORE)
def test_unchangedsince_refuses_modified(imap, mailbox, append, account):
    """A message modified after the UNCHANGEDSINCE value is left alone and named in [MODIFIED]."""
    filled(append, account, mailbox, 2)
    client = imap()
    select(client, mailbox)
    snapshot = max(uid_modseqs(client).values())
    client.ok(f"STORE 2 +FLAGS ({FLAG})")  # message 2 is now newer than the snapshot
    resps, done = client.run(f"STORE 1:2 (UNCHANGEDSINCE {snapshot}) +FLAGS (\\Answered)")
    assert done.status in ("OK", "NO"), f"conditional STORE answered {done.raw!r}"
    assert done.code == "MODIFIED", f"expected [MODIFIED 2] in the completion, got {done.raw!r}"
    assert expand(done.code_args) == {2}, f"MODIFIED names {sorted(expand(done.code_args))}, expected [2]"
    resps, _ = client.ok("FETCH 1:2 (FLAGS)")
    found = fetched(resps)
    assert "\\answered" not in flags_of(found[2]), "the refused message got \\Answered anyway"
    assert "\\answered" in flags_of(found[1]), "the unmodified message did not get \\Answered"


@spec("imap/7162/3.1.3/unchangedsince-store-sends-fetch-with-modseq", "RFC7162-3.1.3-02", needs=CONDSTORE)
def test_unchangedsince_store_sends_fetch_with_modseq(imap, mailbox, append, account):
    """A conditional STORE .SILENT that succeeds still sends a FETCH response with MODSEQ."""
    filled(append, account, mailbox, 1)
    client = imap()
    select(client, mailbox)
    current = next(iter(uid_modseqs(client).values()))  # equal to the value still passes the test
    resps, done = client.ok(f"STORE 1 (UNCHANGEDSINCE {current}) +FLAGS.SILENT ({FLAG})")
    assert done.code != "MODIFIED", f"the message was not modified, yet: {done.raw!r}"
    found = fetched(resps)
    assert 1 in found and "MODSEQ" in found[1], (
        f"no FETCH response with MODSEQ for message 1 (got {found})")


@spec("imap/7162/3.1.3/unchangedsince-success-updates-modseq", "RFC7162-3.1.3-01", needs=CONDSTORE)
def test_unchangedsince_success_updates_modseq(imap, mailbox, append, account):
    """A conditional STORE that passes changes the flag and raises the message's MODSEQ."""
    filled(append, account, mailbox, 1)
    client = imap()
    select(client, mailbox)
    current = next(iter(uid_modseqs(client).values()))
    client.ok(f"STORE 1 (UNCHANGEDSINCE {current}) +FLAGS ({FLAG})")
    reader = imap(label="reader")
    select(reader, mailbox)
    resps, _ = reader.ok("FETCH 1 (FLAGS MODSEQ)")
    items = fetched(resps)[1]
    assert FLAG.lower() in flags_of(items), f"the conditional STORE did not set {FLAG}: {items}"
    assert cast(int, items["MODSEQ"]) > current, f"MODSEQ {items['MODSEQ']} after the STORE, {current} before"


@spec("imap/7162/3.1.3/unchangedsince-repeated-message-not-refused", "RFC7162-3.1.3-13", needs=CONDSTORE)
def test_unchangedsince_repeated_message_not_refused(imap, mailbox, append, account):
    """A message named twice in a passing conditional STORE is not refused the second time."""
    filled(append, account, mailbox, 2)
    client = imap()
    select(client, mailbox)
    current = max(uid_modseqs(client).values())
    _, done = client.ok(f"STORE 1,1:2 (UNCHANGEDSINCE {current}) +FLAGS ({FLAG})")
    assert done.code != "MODIFIED", f"MODIFIED for a message repeated in the set: {done.raw!r}"
    resps, _ = client.ok("FETCH 1:2 (FLAGS)")
    assert all(FLAG.lower() in flags_of(i) for i in fetched(resps).values()), "a message lacks the flag"


@spec("imap/7162/3.1.3/unchangedsince-enables-condstore", "RFC7162-3.1-07", needs=CONDSTORE)
def test_unchangedsince_enables_condstore(imap, mailbox, append, account):
    """STORE (UNCHANGEDSINCE) is an enabling command: a later plain STORE's FETCH carries MODSEQ."""
    filled(append, account, mailbox, 2)
    client = imap()
    select(client, mailbox)
    client.ok(f"STORE 1 (UNCHANGEDSINCE 9223372036854775807) +FLAGS.SILENT ({FLAG})")
    resps, _ = client.ok(f"STORE 2 +FLAGS ({FLAG})")
    found = fetched(resps)
    assert 2 in found and "MODSEQ" in found[2], f"STORE's FETCH lacks MODSEQ: {found.get(2)}"


# -- FETCH (CHANGEDSINCE) ---------------------------------------------------------------------------


def _changed_one(imap, mailbox: str) -> int:
    """The highest MODSEQ before message 2 of 3 gets a flag (changed by its own session)."""
    changer = imap(label="changer")
    select(changer, mailbox, b" (CONDSTORE)")
    snapshot = max(uid_modseqs(changer).values())
    changer.ok(f"STORE 2 +FLAGS ({FLAG})")
    return snapshot


# RFC 7162 §3.1.4.1 and §3.1.5 describe these results without a requirement keyword: no catalogue row.
@spec("imap/7162/3.1.4.1/changedsince-returns-only-changed-messages", needs=CONDSTORE)
def test_changedsince_returns_only_changed_messages(imap, mailbox, append, account):
    """FETCH 1:* (FLAGS) (CHANGEDSINCE n) answers only for messages whose MODSEQ is above n."""
    filled(append, account, mailbox, 3)
    snapshot = _changed_one(imap, mailbox)
    reader = imap(label="reader")
    select(reader, mailbox)
    resps, _ = reader.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {snapshot})")
    assert sorted(fetched(resps)) == [2], (
        f"CHANGEDSINCE {snapshot} answered for messages {sorted(fetched(resps))}; only 2 changed")


@spec("imap/7162/3.1.4.1/changedsince-adds-modseq", needs=CONDSTORE)
def test_changedsince_adds_modseq(imap, mailbox, append, account):
    """CHANGEDSINCE implies the MODSEQ item: the FETCH responses carry MODSEQ without asking."""
    filled(append, account, mailbox, 3)
    snapshot = _changed_one(imap, mailbox)
    reader = imap(label="reader")
    select(reader, mailbox)
    resps, _ = reader.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {snapshot})")
    found = fetched(resps)
    assert found, "UID FETCH (CHANGEDSINCE) returned nothing although message 2 changed"
    for items in found.values():
        assert "MODSEQ" in items and cast(int, items["MODSEQ"]) > snapshot, (
            f"FETCH response without a MODSEQ above {snapshot}: {items}")


# -- SEARCH MODSEQ ----------------------------------------------------------------------------------


@spec("imap/7162/3.1.5/search-modseq-finds-changed-messages", needs=CONDSTORE)
def test_search_modseq_finds_changed_messages(imap, mailbox, append, account):
    """SEARCH MODSEQ n finds exactly the messages whose MODSEQ is n or more."""
    filled(append, account, mailbox, 3)
    snapshot = _changed_one(imap, mailbox)
    reader = imap(label="reader")
    select(reader, mailbox)
    resps, _ = reader.ok(f"SEARCH MODSEQ {snapshot + 1}")
    assert one_search(resps).numbers == (2,), (
        f"SEARCH MODSEQ {snapshot + 1} found {one_search(resps).numbers}; only message 2 changed")


@spec("imap/7162/3.1.6/search-modseq-appends-highest-modseq", "RFC7162-3.1.5-03", "RFC7162-3.1.6-01",
      needs=CONDSTORE)
def test_search_modseq_appends_highest_modseq(imap, mailbox, append, account):
    """A non-empty SEARCH MODSEQ result ends with (MODSEQ m), m the largest MODSEQ of the hits."""
    filled(append, account, mailbox, 3)
    _changed_one(imap, mailbox)
    reader = imap(label="reader")
    select(reader, mailbox)
    per_uid = uid_modseqs(reader)
    resps, _ = reader.ok("SEARCH MODSEQ 1")
    found = one_search(resps)
    assert sorted(found.numbers) == [1, 2, 3], f"SEARCH MODSEQ 1 found {found.numbers}"
    assert found.modseq == max(per_uid.values()), (
        f"SEARCH ended with MODSEQ {found.modseq}, the hits' highest MODSEQ is {max(per_uid.values())}")


@spec("imap/7162/3.1.6/search-modseq-empty-result-has-no-modseq", "RFC7162-3.1.6-01", needs=CONDSTORE)
def test_search_modseq_empty_result_has_no_modseq(imap, mailbox, append, account):
    """SEARCH MODSEQ matching nothing is answered with an empty SEARCH response, without (MODSEQ m)."""
    filled(append, account, mailbox, 1)
    client = imap()
    select(client, mailbox)
    top = max(uid_modseqs(client).values())
    resps, _ = client.ok(f"SEARCH MODSEQ {top + 1000}")
    found = one_search(resps)
    assert found.numbers == () and found.modseq is None, (
        f"expected '* SEARCH' alone, got numbers {found.numbers} and MODSEQ {found.modseq}")


@spec("imap/7162/3.1.5/search-modseq-entry-name-accepted", "RFC7162-3.1.5-01", "RFC7162-3.1.5-02",
      needs=CONDSTORE)
def test_search_modseq_entry_name_accepted(imap, mailbox, append, account):
    """SEARCH MODSEQ "/flags/\\\\flagged" all n finds a message whose \\Flagged changed after n."""
    filled(append, account, mailbox, 3)
    snapshot = _changed_one(imap, mailbox)
    reader = imap(label="reader")
    select(reader, mailbox)
    resps, _ = reader.ok(f'SEARCH MODSEQ "/flags/\\\\Flagged" all {snapshot + 1}')
    found = one_search(resps)
    assert 2 in found.numbers, f"message 2 (its \\Flagged changed) is not in {found.numbers}"
    assert found.modseq is not None and found.modseq > snapshot, (
        f"the result's MODSEQ {found.modseq} is not above {snapshot}")


@spec("imap/7162/3.1.10/esearch-modseq-returns-modseq", "RFC7162-3.1.10-01", needs=(*CONDSTORE, "ESEARCH"))
def test_esearch_modseq_returns_modseq(imap, mailbox, append, account):
    """SEARCH RETURN (ALL) MODSEQ n answers with an ESEARCH response carrying the MODSEQ item."""
    filled(append, account, mailbox, 3)
    _changed_one(imap, mailbox)
    reader = imap(label="reader")
    select(reader, mailbox)
    top = max(uid_modseqs(reader).values())
    resps, _ = reader.ok("SEARCH RETURN (ALL) MODSEQ 1")
    found = [r.data for r in untagged(resps, "ESEARCH")]
    assert len(found) == 1, f"expected one ESEARCH response, got {len(found)}"
    data = cast(ESearchData, found[0])
    assert data.items.get("MODSEQ") == top, f"ESEARCH MODSEQ {data.items.get('MODSEQ')}, expected {top}"


@spec("imap/7162/3.1.9/sort-modseq-appends-highest-modseq", "RFC7162-3.1.9-01", needs=(*CONDSTORE, "SORT"))
def test_sort_modseq_appends_highest_modseq(imap, mailbox, append, account):
    """A non-empty SORT ... MODSEQ result ends with (MODSEQ m), m the largest MODSEQ of the hits."""
    filled(append, account, mailbox, 3)
    _changed_one(imap, mailbox)
    reader = imap(label="reader")
    select(reader, mailbox)
    top = max(uid_modseqs(reader).values())
    resps, _ = reader.ok("SORT (ARRIVAL) US-ASCII MODSEQ 1")
    found = [r.data for r in untagged(resps, "SORT")]
    assert len(found) == 1, f"expected one SORT response, got {len(found)}"
    data = cast(SearchData, found[0])
    assert sorted(data.numbers) == [1, 2, 3] and data.modseq == top, (
        f"SORT answered {data.numbers} (MODSEQ {data.modseq}); expected 1 2 3 (MODSEQ {top})")


@spec("imap/7162/3.1.10/esort-modseq-returns-modseq", "RFC7162-3.1.10-02", needs=(*CONDSTORE, "ESORT"))
def test_esort_modseq_returns_modseq(imap, mailbox, append, account):
    """SORT RETURN (ALL) ... MODSEQ n answers with an ESEARCH response carrying the MODSEQ item."""
    filled(append, account, mailbox, 3)
    _changed_one(imap, mailbox)
    reader = imap(label="reader")
    select(reader, mailbox)
    top = max(uid_modseqs(reader).values())
    resps, _ = reader.ok("SORT RETURN (ALL) (ARRIVAL) US-ASCII MODSEQ 1")
    found = [cast(ESearchData, r.data) for r in untagged(resps, "ESEARCH")]
    assert len(found) == 1, f"expected one ESEARCH response, got {len(found)}"
    assert found[0].items.get("MODSEQ") == top, f"ESEARCH MODSEQ {found[0].items.get('MODSEQ')}, expected {top}"


# -- syntax ---------------------------------------------------------------------------------------------


@spec("imap/7162/7/condstore-words-case-insensitive", "RFC7162-7-01", needs=CONDSTORE)
def test_condstore_words_case_insensitive(imap, mailbox, append, account):
    """The extension's words work in lower case: condstore, modseq, changedsince, unchangedsince."""
    filled(append, account, mailbox, 1)
    client = imap()
    resps, _ = client.ok(b"select " + mailbox_arg(mailbox) + b" (condstore)")
    top = highestmodseq(resps)
    for command in ("fetch 1 (modseq)", "fetch 1 (flags) (changedsince 1)", "search modseq 1",
                    f"store 1 (unchangedsince {top}) +flags.silent ({FLAG})"):
        _, done = client.run(command)
        assert done.ok, f"{command!r} was refused: {done.raw!r}"


@spec("imap/7162/7/no-flag-extension-flags", "RFC7162-7-03", "RFC3501-9-13", needs=CONDSTORE)
def test_no_flag_extension_flags(imap, mailbox, append, account):
    """FLAGS data holds only the RFC 3501 system flags and keywords, never other backslash flags."""
    filled(append, account, mailbox, 2)
    client = imap()
    resps = select(client, mailbox, b" (CONDSTORE)")
    more, _ = client.ok(f"STORE 1 +FLAGS ({FLAG} $MailspecKeyword)")
    resps += more
    more, _ = client.ok("FETCH 1:* (FLAGS MODSEQ)")
    resps += more
    system = {"\\answered", "\\flagged", "\\deleted", "\\seen", "\\draft", "\\recent", "\\*"}
    lists: list[tuple[str, ...]] = [cast(tuple[str, ...], r.data) for r in untagged(resps, "FLAGS")]
    lists += [cast(tuple[str, ...], items["FLAGS"]) for items in fetched(resps).values() if "FLAGS" in items]
    lists += [cast(tuple[str, ...], a) for a in codes(resps, "PERMANENTFLAGS")]
    odd = {f for flags in lists for f in flags if f.startswith("\\") and f.lower() not in system}
    assert not odd, f"flag-extension flags in FLAGS data: {sorted(odd)}"
