"""Bad input: the server answers -ERR and keeps the session usable (RFC 1939 §3)."""

from __future__ import annotations

import pytest

from suite.pop3._util import assert_err, assert_ok

spec = pytest.mark.spec


@spec("pop3/1939/3/empty-line-err", "RFC1939-3-05")
def test_empty_line_err(pop3):
    """An empty command line is answered -ERR and the session goes on."""
    client = pop3()
    client.send_raw(b"\r\n")
    assert_err(client.read_status(), "empty line")
    assert_ok(client.cmd_multi("CAPA"), "CAPA after the empty line")


@spec("pop3/1939/3/nul-in-command-err", "RFC1939-3-05")
def test_nul_in_command_err(pop3):
    """A command with a NUL octet is answered -ERR."""
    client = pop3()
    client.send_raw(b"US\x00ER alice\r\n")
    assert_err(client.read_status(), "NUL in command")
    assert_ok(client.cmd_multi("CAPA"), "CAPA afterwards")


@spec("pop3/1939/3/non-ascii-command-err", "RFC1939-3-05")
def test_non_ascii_command_err(pop3):
    """A command keyword of 8-bit octets is answered -ERR."""
    client = pop3()
    client.send_raw(b"\xff\xfe\xc3\xa9\r\n")
    assert_err(client.read_status(), "8-bit keyword")
    assert_ok(client.cmd_multi("CAPA"), "CAPA afterwards")


@spec("pop3/1939/3/overlong-command-err", "RFC1939-3-05")
def test_overlong_command_err(pop3):
    """A 4000-octet command line is refused with -ERR, without a crash or a hang."""
    client = pop3()
    client.send_raw(b"NOOP " + b"A" * 4000 + b"\r\n")
    first = client.read_status()
    assert_err(first, "4000-octet command")


@spec("pop3/1939/3/binary-garbage-err", "RFC1939-3-05")
def test_binary_garbage_err(pop3):
    """Control characters and binary junk get -ERR and the session survives."""
    client = pop3()
    client.send_raw(b"\x01\x02\x03\x1b[0m\x7f\r\n")
    assert_err(client.read_status(), "binary junk")
    assert_ok(client.cmd_multi("CAPA"), "CAPA afterwards")


@spec("pop3/1939/5/extra-argument-err", "RFC1939-3-05")
def test_extra_argument_err(pop3, account):
    """Commands given more arguments than they take are syntactically invalid: -ERR."""
    client = pop3(account)
    for bad in ("RETR 1 2", "DELE 1 2", "TOP 1 2 3"):
        assert_err(client.cmd(bad), bad)


@spec("pop3/1939/5/huge-message-number-err", "RFC1939-3-05")
def test_huge_message_number_err(pop3, account):
    """A message number far past the end (or overflowing 64 bits) is refused with -ERR."""
    client = pop3(account)
    for bad in ("RETR 99999", "LIST 18446744073709551617", "DELE 4294967296"):
        assert_err(client.cmd(bad), bad)
