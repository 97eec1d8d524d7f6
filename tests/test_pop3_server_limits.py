"""The POP3 server over real sockets: limits, garbage input, pipelining, STLS and implicit TLS."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator

import pytest

from mailspec.targets import Account, Target
from reference_server.embedded import EmbeddedServer


class Raw:
    """A minimal line-oriented POP3 client on a raw (optionally TLS) socket."""

    def __init__(self, target: Target, proto: str = "pop3") -> None:
        ep = target.endpoints[proto]
        self.target = target
        self.sock: socket.socket = socket.create_connection((ep.host, ep.port), timeout=5)
        if proto == "pop3s":
            self.sock = self._ctx().wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""
        self.greeting = self.line()

    def _ctx(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.target.tls.ca_file)

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out

    def multi(self) -> list[bytes]:
        lines = []
        while (ln := self.line()) != b".":
            lines.append(ln)
        return lines

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def cmd(self, line: bytes) -> bytes:
        self.send(line + b"\r\n")
        return self.line()

    def starttls(self) -> None:
        assert self.cmd(b"STLS").startswith(b"+OK")
        assert self.buf == b""
        self.sock = self._ctx().wrap_socket(self.sock, server_hostname="localhost")

    def login(self, acc: Account) -> None:
        assert self.cmd(b"USER " + acc.user.encode()).startswith(b"+OK")
        assert self.cmd(b"PASS " + acc.password.encode()).startswith(b"+OK")

    def closed(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except (ConnectionError, ssl.SSLError):
            return True


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(settings={"max_line": 255}) as srv:
        yield srv


def alice(t: Target) -> Account:
    return t.accounts[0]


def test_overlong_line_gets_err_and_session_continues(server: EmbeddedServer) -> None:
    c = Raw(server.target)
    assert c.cmd(b"NOOP " + b"x" * 300).startswith(b"-ERR")
    # an over-long line arriving in pieces is refused once, its tail discarded
    c.send(b"CAPA" + b" " * 400)
    assert c.line().startswith(b"-ERR")
    c.send(b"y" * 400 + b"\r\nCAPA\r\n")
    assert c.line().startswith(b"+OK")
    assert b"TOP" in c.multi()


def test_255_octet_command_accepted(server: EmbeddedServer) -> None:
    c = Raw(server.target)
    line = b"USER " + b"u" * (255 - 7)
    assert len(line + b"\r\n") == 255
    c.starttls()
    assert c.cmd(line).startswith(b"+OK")


def test_binary_garbage_and_nul_get_err(server: EmbeddedServer) -> None:
    c = Raw(server.target)
    for junk in (b"\x00\xff\xfe", b"US\x00ER alice", b"\xc3\xa9T\xc3\xa0T", b"", b"\x16\x03\x01\x02"):
        assert c.cmd(junk).startswith(b"-ERR"), junk
    assert c.cmd(b"capa").startswith(b"+OK")  # case-insensitive, and still alive
    c.multi()


def test_plaintext_auth_refused_before_tls(server: EmbeddedServer) -> None:
    c = Raw(server.target)
    assert c.cmd(b"USER alice").startswith(b"-ERR [AUTH]")
    assert c.cmd(b"AUTH PLAIN AGFsaWNlAHg=").startswith(b"-ERR [AUTH]")
    c.send(b"CAPA\r\n")
    c.line()
    caps = c.multi()
    assert b"STLS" in caps and b"USER" not in caps and b"SASL PLAIN" not in caps


def test_stls_handshake_then_capa_changes(server: EmbeddedServer) -> None:
    c = Raw(server.target)
    c.starttls()
    c.send(b"CAPA\r\n")
    assert c.line().startswith(b"+OK")
    caps = c.multi()
    assert b"USER" in caps and b"SASL PLAIN" in caps and b"STLS" not in caps
    assert c.cmd(b"STLS").startswith(b"-ERR")
    c.login(alice(server.target))
    assert c.cmd(b"QUIT").startswith(b"+OK")


def test_commands_pipelined_after_stls_are_discarded(server: EmbeddedServer) -> None:
    c = Raw(server.target)
    c.send(b"STLS\r\nCAPA\r\n")
    assert c.line().startswith(b"+OK")
    c.sock = c._ctx().wrap_socket(c.sock, server_hostname="localhost")
    assert c.cmd(b"NOOP").startswith(b"-ERR")  # the injected CAPA got no answer; this is the next one


def test_implicit_tls(server: EmbeddedServer) -> None:
    c = Raw(server.target, "pop3s")
    assert c.greeting.startswith(b"+OK")
    assert c.cmd(b"STLS").startswith(b"-ERR")
    c.login(alice(server.target))
    assert c.cmd(b"STAT").startswith(b"+OK")
    c.cmd(b"QUIT")


def test_pipelining_answers_in_order(server: EmbeddedServer) -> None:
    acc = server.target.accounts[1]
    msg = b"Subject: p\r\n\r\n.x\r\n"
    server.deliver(acc, msg)
    c = Raw(server.target, "pop3s")
    c.send(b"USER %s\r\nPASS %s\r\nSTAT\r\nLIST\r\nRETR 1\r\nNOOP\r\nQUIT\r\n"
           % (acc.user.encode(), acc.password.encode()))
    assert c.line().startswith(b"+OK")
    assert c.line().startswith(b"+OK maildrop has 1")
    assert c.line() == b"+OK 1 %d" % len(msg)
    assert c.line().startswith(b"+OK") and c.multi() == [b"1 %d" % len(msg)]
    assert c.line().startswith(b"+OK") and c.multi() == [b"Subject: p", b"", b"..x"]
    assert c.line() == b"+OK"
    assert c.line().startswith(b"+OK")
    assert c.closed()


def test_dropped_connection_deletes_nothing_quit_does(server: EmbeddedServer) -> None:
    acc = server.target.accounts[2]
    msg = b"Subject: d\r\n\r\nx\r\n"
    server.deliver(acc, msg)
    c = Raw(server.target, "pop3s")
    c.login(acc)
    assert c.cmd(b"DELE 1").startswith(b"+OK")
    assert c.cmd(b"RETR 1").startswith(b"-ERR")
    c.sock.close()
    time.sleep(0.1)
    c = Raw(server.target, "pop3s")
    c.login(acc)  # also proves the lock was released on the drop
    assert c.cmd(b"STAT") == b"+OK 1 %d" % len(msg)
    c.cmd(b"DELE 1")
    assert c.cmd(b"QUIT").startswith(b"+OK")
    c = Raw(server.target, "pop3s")
    c.login(acc)
    assert c.cmd(b"STAT") == b"+OK 0 0"


def test_argument_validation_and_roles(server: EmbeddedServer) -> None:
    t = server.target
    c = Raw(t, "pop3s")
    for role_acc in t.accounts[4:]:
        c.cmd(b"USER " + role_acc.user.encode())
        assert c.cmd(b"PASS " + role_acc.password.encode()).startswith(b"-ERR [AUTH]")
    c.cmd(b"USER dave")
    assert c.cmd(b"PASS wrong").startswith(b"-ERR [AUTH]")
    assert c.cmd(b"PASS wrong").startswith(b"-ERR")  # USER must be sent again
    acc = t.accounts[3]
    server.deliver(acc, b"Subject: v\r\n\r\n1\r\n2\r\n")
    c.login(acc)  # failed attempts left no lock behind
    for bad in (b"TOP 1 -1", b"TOP 1 x", b"TOP 1", b"RETR 0", b"RETR 99", b"RETR one", b"LIST 1 2",
                b"DELE", b"STAT x", b"USER dave", b"LIST  1"):
        assert c.cmd(bad).startswith(b"-ERR"), bad
    assert c.cmd(b"TOP 1 1").startswith(b"+OK") and c.multi() == [b"Subject: v", b"", b"1"]
    # a second session for the same maildrop is refused while this one holds it
    c2 = Raw(t, "pop3s")
    c2.cmd(b"USER dave")
    assert c2.cmd(b"PASS " + acc.password.encode()).startswith(b"-ERR [IN-USE]")


def test_idle_timeout_closes() -> None:
    with EmbeddedServer(settings={"idle_timeout": 0.4}) as srv:
        c = Raw(srv.target)
        t0 = time.monotonic()
        assert c.line().startswith(b"-ERR")
        assert c.closed()
        assert time.monotonic() - t0 < 3


def test_connection_limit_refuses_excess() -> None:
    with EmbeddedServer(settings={"max_connections": 2}) as srv:
        held = [Raw(srv.target), Raw(srv.target)]
        extra = Raw(srv.target)
        assert extra.greeting.startswith(b"-ERR [SYS/TEMP]")
        assert extra.closed()
        held[0].cmd(b"QUIT")
        time.sleep(0.1)
        assert Raw(srv.target).greeting.startswith(b"+OK")


def test_login_delay_advertised_and_enforced() -> None:
    with EmbeddedServer(settings={"login_delay": 60}) as srv:
        acc = srv.target.accounts[0]
        c = Raw(srv.target, "pop3s")
        c.login(acc)
        c.send(b"CAPA\r\n")
        c.line()
        assert b"LOGIN-DELAY 60" in c.multi()
        c.cmd(b"QUIT")
        c = Raw(srv.target, "pop3s")
        c.cmd(b"USER " + acc.user.encode())
        assert c.cmd(b"PASS " + acc.password.encode()).startswith(b"-ERR [LOGIN-DELAY]")
