"""QRESYNC (RFC 7162 §3.2): ENABLE QRESYNC, SELECT (QRESYNC ...), VANISHED, expunge mod-sequences, CLOSED.

The rules of test_condstore.py hold here too. In addition:

* Only `vanished-replaces-expunge` insists on the VANISHED form of a live expunge report. The other
  tests follow the mailbox the way a client does (`Mirror`) and accept either form, so a server
  that sends EXPUNGE fails that one test, not every test that expunges.
* Expunges are checked as "the deleted UIDs are reported, and no UID still present is": a server
  that removes more than the \\Deleted messages is the business of RFC 3501 §6.4.3's test.
* The UIDVALIDITY and HIGHESTMODSEQ a resynchronising client starts from come from STATUS.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

import pytest

from mailspec.protocol.imap_response import Response, Untagged, VanishedData
from mailspec.wire.imap import ImapClient, mailbox_arg, untagged
from suite.imap.test_condstore import (
    codes,
    expand,
    fetched,
    filled,
    flags_of,
    highestmodseq,
    select,
    status_items,
    uids,
)

spec = pytest.mark.spec
QRESYNC = ("QRESYNC",)
FLAG = "\\Flagged"


# -- helpers ------------------------------------------------------------------------------------------


def enable_qresync(client: ImapClient, *extra: str) -> None:
    """ENABLE QRESYNC [extra...]; the server must confirm QRESYNC in an ENABLED response."""
    resps, _ = client.ok(" ".join(("ENABLE QRESYNC", *extra)))
    enabled = {c.upper() for r in untagged(resps, "ENABLED") for c in cast(tuple[str, ...], r.data)}
    assert "QRESYNC" in enabled, f"ENABLE QRESYNC was not confirmed by an untagged ENABLED QRESYNC: {enabled}"


def qresync_client(imap, label: str) -> ImapClient:
    client = imap(label=label)
    enable_qresync(client)
    return client


def vanished(responses: Iterable[Response], *, earlier: bool) -> list[set[int]]:
    """The UID sets of the VANISHED responses of one form (with or without EARLIER)."""
    out = []
    for r in untagged(responses, "VANISHED"):
        data = cast(VanishedData, r.data)
        if data.earlier == earlier:
            out.append(expand(data.uids))
    return out


def resync_point(client: ImapClient, mailbox: str) -> tuple[int, int]:
    """(UIDVALIDITY, HIGHESTMODSEQ) as STATUS reports them: where a later resync starts from."""
    items = status_items(client, mailbox, "UIDVALIDITY HIGHESTMODSEQ")
    if not items.get("HIGHESTMODSEQ"):
        pytest.skip("the target keeps no mod-sequences for this mailbox (STATUS HIGHESTMODSEQ 0)")
    return cast(int, items["UIDVALIDITY"]), cast(int, items["HIGHESTMODSEQ"])


def present_uids(client: ImapClient) -> set[int]:
    """The UIDs still in the selected mailbox; empty when FETCH 1:* finds no message to answer for."""
    resps, done = client.run("FETCH 1:* (UID)")
    if not done.ok:
        return set()  # "*" names no message in an empty mailbox, which some servers refuse
    return {cast(int, items["UID"]) for items in fetched(resps).values() if "UID" in items}


def expunge(client: ImapClient, sequence: str) -> list[Response]:
    """Mark messages \\Deleted and EXPUNGE them; returns every response of both commands."""
    first, _ = client.ok(f"STORE {sequence} +FLAGS.SILENT (\\Deleted)")
    more, _ = client.ok("EXPUNGE")
    return [*first, *more]


@dataclass
class Mirror:
    """A client's picture of the selected mailbox, kept up to date from the responses it gets.

    `uids` holds the UIDs in message-number order (None for a message announced by EXISTS whose
    UID the client has not seen yet). Expunges may come as EXPUNGE or as VANISHED; what the
    picture cannot absorb (an unknown message number, a UID the client cannot place) goes into
    `problems`, with the reason.
    """

    uids: list[int | None]
    gone: list[int | None] = field(default_factory=list)  # every UID reported expunged, in order
    problems: list[str] = field(default_factory=list)

    def apply(self, responses: Iterable[Response]) -> None:
        for r in responses:
            if not isinstance(r, Untagged):
                continue
            if r.kind == "EXISTS" and r.number is not None and r.number > len(self.uids):
                self.uids += [None] * (r.number - len(self.uids))
            elif r.kind == "EXPUNGE" and r.number is not None:
                if r.number > len(self.uids):
                    self.problems.append(f"EXPUNGE {r.number} with only {len(self.uids)} messages")
                else:
                    self.gone.append(self.uids.pop(r.number - 1))
            elif r.kind == "VANISHED" and not cast(VanishedData, r.data).earlier:
                for uid in sorted(expand(cast(VanishedData, r.data).uids)):
                    self._vanish(uid)
            elif r.kind == "FETCH" and r.number is not None and r.number <= len(self.uids):
                fetched_uid = cast(dict[str, object], r.data).get("UID")
                if isinstance(fetched_uid, int) and self.uids[r.number - 1] is None:
                    self.uids[r.number - 1] = fetched_uid

    def _vanish(self, uid: int) -> None:
        if uid in self.uids:
            self.uids.remove(uid)
            self.gone.append(uid)
        elif None in self.uids and uid > max((u for u in self.uids if u is not None), default=0):
            self.uids.remove(None)  # one of the announced messages whose UID is not known yet
            self.gone.append(uid)
        else:
            self.problems.append(f"VANISHED {uid}: not a message visible to this client "
                                 f"(it sees UIDs {self.uids}, already expunged {self.gone})")


# -- ENABLE -------------------------------------------------------------------------------------------


@spec("imap/7162/3.2.3/enable-qresync-confirmed", "RFC7162-3.2.3-01", "RFC7162-3.2.3-02", needs=QRESYNC)
def test_enable_qresync_confirmed(imap, imap_capabilities):
    """A QRESYNC server advertises ENABLE and confirms ENABLE QRESYNC with an untagged ENABLED QRESYNC."""
    assert imap_capabilities.has("ENABLE"), "QRESYNC is advertised but ENABLE is not"
    enable_qresync(imap())


@spec("imap/7162/3.2.3/enable-qresync-condstore-confirmed", "RFC7162-3.2.3-02", needs=QRESYNC)
def test_enable_qresync_condstore_confirmed(imap):
    """ENABLE QRESYNC CONDSTORE is accepted and confirms QRESYNC in an ENABLED response."""
    enable_qresync(imap(), "CONDSTORE")


@spec("imap/7162/3.2.2/qresync-server-advertises-condstore", "RFC7162-3.2.2-01", needs=QRESYNC)
def test_qresync_server_advertises_condstore(imap_capabilities):
    """A server that advertises QRESYNC advertises CONDSTORE too, for CONDSTORE-only clients."""
    assert imap_capabilities.has("CONDSTORE"), "QRESYNC is advertised without CONDSTORE"


# -- commands refused without ENABLE QRESYNC or with a wrong modifier ----------------------------------


@spec("imap/7162/3.2.5/select-qresync-without-enable-is-bad", "RFC7162-3.2.5-01", "RFC7162-3.2.3-05",
      needs=QRESYNC)
def test_select_qresync_without_enable_is_bad(imap, mailbox, append, account):
    """SELECT (QRESYNC ...) before ENABLE QRESYNC is answered with a tagged BAD."""
    filled(append, account, mailbox, 1)
    client = imap()
    uidvalidity, modseq = resync_point(client, mailbox)
    _, done = client.run(b"SELECT " + mailbox_arg(mailbox) + f" (QRESYNC ({uidvalidity} {modseq}))".encode())
    assert done.status == "BAD", f"SELECT (QRESYNC) without ENABLE QRESYNC: expected BAD, got {done.raw!r}"


@spec("imap/7162/3.2.6/vanished-modifier-without-enable-is-bad", "RFC7162-3.2.6-02", "RFC7162-3.2.3-05",
      needs=QRESYNC)
def test_vanished_modifier_without_enable_is_bad(imap, mailbox, append, account):
    """UID FETCH ... (CHANGEDSINCE n VANISHED) before ENABLE QRESYNC is answered with a tagged BAD."""
    filled(append, account, mailbox, 1)
    client = imap()
    select(client, mailbox, b" (CONDSTORE)")
    _, done = client.run("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
    assert done.status == "BAD", f"VANISHED without ENABLE QRESYNC: expected BAD, got {done.raw!r}"


@spec("imap/7162/3.2.6/vanished-modifier-on-fetch-is-bad", "RFC7162-3.2.6-01", needs=QRESYNC)
def test_vanished_modifier_on_fetch_is_bad(imap, mailbox, append, account):
    """The VANISHED modifier on FETCH (not UID FETCH) is answered with a tagged BAD."""
    filled(append, account, mailbox, 1)
    client = qresync_client(imap, "c1")
    select(client, mailbox)
    _, done = client.run("FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
    assert done.status == "BAD", f"FETCH with VANISHED: expected BAD, got {done.raw!r}"


@spec("imap/7162/3.2.6/vanished-without-changedsince-is-bad", "RFC7162-3.2.6-04", "RFC7162-3.2.6-03",
      needs=QRESYNC)
def test_vanished_without_changedsince_is_bad(imap, mailbox, append, account):
    """UID FETCH with VANISHED but no CHANGEDSINCE is answered with a tagged BAD."""
    filled(append, account, mailbox, 1)
    client = qresync_client(imap, "c1")
    select(client, mailbox)
    _, done = client.run("UID FETCH 1:* (FLAGS) (VANISHED)")
    assert done.status == "BAD", f"VANISHED without CHANGEDSINCE: expected BAD, got {done.raw!r}"


# -- UID FETCH (CHANGEDSINCE n VANISHED) --------------------------------------------------------------


def _expunged_since(imap, mailbox: str, doomed: str) -> tuple[int, list[int], list[int]]:
    """Resync point, then expunge `doomed` (message numbers) from a session of its own.

    Returns (HIGHESTMODSEQ before, UIDs of the doomed messages, UIDs before the expunge).
    """
    changer = imap(label="changer")
    _, modseq = resync_point(changer, mailbox)
    select(changer, mailbox, b" (CONDSTORE)")
    before = uids(changer)
    gone = [before[int(n) - 1] for n in doomed.split(",")]
    expunge(changer, doomed)
    changer.ok("CLOSE")
    return modseq, gone, before


@spec("imap/7162/3.2.6/uid-fetch-vanished-reports-expunged", "RFC7162-3.2-01", "RFC7162-3.2.7-02",
      needs=QRESYNC)
def test_uid_fetch_vanished_reports_expunged(imap, mailbox, append, account):
    """UID FETCH 1:* (FLAGS) (CHANGEDSINCE n VANISHED) reports UIDs expunged since n as VANISHED (EARLIER)."""
    filled(append, account, mailbox, 3)
    modseq, gone, _ = _expunged_since(imap, mailbox, "2")
    reader = qresync_client(imap, "reader")
    select(reader, mailbox)
    present = present_uids(reader)
    resps, _ = reader.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
    reported = set().union(*vanished(resps, earlier=True))
    assert set(gone) <= reported, f"expunged UID {gone} missing from VANISHED (EARLIER) {sorted(reported)}"
    assert not reported & present, f"VANISHED (EARLIER) names messages still there: {sorted(reported & present)}"


@spec("imap/7162/3.2.6/vanished-earlier-precedes-fetch", "RFC7162-3.2.6-05", needs=QRESYNC)
def test_vanished_earlier_precedes_fetch(imap, mailbox, append, account):
    """In the answer to UID FETCH (CHANGEDSINCE n VANISHED), VANISHED (EARLIER) comes before any FETCH."""
    filled(append, account, mailbox, 3)
    changer = imap(label="changer")
    _, modseq = resync_point(changer, mailbox)
    select(changer, mailbox, b" (CONDSTORE)")
    before = uids(changer)
    changer.ok(f"STORE 3 +FLAGS ({FLAG})")
    expunge(changer, "1")
    changer.ok("CLOSE")
    reader = qresync_client(imap, "reader")
    select(reader, mailbox)
    resps, _ = reader.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
    kinds = [r.kind for r in resps if isinstance(r, Untagged) and r.kind in ("VANISHED", "FETCH")]
    assert "VANISHED" in kinds, f"no VANISHED (EARLIER) for the expunged UID {before[0]}"
    reported = set().union(*vanished(resps, earlier=True))
    if before[2] not in reported:  # message 3 is still there and changed: its FETCH must follow
        assert "FETCH" in kinds, f"no FETCH for UID {before[2]}, whose flags changed"
    assert kinds == sorted(kinds, key=lambda k: k != "VANISHED"), f"responses came in the order {kinds}"


@spec("imap/7162/3.2.6/old-modseq-reports-all-expunged", "RFC7162-3.2.6-06", needs=QRESYNC)
def test_old_modseq_reports_all_expunged(imap, mailbox, append, account):
    """CHANGEDSINCE 1 with VANISHED reports every expunged UID of the set, and no present one."""
    filled(append, account, mailbox, 3)
    _, gone, _ = _expunged_since(imap, mailbox, "1,2")
    reader = qresync_client(imap, "reader")
    select(reader, mailbox)
    present = present_uids(reader)
    resps, _ = reader.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
    reported = set().union(*vanished(resps, earlier=True))
    assert set(gone) <= reported, f"expunged UIDs {gone} not all in VANISHED (EARLIER) {sorted(reported)}"
    assert not reported & present, f"VANISHED (EARLIER) names messages still there: {sorted(reported & present)}"


# RFC 7162 §3.2.6 says which UIDs the modifier reports without a requirement keyword: no catalogue row.
@spec("imap/7162/3.2.6/vanished-stays-within-uid-set", needs=QRESYNC)
def test_vanished_stays_within_uid_set(imap, mailbox, append, account):
    """UID FETCH <uid> (...) (CHANGEDSINCE n VANISHED) reports only expunged UIDs of the given set."""
    filled(append, account, mailbox, 3)
    modseq, gone, _ = _expunged_since(imap, mailbox, "1,2")
    reader = qresync_client(imap, "reader")
    select(reader, mailbox)
    resps, _ = reader.ok(f"UID FETCH {gone[0]} (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
    reported = set().union(*vanished(resps, earlier=True))
    assert reported == {gone[0]}, f"asked about UID {gone[0]} only; VANISHED (EARLIER) named {sorted(reported)}"


# -- SELECT / EXAMINE (QRESYNC ...) -------------------------------------------------------------------


def _flagged_since(imap, mailbox: str) -> tuple[int, int, list[int]]:
    """Resync point, then message 2 of 3 gets a flag. Returns (UIDVALIDITY, HIGHESTMODSEQ, UIDs)."""
    changer = imap(label="changer")
    uidvalidity, modseq = resync_point(changer, mailbox)
    select(changer, mailbox, b" (CONDSTORE)")
    before = uids(changer)
    changer.ok(f"STORE 2 +FLAGS ({FLAG})")
    changer.ok("CLOSE")
    return uidvalidity, modseq, before


@spec("imap/7162/3.2.5.1/select-qresync-reports-flag-changes-with-uids", "RFC7162-3.2.5.1-03",
      needs=QRESYNC)
def test_select_qresync_reports_flag_changes_with_uids(imap, mailbox, append, account):
    """SELECT (QRESYNC (uidvalidity modseq)) sends FETCH with UID for exactly the messages changed since."""
    filled(append, account, mailbox, 3)
    uidvalidity, modseq, before = _flagged_since(imap, mailbox)
    reader = qresync_client(imap, "reader")
    resps = select(reader, mailbox, f" (QRESYNC ({uidvalidity} {modseq}))")
    found = fetched(resps)
    assert sorted(found) == [2], f"FETCH responses for messages {sorted(found)}; only message 2 changed"
    assert found[2].get("UID") == before[1], f"the FETCH for message 2 lacks UID {before[1]}: {found[2]}"
    assert FLAG.lower() in flags_of(found[2]), f"the FETCH for message 2 lacks the new flag: {found[2]}"


@spec("imap/7162/3.2.5.1/examine-qresync-reports-flag-changes", "RFC7162-3.2.5.1-03", needs=QRESYNC)
def test_examine_qresync_reports_flag_changes(imap, mailbox, append, account):
    """EXAMINE takes the QRESYNC parameter too and reports the message changed since."""
    filled(append, account, mailbox, 3)
    uidvalidity, modseq, before = _flagged_since(imap, mailbox)
    reader = qresync_client(imap, "reader")
    resps = select(reader, mailbox, f" (QRESYNC ({uidvalidity} {modseq}))", examine=True)
    found = fetched(resps)
    assert sorted(found) == [2] and found[2].get("UID") == before[1], (
        f"expected one FETCH, for message 2 with UID {before[1]}; got {found}")


@spec("imap/7162/3.2.5/select-qresync-sends-select-responses", "RFC7162-3.2.5-02", needs=QRESYNC)
def test_select_qresync_sends_select_responses(imap, mailbox, append, account):
    """SELECT (QRESYNC ...) still sends FLAGS, EXISTS, RECENT, UIDVALIDITY, UIDNEXT, PERMANENTFLAGS."""
    filled(append, account, mailbox, 2)
    uidvalidity, modseq, _ = _flagged_since(imap, mailbox)
    reader = qresync_client(imap, "reader")
    resps = select(reader, mailbox, f" (QRESYNC ({uidvalidity} {modseq}))")
    kinds = {r.kind for r in resps if isinstance(r, Untagged)}
    missing = [k for k in ("FLAGS", "EXISTS", "RECENT") if k not in kinds]
    missing += [c for c in ("UIDVALIDITY", "UIDNEXT", "PERMANENTFLAGS", "HIGHESTMODSEQ") if not codes(resps, c)]
    assert not missing, f"SELECT (QRESYNC) lacks {missing}"


@spec("imap/7162/3.2.5/select-qresync-other-uidvalidity-ignored", "RFC7162-3.2.5-03", needs=QRESYNC)
def test_select_qresync_other_uidvalidity_ignored(imap, mailbox, append, account):
    """With a UIDVALIDITY that is not the mailbox's, SELECT (QRESYNC) reports no changes at all."""
    filled(append, account, mailbox, 3)
    changer = imap(label="changer")
    uidvalidity, modseq = resync_point(changer, mailbox)
    select(changer, mailbox, b" (CONDSTORE)")
    changer.ok(f"STORE 2 +FLAGS ({FLAG})")
    expunge(changer, "1")
    changer.ok("CLOSE")
    reader = qresync_client(imap, "reader")
    other = uidvalidity - 1 if uidvalidity > 1 else uidvalidity + 1
    resps = select(reader, mailbox, f" (QRESYNC ({other} {modseq}))")
    assert not fetched(resps), f"FETCH responses although the UIDVALIDITY did not match: {fetched(resps)}"
    assert not untagged(resps, "VANISHED"), "VANISHED although the UIDVALIDITY did not match"


