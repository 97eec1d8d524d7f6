"""STORE and UID STORE (RFC 3501 §6.4.6, §6.4.8) and the flag rules of §2.3.2.

Flags compare case-insensitively and without \\Recent (the helpers do both), except where a test
is about \\Recent. Only `store-silent-sends-no-fetch` looks at what a .SILENT STORE sends back;
only `examine-is-read-only` (test_select) stores in a read-only mailbox.
"""

from __future__ import annotations

import pytest

from mailspec.wire.imap import untagged
from suite.imap._selected import (
    expunge_first,
    fetch,
    fetch_one,
    flags_of,
    merge_fetches,
    open_box,
    selected_with,
    store,
)

spec = pytest.mark.spec


def reported_flags(responses, number: int) -> set[str]:
    """The FLAGS that the FETCH responses among `responses` report for one message, lower-cased,
    \\Recent left out; fails when none was sent."""
    data = merge_fetches(responses).get(number, {})
    assert "FLAGS" in data, f"no FETCH FLAGS response for message {number}"
    return {f.lower() for f in data["FLAGS"]} - {"\\recent"}  # type: ignore[attr-defined]


@spec("imap/3501/6.4.6/store-flags-replaces")
def test_store_flags_replaces(imap, mailbox, append):
    """STORE FLAGS replaces the message's flags with exactly the given list."""
    client, _ = selected_with(imap, mailbox, append, 1)
    store(client, "STORE 1 FLAGS (\\Answered \\Seen)")
    responses, _ = store(client, "STORE 1 FLAGS (\\Flagged \\Draft)")
    assert reported_flags(responses, 1) == {"\\flagged", "\\draft"}
    assert flags_of(client, 1) == {"\\flagged", "\\draft"}


@spec("imap/3501/6.4.6/store-plus-flags-adds")
def test_store_plus_flags_adds(imap, mailbox, append):
    """STORE +FLAGS adds the given flags and keeps the others."""
    client, _ = selected_with(imap, mailbox, append, 1)
    store(client, "STORE 1 FLAGS (\\Seen)")
    store(client, "STORE 1 +FLAGS (\\Flagged \\Answered)")
    assert flags_of(client, 1) == {"\\seen", "\\flagged", "\\answered"}


@spec("imap/3501/6.4.6/store-minus-flags-removes")
def test_store_minus_flags_removes(imap, mailbox, append):
    """STORE -FLAGS removes the given flags and keeps the others."""
    client, _ = selected_with(imap, mailbox, append, 1)
    store(client, "STORE 1 FLAGS (\\Seen \\Flagged \\Draft)")
    store(client, "STORE 1 -FLAGS (\\Seen \\Draft)")
    assert flags_of(client, 1) == {"\\flagged"}


@spec("imap/3501/6.4.6/store-empty-list-clears-flags")
def test_store_empty_list_clears_flags(imap, mailbox, append):
    """STORE FLAGS () leaves the message with no flags."""
    client, _ = selected_with(imap, mailbox, append, 1)
    store(client, "STORE 1 FLAGS (\\Seen \\Answered)")
    store(client, "STORE 1 FLAGS ()")
    assert flags_of(client, 1) == set()


@spec("imap/3501/6.4.6/store-sends-new-flags")
def test_store_sends_new_flags(imap, mailbox, append):
    """Without .SILENT, STORE answers with an untagged FETCH carrying the new FLAGS of every message
    it changed."""
    client, _ = selected_with(imap, mailbox, append, 3)
    store(client, "STORE 1 FLAGS (\\Seen)")
    responses, _ = store(client, "STORE 1:3 +FLAGS (\\Flagged)")
    assert sorted(merge_fetches(responses)) == [1, 2, 3]
    assert reported_flags(responses, 1) == {"\\seen", "\\flagged"}
    assert reported_flags(responses, 3) == {"\\flagged"}


@spec("imap/3501/6.4.6/store-silent-sends-no-fetch")
def test_store_silent_sends_no_fetch(imap, mailbox, append):
    """FLAGS.SILENT, +FLAGS.SILENT and -FLAGS.SILENT change the flags without an untagged FETCH."""
    client, _ = selected_with(imap, mailbox, append, 2)
    for command in ("STORE 1:2 FLAGS.SILENT (\\Seen)", "STORE 1:2 +FLAGS.SILENT (\\Flagged)",
                    "STORE 1 -FLAGS.SILENT (\\Seen)"):
        responses, _ = store(client, command)
        echoed = untagged(responses, "FETCH")
        assert not echoed, f"{command} was answered with {[r.raw for r in echoed]}"


@spec("imap/3501/6.4.6/store-silent-still-changes-flags")
def test_store_silent_still_changes_flags(imap, mailbox, append):
    """A .SILENT STORE changes the flags all the same: FETCH FLAGS shows the change."""
    client, _ = selected_with(imap, mailbox, append, 1)
    store(client, "STORE 1 +FLAGS.SILENT (\\Flagged \\Seen)")
    store(client, "STORE 1 -FLAGS.SILENT (\\Seen)")
    assert flags_of(client, 1) == {"\\flagged"}


@spec("imap/3501/6.4.6/store-acts-on-sequence-set")
def test_store_acts_on_sequence_set(imap, mailbox, append):
    """STORE 2:* changes messages 2 up to the last and leaves message 1 alone."""
    client, _ = selected_with(imap, mailbox, append, 4)
    store(client, "STORE 2:* +FLAGS (\\Answered)")
    got = fetch(client, "1:*", "(FLAGS)")
    answered = sorted(n for n, data in got.items() if "\\answered" in {f.lower() for f in data["FLAGS"]})
    assert answered == [2, 3, 4]


