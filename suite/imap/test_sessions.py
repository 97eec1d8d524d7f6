"""Several sessions on one mailbox: what each is told about the others' changes, and when.

RFC 3501 §5.2 (mailbox size and flag updates), §7.3.1 (EXISTS), §7.4.1 (EXPUNGE, and when it may
not be sent), §7.4.2 (unsolicited FETCH FLAGS), §2.3.2 (\\Recent belongs to one session) and
§2.3.1.1 (UIDs and UIDVALIDITY seen from other sessions, later sessions and a re-created mailbox).

Sessions are labelled a, b, c in the transcript; "b" is usually the one making the change. A test
that needs a rule another test owns (e.g. that EXISTS reaches other sessions at all) skips, naming
that test, when the rule does not hold, so one server bug fails one test.

Helpers here are also used by test_idle.py and test_cross_protocol.py.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from mailspec.protocol.imap_response import Response, Untagged
from mailspec.wire.imap import ImapClient, mailbox_arg, untagged
from suite.imap._selected import after_expunges, expunged, fetch, open_box, skip_unless_only_deleted_went, uids

spec = pytest.mark.spec

MARKER_ITEM = "BODY[HEADER.FIELDS (X-MAILSPEC-TEST)]"


# -- helpers (shared with test_idle.py and test_cross_protocol.py) --------------------------------------


def filled(append, account, mailbox: str, count: int) -> list[str]:
    """Append `count` marked messages through the set-up connection; their markers, in order."""
    return [append(account, mailbox).marker for _ in range(count)]


def markers(client: ImapClient) -> dict[int, str]:
    """UID -> X-Mailspec-Test marker of every message in the selected mailbox."""
    got = fetch(client, "1:*", f"(BODY.PEEK[{MARKER_ITEM[5:-1]}])", uid=True)
    out: dict[int, str] = {}
    for data in got.values():
        raw = data.get(MARKER_ITEM)
        assert isinstance(raw, bytes) and isinstance(data.get("UID"), int), f"FETCH data lacks UID or marker: {data}"
        out[data["UID"]] = raw.partition(b":")[2].strip().decode("ascii", "replace")  # type: ignore[index]
    return out


def remove(client: ImapClient, doomed: Iterable[int]) -> list[Response]:
    """Expunge these UIDs in the client's selected mailbox: UID EXPUNGE when UIDPLUS is offered
    (so no other \\Deleted message goes), else EXPUNGE. Returns the EXPUNGE command's responses."""
    doomed = list(doomed)
    before = uids(client)
    uid_set = ",".join(str(u) for u in doomed)
    client.ok(f"UID STORE {uid_set} +FLAGS.SILENT (\\Deleted)")
    if client.has_capability("UIDPLUS"):
        resps, _ = client.ok(f"UID EXPUNGE {uid_set}")
    else:
        resps, _ = client.ok("EXPUNGE")
        skip_unless_only_deleted_went(client, [u for u in before if u not in doomed])
    return resps


def noop(client: ImapClient) -> list[Response]:
    """NOOP: the untagged updates it brings."""
    resps, _ = client.ok("NOOP")
    return resps


def last_exists(responses: Iterable[Response]) -> int | None:
    found = [r.number for r in untagged(responses, "EXISTS")]
    return found[-1] if found else None


def flag_updates(responses: Iterable[Response]) -> dict[int, set[str]]:
    """Message number -> its flags (lower-cased) from the FETCH responses carrying FLAGS; last wins."""
    out: dict[int, set[str]] = {}
    for r in untagged(responses, "FETCH"):
        if isinstance(r.data, dict) and "FLAGS" in r.data and r.number is not None:
            out[r.number] = {f.lower() for f in r.data["FLAGS"]}  # type: ignore[attr-defined]
    return out


def replay(before: list[int], responses: Iterable[Response]) -> list[int]:
    """Walk responses in order as a client would: EXPUNGE renumbers, and every FETCH carrying a
    UID must name the message that number has at that moment. Returns the UIDs left."""
    left = list(before)
    for r in responses:
        if not isinstance(r, Untagged):
            continue
        if r.kind == "EXPUNGE" and r.number is not None:
            assert 1 <= r.number <= len(left), f"EXPUNGE {r.number} names no message (there are {len(left)})"
            del left[r.number - 1]
        elif r.kind == "FETCH" and isinstance(r.data, dict) and "UID" in r.data and r.number is not None:
            assert 1 <= r.number <= len(left) and left[r.number - 1] == r.data["UID"], (
                f"FETCH {r.number} carries UID {r.data['UID']}, but message {r.number} is UID "
                f"{left[r.number - 1] if 1 <= r.number <= len(left) else 'none'} after the EXPUNGEs so far")
    return left