# RFC 7162 §3.2.5 says this without a requirement keyword: no catalogue row.
@spec("imap/7162/3.2.5/invalid-qresync-parameter-leaves-mailbox-unselected", needs=QRESYNC)
def test_invalid_qresync_parameter_leaves_mailbox_unselected(imap, mailbox, append, account):
    """SELECT with a malformed QRESYNC parameter is refused and selects nothing."""
    filled(append, account, mailbox, 1)
    client = qresync_client(imap, "c1")
    _, done = client.run(b"SELECT " + mailbox_arg(mailbox) + b" (QRESYNC (mailspec 1))")
    assert not done.ok, f"SELECT with QRESYNC (mailspec 1) was accepted: {done.raw!r}"
    _, done = client.run("FETCH 1 (FLAGS)")
    assert not done.ok, "FETCH worked, so the refused SELECT selected the mailbox"


@spec("imap/7162/3.2.5.2/select-qresync-accepts-sequence-match-data", "RFC7162-3.2.5.2-02",
      needs=QRESYNC)
def test_select_qresync_accepts_sequence_match_data(imap, mailbox, append, account):
    """Known UIDs and ascending sequence-match sets are accepted; the flag change is still reported."""
    filled(append, account, mailbox, 3)
    uidvalidity, modseq, before = _flagged_since(imap, mailbox)
    reader = qresync_client(imap, "reader")
    known = ",".join(map(str, before))
    params = f" (QRESYNC ({uidvalidity} {modseq} {known} (1,3 {before[0]},{before[2]})))"
    found = fetched(select(reader, mailbox, params))
    assert 2 in found and found[2].get("UID") == before[1], (
        f"no FETCH with UID {before[1]} for the changed message 2: {found}")


