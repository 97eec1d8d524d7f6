"""COPY and UID COPY (RFC 3501 §6.4.7, §6.4.8), COPYUID (RFC 4315 §3), MOVE and UID MOVE (RFC 6851).

Messages are told apart by their X-Mailspec-Test marker, read with BODY.PEEK[HEADER.FIELDS], so a
test never trusts a UID it did not see in the mailbox itself. Only `copy-missing-mailbox-trycreate`
requires TRYCREATE from COPY and only `move-sends-copyuid` requires COPYUID from MOVE; COPYUID's
UIDVALIDITY is compared with STATUS, never with a second SELECT in one session.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailspec.fixtures_imap import status_of
from mailspec.protocol.imap_response import Response, SequenceSet, Tagged, Untagged
from mailspec.wire.imap import ImapClient, untagged
from suite.imap._selected import (
    after_expunges,
    expunge_first,
    expunged,
    fetch,
    fetch_one,
    flags_of,
    mailbox_exists,
    merge_fetches,
    open_box,
    selected_with,
    store,
    uids,
)

spec = pytest.mark.spec
MARKER = "BODY[HEADER.FIELDS (X-MAILSPEC-TEST)]"


def markers_in(client: ImapClient) -> list[str]:
    """The X-Mailspec-Test markers of the selected mailbox's messages, in message-number order."""
    got = fetch(client, "1:*", "(BODY.PEEK[HEADER.FIELDS (X-Mailspec-Test)])", uid=True)
    out = []
    for number in sorted(got):
        field = got[number].get(MARKER)
        value = field.partition(b":")[2].strip() if isinstance(field, bytes) else b""
        out.append(value.decode("ascii", "replace"))
    return out


def set_members(value: object) -> list[int]:
    """The numbers of a uid-set as parsed (no '*' in COPYUID), in the order written."""
    ranges: SequenceSet = value  # type: ignore[assignment]
    out: list[int] = []
    for low, high in ranges:
        assert low is not None and high is not None, f"'*' in a COPYUID set: {ranges}"
        step = 1 if high >= low else -1
        out += list(range(low, high + step, step))
    return out


def copyuid_of(responses: list[Response], done: Tagged) -> tuple[int, list[int], list[int]] | None:
    """(UIDVALIDITY, source UIDs, destination UIDs) from a COPYUID code, tagged or untagged."""
    for r in [*responses, done]:
        code = r.code if isinstance(r, Untagged | Tagged) else None
        if code == "COPYUID":
            validity, source, dest = r.code_args  # type: ignore[union-attr, misc]
            return validity, set_members(source), set_members(dest)
    return None


# -- COPY (§6.4.7) --------------------------------------------------------------------------------------


@spec("imap/3501/6.4.7/copy-adds-copies-and-keeps-originals")
def test_copy_adds_copies_and_keeps_originals(imap, mailboxes, append):
    """COPY 1:2 appends copies of messages 1 and 2, content unchanged, to the target and leaves them
    in the source."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client, markers = selected_with(imap, source, append, 3)
    originals = fetch(client, "1:2", "(BODY.PEEK[])")
    client.ok(f"COPY 1:2 {target}")
    assert markers_in(client) == markers, "COPY changed the source mailbox"
    open_box(client, target)
    copies = fetch(client, "1:*", "(BODY.PEEK[])")
    assert [copies[n]["BODY[]"] for n in sorted(copies)] == [originals[1]["BODY[]"], originals[2]["BODY[]"]]


@spec("imap/3501/6.4.7/copy-preserves-flags", "RFC3501-6.4.7-01", "RFC9051-6.4.7-01")
def test_copy_preserves_flags(imap, mailboxes, append):
    """The copy has the flags of the original (here \\Flagged and \\Answered)."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client, _ = selected_with(imap, source, append, 1)
    store(client, "STORE 1 +FLAGS (\\Flagged \\Answered)")
    client.ok(f"COPY 1 {target}")
    open_box(client, target)
    assert flags_of(client, 1) == {"\\flagged", "\\answered"}


