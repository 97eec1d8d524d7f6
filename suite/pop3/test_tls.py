"""STLS (RFC 2595 §4) and implicit TLS (RFC 8314 §3.1): real handshakes, verified certificates."""

from __future__ import annotations

import hashlib
import ssl

import pytest

from mailspec.delivery import tls_context
from mailspec.fixtures_pop3 import connect
from mailspec.protocol.pop3_listings import parse_capa
from suite.pop3._util import apop_timestamp, assert_err, assert_not_logged_in, assert_ok, multi

spec = pytest.mark.spec


def _starttls_endpoint(target):
    ep = target.endpoint("pop3")
    if ep is None or ep.tls != "starttls":
        pytest.skip("target has no STLS endpoint")
    return ep


@spec("pop3/2595/4/stls-advertised", needs=("STLS",))
def test_stls_advertised(pop3, target):
    """Before TLS, CAPA lists STLS on an endpoint that offers it."""
    _starttls_endpoint(target)
    client = pop3(tls="none")
    assert "STLS" in parse_capa(multi(client, "CAPA"))


@spec("pop3/8314/4/stls-handshake-verified", "RFC8314-4-11", "RFC8314-4.4-01", needs=("STLS",))
def test_stls_handshake_verified(pop3, target, transcript):
    """STLS answers +OK and a TLS 1.2+ handshake follows, with a certificate that verifies
    against the target's CA for its server name, and not for another name (so the check is real)."""
    _starttls_endpoint(target)
    client = pop3(tls="starttls")
    assert client.tls_active
    assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
    assert client.sock.getpeercert(), "no verified peer certificate"
    assert_ok(client.cmd_multi("CAPA"), "CAPA over TLS")
    ctx = tls_context(target)
    if not ctx.check_hostname:
        return  # the target disables certificate verification: nothing more to check
    other = connect(target, transcript, "wrong-name", tls="none", server_hostname="wrong-name.invalid")
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            other.starttls()
    finally:
        other.close()


@spec("pop3/2595/4/stls-twice-refused", "RFC2595-4-02", needs=("STLS",))
def test_stls_twice_refused(pop3, target):
    """A second STLS once TLS is active is refused (and the session keeps working)."""
    _starttls_endpoint(target)
    client = pop3(tls="starttls")
    assert_err(client.cmd("STLS"), "STLS with TLS already active")
    assert_ok(client.cmd_multi("CAPA"), "CAPA afterwards")


@spec("pop3/2595/4/stls-not-advertised-after-tls", needs=("STLS",))
def test_stls_not_advertised_after_tls(pop3, target):
    """Once TLS is active, CAPA no longer offers STLS."""
    _starttls_endpoint(target)
    client = pop3(tls="starttls")
    assert "STLS" not in parse_capa(multi(client, "CAPA"))


@spec("pop3/2595/4/stls-refused-in-transaction", needs=("STLS",))
def test_stls_refused_in_transaction(pop3, target, account):
    """STLS is only valid in the AUTHORIZATION state: after login it is refused."""
    _starttls_endpoint(target)
    client = pop3(tls="none", label="plain")
    stamp = apop_timestamp(client)
    logged_in = False
    if stamp and target.settings.get("apop"):
        digest = hashlib.md5((stamp + account.password).encode()).hexdigest()
        logged_in = client.cmd(f"APOP {account.user} {digest}").ok
    if not logged_in:
        client.cmd(f"USER {account.user}")
        logged_in = client.cmd(f"PASS {account.password}").ok
    if not logged_in:
        client = pop3(account, label="tls")  # no clear-text login path; check over TLS instead
    assert_err(client.cmd("STLS"), "STLS in TRANSACTION")


@spec("pop3/2595/6/plain-not-offered-without-tls", "RFC2595-6-01", "RFC2595-9-04")
def test_plain_not_offered_without_tls(pop3, target):
    """Before TLS, the SASL capability does not offer PLAIN."""
    _starttls_endpoint(target)
    client = pop3(tls="none")
    caps = parse_capa(multi(client, "CAPA"))
    assert "PLAIN" not in caps.sasl_mechanisms, f"SASL before TLS: {caps.params('SASL')}"


@spec("pop3/2595/6/auth-plain-refused-without-tls", "RFC2595-6-01", "RFC2595-9-04")
def test_auth_plain_refused_without_tls(pop3, target, account):
    """Before TLS, AUTH PLAIN is refused even with valid credentials."""
    _starttls_endpoint(target)
    from suite.pop3._util import plain_response

    client = pop3(tls="none")
    ev = client.cmd(f"AUTH PLAIN {plain_response(account.user, account.password)}")
    assert_err(ev, "AUTH PLAIN in clear text")


@spec("pop3/8314/3.1/implicit-tls-greeting", "RFC8314-3.1-02", "RFC8314-4-11")
def test_implicit_tls_greeting(pop3):
    """On the implicit-TLS port the handshake comes first (verified, TLS 1.2+), then a +OK
    greeting in the AUTHORIZATION state."""
    client = pop3(tls="implicit")
    assert client.tls_active and client.sock.version() in ("TLSv1.2", "TLSv1.3")
    assert client.greeting is not None and client.greeting.ok
    assert_not_logged_in(client, "before login on the TLS port")


@spec("pop3/8314/3.1/implicit-tls-login", "RFC8314-4-01")
def test_implicit_tls_login(pop3, account, login):
    """A client can log in and read its maildrop over implicit TLS."""
    client = pop3(tls="implicit")
    assert_ok(login(client, account), "login over implicit TLS")
    assert_ok(client.cmd("STAT"), "STAT")


@spec("pop3/8314/4.4/certificate-wrong-name-rejected", "RFC8314-4.4-01")
def test_certificate_wrong_name_rejected(target):
    """The implicit-TLS certificate verifies only against the target's CA: a context with
    hostname checking for a different name fails (so verification is really happening)."""
    ep = target.endpoint("pop3s")
    if ep is None:
        pytest.skip("target has no implicit-TLS POP3 endpoint (pop3s)")
    import socket

    ctx = tls_context(target)
    if not ctx.check_hostname:
        pytest.skip("target disables certificate verification")
    with socket.create_connection((ep.host, ep.port), timeout=target.timeout) as raw, pytest.raises(
        ssl.SSLCertVerificationError
    ):
        ctx.wrap_socket(raw, server_hostname="wrong-name.invalid")