@spec("imap/7162/3.2.5.1/nomodseq-mailbox-ignores-qresync", "RFC7162-3.2.5.1-01", "RFC7162-3.2.5.1-02",
      needs=QRESYNC)
def test_nomodseq_mailbox_ignores_qresync(imap, mailbox, append, account):
    """A mailbox opened with NOMODSEQ ignores the QRESYNC parameter: no VANISHED, no FETCH."""
    filled(append, account, mailbox, 1)
    client = qresync_client(imap, "c1")
    items = status_items(client, mailbox, "UIDVALIDITY HIGHESTMODSEQ")
    resps = select(client, mailbox, f" (QRESYNC ({items['UIDVALIDITY']} 1))")
    if not codes(resps, "NOMODSEQ"):
        pytest.skip("the target keeps mod-sequences for the suite's mailboxes (no NOMODSEQ to test)")
    assert not fetched(resps) and not untagged(resps, "VANISHED"), "changes reported for a NOMODSEQ mailbox"


# -- live expunges: VANISHED -------------------------------------------------------------------------


@spec("imap/7162/3.2.10/vanished-replaces-expunge", "RFC7162-3.2.10-01", "RFC7162-3.2.10-02",
      "RFC7162-3.2.10.2-01", "RFC7162-3.2.10.2-02", "RFC7162-3.2.3-03", needs=QRESYNC)
