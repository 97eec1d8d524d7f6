"""The AUTHORIZATION state: USER/PASS, APOP, the maildrop lock (RFC 1939 §4, §7; RFC 2449 §8)."""

from __future__ import annotations

import hashlib

import pytest

from suite.pop3._util import apop_timestamp, assert_err, assert_not_logged_in, assert_ok, require_pass_needs_user

spec = pytest.mark.spec


def _apop_client(pop3, target):
    client = pop3()
    stamp = apop_timestamp(client)
    if stamp is None or not target.settings.get("apop", False):
        pytest.skip("target does not offer APOP (no timestamp in the greeting or settings.apop unset)")
    return client, stamp


def _digest(stamp: str, secret: str) -> str:
    return hashlib.md5((stamp + secret).encode()).hexdigest()


@spec("pop3/1939/7/user-pass-login-succeeds", "RFC1939-4-02", "RFC1939-7-01", needs=("USER",))
def test_user_pass_login_succeeds(pop3, account, login):
    """USER then PASS with valid credentials enters the TRANSACTION state."""
    client = pop3()
    assert_ok(login(client, account), "USER/PASS")
    assert_ok(client.cmd("STAT"), "STAT after login")


@spec("pop3/1939/7/wrong-password-err", "RFC1939-7-14", needs=("USER",))
def test_wrong_password_err(pop3, account):
    """PASS with a wrong password is refused and the session stays in AUTHORIZATION."""
    client = pop3()
    client.cmd(f"USER {account.user}")
    assert_err(client.cmd("PASS wrong-" + account.password), "wrong password")
    assert_not_logged_in(client, "after a failed login")


@spec("pop3/1939/7/pass-requires-user", "RFC1939-7-14", needs=("USER",))
def test_pass_requires_user(pop3, account):
    """PASS without a successful USER right before it is refused."""
    client = pop3()
    assert_err(client.cmd(f"PASS {account.password}"), "PASS without USER")
    assert_not_logged_in(client, "after a refused PASS")


@spec("pop3/1939/7/user-again-after-failed-pass", "RFC1939-7-08", needs=("USER",))
def test_user_again_after_failed_pass(pop3, account, login):
    """After a failed PASS the client may start over with USER and log in."""
    client = pop3()
    client.cmd(f"USER {account.user}")
    assert_err(client.cmd("PASS not-the-password"), "wrong password")
    assert_ok(login(client, account), "USER/PASS after a failed attempt")


@spec("pop3/1939/7/unknown-user-login-err", "RFC1939-4-02", needs=("USER",))
def test_unknown_user_login_err(pop3):
    """A login for a mailbox that does not exist fails at USER or at PASS."""
    client = pop3()
    user = client.cmd("USER mailspec-no-such-user")
    if user.ok:
        assert_err(client.cmd("PASS whatever"), "PASS for an unknown user")
    assert_not_logged_in(client, "after the failed login")


@spec("pop3/1939/7/user-refused-in-transaction", "RFC1939-7-08", "RFC1939-3-06")
def test_user_refused_in_transaction(pop3, account):
    """USER is only valid in the AUTHORIZATION state."""
    client = pop3(account)
    assert_err(client.cmd(f"USER {account.user}"), "USER in TRANSACTION")


@spec("pop3/1939/7/pass-refused-in-transaction", "RFC1939-7-14", "RFC1939-3-06")
def test_pass_refused_in_transaction(pop3, account):
    """PASS is only valid in the AUTHORIZATION state."""
    client = pop3(account)
    assert_err(client.cmd(f"PASS {account.password}"), "PASS in TRANSACTION")


@spec("pop3/1939/7/apop-login-succeeds", "RFC1939-7-16", "RFC1939-4-02")
def test_apop_login_succeeds(pop3, account, target):
    """APOP with the MD5 of timestamp+secret logs in."""
    client, stamp = _apop_client(pop3, target)
    assert_ok(client.cmd(f"APOP {account.user} {_digest(stamp, account.password)}"), "APOP")
    assert_ok(client.cmd("STAT"), "STAT after APOP")


@spec("pop3/1939/7/apop-wrong-digest-err", "RFC1939-7-16")
def test_apop_wrong_digest_err(pop3, account, target):
    """APOP with a digest over the wrong secret is refused."""
    client, stamp = _apop_client(pop3, target)
    assert_err(client.cmd(f"APOP {account.user} {_digest(stamp, 'wrong')}"), "APOP, wrong secret")
    assert_not_logged_in(client, "after the failed APOP")