@spec("imap/3501/6.4.7/copy-preserves-internaldate", "RFC3501-6.4.7-01", "RFC3501-2.3.3-02", "RFC9051-6.4.7-01")
def test_copy_preserves_internaldate(imap, mailboxes, append):
    """The copy has the internal date of the original."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client = imap()
    append(client, source, internaldate=datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC))
    open_box(client, source)
    original = fetch_one(client, 1, "(INTERNALDATE)")["INTERNALDATE"]
    client.ok(f"COPY 1 {target}")
    open_box(client, target)
    assert fetch_one(client, 1, "(INTERNALDATE)")["INTERNALDATE"] == original


@spec("imap/3501/6.4.7/copy-sets-recent", "RFC3501-6.4.7-01")
def test_copy_sets_recent(imap, mailboxes, append):
    """Copies are new in the target: the first SELECT of it counts them as recent."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client, _ = selected_with(imap, source, append, 2)
    client.ok(f"COPY 1:2 {target}")
    assert open_box(imap(label="target"), target).recent == 2


@spec("imap/3501/6.4.7/copy-missing-mailbox-trycreate", "RFC3501-6.4.7-04", "RFC9051-6.4.7-04")
def test_copy_missing_mailbox_trycreate(imap, mailbox, mailboxes, append):
    """COPY to a mailbox that does not exist fails with NO [TRYCREATE]."""
    client, _ = selected_with(imap, mailbox, append, 1)
    _, done = client.run(f"COPY 1 {mailboxes.name('missing')}")
    assert done.status == "NO" and done.code == "TRYCREATE", f"COPY to a missing mailbox: {done.raw!r}"


@spec("imap/3501/6.4.7/copy-does-not-create-mailbox", "RFC3501-6.4.7-02", "RFC3501-6.4.7-03")
def test_copy_does_not_create_mailbox(imap, mailbox, mailboxes, append):
    """COPY to a missing mailbox fails and does not create it."""
    client, _ = selected_with(imap, mailbox, append, 1)
    missing = mailboxes.name("missing")
    _, done = client.run(f"COPY 1 {missing}")
    assert not done.ok, f"COPY to a missing mailbox: {done.raw!r}"
    assert not mailbox_exists(client, missing), "COPY created the missing mailbox"


@spec("imap/3501/6.4.7/failed-copy-leaves-target-unchanged", "RFC3501-6.4.7-05", "RFC9051-6.4.7-05")
def test_failed_copy_leaves_target_unchanged(imap, mailboxes, append):
    """A COPY that fails (message 3 of a set does not exist) leaves the target as it was: no partial
    copy of messages 1 and 2."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client, _ = selected_with(imap, source, append, 2)
    _, done = client.run(f"COPY 1:3 {target}")
    assert not done.ok, f"COPY of a message that does not exist: {done.raw!r}"
    assert open_box(client, target).exists == 0


@spec("imap/3501/5.2/copy-to-selected-mailbox-reports-exists", "RFC3501-5.2-03")
def test_copy_to_selected_mailbox_reports_exists(imap, mailbox, append):
    """COPY into the selected mailbox itself is answered with the new EXISTS before the OK."""
    client, _ = selected_with(imap, mailbox, append, 2)
    responses, _ = client.ok(f"COPY 1:2 {mailbox}")
    sizes = [r.number for r in untagged(responses, "EXISTS")]
    assert sizes and sizes[-1] == 4, f"EXISTS during COPY: {sizes}"


@spec("imap/3501/6.4.8/uid-copy-names-messages-by-uid")
def test_uid_copy_names_messages_by_uid(imap, mailboxes, append):
    """UID COPY finds messages by UID: once message 1 is gone numbers and UIDs differ, and UID COPY
    on the UID of (the new) message 1 copies that message."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client, markers = selected_with(imap, source, append, 3)
    before = expunge_first(client)
    client.ok(f"UID COPY {before[1]} {target}")
    open_box(client, target)
    assert markers_in(client) == [markers[1]]