def test_vanished_replaces_expunge(imap, mailbox, append, account):
    """After ENABLE QRESYNC, EXPUNGE reports the removed UID with VANISHED (no EARLIER), never EXPUNGE."""
    filled(append, account, mailbox, 2)
    client = qresync_client(imap, "c1")
    highestmodseq(select(client, mailbox))  # skips for a NOMODSEQ mailbox, where EXPUNGE stays
    doomed = uids(client)[0]
    resps = expunge(client, "1")
    assert not untagged(resps, "EXPUNGE"), "EXPUNGE responses although QRESYNC is enabled"
    assert not vanished(resps, earlier=True), "VANISHED (EARLIER) for a live expunge"
    reported = set().union(*vanished(resps, earlier=False))
    assert doomed in reported, f"no VANISHED for the expunged UID {doomed}"


@spec("imap/7162/3.2.10/earlier-and-live-vanished-kept-apart", "RFC7162-3.2.10-03", "RFC7162-3.2.10.2-03",
      "RFC7162-3.2.10.2-04", needs=QRESYNC)
def test_earlier_and_live_vanished_kept_apart(imap, mailbox, append, account):
    """A UID FETCH (VANISHED) with a live expunge pending keeps the two reports apart.

    The live one (VANISHED without EARLIER, or EXPUNGE) names the newly expunged message once and
    never one the client was already told about; VANISHED (EARLIER) does not stand in for it.
    """
    filled(append, account, mailbox, 3)
    client = qresync_client(imap, "c1")
    start = highestmodseq(select(client, mailbox))
    mirror = Mirror(list(uids(client)))
    second = mirror.uids[1]
    mirror.apply(expunge(client, "1"))
    if second in mirror.uids:  # (a server that expunged more than asked has removed it already)
        other = imap(label="other")
        select(other, mailbox)
        expunge(other, str(mirror.uids.index(second) + 1))
    resps, done = client.run(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {start} VANISHED)")
    assert done.status in ("OK", "NO"), f"UID FETCH (VANISHED) answered {done.raw!r}"  # NO: RFC 2180 §4.1
    mirror.apply(resps)
    noop, _ = client.ok("NOOP")
    mirror.apply(noop)
    assert not mirror.problems, "; ".join(mirror.problems)
    assert len(mirror.gone) == len(set(mirror.gone)), f"a UID was reported expunged twice: {mirror.gone}"
    assert second in mirror.gone, (
        f"UID {second}, expunged by another session, was never reported as a live expunge "
        f"(VANISHED without EARLIER or EXPUNGE); reported: {mirror.gone}")