def require_exists_update(client: ImapClient, responses: list[Response], wanted: int) -> list[Response]:
    """`responses`, plus those of one more NOOP when they lack EXISTS `wanted`. Skips when the
    session still has not learnt of another session's new message: the test that owns that rule
    (imap/3501/7.3.1/exists-reaches-other-sessions) reports it."""
    if last_exists(responses) == wanted:
        return responses
    responses = [*responses, *noop(client)]
    if last_exists(responses) != wanted:
        pytest.skip("another session's new message never reached this session; "
                    "imap/3501/7.3.1/exists-reaches-other-sessions covers that")
    return responses


# -- §7.3.1 / §7.4.1 / §7.4.2: updates reach the other sessions ------------------------------------------


@spec("imap/3501/7.3.1/exists-reaches-other-sessions", "RFC3501-5.2-03")
def test_exists_reaches_other_sessions(imap, mailbox, append, account):
    """Messages another session appends are announced to a session that has the mailbox selected:
    its next NOOP reports EXISTS with the new number of messages."""
    filled(append, account, mailbox, 1)
    a = imap(label="a")
    assert open_box(a, mailbox).exists == 1
    b = imap(label="b")
    append(b, mailbox)
    append(b, mailbox)
    assert last_exists(noop(a)) == 3, "NOOP did not report EXISTS 3 after another session appended two messages"


@spec("imap/3501/7.4.1/expunge-reaches-other-sessions", "RFC3501-5.2-03")
def test_expunge_reaches_other_sessions(imap, mailbox, append, account):
    """A message another session expunges is reported by EXPUNGE with its number, to read-write
    and read-only (EXAMINE) sessions alike, at their next command."""
    filled(append, account, mailbox, 3)
    a, c, b = imap(label="a"), imap(label="c"), imap(label="b")
    open_box(a, mailbox)
    open_box(c, mailbox, readonly=True)
    open_box(b, mailbox)
    before = uids(b)
    remove(b, [before[1]])
    assert expunged(noop(a)) == [2], "the read-write session was not told EXPUNGE 2"
    assert expunged(noop(c)) == [2], "the read-only session was not told EXPUNGE 2"
    assert uids(a) == [before[0], before[2]]


@spec("imap/3501/7.4.2/flag-changes-reach-other-sessions")
def test_flag_changes_reach_other_sessions(imap, mailbox, append, account):
    """A flag change made in one session reaches the other sessions with the mailbox selected as
    an unsolicited FETCH carrying the message's complete flag list (RFC3501-5.2-04 puts this at
    SHOULD level; it runs by default because it is the one test of that behaviour)."""
    append(account, mailbox, flags=("\\Seen",))
    a, c, b = imap(label="a"), imap(label="c"), imap(label="b")
    for client in (a, c, b):
        open_box(client, mailbox)
    b.ok("STORE 1 +FLAGS (\\Flagged)")
    for client in (a, c):
        updates = flag_updates(noop(client))
        assert 1 in updates, f"{client.label}: no FETCH FLAGS for message 1 after another session flagged it"
        assert {"\\seen", "\\flagged"} <= updates[1], (
            f"{client.label}: the FLAGS sent are not the full list (\\Seen and \\Flagged): {updates[1]}")


# -- §7.4.1: when EXPUNGE may be sent -------------------------------------------------------------------