@spec("imap/3501/2.3.2/flags-persist-across-sessions")
def test_flags_persist_across_sessions(imap, mailbox, append):
    """A system flag stored in one session is there when another session selects the mailbox."""
    client, _ = selected_with(imap, mailbox, append, 1)
    store(client, "STORE 1 +FLAGS (\\Flagged \\Answered)")
    other = imap(label="other")
    open_box(other, mailbox)
    assert flags_of(other, 1) == {"\\flagged", "\\answered"}


@spec("imap/3501/2.3.2/system-flags-any-case", "RFC3501-9-03")
def test_system_flags_any_case(imap, mailbox, append):
    """System flag names are caseless: STORE +FLAGS (\\fLaGgEd) sets \\Flagged."""
    client, _ = selected_with(imap, mailbox, append, 1)
    store(client, "STORE 1 +FLAGS (\\fLaGgEd)")
    assert flags_of(client, 1) == {"\\flagged"}


@spec("imap/3501/2.3.2/store-keeps-recent")
def test_store_keeps_recent(imap, mailbox, append):
    """\\Recent is the server's: STORE FLAGS with a list that lacks it does not take it away from a
    message that is recent in this session."""
    client, _ = selected_with(imap, mailbox, append, 1)
    before = fetch_one(client, 1, "(FLAGS)")["FLAGS"]
    if "\\recent" not in {f.lower() for f in before}:
        pytest.skip("the new message is not \\Recent in the session that selected it first")
    store(client, "STORE 1 FLAGS (\\Seen)")
    assert "\\recent" in {f.lower() for f in fetch_one(client, 1, "(FLAGS)")["FLAGS"]}


@spec("imap/3501/2.3.2/recent-cannot-be-stored")
def test_recent_cannot_be_stored(imap, mailbox, append):
    """A client cannot set \\Recent: STORE +FLAGS (\\Recent) on a message that is not recent in this
    session is refused or has no effect."""
    selected_with(imap, mailbox, append, 1)  # the first session takes \Recent for itself
    second = imap(label="second")
    open_box(second, mailbox)
    if "\\recent" in {f.lower() for f in fetch_one(second, 1, "(FLAGS)")["FLAGS"]}:
        pytest.skip("\\Recent showed in a second session; imap/3501/2.3.2/recent-in-one-session-only covers that")
    second.run("STORE 1 +FLAGS (\\Recent)")
    flags = {f.lower() for f in fetch_one(second, 1, "(FLAGS)")["FLAGS"]}
    assert "\\recent" not in flags, "STORE set \\Recent"


@spec("imap/3501/2.3.2/keyword-stored-and-fetched")
def test_keyword_stored_and_fetched(imap, mailbox, append):
    """Where PERMANENTFLAGS offers \\*, STORE +FLAGS with a new keyword sets it on the message."""
    client = imap()
    append(client, mailbox)
    permanent = open_box(client, mailbox).permanentflags or ()
    if "\\*" not in permanent:
        pytest.skip(f"PERMANENTFLAGS {permanent} does not offer new keywords")
    store(client, "STORE 1 +FLAGS ($MailspecLabel)")
    assert flags_of(client, 1) == {"$mailspeclabel"}


@spec("imap/3501/2.3.2/keyword-persists-across-sessions")
def test_keyword_persists_across_sessions(imap, mailbox, append):
    """A keyword stored in one session is on the message when another session selects the mailbox."""
    client = imap()
    append(client, mailbox)
    permanent = open_box(client, mailbox).permanentflags or ()
    if "\\*" not in permanent:
        pytest.skip(f"PERMANENTFLAGS {permanent} does not offer new keywords")
    store(client, "STORE 1 +FLAGS ($MailspecLabel)")
    other = imap(label="other")
    open_box(other, mailbox)
    assert "$mailspeclabel" in flags_of(other, 1)


@spec("imap/3501/6.4.8/uid-store-includes-uid", "RFC3501-6.4.8-01", "RFC9051-6.4.9-02")
def test_uid_store_includes_uid(imap, mailbox, append):
    """The FETCH responses to UID STORE carry the UID item."""
    client, _ = selected_with(imap, mailbox, append, 2)
    responses, _ = store(client, "UID STORE 1:* +FLAGS (\\Seen)")
    got = merge_fetches(responses)
    assert sorted(got) == [1, 2]
    assert all("UID" in data for data in got.values()), f"UID STORE responses without UID: {got}"


@spec("imap/3501/6.4.8/uid-store-names-messages-by-uid")
def test_uid_store_names_messages_by_uid(imap, mailbox, append):
    """UID STORE finds messages by UID: once the first message is gone, numbers and UIDs differ,
    and UID STORE on the UID of message 1 flags message 1."""
    client, _ = selected_with(imap, mailbox, append, 3)
    before = expunge_first(client)
    first = before[1]
    store(client, f"UID STORE {first} +FLAGS (\\Flagged)")
    got = fetch(client, "1:*", "(FLAGS)")
    flagged = sorted(n for n, data in got.items() if "\\flagged" in {f.lower() for f in data["FLAGS"]})
    assert flagged == [1], f"UID STORE {first} flagged messages {flagged}"