@spec("imap/7162/3.2.10.2/vanished-names-only-visible-messages", "RFC7162-3.2.10.2-03",
      "RFC7162-3.2.10.2-04", needs=QRESYNC)
def test_vanished_names_only_visible_messages(imap, mailbox, append, account):
    """A message added and expunged elsewhere before the client heard of it is not reported as vanished."""
    filled(append, account, mailbox, 1)
    client = qresync_client(imap, "c1")
    highestmodseq(select(client, mailbox))
    mirror = Mirror(list(uids(client)))
    append(account, mailbox)  # a new message the client has not been told about
    other = imap(label="other")
    select(other, mailbox)
    expunge(other, "1:*")
    resps, _ = client.ok("NOOP")
    mirror.apply(resps)
    assert not mirror.problems, "; ".join(mirror.problems)
    assert mirror.uids == [], (
        f"the client still counts messages {mirror.uids} in the mailbox that is now empty")


@spec("imap/7162/3.2.10.2/no-vanished-without-command", "RFC7162-3.2.10.2-05", "RFC3501-7.4.1-01",
      needs=QRESYNC)
def test_no_vanished_without_command(imap, mailbox, append, account):
    """An expunge by another session reaches a QRESYNC client only once it sends a command."""
    filled(append, account, mailbox, 2)
    client = qresync_client(imap, "c1")
    highestmodseq(select(client, mailbox))
    mirror = Mirror(list(uids(client)))
    first = mirror.uids[0]
    other = imap(label="other")
    select(other, mailbox)
    expunge(other, "1")
    early = client.poll(0.3)  # no command in progress: nothing may come
    assert early is None, f"the server sent {early!r} while no command was in progress"
    resps, _ = client.ok("NOOP")
    mirror.apply(resps)
    assert not mirror.problems, "; ".join(mirror.problems)
    assert first in mirror.gone, f"after NOOP the client still does not know UID {first} was expunged"