@spec("imap/3501/7.4.1/no-expunge-during-fetch", "RFC3501-7.4.1-01")
def test_no_expunge_during_fetch(imap, mailbox, append, account):
    """While answering FETCH, STORE or SEARCH the server holds back another session's expunge
    (sequence numbers keep their meaning), and reports it at the next NOOP."""
    filled(append, account, mailbox, 4)
    a, b = imap(label="a"), imap(label="b")
    open_box(a, mailbox)
    open_box(b, mailbox)
    before = uids(b)
    remove(b, [before[0]])
    resps, done = a.run("FETCH 2:4 (UID)")
    assert done.ok and not expunged(resps), "EXPUNGE was sent while FETCH was answered"
    got = {r.number: r.data["UID"] for r in untagged(resps, "FETCH") if isinstance(r.data, dict) and "UID" in r.data}
    assert got == {2: before[1], 3: before[2], 4: before[3]}, f"FETCH used new numbers before any EXPUNGE: {got}"
    resps, done = a.run("STORE 4 +FLAGS (\\Flagged)")
    assert done.ok and not expunged(resps), "EXPUNGE was sent while STORE was answered"
    resps, done = a.run("SEARCH ALL")
    assert done.ok and not expunged(resps), "EXPUNGE was sent while SEARCH was answered"
    assert expunged(noop(a)) == [1], "NOOP did not report the held-back EXPUNGE 1"


@spec("imap/3501/7.4.1/expunge-waits-for-a-command", "RFC3501-7.4.1-01")
def test_expunge_waits_for_a_command(imap, mailbox, append, account):
    """A session with no command in progress (and not idling) is not sent EXPUNGE; the expunge
    comes with its next command."""
    filled(append, account, mailbox, 2)
    a, b = imap(label="a"), imap(label="b")
    open_box(a, mailbox)
    open_box(b, mailbox)
    remove(b, [uids(b)[0]])
    while (pushed := a.poll(0.5)) is not None:
        assert not (isinstance(pushed, Untagged) and pushed.kind == "EXPUNGE"), (
            f"EXPUNGE arrived with no command in progress: {pushed.raw!r}")
    assert expunged(noop(a)) == [1], "the next command did not bring the EXPUNGE"


@spec("imap/3501/6.4.8/uid-fetch-numbers-consistent-after-other-expunge", "RFC3501-6.4.8-01", "RFC3501-7.4.1-02")
def test_uid_fetch_numbers_consistent_after_other_expunge(imap, mailbox, append, account):
    """UID FETCH after another session's expunge answers with UIDs for the surviving messages, and
    any EXPUNGE it sends (allowed during UID commands) leaves every FETCH numbered as the client
    then counts. (A NO for the part that vanished is accepted: RFC 2180 §4.1.3 practice.)"""
    filled(append, account, mailbox, 3)
    a, b = imap(label="a"), imap(label="b")
    open_box(a, mailbox)
    open_box(b, mailbox)
    before = uids(b)
    remove(b, [before[1]])
    resps, done = a.run("UID FETCH 1:* (FLAGS)")
    assert done.status in ("OK", "NO"), f"UID FETCH was not understood: {done.raw!r}"
    fetches = untagged(resps, "FETCH")
    assert all(isinstance(r.data, dict) and "UID" in r.data for r in fetches), "a UID FETCH response lacks UID"
    reported = {r.data["UID"] for r in fetches}  # type: ignore[index]
    assert {before[0], before[2]} <= reported, f"UID FETCH 1:* missed a surviving message: {reported}"
    replay(before, resps)


@spec("imap/3501/2.3.1.2/expunge-responses-renumber-in-order", "RFC3501-2.3.1.2-01")
def test_expunge_responses_renumber_in_order(imap, mailbox, append, account):
    """Several expunges by another session come as EXPUNGE responses that, applied one after the
    other (each renumbering the messages above it), leave exactly the surviving messages."""
    filled(append, account, mailbox, 5)
    a, b = imap(label="a"), imap(label="b")
    open_box(a, mailbox)
    open_box(b, mailbox)
    before = uids(b)
    remove(b, [before[1], before[3]])
    numbers = expunged(noop(a))
    assert len(numbers) == 2, f"expected two EXPUNGE responses, got {numbers}"
    survivors = [before[0], before[2], before[4]]
    assert after_expunges(before, numbers) == survivors, f"EXPUNGE {numbers} does not leave {survivors}"
    assert uids(a) == survivors


