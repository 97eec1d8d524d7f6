"""CAPA, pipelining and response codes (RFC 2449 §5, §6, §8)."""

from __future__ import annotations

import pytest

from mailspec.protocol.pop3 import MultiLine, StatusLine
from mailspec.protocol.pop3_listings import parse_capa
from suite.pop3._util import assert_err, multi

spec = pytest.mark.spec


def _capa_both_states(pop3, account):
    client = pop3()
    before = parse_capa(multi(client, "CAPA"))
    assert client.cmd(f"USER {account.user}").ok and client.cmd(f"PASS {account.password}").ok
    after = parse_capa(multi(client, "CAPA"))
    return client, before, after


@spec("pop3/2449/5/capa-syntax-valid", needs=("CAPA",))
def test_capa_syntax_valid(pop3, account):
    """CAPA answers a multi-line list of capa-tags and parameters in both states."""
    _, before, after = _capa_both_states(pop3, account)
    assert before.entries and after.entries


@spec("pop3/2449/5/capa-lists-supported-commands", "RFC1939-7-01", needs=("CAPA",))
def test_capa_lists_supported_commands(pop3, account, deliver):
    """Optional commands that work (TOP, UIDL) are announced by CAPA after login."""
    deliver(account)
    client = pop3(account)
    caps = parse_capa(multi(client, "CAPA"))
    for command, tag in (("UIDL", "UIDL"), ("TOP 1 0", "TOP")):
        ev = client.cmd_multi(command, "message")
        if isinstance(ev, MultiLine):
            assert tag in caps, f"{tag} works but CAPA does not list it"


@spec("pop3/2449/5/capa-authorization-caps-also-in-transaction", "RFC2449-5-02", needs=("CAPA",))
def test_capa_authorization_caps_also_in_transaction(pop3, account):
    """Capabilities announced before login are announced after login too (STLS aside,
    which only makes sense before TLS)."""
    _, before, after = _capa_both_states(pop3, account)
    missing = [t for t in before.entries if t not in after and t != "STLS"]
    assert not missing, f"announced only before login: {missing}"


@spec("pop3/2449/6.7/expire-announced-before-login", "RFC2449-6.7-04", needs=("EXPIRE",))
def test_expire_announced_before_login(pop3, account):
    """A server with EXPIRE after login announces it in the AUTHORIZATION state as well."""
    _, before, after = _capa_both_states(pop3, account)
    if "EXPIRE" not in after:
        pytest.skip("EXPIRE is not announced after login")
    assert "EXPIRE" in before


@spec("pop3/2449/6.5/login-delay-announced-before-login", "RFC2449-6.5-03", needs=("LOGIN-DELAY",))
def test_login_delay_announced_before_login(pop3, account):
    """A server with LOGIN-DELAY after login announces it in the AUTHORIZATION state as well."""
    _, before, after = _capa_both_states(pop3, account)
    if "LOGIN-DELAY" not in after:
        pytest.skip("LOGIN-DELAY is not announced after login")
    assert "LOGIN-DELAY" in before


@spec("pop3/2449/6.6/pipelined-commands-answered-in-order", "RFC2449-6.6-01", needs=("PIPELINING",))
def test_pipelined_commands_answered_in_order(pop3, account):
    """Commands sent in one write are each answered, in the order sent."""
    client = pop3(account)
    client.sock.settimeout(min(client.sock.gettimeout() or 5.0, 3.0))
    events = client.pipeline([("NOOP", "status"), ("STAT", "status"), ("LIST", "multiline"),
                              ("XYZZY", "status"), ("NOOP", "status")])
    shapes = [type(e).__name__ + ("+" if getattr(e, "ok", True) else "-") for e in events]
    assert shapes == ["StatusLine+", "StatusLine+", "MultiLine+", "StatusLine-", "StatusLine+"], shapes
    stat = events[1]
    assert isinstance(stat, StatusLine) and stat.text.split()[0].isdigit()


@spec("pop3/2449/6.6/pipelined-login", "RFC2449-6.6-01", needs=("PIPELINING", "USER"))
def test_pipelined_login(pop3, account):
    """USER, PASS and STAT pipelined in one write all succeed, in order."""
    client = pop3()
    client.sock.settimeout(min(client.sock.gettimeout() or 5.0, 3.0))
    events = client.pipeline([(f"USER {account.user}", "status"), (f"PASS {account.password}", "status"),
                              ("STAT", "status")])
    assert all(isinstance(e, StatusLine) and e.ok for e in events), [e.raw for e in events]


@spec("pop3/2449/8/resp-code-syntax", needs=("RESP-CODES",))
def test_resp_code_syntax(pop3, account):
    """Response codes, where sent, are '[' levels separated by '/' ']' (checked on error paths)."""
    client = pop3()
    client.cmd("USER mailspec-no-such-user")
    assert_err(client.cmd("PASS wrong"), "bad login")
    assert_err(client.cmd("STAT"), "STAT in AUTHORIZATION")
    # the strict parser raised already if a '[' started text without a valid code
    assert client.parser.violations == [] or all(
        v.rule.name in ("LINE_END", "STATUS_CASE") for v in client.parser.violations)


@spec("pop3/2449/5/capa-in-both-states-positive", needs=("CAPA",))
def test_capa_in_both_states_positive(pop3, account):
    """CAPA is valid before and after login and always answers +OK."""
    client = pop3()
    multi(client, "CAPA")
    assert client.cmd(f"USER {account.user}").ok and client.cmd(f"PASS {account.password}").ok
    multi(client, "CAPA")