# -- mod-sequences of expunges ------------------------------------------------------------------------


@spec("imap/7162/3.2.7/expunge-reports-highestmodseq", "RFC7162-3.2.7-03", "RFC7162-3.2.7-01",
      "RFC7162-3.2-01", needs=QRESYNC)
def test_expunge_reports_highestmodseq(imap, mailbox, append, account):
    """With QRESYNC enabled, EXPUNGE that removes a message completes with OK [HIGHESTMODSEQ n], n raised."""
    filled(append, account, mailbox, 2)
    client = qresync_client(imap, "c1")
    start = highestmodseq(select(client, mailbox))
    client.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    _, done = client.ok("EXPUNGE")
    assert done.code == "HIGHESTMODSEQ", f"EXPUNGE completed without [HIGHESTMODSEQ n]: {done.raw!r}"
    assert cast(int, done.code_args) > start, f"HIGHESTMODSEQ {done.code_args} after EXPUNGE, {start} at SELECT"


@spec("imap/7162/3.2.9/uid-expunge-reports-highestmodseq", "RFC7162-3.2.9-03", "RFC7162-3.2.9-01",
      needs=(*QRESYNC, "UIDPLUS"))
def test_uid_expunge_reports_highestmodseq(imap, mailbox, append, account):
    """With QRESYNC enabled, UID EXPUNGE that removes a message completes with OK [HIGHESTMODSEQ n], n raised."""
    filled(append, account, mailbox, 2)
    client = qresync_client(imap, "c1")
    start = highestmodseq(select(client, mailbox))
    doomed = uids(client)[0]
    client.ok(f"UID STORE {doomed} +FLAGS.SILENT (\\Deleted)")
    _, done = client.ok(f"UID EXPUNGE {doomed}")
    assert done.code == "HIGHESTMODSEQ", f"UID EXPUNGE completed without [HIGHESTMODSEQ n]: {done.raw!r}"
    assert cast(int, done.code_args) > start, f"HIGHESTMODSEQ {done.code_args} after UID EXPUNGE, {start} before"


@spec("imap/7162/3.2.9/uid-expunge-recorded-for-resync", "RFC7162-3.2.9-02", "RFC7162-3.2.9-01",
      needs=(*QRESYNC, "UIDPLUS"))
def test_uid_expunge_recorded_for_resync(imap, mailbox, append, account):
    """A UID removed by UID EXPUNGE is reported by a later UID FETCH (CHANGEDSINCE n VANISHED)."""
    filled(append, account, mailbox, 2)
    changer = imap(label="changer")
    _, modseq = resync_point(changer, mailbox)
    select(changer, mailbox, b" (CONDSTORE)")
    doomed = uids(changer)[0]
    changer.ok(f"UID STORE {doomed} +FLAGS.SILENT (\\Deleted)")
    changer.ok(f"UID EXPUNGE {doomed}")
    reader = qresync_client(imap, "reader")
    select(reader, mailbox)
    resps, _ = reader.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
    assert doomed in set().union(*vanished(resps, earlier=True)), f"UID {doomed} not in VANISHED (EARLIER)"
    assert cast(int, status_items(reader, mailbox, "HIGHESTMODSEQ")["HIGHESTMODSEQ"]) > modseq, (
        "UID EXPUNGE did not raise HIGHESTMODSEQ")