@spec("imap/3501/6.4.3/expunge-takes-other-sessions-deleted")
def test_expunge_takes_other_sessions_deleted(imap, mailbox, append, account):
    """EXPUNGE removes a message another session marked \\Deleted, even before this session was
    told of the flag, and reports it with EXPUNGE."""
    filled(append, account, mailbox, 3)
    a, b = imap(label="a"), imap(label="b")
    open_box(a, mailbox)
    open_box(b, mailbox)
    before = uids(b)
    b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    resps, _ = a.ok("EXPUNGE")
    left = uids(a)
    assert before[1] not in left, "EXPUNGE kept the message another session had marked \\Deleted"
    skip_unless_only_deleted_went(a, [before[0], before[2]])
    assert after_expunges(before, expunged(resps)) == left, f"the EXPUNGE responses {expunged(resps)} do not match"


@spec("imap/3501/6.4.8/uid-fetch-ignores-expunged-uid")
def test_uid_fetch_ignores_expunged_uid(imap, mailbox, append, account):
    """Once another session's expunge is reported, UID FETCH of that UID answers OK with no FETCH."""
    filled(append, account, mailbox, 2)
    a, b = imap(label="a"), imap(label="b")
    open_box(a, mailbox)
    open_box(b, mailbox)
    gone = uids(b)[0]
    remove(b, [gone])
    noop(a)
    resps, done = a.run(f"UID FETCH {gone} (FLAGS)")
    assert done.ok, f"UID FETCH of an expunged UID is not OK: {done.raw!r}"
    assert not untagged(resps, "FETCH"), "UID FETCH returned data for an expunged message"


# -- §2.3.2: \Recent ---------------------------------------------------------------------------------


def recent_flag(client: ImapClient, number: int) -> bool:
    data = fetch(client, str(number), "(FLAGS)").get(number, {})
    assert "FLAGS" in data, f"FETCH {number} (FLAGS) sent no FLAGS"
    return "\\recent" in {f.lower() for f in data["FLAGS"]}  # type: ignore[attr-defined]


@spec("imap/3501/2.3.2/recent-in-one-session-only")
def test_recent_in_one_session_only(imap, mailbox, append, account):
    """A new message is \\Recent in the first session that selects its mailbox and in no other:
    the second session's SELECT reports RECENT 0 and the message's FLAGS lack \\Recent (the
    RECENT data of SELECT, RFC3501-6.3.1-01, must carry that count)."""
    append(account, mailbox)
    a, b = imap(label="a"), imap(label="b")
    assert open_box(a, mailbox).recent == 1, "the first session to select did not get RECENT 1"
    assert recent_flag(a, 1), "the message lacks \\Recent in the first session"
    assert open_box(b, mailbox).recent == 0, "a second session also got the message as recent"
    assert not recent_flag(b, 1), "the message is \\Recent in a second session too"


@spec("imap/3501/2.3.2/recent-goes-to-session-told-first")
def test_recent_goes_to_session_told_first(imap, mailbox, append):
    """A message another session appends is \\Recent in the session that has the mailbox selected
    and learns of it first (RECENT 1, \\Recent in its FLAGS)."""
    a, b = imap(label="a"), imap(label="b")
    open_box(a, mailbox)
    append(b, mailbox)
    resps = require_exists_update(a, noop(a), 1)
    recent = [r.number for r in untagged(resps, "RECENT")]
    assert recent and recent[-1] == 1, f"the session told of the new message was not sent RECENT 1: {recent}"
    assert recent_flag(a, 1), "the new message lacks \\Recent in the session told first"


# -- §2.3.1.1: UIDs across sessions -------------------------------------------------------------------------


@spec("imap/3501/2.3.1.1/uids-kept-after-logout", "RFC3501-2.3.1.1-03", "RFC3501-2.3.1.1-06")
def test_uids_kept_after_logout(imap, mailbox, append, account):
    """After LOGOUT, a new session sees each message under the same UID with the same UIDVALIDITY;
    if the UIDs changed, the UIDVALIDITY must have grown so the client can tell."""
    filled(append, account, mailbox, 3)
    a = imap(label="a")
    first = open_box(a, mailbox).uidvalidity
    seen = markers(a)
    a.logout()
    c = imap(label="c")
    later = open_box(c, mailbox).uidvalidity
    assert isinstance(first, int) and isinstance(later, int), "SELECT sent no UIDVALIDITY"
    if later == first:
        assert markers(c) == seen, "the UIDs changed while UIDVALIDITY stayed the same"
    else:
        assert later > first, f"UIDVALIDITY changed from {first} to the smaller {later}"


