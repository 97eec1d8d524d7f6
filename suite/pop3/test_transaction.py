"""The TRANSACTION state: STAT, LIST, RETR, DELE, NOOP, RSET, and wrong-state refusals (RFC 1939 §5)."""

from __future__ import annotations

import pytest

from mailspec.protocol.pop3_listings import parse_scan_line, parse_stat
from suite.pop3._util import assert_err, assert_ok, listing, retr, split_message

spec = pytest.mark.spec


@spec("pop3/1939/5/stat-counts-messages")
def test_stat_counts_messages(pop3, account, deliver):
    """STAT gives '+OK count octets' and counts the same messages LIST lists."""
    deliver(account)
    deliver(account)
    client = pop3(account)
    count, _ = parse_stat(client.cmd("STAT"))
    assert count >= 2
    assert count == len(listing(client)), "STAT and LIST disagree on the number of messages"


@spec("pop3/1939/5/stat-size-matches-retr")
def test_stat_size_matches_retr(pop3, account, deliver):
    """STAT's octet total is the sum of the messages' sizes as RETR sends them (CRLF counted)."""
    deliver(account, body_lines=["one", "two", "three"])
    client = pop3(account)
    _count, octets = parse_stat(client.cmd("STAT"))
    total = sum(retr(client, n).octets for n in listing(client))
    assert octets == total, f"STAT says {octets} octets, the RETR bodies add up to {total}"


@spec("pop3/1939/5/list-size-matches-retr")
def test_list_size_matches_retr(pop3, account, deliver, maildrop):
    """The size LIST gives a message equals the octets of its RETR body with CRLF line ends."""
    sent = deliver(account, body_lines=["alpha", "beta", "", "gamma"])
    client = pop3(account)
    num = maildrop.find(client, sent.marker)
    size = listing(client)[num]
    got = retr(client, num).octets
    assert size == got, f"LIST says {size} octets, RETR sent {got}"


@spec("pop3/1939/5/list-single-message", "RFC1939-5-06")
def test_list_single_message(pop3, account, deliver):
    """LIST with a message number answers '+OK n size', matching the full listing."""
    deliver(account)
    client = pop3(account)
    full = listing(client)
    num = next(iter(full))
    ev = assert_ok(client.cmd(f"LIST {num}"), f"LIST {num}")
    assert parse_scan_line(ev.text.encode())[:2] == (num, full[num])


@spec("pop3/1939/5/list-nonexistent-err", "RFC1939-3-05")
def test_list_nonexistent_err(pop3, account):
    """LIST for a message number that does not exist is refused."""
    client = pop3(account)
    assert_err(client.cmd(f"LIST {len(listing(client)) + 1}"), "LIST past the last message")


@spec("pop3/1939/5/list-omits-deleted", "RFC1939-5-05")
def test_list_omits_deleted(pop3, account, deliver, maildrop):
    """LIST without argument leaves out messages marked as deleted."""
    sent = deliver(account)
    client = pop3(account)
    num = maildrop.find(client, sent.marker)
    assert_ok(client.cmd(f"DELE {num}"), "DELE")
    assert num not in listing(client), f"deleted message {num} is still listed"


@spec("pop3/1939/5/list-deleted-message-err", "RFC1939-5-05")
def test_list_deleted_message_err(pop3, account, deliver, maildrop):
    """LIST naming a message marked as deleted is refused."""
    sent = deliver(account)
    client = pop3(account)
    num = maildrop.find(client, sent.marker)
    assert_ok(client.cmd(f"DELE {num}"), "DELE")
    assert_err(client.cmd(f"LIST {num}"), "LIST of a deleted message")


@spec("pop3/1939/5/retr-returns-message", "RFC1939-5-10")
def test_retr_returns_message(pop3, account, deliver, maildrop):
    """RETR sends the message: our marker header and the exact body lines."""
    body = ["first line", "  indented", "", "after a blank line"]
    sent = deliver(account, body_lines=body)
    client = pop3(account)
    num = maildrop.find(client, sent.marker)
    headers, got_body = split_message(retr(client, num).lines)
    assert any(sent.marker.encode() in h for h in headers)
    assert got_body == [b.encode() for b in body]


@spec("pop3/1939/5/retr-deleted-message-err", "RFC1939-5-09")
def test_retr_deleted_message_err(pop3, account, deliver, maildrop):
    """RETR of a message marked as deleted is refused."""
    sent = deliver(account)
    client = pop3(account)
    num = maildrop.find(client, sent.marker)
    assert_ok(client.cmd(f"DELE {num}"), "DELE")
    assert_err(client.cmd_multi(f"RETR {num}", "message"), "RETR of a deleted message")


@spec("pop3/1939/5/retr-nonexistent-err", "RFC1939-3-05")
def test_retr_nonexistent_err(pop3, account):
    """RETR of a message number past the end is refused."""
    client = pop3(account)
    assert_err(client.cmd_multi(f"RETR {len(listing(client)) + 1}", "message"), "RETR past the end")


