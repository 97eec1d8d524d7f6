"""One maildrop through POP3 and IMAP: INBOX is what POP3 shows, so each protocol's changes are
the other's facts.

A POP3 DELE committed by QUIT is an expunge IMAP sessions are told about, a POP3 session that ends
without QUIT removes nothing (RFC 1939 §6), an IMAP APPEND is there for the next POP3 session,
and POP3 unique-ids (RFC 1939 §7 UIDL) and IMAP UIDs (RFC 3501 §2.3.1.1) outlive what the other
protocol does to the flags or to other messages. Skipped when the target lacks POP3 or IMAP.

Only the test's own messages (appended with a marker header, found by it in both protocols) are
deleted; INBOX may hold anything else.
"""

from __future__ import annotations

import contextlib

import pytest

from mailspec.wire.imap import ImapClient
from mailspec.wire.pop3 import Pop3Client, Pop3UnexpectedResponse
from suite.imap._selected import after_expunges, expunged, fetch, open_box, uids
from suite.imap.test_idle import expect_push, expunge, require_push_of_new_message
from suite.imap.test_sessions import markers, noop, remove
from suite.pop3._util import retr, uidls

spec = pytest.mark.spec


def uid_of(client: ImapClient, marker: str) -> int:
    """The UID of the message carrying `marker` in the selected mailbox."""
    found = [uid for uid, m in markers(client).items() if m == marker]
    assert len(found) == 1, f"the appended message {marker!r} is {len(found)} times in the mailbox, not once"
    return found[0]


def pop3_login(pop3, account, label: str) -> Pop3Client:
    """A POP3 session as `account`. A server that locks the maildrop may still hold the lock of
    the session just ended, so a refused login is tried again a few times."""
    for attempt in range(2):
        with contextlib.suppress(Pop3UnexpectedResponse):
            return pop3(account, label=f"{label}-{attempt}" if attempt else label)
    return pop3(account, label=f"{label}-2")


def as_bytes(lines: tuple[bytes, ...]) -> bytes:
    """POP3 multi-line body lines (un-stuffed) back to the message's octets."""
    return b"".join(line + b"\r\n" for line in lines)


@pytest.fixture
def pop3_uidl(capabilities) -> None:
    """Skip unless the target's POP3 offers UIDL."""
    if "UIDL" not in capabilities:
        pytest.skip("the target's POP3 does not advertise UIDL")


@spec("imap/3501/7.4.1/pop3-dele-quit-is-imap-expunge")
def test_pop3_dele_quit_is_imap_expunge(imap, pop3, append, account, maildrop):
    """A message deleted over POP3 (DELE, then QUIT) is expunged: an IMAP session with INBOX
    selected is told with EXPUNGE at its next command, and only that message goes."""
    sent = append(account, "INBOX")
    a = imap(label="imap")
    open_box(a, "INBOX")
    before = uids(a)
    uid = uid_of(a, sent.marker)
    p = pop3(account, label="pop3")
    p.ok(f"DELE {maildrop.find(p, sent.marker)}")
    p.quit()
    numbers = expunged(noop(a))
    assert numbers, "the IMAP session was not told of the POP3 deletion"
    assert after_expunges(before, numbers) == [u for u in before if u != uid], (
        f"EXPUNGE {numbers} does not remove exactly the message POP3 deleted (UID {uid})")


@spec("imap/1939/6/pop3-without-quit-keeps-message", "RFC1939-6-01")
def test_pop3_without_quit_keeps_message(imap, pop3, append, account, maildrop):
    """DELE in a POP3 session that ends without QUIT removes nothing: the message is still there
    for the next POP3 session and for IMAP."""
    sent = append(account, "INBOX")
    p = pop3(account, label="pop3")
    p.ok(f"DELE {maildrop.find(p, sent.marker)}")
    p.close()
    later = pop3_login(pop3, account, "pop3-later")
    maildrop.find(later, sent.marker)
    later.close()
    a = imap(label="imap")
    open_box(a, "INBOX")
    assert sent.marker in markers(a).values(), "the message is gone from INBOX although POP3 never sent QUIT"


@spec("imap/3501/6.3.11/imap-append-visible-to-next-pop3")
def test_imap_append_visible_to_next_pop3(imap, pop3, append, account, maildrop):
    """A message APPENDed to INBOX over IMAP is in the next POP3 session, and RETR gives back
    exactly the octets appended."""
    a = imap(label="imap")
    sent = append(a, "INBOX")
    p = pop3(account, label="pop3")
    got = retr(p, maildrop.find(p, sent.marker))
    assert as_bytes(got.lines) == sent.message, "POP3 RETR does not give back the message IMAP appended"


@spec("imap/3501/6.3.11/imap-appended-header-same-in-pop3-top")
def test_imap_appended_header_same_in_pop3_top(imap, pop3, append, account, maildrop):
    """POP3 TOP n 0 of a message gives the same header (and blank line) as IMAP BODY[HEADER]."""
    sent = append(account, "INBOX")
    p = pop3(account, label="pop3")
    top = p.cmd_multi(f"TOP {maildrop.find(p, sent.marker)} 0", "message")
    if not hasattr(top, "lines"):
        pytest.skip("the target's POP3 does not support TOP")
    a = imap(label="imap")
    open_box(a, "INBOX")
    uid = uid_of(a, sent.marker)
    header = next(iter(fetch(a, str(uid), "(BODY.PEEK[HEADER])", uid=True).values()))["BODY[HEADER]"]
    assert as_bytes(top.lines) == header, "POP3 TOP and IMAP BODY[HEADER] disagree on the header"


