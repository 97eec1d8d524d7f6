"""The embedded server API, and every POP3 fault's effect through the sans-I/O session.

Each fault has an observation below that returns True when the wrong behaviour is seen; the test
asserts it is seen with the fault on and not seen with it off, so neither half can pass vacuously.
"""

from __future__ import annotations

import base64
import poplib
import re
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mailspec.faults import fault_names
from reference_server.accounts import AccountDirectory
from reference_server.config import AccountConfig, ServerConfig
from reference_server.embedded import EmbeddedServer
from reference_server.passwords import hash_password
from reference_server.pop3.session import Pop3Session, SessionSettings
from reference_server.store import Store
from tests.tls_probe import verifies_for_wrong_name

MSG1 = b"Subject: one\r\nFrom: a@example.org\r\n\r\nline 1\r\n.dot line\r\nline 3\r\nline 4\r\n"


# -- the embedded server ---------------------------------------------------------------------------

def test_embedded_target_shape_and_session() -> None:
    t0 = time.perf_counter()
    with EmbeddedServer() as srv:
        started = time.perf_counter() - t0
        target = srv.target
        assert target.name == "mailspec-reference"
        assert target.endpoints["pop3"].tls == "starttls" and target.endpoints["pop3s"].tls == "implicit"
        assert target.delivery.method == "builtin"
        assert target.tls.ca_file and Path(target.tls.ca_file).exists()
        assert [a.user for a in target.disposable_accounts()] == ["alice", "bob", "carol", "dave"]
        assert {a.user for a in target.accounts if a.role != "user"} == {"admin", "guest"}
        assert target.settings["autologout"] == 600 and target.settings["max_line"] == 255
        alice = target.accounts[0]
        # delivery from another thread than the server loop
        th = threading.Thread(target=srv.deliver, args=(alice, b"Subject: x\n\nhi\n"))
        th.start()
        th.join()
        ctx = ssl.create_default_context(cafile=target.tls.ca_file)
        pop = poplib.POP3_SSL("127.0.0.1", target.endpoints["pop3s"].port, context=ctx, timeout=5)
        pop.user(alice.user)
        pop.pass_(alice.password)
        assert pop.stat() == (1, len(b"Subject: x\r\n\r\nhi\r\n"))
        pop.quit()
        tmp = Path(target.tls.ca_file).parent.parent
    assert started < 1.0  # TLS material is cached per process; generous for slow CI
    assert not tmp.exists()


def test_embedded_settings_override_and_faults_validated() -> None:
    with EmbeddedServer(settings={"idle_timeout": 2, "max_connections": 3}) as srv:
        assert srv.target.settings["autologout"] == 2
        assert srv.target.settings["max_connections"] == 3
    with pytest.raises(ValueError, match="unknown fault"):
        EmbeddedServer(["pop3-no-such-fault"])


def test_embedded_stop_closes_open_sessions() -> None:
    srv = EmbeddedServer()
    target = srv.start()
    pop = poplib.POP3("127.0.0.1", target.endpoints["pop3"].port, timeout=5)
    srv.stop()
    with pytest.raises((poplib.error_proto, OSError, EOFError)):
        pop.noop()
        pop.noop()


# -- a sans-I/O harness ----------------------------------------------------------------------------

class Harness:
    """A store with alice (3 messages), bob and admin, and sessions over it."""

    def __init__(self, folder: Path, faults: frozenset[str]) -> None:
        accounts = tuple(AccountConfig(u, hash_password(f"{u}-pw", n=2**4), r, f"{u}-pw")
                         for u, r in (("alice", "user"), ("bob", "user"), ("admin", "admin")))
        self.config = ServerConfig(store=str(folder / "s.sqlite"), accounts=accounts)
        self.store = Store(self.config.store)
        self.store.sync_accounts((a.user, a.role) for a in accounts)
        self.directory = AccountDirectory(self.config)
        self.faults = faults
        for raw in (MSG1, b"Subject: two\r\n\r\nsecond\r\n", b"Subject: three\r\n\r\nthird\r\n"):
            self.store.deliver("alice", raw)

    def session(self, tls: bool = True) -> Pop3Session:
        s = Pop3Session(self.store, self.directory, SessionSettings(), self.faults, tls_active=tls)
        s.greeting()
        return s

    @staticmethod
    def cmd(s: Pop3Session, line: bytes) -> bytes:
        return s.receive_data(line + b"\r\n").data

    def login(self, user: str = "alice") -> Pop3Session:
        s = self.session()
        self.cmd(s, b"USER " + user.encode())
        assert self.cmd(s, f"PASS {user}-pw".encode()).lower().startswith(b"+ok")
        return s


