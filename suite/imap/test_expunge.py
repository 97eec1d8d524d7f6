"""EXPUNGE (RFC 3501 §6.4.3, §7.4.1), CLOSE (§6.4.2), UNSELECT (RFC 3691) and UID EXPUNGE (RFC 4315).

Only `expunge-removes-only-deleted` checks which messages EXPUNGE takes; the other EXPUNGE tests
first confirm it took exactly the \\Deleted ones and are skipped otherwise, so a server that
expunges too much fails that one test. Only `close-expunges-silently` looks at what CLOSE sends.
"""

from __future__ import annotations

import pytest

from mailspec.wire.imap import ImapClient, untagged
from suite.imap._selected import (
    after_expunges,
    examine_read_only,
    expunge_first,
    expunged,
    fetch_one,
    open_box,
    selected_with,
    skip_unless_only_deleted_went,
    store,
    uids,
)

spec = pytest.mark.spec


def refused_outside_selected_state(client: ImapClient) -> bool:
    """Whether a FETCH is refused, i.e. no mailbox is selected any more."""
    _, done = client.run("FETCH 1 (FLAGS)")
    return not done.ok


# -- EXPUNGE (§6.4.3, §7.4.1) ---------------------------------------------------------------------------


@spec("imap/3501/6.4.3/expunge-removes-only-deleted")
def test_expunge_removes_only_deleted(imap, mailbox, append):
    """EXPUNGE removes the messages flagged \\Deleted (2 and 4 of 5) and keeps all the others."""
    client, _ = selected_with(imap, mailbox, append, 5)
    before = uids(client)
    store(client, "STORE 2,4 +FLAGS (\\Deleted)")
    client.ok("EXPUNGE")
    assert uids(client) == [before[0], before[2], before[4]]


@spec("imap/3501/6.4.3/expunge-reports-each-removed-message")
def test_expunge_reports_each_removed_message(imap, mailbox, append):
    """EXPUNGE sends one untagged EXPUNGE per message it removed, before its OK."""
    client, _ = selected_with(imap, mailbox, append, 4)
    before = uids(client)
    store(client, "STORE 1:2 +FLAGS (\\Deleted)")
    responses, _ = client.ok("EXPUNGE")
    skip_unless_only_deleted_went(client, before[2:])
    assert len(expunged(responses)) == 2, f"EXPUNGE responses: {expunged(responses)}"


@spec("imap/3501/7.4.1/expunge-numbers-follow-renumbering")
def test_expunge_numbers_follow_renumbering(imap, mailbox, append):
    """Each EXPUNGE response names the message's number at that moment (those above it move down):
    applied one by one, the responses for messages 2 and 4 of 5 leave exactly 1, 3 and 5."""
    client, _ = selected_with(imap, mailbox, append, 5)
    before = uids(client)
    store(client, "STORE 2,4 +FLAGS (\\Deleted)")
    responses, _ = client.ok("EXPUNGE")
    expected = [before[0], before[2], before[4]]
    skip_unless_only_deleted_went(client, expected)
    assert after_expunges(before, expunged(responses)) == expected, f"EXPUNGE responses {expunged(responses)}"


@spec("imap/3501/2.3.1.2/expunge-renumbers-but-keeps-uids", "RFC3501-2.3.1.1-02", "RFC3501-2.3.1.2-01",
      "RFC9051-2.3.1.1-02", "RFC9051-2.3.1.2-01")
def test_expunge_renumbers_but_keeps_uids(imap, mailbox, append):
    """After message 1 is expunged, the former message 2 is message 1 and every message keeps its UID."""
    client, _ = selected_with(imap, mailbox, append, 3)
    before = expunge_first(client)
    assert fetch_one(client, 1, "(UID)")["UID"] == before[1]
    assert fetch_one(client, 2, "(UID)")["UID"] == before[2]


@spec("imap/3501/6.4.3/expunge-is-permanent")
def test_expunge_is_permanent(imap, mailbox, append):
    """Expunged messages are gone for good: a new session does not see them."""
    client, _ = selected_with(imap, mailbox, append, 3)
    before = uids(client)
    store(client, "STORE 3 +FLAGS (\\Deleted)")
    client.ok("EXPUNGE")
    skip_unless_only_deleted_went(client, before[:2])
    other = imap(label="other")
    assert open_box(other, mailbox).exists == 2
    assert uids(other) == before[:2]


@spec("imap/3501/6.4.3/expunge-without-deleted-changes-nothing")
def test_expunge_without_deleted_changes_nothing(imap, mailbox, append):
    """EXPUNGE when no message is flagged \\Deleted succeeds, sends no EXPUNGE and removes nothing."""
    client, _ = selected_with(imap, mailbox, append, 2)
    before = uids(client)
    responses, _ = client.ok("EXPUNGE")
    skip_unless_only_deleted_went(client, before)
    assert expunged(responses) == []


@spec("imap/3501/6.3.2/examine-expunge-removes-nothing", "RFC3501-6.3.2-02")
def test_examine_expunge_removes_nothing(imap, mailbox, append):
    """In a mailbox opened with EXAMINE, EXPUNGE (refused or not) removes no \\Deleted message."""
    client, _ = selected_with(imap, mailbox, append, 2)
    before = uids(client)
    store(client, "STORE 1 +FLAGS (\\Deleted)")
    examine_read_only(client, mailbox)
    responses, _ = client.run("EXPUNGE")
    assert expunged(responses) == [], "EXPUNGE in a read-only mailbox sent EXPUNGE responses"
    assert uids(client) == before