@spec("imap/3501/6.4.3/imap-expunge-gone-from-next-pop3")
def test_imap_expunge_gone_from_next_pop3(imap, pop3, append, account, maildrop):
    """A message expunged over IMAP is not in the next POP3 session; the other message is."""
    keep, drop = append(account, "INBOX"), append(account, "INBOX")
    a = imap(label="imap")
    open_box(a, "INBOX")
    remove(a, [uid_of(a, drop.marker)])
    p = pop3(account, label="pop3")
    seen = set(maildrop.markers(p).values())
    assert drop.marker not in seen, "POP3 still lists the message IMAP expunged"
    assert keep.marker in seen, "POP3 lost the message IMAP kept"


@spec("imap/1939/7/pop3-uidl-kept-when-imap-changes-flags")
def test_pop3_uidl_kept_when_imap_changes_flags(imap, pop3, append, account, maildrop, pop3_uidl):
    """Changing a message's flags over IMAP does not change its POP3 unique-id."""
    sent = append(account, "INBOX")
    p = pop3(account, label="pop3-before")
    before = uidls(p)[maildrop.find(p, sent.marker)]
    p.quit()
    a = imap(label="imap")
    open_box(a, "INBOX")
    a.ok(f"UID STORE {uid_of(a, sent.marker)} +FLAGS (\\Seen \\Flagged \\Answered $MailspecKeyword)")
    a.logout()
    later = pop3_login(pop3, account, "pop3-after")
    after = uidls(later)[maildrop.find(later, sent.marker)]
    assert after == before, f"the POP3 unique-id changed from {before!r} to {after!r} after an IMAP STORE"


@spec("imap/1939/7/pop3-uidl-kept-when-imap-expunges-another")
def test_pop3_uidl_kept_when_imap_expunges_another(imap, pop3, append, account, maildrop, pop3_uidl):
    """Expunging one message over IMAP leaves the POP3 unique-id of the others unchanged."""
    keep, drop = append(account, "INBOX"), append(account, "INBOX")
    p = pop3(account, label="pop3-before")
    before = uidls(p)[maildrop.find(p, keep.marker)]
    p.quit()
    a = imap(label="imap")
    open_box(a, "INBOX")
    remove(a, [uid_of(a, drop.marker)])
    a.logout()
    later = pop3_login(pop3, account, "pop3-after")
    after = uidls(later)[maildrop.find(later, keep.marker)]
    assert after == before, f"the kept message's POP3 unique-id changed from {before!r} to {after!r}"


@spec("imap/3501/2.3.1.1/imap-uid-kept-across-pop3-session", "RFC3501-2.3.1.1-03", "RFC3501-2.3.1.1-06")
def test_imap_uid_kept_across_pop3_session(imap, pop3, append, account, maildrop):
    """A POP3 session that reads a message (RETR, QUIT without DELE) leaves its IMAP UID as it
    was; if UIDs changed, UIDVALIDITY must have grown."""
    sent = append(account, "INBOX")
    a = imap(label="imap-before")
    first = open_box(a, "INBOX").uidvalidity
    uid = uid_of(a, sent.marker)
    a.logout()
    p = pop3(account, label="pop3")
    retr(p, maildrop.find(p, sent.marker))
    p.quit()
    b = imap(label="imap-after")
    later = open_box(b, "INBOX").uidvalidity
    assert isinstance(first, int) and isinstance(later, int), "SELECT INBOX sent no UIDVALIDITY"
    if later == first:
        assert uid_of(b, sent.marker) == uid, "the message's UID changed under the same UIDVALIDITY"
    else:
        assert later > first, f"UIDVALIDITY changed from {first} to the smaller {later}"


@spec("imap/2177/3/pop3-deletion-pushed-to-idle", needs=("IDLE",))
def test_pop3_deletion_pushed_to_idle(imap, pop3, append, account, maildrop):
    """An IMAP session idling on INBOX is pushed EXPUNGE when a POP3 session deletes one of its
    messages (DELE, then QUIT)."""
    sent = append(account, "INBOX")
    a, b = imap(label="imap-idle"), imap(label="imap-other")
    count = open_box(a, "INBOX").exists
    assert isinstance(count, int), "SELECT INBOX sent no EXISTS"
    position = uids(a).index(uid_of(a, sent.marker)) + 1
    a.idle()
    require_push_of_new_message(a, b, "INBOX", append, count + 1)
    p = pop3(account, label="pop3")
    p.ok(f"DELE {maildrop.find(p, sent.marker)}")
    p.quit()
    expect_push(a, expunge(position), f"EXPUNGE {position}", "imap/3501/7.4.1/pop3-dele-quit-is-imap-expunge")
    assert a.done()[1].ok