def _second_login(h: Harness) -> bytes:
    h.login()
    s2 = h.session()
    h.cmd(s2, b"USER alice")
    return h.cmd(s2, b"PASS alice-pw")


def _after_dele(h: Harness, then: bytes) -> bytes:
    s = h.login()
    h.cmd(s, b"DELE 1")
    return h.cmd(s, then)


def _uidl1(h: Harness) -> bytes:
    s = h.login()
    out = h.cmd(s, b"UIDL 1")
    h.cmd(s, b"QUIT")
    return out


def _plain(user: str, pw: str) -> bytes:
    return base64.b64encode(f"\0{user}\0{pw}".encode())


def _dele_then_drop(h: Harness) -> bool:
    s = h.login()
    h.cmd(s, b"DELE 1")
    s.connection_lost()
    return len(h.store.list_messages("alice")) < 3


def _dele_then_quit(h: Harness) -> bool:
    s = h.login()
    h.cmd(s, b"DELE 1")
    assert h.cmd(s, b"QUIT").lower().startswith(b"+ok")
    return len(h.store.list_messages("alice")) == 3


def _star(h: Harness) -> bool:
    s = h.session()
    assert h.cmd(s, b"AUTH PLAIN") == b"+ \r\n"
    return not h.cmd(s, b"*").startswith(b"-ERR")


def _bad_base64(h: Harness) -> bool:
    enc = _plain("alice", "alice-pw")
    return h.cmd(h.session(), b"AUTH PLAIN " + enc[:4] + b"!" + enc[4:]).startswith(b"+OK")


def _stls_after_login(h: Harness) -> bool:
    s = h.login()
    s.tls_active = False  # as if logged in over a plain connection with plaintext auth allowed
    return h.cmd(s, b"STLS").lower().startswith(b"+ok")


def _timestamp(h: Harness) -> str:
    g = h.session().greeting()
    found = re.search(rb"<[^>]+>", g)
    assert found
    return found.group().decode()


def _capa_before_login(h: Harness, tls: bool = True) -> bytes:
    return h.cmd(h.session(tls=tls), b"CAPA")


def _capa_after_sasl_login(h: Harness) -> bytes:
    s = h.session()
    assert h.cmd(s, b"AUTH PLAIN " + _plain("alice", "alice-pw")).startswith(b"+OK")
    return h.cmd(s, b"CAPA")


def _implicit_tls_user_refused(h: Harness) -> bool:
    """Server-level fault: an implicit-TLS connection is treated as clear text, so USER is refused."""
    with EmbeddedServer(sorted(h.faults)) as srv:
        target = srv.target
        ctx = ssl.create_default_context(cafile=target.tls.ca_file)
        pop = poplib.POP3_SSL("127.0.0.1", target.endpoints["pop3s"].port, context=ctx, timeout=5)
        try:
            pop.user(target.accounts[0].user)
        except poplib.error_proto:
            return True
        finally:
            pop.close()
        return False


def _unknown_user_code_unclosed(h: Harness) -> bool:
    s = h.session()
    h.cmd(s, b"USER nobody")
    reply = h.cmd(s, b"PASS nothing")
    return reply.startswith(b"-ERR [") and b"]" not in reply


def _wrong_name_verifies(h: Harness) -> bool:
    """Server-level fault: the implicit-TLS listener presents a certificate for a name it does not have."""
    return verifies_for_wrong_name(h.faults, "pop3s")