# -- COPYUID (RFC 4315 §3) -----------------------------------------------------------------------------


@spec("imap/4315/3/copy-sends-copyuid", "RFC4315-3-01", needs=("UIDPLUS",))
def test_copy_sends_copyuid(imap, mailboxes, append):
    """With UIDPLUS, a successful COPY carries COPYUID."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client, _ = selected_with(imap, source, append, 2)
    responses, done = client.ok(f"COPY 1:2 {target}")
    assert copyuid_of(responses, done) is not None, f"COPY completed with {done.raw!r} and no COPYUID"


@spec("imap/4315/3/copyuid-names-the-copies", needs=("UIDPLUS",))
def test_copyuid_names_the_copies(imap, mailboxes, append):
    """COPYUID gives the target's UIDVALIDITY, the source UIDs, and in the same order the UIDs the
    copies got in the target."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client, markers = selected_with(imap, source, append, 3)
    source_uids = uids(client)[1:]
    responses, done = client.ok(f"COPY 2:3 {target}")
    found = copyuid_of(responses, done)
    if found is None:
        pytest.skip("COPY sent no COPYUID; imap/4315/3/copy-sends-copyuid covers that")
    validity, from_uids, to_uids = found
    assert validity == status_of(client, target, "UIDVALIDITY").get("UIDVALIDITY")
    assert sorted(from_uids) == source_uids
    open_box(client, target)
    pairs = dict(zip(from_uids, to_uids, strict=True))
    assert [pairs[u] for u in source_uids] == uids(client), "COPYUID's target UIDs are not the copies' UIDs"
    assert markers_in(client) == markers[1:]


@spec("imap/4315/3/copyuid-single-uid-not-a-range", "RFC4315-3-05", "RFC9051-7.1-06", needs=("UIDPLUS",))
def test_copyuid_single_uid_not_a_range(imap, mailboxes, append):
    """When one message is copied, COPYUID names each UID as a plain number, never as 'n:n'."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client, _ = selected_with(imap, source, append, 1)
    responses, done = client.ok(f"COPY 1 {target}")
    carrier = [r for r in [*responses, done] if isinstance(r, Untagged | Tagged) and r.code == "COPYUID"]
    if not carrier:
        pytest.skip("COPY sent no COPYUID; imap/4315/3/copy-sends-copyuid covers that")
    _, source_set, dest_set = carrier[0].code_args  # type: ignore[misc]
    raw = carrier[0].raw.decode("ascii", "replace")
    assert ":" not in raw.split("COPYUID", 1)[1].split("]", 1)[0], f"a one-UID range in {raw!r}"
    assert len(set_members(source_set)) == len(set_members(dest_set)) == 1


# -- MOVE (RFC 6851) -----------------------------------------------------------------------------------


@spec("imap/6851/3.3/move-moves-messages", "RFC6851-3.3-03", "RFC6851-3.3-04", "RFC9051-6.4.8-04",
      needs=("MOVE",))
def test_move_moves_messages(imap, mailboxes, append):
    """MOVE 1:2 puts messages 1 and 2 into the target and takes them out of the source; message 3
    stays."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client, markers = selected_with(imap, source, append, 3)
    client.ok(f"MOVE 1:2 {target}")
    assert markers_in(client) == markers[2:]
    open_box(client, target)
    assert markers_in(client) == markers[:2]