@spec("pop3/1939/5/dele-marks-deleted", "RFC1939-5-11")
def test_dele_marks_deleted(pop3, account, deliver, maildrop):
    """DELE answers +OK and the message leaves STAT's count in the same session."""
    sent = deliver(account)
    client = pop3(account)
    num = maildrop.find(client, sent.marker)
    before, _ = parse_stat(client.cmd("STAT"))
    assert_ok(client.cmd(f"DELE {num}"), "DELE")
    after, _ = parse_stat(client.cmd("STAT"))
    assert after == before - 1


@spec("pop3/1939/5/dele-already-deleted-err", "RFC1939-5-11")
def test_dele_already_deleted_err(pop3, account, deliver, maildrop):
    """DELE of a message already marked as deleted is refused."""
    sent = deliver(account)
    client = pop3(account)
    num = maildrop.find(client, sent.marker)
    assert_ok(client.cmd(f"DELE {num}"), "first DELE")
    assert_err(client.cmd(f"DELE {num}"), "second DELE of the same message")


@spec("pop3/1939/5/message-numbers-stable-after-dele")
def test_message_numbers_stable_after_dele(pop3, account, deliver, maildrop):
    """Deleting a message does not renumber the others during the session."""
    first = deliver(account)
    second = deliver(account)
    client = pop3(account)
    n1 = maildrop.find(client, first.marker)
    n2 = maildrop.find(client, second.marker)
    assert_ok(client.cmd(f"DELE {n1}"), "DELE")
    headers, _ = split_message(retr(client, n2).lines)
    assert any(second.marker.encode() in h for h in headers), f"message {n2} changed after DELE {n1}"


@spec("pop3/1939/5/rset-unmarks-deleted", "RFC1939-5-14")
def test_rset_unmarks_deleted(pop3, account, deliver, maildrop):
    """RSET takes back every deletion mark: the message is listed and retrievable again."""
    sent = deliver(account)
    client = pop3(account)
    num = maildrop.find(client, sent.marker)
    assert_ok(client.cmd(f"DELE {num}"), "DELE")
    assert_ok(client.cmd("RSET"), "RSET")
    assert num in listing(client), "message still missing from LIST after RSET"


@spec("pop3/1939/5/noop-ok-in-transaction", "RFC1939-5-13")
def test_noop_ok_in_transaction(pop3, account):
    """NOOP answers +OK in the TRANSACTION state."""
    client = pop3(account)
    assert_ok(client.cmd("NOOP"), "NOOP")



def _refused_before_login(pop3, command: str) -> None:
    client = pop3()
    assert_err(client.cmd(command), f"{command} in the AUTHORIZATION state")
    assert_ok(client.cmd_multi("CAPA"), "CAPA afterwards (the session must stay usable)")


@spec("pop3/1939/5/stat-refused-in-authorization", "RFC1939-5-02", "RFC1939-3-06")
def test_stat_refused_in_authorization(pop3):
    """STAT before login is refused."""
    _refused_before_login(pop3, "STAT")


@spec("pop3/1939/5/list-refused-in-authorization", "RFC1939-5-06", "RFC1939-3-06")
def test_list_refused_in_authorization(pop3):
    """LIST before login is refused."""
    _refused_before_login(pop3, "LIST")


@spec("pop3/1939/5/retr-refused-in-authorization", "RFC1939-5-10", "RFC1939-3-06")
def test_retr_refused_in_authorization(pop3):
    """RETR before login is refused."""
    _refused_before_login(pop3, "RETR 1")


@spec("pop3/1939/5/dele-refused-in-authorization", "RFC1939-5-12", "RFC1939-3-06")
def test_dele_refused_in_authorization(pop3):
    """DELE before login is refused."""
    _refused_before_login(pop3, "DELE 1")


@spec("pop3/1939/5/noop-refused-in-authorization", "RFC1939-5-13", "RFC1939-3-06")
def test_noop_refused_in_authorization(pop3):
    """NOOP before login is refused."""
    _refused_before_login(pop3, "NOOP")


@spec("pop3/1939/5/rset-refused-in-authorization", "RFC1939-5-14", "RFC1939-3-06")
def test_rset_refused_in_authorization(pop3):
    """RSET before login is refused."""
    _refused_before_login(pop3, "RSET")


@spec("pop3/1939/7/top-refused-in-authorization", "RFC1939-7-03", "RFC1939-3-06")
def test_top_refused_in_authorization(pop3):
    """TOP before login is refused."""
    _refused_before_login(pop3, "TOP 1 0")


@spec("pop3/1939/7/uidl-refused-in-authorization", "RFC1939-7-05", "RFC1939-3-06")
def test_uidl_refused_in_authorization(pop3):
    """UIDL before login is refused."""
    _refused_before_login(pop3, "UIDL")