@spec("imap/3501/2.3.1.1/uids-ascend-with-interleaved-appends", "RFC3501-2.3.1.1-08", "RFC3501-2.3.1.2-01")
def test_uids_ascend_with_interleaved_appends(imap, mailbox, append):
    """Messages appended in turn by two sessions get strictly ascending UIDs in the order they
    were added, and message numbers follow that order."""
    a, b = imap(label="a"), imap(label="b")
    order = [append(client, mailbox).marker for client in (a, b, a, b)]
    c = imap(label="c")
    open_box(c, mailbox)
    seen = markers(c)
    numbered = uids(c)
    assert numbered == sorted(numbered) and len(set(numbered)) == 4, f"UIDs not strictly ascending: {numbered}"
    assert [seen[u] for u in numbered] == order, "the messages are not numbered in the order they were added"


@spec("imap/3501/2.3.1.1/uid-not-reused-after-other-session-expunge", "RFC3501-2.3.1.1-01", "RFC3501-2.3.1.1-05")
def test_uid_not_reused_after_other_session_expunge(imap, mailbox, append, account):
    """After the highest-UID message is expunged, a message another session appends gets a UID
    above it: UIDs are never given out twice."""
    filled(append, account, mailbox, 2)
    b = imap(label="b")
    open_box(b, mailbox)
    highest = uids(b)[-1]
    remove(b, [highest])
    a = imap(label="a")
    new_marker = append(a, mailbox).marker
    c = imap(label="c")
    open_box(c, mailbox)
    new_uid = next(u for u, m in markers(c).items() if m == new_marker)
    assert new_uid > highest, f"the new message got UID {new_uid}, not above the expunged UID {highest}"


@spec("imap/3501/2.3.1.1/recreated-mailbox-new-uidvalidity", "RFC3501-2.3.1.1-01", "RFC3501-2.3.1.1-06")
def test_recreated_mailbox_new_uidvalidity(imap, mailbox, append):
    """A mailbox deleted and created again under the same name gets a larger UIDVALIDITY, unless
    its UIDs continue above the old ones, so no (UIDVALIDITY, UID) pair names two messages."""
    a = imap(label="a")
    append(a, mailbox)
    opened = open_box(a, mailbox)
    old_validity, old_uid = opened.uidvalidity, uids(a)[-1]
    a.ok("CLOSE")
    a.ok(b"DELETE ", mailbox_arg(mailbox, utf8=a.reader.utf8))
    a.ok(b"CREATE ", mailbox_arg(mailbox, utf8=a.reader.utf8))
    b = imap(label="b")
    append(b, mailbox)
    new_validity = open_box(b, mailbox).uidvalidity
    new_uid = uids(b)[-1]
    assert isinstance(old_validity, int) and isinstance(new_validity, int), "SELECT sent no UIDVALIDITY"
    assert new_validity > old_validity or (new_validity == old_validity and new_uid > old_uid), (
        f"re-created mailbox: UIDVALIDITY {old_validity} -> {new_validity}, UID {old_uid} -> {new_uid}")


# -- §6.4.6 seen from two sessions ------------------------------------------------------------------------


@spec("imap/3501/6.4.6/plus-flags-keeps-other-sessions-flags")
def test_plus_flags_keeps_other_sessions_flags(imap, mailbox, append, account):
    """+FLAGS adds to the flags the message has now, including those another session set since
    this session last heard: its FETCH answer and a later session both show all of them."""
    append(account, mailbox)
    a, b = imap(label="a"), imap(label="b")
    open_box(a, mailbox)
    open_box(b, mailbox)
    b.ok("STORE 1 +FLAGS (\\Flagged)")
    resps, _ = a.ok("STORE 1 +FLAGS (\\Seen)")
    updates = flag_updates(resps)
    assert 1 in updates, "STORE +FLAGS sent no FETCH FLAGS for message 1"
    assert {"\\seen", "\\flagged"} <= updates[1], f"STORE's answer lost the other session's \\Flagged: {updates[1]}"
    c = imap(label="c")
    open_box(c, mailbox)
    later = fetch(c, "1", "(FLAGS)")[1]["FLAGS"]
    assert {"\\seen", "\\flagged"} <= {f.lower() for f in later}, f"a later session sees {later}"  # type: ignore[attr-defined]