@spec("imap/6851/4.3/move-sends-copyuid", "RFC6851-4.3-01", "RFC9051-6.4.8-09", needs=("MOVE", "UIDPLUS"))
def test_move_sends_copyuid(imap, mailboxes, append):
    """With UIDPLUS, MOVE sends COPYUID in an untagged OK, before the EXPUNGE responses of the moved
    messages."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client, _ = selected_with(imap, source, append, 2)
    responses, _ = client.ok(f"MOVE 1:2 {target}")
    kinds = [("COPYUID" if r.code == "COPYUID" else r.kind) for r in responses if isinstance(r, Untagged)]
    assert "COPYUID" in kinds, f"no untagged OK [COPYUID] among {kinds}"
    first_expunge = kinds.index("EXPUNGE") if "EXPUNGE" in kinds else len(kinds)
    assert kinds.index("COPYUID") < first_expunge, f"COPYUID came after an EXPUNGE: {kinds}"


@spec("imap/6851/3.3/move-sets-no-deleted-flag", "RFC6851-3.3-01", "RFC9051-6.4.8-02", needs=("MOVE",))
def test_move_sets_no_deleted_flag(imap, mailboxes, append):
    """MOVE neither reports a \\Deleted flag while it runs nor leaves one on the moved message."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client, _ = selected_with(imap, source, append, 1)
    responses, _ = client.ok(f"MOVE 1 {target}")
    for number, data in merge_fetches(responses).items():
        assert "\\deleted" not in {f.lower() for f in data.get("FLAGS", ())}, f"MOVE flagged {number} \\Deleted"  # type: ignore[attr-defined]
    open_box(client, target)
    assert "\\deleted" not in flags_of(client, 1)


@spec("imap/6851/3.3/move-expunges-follow-renumbering", needs=("MOVE",))
def test_move_expunges_follow_renumbering(imap, mailboxes, append):
    """The EXPUNGE responses to MOVE 1,3, applied one by one as a client must, leave exactly the UIDs
    of messages 2 and 4."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client, _ = selected_with(imap, source, append, 4)
    before = uids(client)
    responses, _ = client.ok(f"MOVE 1,3 {target}")
    assert after_expunges(before, expunged(responses)) == [before[1], before[3]]


@spec("imap/6851/3.2/uid-move-names-messages-by-uid", needs=("MOVE",))
def test_uid_move_names_messages_by_uid(imap, mailboxes, append):
    """UID MOVE moves the message with that UID, also once UIDs and message numbers differ (after
    message 2 has moved away, message 2 is the one appended third)."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client, markers = selected_with(imap, source, append, 3)
    client.ok(f"UID MOVE {uids(client)[1]} {target}")
    assert markers_in(client) == [markers[0], markers[2]]
    client.ok(f"UID MOVE {uids(client)[1]} {target}")
    assert markers_in(client) == [markers[0]]
    open_box(client, target)
    assert markers_in(client) == [markers[1], markers[2]]


@spec("imap/6851/3.3/failed-move-loses-nothing", "RFC6851-3.3-03", "RFC9051-6.4.8-03", needs=("MOVE",))
def test_failed_move_loses_nothing(imap, mailboxes, append):
    """A MOVE that fails (message 3 of the set does not exist) leaves every message in the source
    and none in the target."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client, markers = selected_with(imap, source, append, 2)
    _, done = client.run(f"MOVE 1:3 {target}")
    assert not done.ok, f"MOVE of a message that does not exist: {done.raw!r}"
    assert markers_in(client) == markers
    assert open_box(client, target).exists == 0


@spec("imap/6851/3.3/move-missing-mailbox-trycreate", "RFC9051-6.4.8-08", needs=("MOVE",))
def test_move_missing_mailbox_trycreate(imap, mailbox, mailboxes, append):
    """MOVE to a mailbox that does not exist fails with NO [TRYCREATE], like COPY, and moves nothing."""
    client, markers = selected_with(imap, mailbox, append, 1)
    missing = mailboxes.name("missing")
    _, copied = client.run(f"COPY 1 {missing}")
    if copied.code != "TRYCREATE":
        pytest.skip("COPY to a missing mailbox gave no TRYCREATE; "
                    "imap/3501/6.4.7/copy-missing-mailbox-trycreate covers that")
    _, done = client.run(f"MOVE 1 {missing}")
    assert done.status == "NO" and done.code == "TRYCREATE", f"MOVE to a missing mailbox: {done.raw!r}"
    assert markers_in(client) == markers


@spec("imap/6851/5/move-command-any-case", "RFC6851-5-01", needs=("MOVE",))
def test_move_command_any_case(imap, mailboxes, append):
    """The command names are caseless: 'uid move' and 'Move' work like UID MOVE and MOVE."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client, markers = selected_with(imap, source, append, 2)
    client.ok(f"uid move {uids(client)[0]} {target}")
    client.ok(f"Move 1 {target}")
    open_box(client, target)
    assert markers_in(client) == markers


