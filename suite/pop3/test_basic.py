"""Greeting, status indicators, line format and unknown commands (RFC 1939 §3-4, RFC 2449 §3-4)."""

from __future__ import annotations

import pytest

from mailspec.fixtures_pop3 import OWNED_RULES
from mailspec.protocol.pop3 import Pop3ResponseParser, Rule, parse_status_line
from suite.pop3._util import assert_err, assert_ok, multi

spec = pytest.mark.spec


@spec("pop3/1939/4/greeting-is-positive", "RFC1939-3-03")
def test_greeting_is_positive(pop3):
    """The first line the server sends on a new connection is a positive (+OK) status line."""
    client = pop3(tls="none")
    assert client.greeting is not None
    # re-check without any leniency: the greeting's indicator is exactly what this test is about
    status = parse_status_line(client.greeting.raw.rstrip(b"\r\n"), client.greeting.raw)
    assert status.ok, f"greeting must start with +OK, got {client.greeting.raw!r}"


@spec("pop3/1939/3/status-indicators-upper-case", "RFC1939-3-03")
def test_status_indicators_upper_case(pop3, account):
    """Every status indicator, in every state, is '+OK' or '-ERR' in upper case."""
    client = pop3()
    client.cmd("NOOP")
    client.cmd_multi("CAPA")
    client.cmd(f"USER {account.user}")
    client.cmd(f"PASS {account.password}")
    client.cmd("STAT")
    client.cmd("NOOP")
    client.cmd_multi("LIST")
    client.cmd("RSET")
    client.cmd("XYZZY")
    bad = [v for v in client.parser.violations if v.rule is Rule.STATUS_CASE]
    assert not bad, f"lower- or mixed-case status indicator: {bad[0]}"


@spec("pop3/1939/3/unknown-command-err", "RFC1939-3-05")
def test_unknown_command_err(pop3, account):
    """An unknown command gets -ERR, before and after login."""
    client = pop3()
    # four letters, like real keywords, so it cannot be refused for its shape alone
    assert_err(client.cmd("XYZY"), "unknown command in AUTHORIZATION")
    client.close()
    client = pop3(account)
    assert_err(client.cmd("XYZY"), "unknown command in TRANSACTION")
    assert_err(client.cmd("FOOB 1"), "unknown command with an argument in TRANSACTION")


@spec("pop3/1939/3/invalid-arguments-err", "RFC1939-3-05")
def test_invalid_arguments_err(pop3, account):
    """Syntactically invalid commands (missing, extra or non-numeric arguments) get -ERR."""
    client = pop3(account)
    for bad in ("RETR", "DELE", "RETR abc", "DELE -1", "LIST x", "TOP 1", "TOP 1 x"):
        assert_err(client.cmd(bad), bad)


@spec("pop3/1939/5/message-number-zero-err", "RFC1939-3-05")
def test_message_number_zero_err(pop3, account):
    """Message numbers start at 1, so 0 is refused by RETR, DELE, LIST and TOP."""
    client = pop3(account)
    for bad in ("RETR 0", "DELE 0", "LIST 0", "TOP 0 0"):
        assert_err(client.cmd(bad), bad)


@spec("pop3/1939/3/multiline-lines-end-crlf")
def test_multiline_lines_end_crlf(pop3, account, deliver):
    """Every line of multi-line responses, and their '.' terminator, ends with CRLF."""
    deliver(account, body_lines=["line one", "line two"])
    client = pop3(account)
    multi(client, "LIST")
    multi(client, "RETR 1", "message")
    multi(client, "CAPA")
    bad = [v for v in client.parser.violations if v.rule is Rule.LINE_END]
    assert not bad, f"line not ended by CRLF: {bad[0]}"


@spec("pop3/1939/3/multiline-byte-stuffing")
def test_multiline_byte_stuffing(pop3, account, deliver, maildrop):
    """Body lines starting with '.' are sent with one more '.' and come back unchanged."""
    body = [".leading dot", "..two dots", "plain", ". dot space", "."+"x" * 10]
    sent = deliver(account, body_lines=body)
    client = pop3(account)
    num = maildrop.find(client, sent.marker)
    strict = Pop3ResponseParser(tolerate=OWNED_RULES)  # a stuffing error raises, naming the line
    client.send_raw(f"RETR {num}\r\n".encode())
    client.parser.expect("message")
    ev = client._pull()
    strict.expect("message")
    strict.receive_data(ev.raw)  # type: ignore[union-attr]
    got = strict.next_event()
    lines = list(got.lines)  # type: ignore[union-attr]
    assert lines[-len(body):] == [b.encode() for b in body], "un-stuffed body differs from the message"


@spec("pop3/2449/4/response-line-at-most-512-octets", "RFC2449-4-01")
def test_response_line_at_most_512_octets(pop3):
    """Status lines stay within 512 octets even when answering a long, unknown command."""
    client = pop3()
    ev = client.cmd("XYZZY " + "A" * 240)
    assert len(ev.raw) <= 512, f"status line is {len(ev.raw)} octets"
    assert_err(ev, "unknown long command")


@spec("pop3/1939/3/keywords-case-insensitive")
def test_keywords_case_insensitive(pop3, account):
    """Command keywords are matched without regard to case."""
    client = pop3(account)
    assert_ok(client.cmd("noop"), "noop")
    assert_ok(client.cmd("StAt"), "StAt")


@spec("pop3/1939/4/quit-in-authorization-closes")
def test_quit_in_authorization_closes(pop3):
    """QUIT before login answers +OK and the server closes the connection."""
    client = pop3()
    assert_ok(client.cmd("QUIT"), "QUIT in AUTHORIZATION")
    client.read_until_closed()


@spec("pop3/2449/3/greeting-syntax", "RFC2449-3-01")
def test_greeting_syntax(pop3):
    """The greeting fits the RFC 2449 grammar: at most 512 octets, optional code, and a
    timestamp (if any) shaped like a msg-id '<local@domain>'."""
    client = pop3(tls="none")
    raw = client.greeting.raw
    assert len(raw) <= 512
    text = client.greeting.text
    if "<" in text:
        import re

        assert re.search(r"<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>", text), (
            f"timestamp is not msg-id shaped: {text!r}")
