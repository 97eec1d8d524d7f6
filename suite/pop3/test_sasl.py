"""AUTH with SASL PLAIN (RFC 5034 §3-5): initial responses, challenges, cancel, base64, state."""

from __future__ import annotations

import base64

import pytest

from mailspec.protocol.pop3 import Continuation, StatusLine
from mailspec.protocol.pop3_listings import parse_capa
from suite.pop3._util import assert_err, assert_not_logged_in, assert_ok, multi, plain_response

spec = pytest.mark.spec
PLAIN = ("SASL PLAIN",)


@spec("pop3/5034/4/auth-plain-initial-response", "RFC5034-4-21", "RFC5034-4-01", needs=PLAIN)
def test_auth_plain_initial_response(pop3, account):
    """AUTH PLAIN with a base64 initial response and valid credentials logs in."""
    client = pop3()
    assert_ok(client.cmd(f"AUTH PLAIN {plain_response(account.user, account.password)}"), "AUTH PLAIN")
    assert_ok(client.cmd("STAT"), "STAT after AUTH")


@spec("pop3/5034/4/auth-plain-empty-challenge", "RFC5034-4-05", "RFC5034-4-06", "RFC5034-4-03",
      needs=PLAIN)
def test_auth_plain_empty_challenge(pop3, account):
    """AUTH PLAIN without an initial response gets an empty '+ ' challenge (nothing else on
    the line), and the response sent to it completes the login."""
    client = pop3()
    client.send_raw(b"AUTH PLAIN\r\n")
    ev = client.read_auth()
    assert isinstance(ev, Continuation), f"expected a '+ ' continuation, got {ev.raw!r}"
    assert ev.raw in (b"+ \r\n", b"+\r\n"), f"the challenge must be empty, got {ev.raw!r}"
    client.send_raw(plain_response(account.user, account.password).encode() + b"\r\n")
    final = client.read_auth()
    assert isinstance(final, StatusLine) and final.ok, f"login via challenge failed: {final.raw!r}"


@spec("pop3/5034/4/auth-cancelled-by-star", "RFC5034-4-04", "RFC5034-4-20", needs=PLAIN)
def test_auth_cancelled_by_star(pop3, account):
    """Answering a challenge with '*' cancels AUTH with -ERR; the session is back in
    AUTHORIZATION as if AUTH had not been sent."""
    client = pop3()
    client.sock.settimeout(min(client.sock.gettimeout() or 5.0, 2.0))
    client.send_raw(b"AUTH PLAIN\r\n")
    assert isinstance(client.read_auth(), Continuation)
    client.send_raw(b"*\r\n")
    ev = client.read_auth()
    assert isinstance(ev, StatusLine), f"'*' must end the exchange, got another challenge {ev.raw!r}"
    assert_err(ev, "cancelled AUTH")
    assert_not_logged_in(client, "after the cancelled AUTH")
    assert_ok(client.cmd(f"AUTH PLAIN {plain_response(account.user, account.password)}"), "AUTH again")


@spec("pop3/5034/4/auth-rejects-invalid-base64", "RFC5034-4-10", "RFC5034-4-12", needs=PLAIN)
def test_auth_rejects_invalid_base64(pop3, account):
    """A response with a character outside the base64 alphabet is rejected, even when
    skipping that character would decode to valid credentials."""
    client = pop3()
    good = plain_response(account.user, account.password)
    bad = good[:4] + "!" + good[4:]
    assert_err(client.cmd(f"AUTH PLAIN {bad}"), "AUTH PLAIN with '!' in the base64")
    assert_not_logged_in(client, "after the rejected AUTH")


@spec("pop3/5034/4/auth-after-login-rejected", "RFC5034-4-02", needs=PLAIN)
def test_auth_after_login_rejected(pop3, account):
    """Once AUTH has succeeded, a further AUTH is rejected."""
    client = pop3()
    creds = plain_response(account.user, account.password)
    assert_ok(client.cmd(f"AUTH PLAIN {creds}"), "first AUTH")
    assert_err(client.cmd(f"AUTH PLAIN {creds}"), "second AUTH")


@spec("pop3/5034/4/auth-wrong-password-err", "RFC5034-4-14", needs=PLAIN)
def test_auth_wrong_password_err(pop3, account):
    """AUTH PLAIN with a wrong password is rejected and no login happens."""
    client = pop3()
    assert_err(client.cmd(f"AUTH PLAIN {plain_response(account.user, 'wrong-password')}"), "bad AUTH")
    assert_not_logged_in(client, "after the failed AUTH")


@spec("pop3/5034/4/auth-unknown-mechanism-err", needs=PLAIN)
def test_auth_unknown_mechanism_err(pop3):
    """AUTH with a mechanism the server does not have is rejected."""
    client = pop3()
    assert_err(client.cmd("AUTH X-MAILSPEC-NOPE"), "unknown SASL mechanism")


@spec("pop3/5034/4/auth-malformed-plain-err", "RFC5034-4-14", needs=PLAIN)
def test_auth_malformed_plain_err(pop3, account):
    """A PLAIN message without its NUL separators is rejected."""
    client = pop3()
    junk = base64.b64encode(f"{account.user}{account.password}".encode()).decode()
    assert_err(client.cmd(f"AUTH PLAIN {junk}"), "PLAIN message without NULs")


@spec("pop3/5034/3/sasl-still-advertised-after-login", "RFC5034-3-04", needs=PLAIN)
def test_sasl_still_advertised_after_login(pop3, account):
    """After a successful AUTH, CAPA still lists the SASL capability."""
    client = pop3()
    assert_ok(client.cmd(f"AUTH PLAIN {plain_response(account.user, account.password)}"), "AUTH")
    assert "SASL" in parse_capa(multi(client, "CAPA"))


@spec("pop3/5034/5/auth-mechanism-case-insensitive", "RFC5034-5-01", needs=PLAIN)
def test_auth_mechanism_case_insensitive(pop3, account):
    """The mechanism name is matched without regard to case."""
    client = pop3()
    assert_ok(client.cmd(f"auth plain {plain_response(account.user, account.password)}"), "auth plain")