# -- MOVE and mod-sequences (RFC 6851 §4.4) --------------------------------------------------------------


def highestmodseq(responses: list[Response], done: Tagged) -> int | None:
    found = [r.code_args for r in [*responses, done]
             if isinstance(r, Untagged | Tagged) and r.code == "HIGHESTMODSEQ"]
    return found[-1] if found else None  # type: ignore[return-value]


@spec("imap/6851/4.4/move-reports-higher-highestmodseq", "RFC6851-4.4-02", "RFC6851-4.4-04",
      needs=("MOVE", "QRESYNC"))
def test_move_reports_higher_highestmodseq(imap, mailboxes, append):
    """With QRESYNC enabled, an OK response of a MOVE carries [HIGHESTMODSEQ n] with n above the value
    SELECT reported: the move raised the source mailbox's mod-sequence."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client = imap()
    append(client, source)
    client.ok("ENABLE QRESYNC")
    responses, done = client.ok(f"SELECT {source}")
    before = highestmodseq(responses, done)
    assert before is not None, "SELECT with QRESYNC enabled reported no HIGHESTMODSEQ"
    moved, moved_done = client.ok(f"MOVE 1 {target}")
    after = highestmodseq(moved, moved_done)
    assert after is not None, "no OK [HIGHESTMODSEQ] in the response to MOVE"
    assert after > before, f"HIGHESTMODSEQ {before} before the MOVE, {after} after"


@spec("imap/6851/4.4/moved-uids-reported-as-vanished", "RFC6851-4.4-03", needs=("MOVE", "QRESYNC"))
def test_moved_uids_reported_as_vanished(imap, mailboxes, append):
    """The server remembers which UIDs a MOVE removed: UID FETCH (CHANGEDSINCE n VANISHED) from
    before the MOVE lists them in VANISHED (EARLIER)."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client = imap()
    for _ in range(2):
        append(client, source)
    client.ok("ENABLE QRESYNC")
    responses, done = client.ok(f"SELECT {source}")
    before = highestmodseq(responses, done)
    assert before is not None, "SELECT with QRESYNC enabled reported no HIGHESTMODSEQ"
    gone = uids(client)[0]
    client.ok(f"MOVE 1 {target}")
    found, _ = client.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {before} VANISHED)")
    vanished = [u for r in untagged(found, "VANISHED") for u in set_members(r.data.uids)]  # type: ignore[attr-defined]
    assert gone in vanished, f"the moved UID {gone} is not in VANISHED (EARLIER) {vanished}"


@spec("imap/6851/4.4/moved-messages-get-new-modseq", "RFC6851-4.4-05", needs=("MOVE", "CONDSTORE"))
def test_moved_messages_get_new_modseq(imap, mailboxes, append):
    """A message moved into a mailbox gets a MODSEQ above the target's HIGHESTMODSEQ before the move."""
    source, target = mailboxes.create("source"), mailboxes.create("target")
    client = imap()
    append(client, source)
    append(client, target)
    responses, done = client.ok(f"SELECT {target} (CONDSTORE)")
    before = highestmodseq(responses, done)
    assert before is not None, "SELECT (CONDSTORE) reported no HIGHESTMODSEQ"
    open_box(client, source)
    client.ok(f"MOVE 1 {target}")
    open_box(client, target)
    modseq = fetch_one(client, 2, "(MODSEQ)")["MODSEQ"]
    assert modseq > before, f"moved message's MODSEQ {modseq}, target's HIGHESTMODSEQ before {before}"  # type: ignore[operator]