@spec("pop3/1939/7/apop-timestamp-unique", "RFC1939-7-17")
def test_apop_timestamp_unique(pop3, target):
    """Each greeting carries a different APOP timestamp."""
    _first, stamp1 = _apop_client(pop3, target)
    _second, stamp2 = _apop_client(pop3, target)
    assert stamp1 != stamp2, f"two greetings share the timestamp {stamp1}"


@spec("pop3/1939/7/apop-refused-in-transaction", "RFC1939-7-16", "RFC1939-3-06")
def test_apop_refused_in_transaction(pop3, account):
    """APOP is only valid in the AUTHORIZATION state."""
    client = pop3(account)
    assert_err(client.cmd(f"APOP {account.user} {'0' * 32}"), "APOP in TRANSACTION")


def _second_session(pop3, target):
    """A connection for the second login; it may wait `settings.lock_wait` seconds longer, because a
    server may wait for the lock a while before it refuses (Dovecot waits about 10 s)."""
    second = pop3(label="second")
    second.sock.settimeout(target.timeout + float(target.settings.get("lock_wait", 0)))
    return second


@spec("pop3/1939/4/maildrop-lock-exclusive")
def test_maildrop_lock_exclusive(pop3, account, login, target):
    """While one session holds a maildrop, a second login to it is refused."""
    holder = pop3(account, label="holder")
    second = _second_session(pop3, target)
    ev = login(second, account)
    assert_err(ev, "second login while the maildrop is held")
    assert_ok(holder.cmd("STAT"), "the first session still works")


@spec("pop3/2449/8.1.2/in-use-response-code", needs=("RESP-CODES",))
def test_in_use_response_code(pop3, account, login, target):
    """A login refused because the maildrop is locked carries the [IN-USE] response code."""
    pop3(account, label="holder")
    second = _second_session(pop3, target)
    ev = login(second, account)
    if ev.ok:
        pytest.skip("the server let a second session in; the lock has its own test")
    assert ev.code_levels[:1] == ("IN-USE",), f"expected [IN-USE], got {ev.raw!r}"


@spec("pop3/1939/4/lock-released-after-quit")
def test_lock_released_after_quit(pop3, account, login):
    """After QUIT the maildrop can be opened by a new session."""
    first = pop3(account, label="first")
    assert_ok(first.cmd("QUIT"), "QUIT")
    first.read_until_closed()
    second = pop3(label="second")
    assert_ok(login(second, account), "login after the first session quit")


@spec("pop3/1939/4/lock-released-after-failed-login", "RFC1939-4-03")
def test_lock_released_after_failed_login(pop3, account, login):
    """A refused login does not leave the maildrop locked."""
    first = pop3(label="failed")
    first.cmd(f"USER {account.user}")
    assert_err(first.cmd("PASS wrong-password"), "wrong password")
    second = pop3(label="second")
    assert_ok(login(second, account), "login while the failed session is still open")


@spec("pop3/2449/4/accepts-255-octet-command", "RFC2449-4-01", "RFC2449-4-02", needs=("USER",))
def test_accepts_255_octet_command(pop3, account):
    """A 255-octet command is processed as a command: a long PASS consumes the pending USER,
    so a following PASS (not right after a USER) is refused."""
    client = pop3()
    require_pass_needs_user(client)
    assert_ok(client.cmd(f"USER {account.user}"), "USER")
    long_pass = "PASS " + "x" * (255 - len("PASS ") - 2)
    assert len(long_pass) + 2 == 255
    assert_err(client.cmd(long_pass), "PASS with a wrong 250-octet password")
    ev = client.cmd(f"PASS {account.password}")
    assert_err(ev, "PASS after the long PASS (if the long line was not processed, USER was still pending)")


@spec("pop3/1939/4/failed-login-keeps-authorization", "RFC1939-3-06")
def test_failed_login_keeps_authorization(pop3):
    """After a failed login, transaction commands are still refused."""
    client = pop3()
    client.cmd("USER mailspec-no-such-user")
    client.cmd("PASS nothing")
    for cmd in ("LIST", "RETR 1", "DELE 1"):
        assert_err(client.cmd(cmd), cmd)
