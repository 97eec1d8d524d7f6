"""The UPDATE state: what QUIT commits and what a dropped connection must not (RFC 1939 §6)."""

from __future__ import annotations

import pytest

from suite.pop3._util import assert_ok

spec = pytest.mark.spec


def _quit(client) -> None:
    assert_ok(client.cmd("QUIT"), "QUIT in TRANSACTION")
    client.read_until_closed()


@spec("pop3/1939/6/quit-removes-deleted")
def test_quit_removes_deleted(pop3, account, deliver, maildrop):
    """Messages marked as deleted are gone after QUIT."""
    sent = deliver(account)
    client = pop3(account, label="deleting")
    assert_ok(client.cmd(f"DELE {maildrop.find(client, sent.marker)}"), "DELE")
    _quit(client)
    again = pop3(account, label="checking")
    assert sent.marker not in maildrop.markers(again).values(), "message survived DELE + QUIT"


@spec("pop3/1939/6/dropped-connection-deletes-nothing", "RFC1939-6-01")
def test_dropped_connection_deletes_nothing(pop3, account, deliver, maildrop):
    """A session that ends without QUIT removes nothing, even messages marked as deleted."""
    sent = deliver(account)
    client = pop3(account, label="dropped")
    assert_ok(client.cmd(f"DELE {maildrop.find(client, sent.marker)}"), "DELE")
    client.close()
    again = pop3(account, label="checking")
    assert sent.marker in maildrop.markers(again).values(), "message lost although QUIT was never sent"


@spec("pop3/1939/6/quit-keeps-undeleted")
def test_quit_keeps_undeleted(pop3, account, deliver, maildrop):
    """QUIT removes only marked messages: a message only read stays."""
    sent = deliver(account)
    client = pop3(account, label="reading")
    client.cmd_multi(f"RETR {maildrop.find(client, sent.marker)}", "message")
    _quit(client)
    again = pop3(account, label="checking")
    assert sent.marker in maildrop.markers(again).values()


@spec("pop3/1939/6/quit-closes-connection")
def test_quit_closes_connection(pop3, account):
    """QUIT in TRANSACTION answers +OK and the server closes the connection."""
    _quit(pop3(account))


@spec("pop3/1939/3/autologout-timer-at-least-ten-minutes", "RFC1939-3-08")
def test_autologout_timer_at_least_ten_minutes(pop3, account, target):
    """An inactivity timer, if the server has one, lasts at least 10 minutes; a short idle
    pause does not end the session."""
    value = target.settings.get("autologout")
    if value is None:
        pytest.skip("target settings do not state the autologout timer")
    client = pop3(account)
    import time

    time.sleep(0.2)
    assert_ok(client.cmd("NOOP"), "NOOP after a short idle pause")
    assert float(value) >= 600, f"the target's autologout timer is {value}s"


@spec("pop3/1939/3/autologout-deletes-nothing", "RFC1939-3-10", "RFC1939-6-01")
def test_autologout_deletes_nothing(pop3, account, deliver, maildrop, target):
    """When the autologout timer fires, marked messages are not removed (no UPDATE state)."""
    value = target.settings.get("autologout")
    if value is None or float(value) > 2:
        pytest.skip("needs a target whose settings.autologout is at most 2 seconds")
    sent = deliver(account)
    client = pop3(account, label="idle")
    assert_ok(client.cmd(f"DELE {maildrop.find(client, sent.marker)}"), "DELE")
    client.sock.settimeout(float(value) + 3)
    client.read_until_closed()
    again = pop3(account, label="checking")
    assert sent.marker in maildrop.markers(again).values()