@spec("imap/7162/3.2.8/close-sends-no-highestmodseq", "RFC7162-3.2.8-03", needs=QRESYNC)
def test_close_sends_no_highestmodseq(imap, mailbox, append, account):
    """CLOSE that expunges a message completes without a HIGHESTMODSEQ code."""
    filled(append, account, mailbox, 2)
    client = qresync_client(imap, "c1")
    highestmodseq(select(client, mailbox))
    client.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    _, done = client.ok("CLOSE")
    assert done.code != "HIGHESTMODSEQ", f"CLOSE completed with {done.raw!r}"


@spec("imap/7162/3.2.8/close-expunge-recorded-for-resync", "RFC7162-3.2.8-01", "RFC7162-3.2.8-02",
      needs=QRESYNC)
def test_close_expunge_recorded_for_resync(imap, mailbox, append, account):
    """A message CLOSE removed raises HIGHESTMODSEQ and is reported by UID FETCH (CHANGEDSINCE n VANISHED)."""
    filled(append, account, mailbox, 2)
    changer = imap(label="changer")
    _, modseq = resync_point(changer, mailbox)
    select(changer, mailbox, b" (CONDSTORE)")
    doomed = uids(changer)[0]
    changer.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    changer.ok("CLOSE")
    reader = qresync_client(imap, "reader")
    assert cast(int, status_items(reader, mailbox, "HIGHESTMODSEQ")["HIGHESTMODSEQ"]) > modseq, (
        "CLOSE removed a message but HIGHESTMODSEQ did not rise")
    select(reader, mailbox)
    resps, _ = reader.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
    assert doomed in set().union(*vanished(resps, earlier=True)), f"UID {doomed} not in VANISHED (EARLIER)"


@spec("imap/7162/3.2/move-recorded-as-expunge", "RFC7162-3.2-01", needs=(*QRESYNC, "MOVE"))
def test_move_recorded_as_expunge(imap, mailboxes, mailbox, append, account):
    """MOVE raises the source's HIGHESTMODSEQ and the moved UID is reported as VANISHED (EARLIER)."""
    filled(append, account, mailbox, 2)
    target = mailboxes.create("target")
    changer = imap(label="changer")
    _, modseq = resync_point(changer, mailbox)
    select(changer, mailbox, b" (CONDSTORE)")
    moved = uids(changer)[0]
    changer.ok(b"MOVE 1 " + mailbox_arg(target))
    reader = qresync_client(imap, "reader")
    assert cast(int, status_items(reader, mailbox, "HIGHESTMODSEQ")["HIGHESTMODSEQ"]) > modseq, (
        "MOVE removed a message but the source's HIGHESTMODSEQ did not rise")
    select(reader, mailbox)
    resps, _ = reader.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
    assert moved in set().union(*vanished(resps, earlier=True)), f"moved UID {moved} not in VANISHED (EARLIER)"


@spec("imap/7162/3.2/highestmodseq-below-delayed-expunge", "RFC7162-3.2-04", "RFC7162-3.2-03",
      needs=QRESYNC)
def test_highestmodseq_below_delayed_expunge(imap, mailbox, append, account):
    """While an expunge waits (FETCH may not report it), any HIGHESTMODSEQ sent stays below its mod-sequence.

    The client still learns of the expunge once a command may carry it.
    """
    filled(append, account, mailbox, 2)
    client = qresync_client(imap, "c1")
    highestmodseq(select(client, mailbox))
    mirror = Mirror(list(uids(client)))
    other = imap(label="other")
    select(other, mailbox, b" (CONDSTORE)")
    expunge(other, "1")
    after_expunge = cast(int, status_items(other, mailbox, "HIGHESTMODSEQ")["HIGHESTMODSEQ"])
    _, stored = other.run(f"STORE 1 +FLAGS ({FLAG})")  # the surviving message, now newer than the expunge
    if not stored.ok:
        pytest.skip("the expunge left no message to change; RFC 3501 §6.4.3's test covers that")
    resps, done = client.ok("FETCH 2 (FLAGS MODSEQ)")
    mirror.apply(resps)
    if mirror.gone:
        pytest.skip("the expunge was reported during FETCH; RFC 3501 §7.4.1's test covers that")
    told = [cast(int, a) for a in codes(resps, "HIGHESTMODSEQ")]
    if done.code == "HIGHESTMODSEQ":
        told.append(cast(int, done.code_args))
    assert all(t < after_expunge for t in told), (
        f"HIGHESTMODSEQ {told} sent while the expunge (mod-sequence {after_expunge}) was still unreported")
    noop, _ = client.ok("NOOP")
    mirror.apply(noop)
    assert not mirror.problems and len(mirror.gone) == 1, (
        f"after NOOP the client should know of one expunge; got {mirror.gone} {mirror.problems}")