OBSERVE: dict[str, Callable[[Harness], bool]] = {
    "pop3-no-byte-stuffing": lambda h: b"\r\n.dot line" in h.cmd(h.login(), b"RETR 1"),
    "pop3-multiline-bare-lf": lambda h: re.search(rb"[^\r]\n", h.cmd(h.login(), b"RETR 1")) is not None,
    "pop3-status-lowercase": lambda h: h.cmd(h.login(), b"STAT").startswith(b"+ok"),
    "pop3-unknown-command-ok": lambda h: h.cmd(h.login(), b"XYZZ").startswith(b"+OK"),
    "pop3-greeting-not-ok": lambda h: not h.session().greeting().startswith(b"+OK "),
    "pop3-no-maildrop-lock": lambda h: _second_login(h).startswith(b"+OK"),
    "pop3-stat-in-authorization": lambda h: h.cmd(h.session(), b"STAT").startswith(b"+OK"),
    "pop3-list-size-lf-only": lambda h: h.cmd(h.login(), b"LIST 1") != f"+OK 1 {len(MSG1)}\r\n".encode(),
    "pop3-deleted-still-listed": lambda h: b"\r\n1 " in _after_dele(h, b"LIST"),
    "pop3-retr-deleted-allowed": lambda h: _after_dele(h, b"RETR 1").startswith(b"+OK"),
    "pop3-dele-twice-ok": lambda h: _after_dele(h, b"DELE 1").startswith(b"+OK"),
    "pop3-rset-ignored": lambda h: _rset_ignored(h),
    "pop3-dele-immediate": _dele_then_drop,
    "pop3-quit-keeps-deleted": _dele_then_quit,
    "pop3-top-ignores-lines": lambda h: b"line 3" in h.cmd(h.login(), b"TOP 1 1"),
    "pop3-uidl-unstable": lambda h: _uidl1(h) != _uidl1(h),
    "pop3-uidl-bad-chars": lambda h: b"\x7f" in _uidl1(h),
    "pop3-apop-fixed-timestamp": lambda h: _timestamp(h) == _timestamp(h),
    "pop3-pass-without-user": lambda h: h.cmd(h.session(), b"PASS alice-pw").startswith(b"+OK"),
    "pop3-capa-missing-uidl": lambda h: b"\r\nUIDL\r\n" not in h.cmd(h.login(), b"CAPA"),
    "pop3-short-command-limit": lambda h: b"too long" in h.cmd(h.login(), b"NOOP" + b" " * 180),
    "pop3-pipelining-drops": lambda h: h.login().receive_data(b"NOOP\r\nNOOP\r\nSTAT\r\n").data.count(b"+OK") < 3,
    "pop3-in-use-no-code": lambda h: b"[IN-USE]" not in _second_login(h),
    "pop3-stls-after-login": _stls_after_login,
    "pop3-auth-star-ignored": _star,
    "pop3-auth-bad-base64-accepted": _bad_base64,
    "pop3-auth-twice-ok": lambda h: h.cmd(h.login(), b"AUTH PLAIN " + _plain("alice", "alice-pw"))
    .startswith(b"+OK"),
    "pop3-timestamp-control-char": lambda h: "\x7f" in _timestamp(h),
    "pop3-login-delay-only-after-login": lambda h: b"\r\nLOGIN-DELAY " not in _capa_before_login(h),
    "pop3-expire-only-after-login": lambda h: b"\r\nEXPIRE " not in _capa_before_login(h),
    "pop3-sasl-plain-offered-without-tls": lambda h: b"\r\nSASL PLAIN" in _capa_before_login(h, tls=False),
    "pop3-sasl-dropped-after-auth": lambda h: b"\r\nSASL " not in _capa_after_sasl_login(h),
    "pop3-auth-mechanism-case-sensitive": lambda h: not h.cmd(h.session(), b"AUTH plain " + _plain("alice", "alice-pw"))
    .startswith(b"+OK"),
    "pop3-implicit-tls-not-trusted": _implicit_tls_user_refused,
    "pop3-unknown-user-code-unclosed": _unknown_user_code_unclosed,
    "pop3-tls-cert-any-name": _wrong_name_verifies,
}


def _rset_ignored(h: Harness) -> bool:
    s = h.login()
    h.cmd(s, b"DELE 1")
    h.cmd(s, b"RSET")
    return h.cmd(s, b"RETR 1").startswith(b"-ERR")


def test_every_pop3_fault_has_an_observation() -> None:
    assert set(OBSERVE) == set(fault_names("pop3"))


@pytest.mark.parametrize("fault", sorted(OBSERVE))
def test_fault_changes_behaviour(fault: str, tmp_path: Path) -> None:
    observe = OBSERVE[fault]
    assert not observe(Harness(tmp_path / "clean", frozenset())), "misbehaviour seen without the fault"
    assert observe(Harness(tmp_path / "faulty", frozenset({fault}))), "fault had no visible effect"
