"""CAPA, pipelining and response codes (RFC 2449 §5, §6, §8)."""

from __future__ import annotations

import pytest

from mailspec.protocol.pop3 import MultiLine, StatusLine
from mailspec.protocol.pop3_listings import parse_capa
from suite.pop3._util import multi

spec = pytest.mark.spec


def _capa_both_states(pop3, account):
    client = pop3()
    before = parse_capa(multi(client, "CAPA"))
    assert client.cmd(f"USER {account.user}").ok and client.cmd(f"PASS {account.password}").ok
    after = parse_capa(multi(client, "CAPA"))
    return client, before, after


@spec("pop3/2449/5/capa-syntax-valid")
def test_capa_syntax_valid(pop3, account):
    """CAPA answers a multi-line list of capa-tags and parameters in both states."""
    _, before, after = _capa_both_states(pop3, account)
    assert before.entries and after.entries


@spec("pop3/2449/5/capa-lists-supported-commands", "RFC1939-7-01", "RFC2449-5-05")
def test_capa_lists_supported_commands(pop3, account, deliver):
    """Optional commands that work (TOP, UIDL) are announced by CAPA after login."""
    deliver(account)
    client = pop3(account)
    caps = parse_capa(multi(client, "CAPA"))
    for command, tag in (("UIDL", "UIDL"), ("TOP 1 0", "TOP")):
        ev = client.cmd_multi(command, "message")
        if isinstance(ev, MultiLine):
            assert tag in caps, f"{tag} works but CAPA does not list it"


@spec("pop3/2449/5/capa-authorization-caps-also-in-transaction", "RFC2449-5-02")
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


@spec("pop3/2449/8/resp-code-syntax", needs=("RESP-CODES",))
def test_resp_code_syntax(pop3, account):
    """Response codes, where sent, are '[' levels separated by '/' ']' of printable characters;
    checked on the error paths where servers use them (bad login, lock, wrong state)."""
    client = pop3()
    replies = [client.cmd("USER mailspec-no-such-user"), client.cmd("PASS wrong"), client.cmd("NOOP")]
    holder = pop3(account, label="holder")
    replies.append(holder.cmd(f"USER {account.user}"))
    for ev in replies:
        raw = ev.raw.rstrip(b"\r\n")
        rest = raw.split(b" ", 1)[1] if b" " in raw else b""
        if rest.startswith(b"["):
            # the client's parser already refused a malformed code; this makes the check explicit
            assert ev.code is not None and all(ev.code_levels), f"bad response code in {ev.raw!r}"
    assert not replies[1].ok, "PASS for an unknown user must fail"


@spec("pop3/2449/5/capa-in-both-states-positive")
def test_capa_in_both_states_positive(pop3, account):
    """CAPA is valid before and after login and always answers +OK."""
    client = pop3()
    multi(client, "CAPA")
    assert client.cmd(f"USER {account.user}").ok and client.cmd(f"PASS {account.password}").ok
    multi(client, "CAPA")