# -- unsolicited FETCH carries UID and MODSEQ -----------------------------------------------------------


@spec("imap/7162/3.2.4/store-fetch-carries-uid-and-modseq", "RFC7162-3.2.4-01", needs=QRESYNC)
def test_store_fetch_carries_uid_and_modseq(imap, mailbox, append, account):
    """With QRESYNC enabled, the FETCH responses of a plain STORE carry UID and MODSEQ."""
    filled(append, account, mailbox, 2)
    client = qresync_client(imap, "c1")
    select(client, mailbox)
    resps, _ = client.ok(f"STORE 2 +FLAGS ({FLAG})")
    found = fetched(resps)
    assert 2 in found, "STORE (without .SILENT) sent no FETCH for message 2"
    assert "UID" in found[2] and "MODSEQ" in found[2], f"STORE's FETCH lacks UID or MODSEQ: {found[2]}"


@spec("imap/7162/3.2.4/unsolicited-fetch-carries-uid-and-modseq", "RFC7162-3.2.4-01", needs=QRESYNC)
def test_unsolicited_fetch_carries_uid_and_modseq(imap, mailbox, append, account):
    """With QRESYNC enabled, a FETCH about another session's flag change carries UID and MODSEQ."""
    filled(append, account, mailbox, 1)
    watcher = qresync_client(imap, "watcher")
    select(watcher, mailbox)
    changer = imap(label="changer")
    select(changer, mailbox)
    changer.ok(f"STORE 1 +FLAGS ({FLAG})")
    resps, _ = watcher.ok("NOOP")
    found = fetched(resps)
    if 1 not in found:
        pytest.skip("the target sent no FETCH for another session's flag change (RFC 3501 §5.2: SHOULD)")
    assert "UID" in found[1] and "MODSEQ" in found[1], f"unsolicited FETCH lacks UID or MODSEQ: {found[1]}"


@spec("imap/7162/3.2.4/implicit-seen-fetch-carries-uid-and-modseq", "RFC7162-3.2.4-01", needs=QRESYNC)
def test_implicit_seen_fetch_carries_uid_and_modseq(imap, mailbox, append, account):
    """With QRESYNC enabled, a FETCH that sets \\Seen answers with UID and MODSEQ for that message."""
    filled(append, account, mailbox, 1)
    client = qresync_client(imap, "c1")
    select(client, mailbox)
    resps, _ = client.ok("FETCH 1 (BODY[TEXT])")
    after, _ = client.ok("FETCH 1 (FLAGS)")
    if "\\seen" not in flags_of(fetched(after).get(1, {})):
        pytest.skip("FETCH BODY[TEXT] did not set \\Seen; RFC 3501 §6.4.5's test covers that")
    items = fetched(resps).get(1, {})
    assert "UID" in items and "MODSEQ" in items, f"the FETCH that set \\Seen lacks UID or MODSEQ: {items}"


# -- CLOSED and METADATA --------------------------------------------------------------------------------


@spec("imap/7162/3.2.11/select-other-mailbox-sends-closed", "RFC7162-3.2.11-01", needs=("CONDSTORE",))
def test_select_other_mailbox_sends_closed(imap, mailboxes, mailbox):
    """SELECT of another mailbox sends OK [CLOSED] before any data about the new mailbox."""
    second = mailboxes.create("second")
    client = imap()
    select(client, mailbox)
    resps = select(client, second)
    marks = [i for i, r in enumerate(resps) if isinstance(r, Untagged) and r.code == "CLOSED"]
    assert len(marks) == 1, f"expected one OK [CLOSED], got {len(marks)}"
    data = [i for i, r in enumerate(resps) if isinstance(r, Untagged) and r.kind in ("FLAGS", "EXISTS")]
    assert data and marks[0] < min(data), "OK [CLOSED] came after the new mailbox's FLAGS/EXISTS"


@spec("imap/7162/3.2/setmetadata-raises-highestmodseq", "RFC7162-3.2-02", needs=(*QRESYNC, "METADATA"))
def test_setmetadata_raises_highestmodseq(imap, mailbox, append, account):
    """SETMETADATA on a mailbox raises its HIGHESTMODSEQ."""
    filled(append, account, mailbox, 1)
    client = qresync_client(imap, "c1")
    _, modseq = resync_point(client, mailbox)
    client.ok(b"SETMETADATA " + mailbox_arg(mailbox) + b' (/private/comment "mailspec")')
    after = cast(int, status_items(client, mailbox, "HIGHESTMODSEQ")["HIGHESTMODSEQ"])
    assert after > modseq, f"HIGHESTMODSEQ {after} after SETMETADATA, {modseq} before"