# -- CLOSE (§6.4.2) ------------------------------------------------------------------------------------


@spec("imap/3501/6.4.2/close-expunges-silently")
def test_close_expunges_silently(imap, mailbox, append):
    """CLOSE answers OK without any untagged EXPUNGE, though it removes \\Deleted messages."""
    client, _ = selected_with(imap, mailbox, append, 3)
    store(client, "STORE 1,3 +FLAGS (\\Deleted)")
    responses, _ = client.ok("CLOSE")
    sent = untagged(responses, "EXPUNGE")
    assert not sent, f"CLOSE sent {[r.raw for r in sent]}"


@spec("imap/3501/6.4.2/close-removes-deleted")
def test_close_removes_deleted(imap, mailbox, append):
    """CLOSE of a mailbox opened with SELECT removes its \\Deleted messages and keeps the others."""
    client, _ = selected_with(imap, mailbox, append, 3)
    before = uids(client)
    store(client, "STORE 1,3 +FLAGS (\\Deleted)")
    client.ok("CLOSE")
    open_box(client, mailbox)
    assert uids(client) == [before[1]]


@spec("imap/3501/6.4.2/close-leaves-selected-state")
def test_close_leaves_selected_state(imap, mailbox, append):
    """After CLOSE no mailbox is selected: FETCH is refused, and SELECT works again."""
    client, _ = selected_with(imap, mailbox, append, 1)
    client.ok("CLOSE")
    assert refused_outside_selected_state(client), "FETCH still worked after CLOSE"
    open_box(client, mailbox)


@spec("imap/3501/6.4.2/examine-close-removes-nothing", "RFC3501-6.3.2-02")
def test_examine_close_removes_nothing(imap, mailbox, append):
    """CLOSE of a mailbox opened with EXAMINE removes nothing, not even \\Deleted messages."""
    client, _ = selected_with(imap, mailbox, append, 2)
    before = uids(client)
    store(client, "STORE 1 +FLAGS (\\Deleted)")
    examine_read_only(client, mailbox)
    client.ok("CLOSE")
    open_box(client, mailbox, readonly=True)
    assert uids(client) == before


@spec("imap/3501/6.4.2/close-needs-selected-mailbox")
def test_close_needs_selected_mailbox(imap):
    """CLOSE with no mailbox selected is refused."""
    _, done = imap().run("CLOSE")
    assert not done.ok, f"CLOSE in the authenticated state was answered {done.raw!r}"


# -- UNSELECT (RFC 3691) ----------------------------------------------------------------------------------


@spec("imap/3691/2/unselect-removes-nothing", needs=("UNSELECT",))
def test_unselect_removes_nothing(imap, mailbox, append):
    """UNSELECT leaves the mailbox without expunging: no EXPUNGE, and the \\Deleted message stays."""
    client, _ = selected_with(imap, mailbox, append, 2)
    before = uids(client)
    store(client, "STORE 2 +FLAGS (\\Deleted)")
    responses, _ = client.ok("UNSELECT")
    assert expunged(responses) == [], "UNSELECT sent EXPUNGE responses"
    open_box(client, mailbox)
    assert uids(client) == before


@spec("imap/3691/2/unselect-leaves-selected-state", needs=("UNSELECT",))
def test_unselect_leaves_selected_state(imap, mailbox, append):
    """After UNSELECT no mailbox is selected: FETCH is refused."""
    client, _ = selected_with(imap, mailbox, append, 1)
    client.ok("UNSELECT")
    assert refused_outside_selected_state(client), "FETCH still worked after UNSELECT"


@spec("imap/3691/4/unselect-any-case", "RFC3691-4-01", needs=("UNSELECT",))
def test_unselect_any_case(imap, mailbox, append):
    """The command name is caseless: 'unselect' works like UNSELECT."""
    client, _ = selected_with(imap, mailbox, append, 1)
    client.ok("unselect")
    assert refused_outside_selected_state(client), "FETCH still worked after 'unselect'"


# -- UID EXPUNGE (RFC 4315 §2.1) ------------------------------------------------------------------------


@spec("imap/4315/2.1/uid-expunge-only-named-uids", needs=("UIDPLUS",))
def test_uid_expunge_only_named_uids(imap, mailbox, append):
    """UID EXPUNGE removes only the \\Deleted messages whose UIDs it names; other \\Deleted messages
    stay, and the removed one is reported with EXPUNGE."""
    client, _ = selected_with(imap, mailbox, append, 3)
    before = uids(client)
    store(client, "STORE 1:3 +FLAGS (\\Deleted)")
    responses, _ = client.ok(f"UID EXPUNGE {before[1]}")
    assert uids(client) == [before[0], before[2]]
    assert after_expunges(before, expunged(responses)) == [before[0], before[2]]


@spec("imap/4315/2.1/uid-expunge-range", needs=("UIDPLUS",))
def test_uid_expunge_range(imap, mailbox, append):
    """UID EXPUNGE with a range takes the \\Deleted messages inside it (here UIDs of messages 2 to the
    last) and leaves message 1."""
    client, _ = selected_with(imap, mailbox, append, 4)
    before = uids(client)
    store(client, "STORE 1:* +FLAGS (\\Deleted)")
    client.ok(f"UID EXPUNGE {before[1]}:*")
    assert uids(client) == [before[0]]
