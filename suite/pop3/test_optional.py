"""Optional commands TOP and UIDL (RFC 1939 §7)."""

from __future__ import annotations

import pytest

from mailspec.protocol.pop3_listings import parse_uidl, parse_uidl_line
from suite.pop3._util import assert_err, assert_ok, multi, retr, split_message, uidls

spec = pytest.mark.spec
BODY = ["body 1", "body 2", "body 3", "body 4", "body 5"]


@spec("pop3/1939/7/top-returns-header-and-n-body-lines", "RFC1939-7-02", needs=("TOP",))
def test_top_returns_header_and_n_body_lines(pop3, account, deliver, maildrop):
    """TOP n 2 sends all header lines, the blank line, and the first two body lines."""
    sent = deliver(account, body_lines=BODY)
    client = pop3(account)
    num = maildrop.find(client, sent.marker)
    full_headers, _ = split_message(retr(client, num).lines)
    headers, body = split_message(multi(client, f"TOP {num} 2", "message").lines)
    assert headers == full_headers, "TOP's header differs from RETR's"
    assert body == [b.encode() for b in BODY[:2]], f"TOP {num} 2 sent body {body!r}"
    headers, body = split_message(multi(client, f"TOP {num} 0", "message").lines)
    assert headers == full_headers and body == [], f"TOP {num} 0 sent body lines {body!r}"


@spec("pop3/1939/7/top-more-lines-than-body", "RFC1939-7-02", needs=("TOP",))
def test_top_more_lines_than_body(pop3, account, deliver, maildrop):
    """Asking TOP for more lines than the body has returns the whole message."""
    sent = deliver(account, body_lines=BODY)
    client = pop3(account)
    num = maildrop.find(client, sent.marker)
    assert multi(client, f"TOP {num} 100", "message").lines == retr(client, num).lines


@spec("pop3/1939/7/top-deleted-message-err", "RFC1939-7-02", needs=("TOP",))
def test_top_deleted_message_err(pop3, account, deliver, maildrop):
    """TOP of a message marked as deleted is refused."""
    sent = deliver(account)
    client = pop3(account)
    num = maildrop.find(client, sent.marker)
    assert_ok(client.cmd(f"DELE {num}"), "DELE")
    assert_err(client.cmd_multi(f"TOP {num} 0", "message"), "TOP of a deleted message")


@spec("pop3/1939/7/top-nonexistent-message-err", "RFC1939-3-05", needs=("TOP",))
def test_top_nonexistent_message_err(pop3, account):
    """TOP for a message number past the end is refused."""
    client = pop3(account)
    count = len(multi(client, "LIST").lines)
    assert_err(client.cmd_multi(f"TOP {count + 1} 0", "message"), "TOP past the last message")


@spec("pop3/1939/7/top-negative-lines-err", "RFC1939-7-02", needs=("TOP",))
def test_top_negative_lines_err(pop3, account, deliver):
    """The line count must be a non-negative number: TOP n -1 is refused."""
    deliver(account)
    client = pop3(account)
    assert_err(client.cmd_multi("TOP 1 -1", "message"), "TOP with a negative line count")


@spec("pop3/1939/7/uidl-stable-across-sessions", needs=("UIDL",))
def test_uidl_stable_across_sessions(pop3, account, deliver, maildrop):
    """A message keeps its unique-id from one session to the next."""
    sent = deliver(account)
    first = pop3(account, label="first")
    uid1 = uidls(first)[maildrop.find(first, sent.marker)]
    assert_ok(first.cmd("QUIT"), "QUIT")
    first.read_until_closed()
    second = pop3(account, label="second")
    uid2 = uidls(second)[maildrop.find(second, sent.marker)]
    assert uid1 == uid2, f"unique-id changed from {uid1!r} to {uid2!r}"


@spec("pop3/1939/7/uidl-unique-id-syntax", needs=("UIDL",))
def test_uidl_unique_id_syntax(pop3, account, deliver):
    """Unique-ids are 1 to 70 octets from 0x21 to 0x7E, in the listing and singly."""
    deliver(account)
    client = pop3(account)
    ids = parse_uidl(multi(client, "UIDL"))  # strict: raises naming the rule
    num = next(iter(ids))
    single = assert_ok(client.cmd(f"UIDL {num}"), f"UIDL {num}")
    assert parse_uidl_line(single.text.encode("latin-1")) == (num, ids[num])


@spec("pop3/1939/7/uidl-omits-deleted", "RFC1939-7-04", needs=("UIDL",))
def test_uidl_omits_deleted(pop3, account, deliver, maildrop):
    """UIDL without argument leaves out messages marked as deleted."""
    sent = deliver(account)
    client = pop3(account)
    num = maildrop.find(client, sent.marker)
    assert_ok(client.cmd(f"DELE {num}"), "DELE")
    assert num not in uidls(client), f"deleted message {num} still in UIDL"


@spec("pop3/1939/7/uidl-deleted-message-err", "RFC1939-7-04", needs=("UIDL",))
def test_uidl_deleted_message_err(pop3, account, deliver, maildrop):
    """UIDL naming a message marked as deleted is refused."""
    sent = deliver(account)
    client = pop3(account)
    num = maildrop.find(client, sent.marker)
    assert_ok(client.cmd(f"DELE {num}"), "DELE")
    assert_err(client.cmd(f"UIDL {num}"), "UIDL of a deleted message")


@spec("pop3/1939/7/uidl-ids-unique-in-maildrop", needs=("UIDL",))
def test_uidl_ids_unique_in_maildrop(pop3, account, deliver):
    """No two messages in a maildrop share a unique-id."""
    deliver(account)
    deliver(account)
    client = pop3(account)
    ids = uidls(client)
    assert len(set(ids.values())) == len(ids)


@spec("pop3/1939/7/uidl-unchanged-by-dele", needs=("UIDL",))
def test_uidl_unchanged_by_dele(pop3, account, deliver):
    """Marking one message as deleted does not change the other messages' unique-ids."""
    deliver(account)
    deliver(account)
    client = pop3(account)
    before = uidls(client)
    first = next(iter(before))
    assert_ok(client.cmd(f"DELE {first}"), "DELE")
    del before[first]
    assert {n: u for n, u in uidls(client).items() if n != first} == before
