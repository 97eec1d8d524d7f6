"""IMAP served by several processes (`[imap] workers`, reference_server/workers.py).

The server runs as `mailspec serve --config` with two IMAP processes. The tests find out which
process holds each connection (the server side of the TCP connection in /proc/net/tcp, and whose
descriptor it is) so that they can prove a change made through one process is pushed to IDLE
sessions held by the other (RFC 2177), that POP3's maildrop lock still holds (one process serves
POP3), and that the workers end with the first process even when it is killed with SIGKILL.
"""

from __future__ import annotations

import imaplib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reference_server.passwords import hash_password
from tests.test_durability import ServerProcess, server_pids
from tests.test_imap_scale import read_until

USERS = ("wa", "wb")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    accounts = "".join(f'[[accounts]]\nuser = "{u}"\npassword_hash = "{hash_password(u + "-pw", n=2**4)}"\n\n'
                       for u in USERS)
    cfg = tmp_path / "server.toml"
    cfg.write_text('host = "127.0.0.1"\npop3_port = 0\npop3s_port = -1\nimap_port = 0\nimaps_port = -1\n'
                   'store = "mail.sqlite"\nallow_plaintext_auth = true\n\n[imap]\nworkers = 2\n\n'
                   f"{accounts}")
    srv = ServerProcess(cfg)
    yield srv
    srv.stop()


def _holder(server_port: int, client: socket.socket, pids: list[int]) -> int:
    """The server process whose descriptor is the server end of `client`'s connection."""
    client_port = client.getsockname()[1]
    want = f":{server_port:04X}", f":{client_port:04X}"
    inode = ""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(want[0]) and fields[2].endswith(want[1]):
            inode = fields[9]
    assert inode, "server end of the connection not found"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no server process holds socket {inode}")


def _idle_session(port: int, user: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    read_until(sock, b"\r\n")
    sock.sendall(f"a LOGIN {user} {user}-pw\r\nb SELECT INBOX\r\nc IDLE\r\n".encode())
    read_until(sock, b"\r\n+ ")
    return sock


def _watchers_in_both(server: ServerProcess, user: str) -> list[socket.socket]:
    """IDLE sessions of `user` until both processes hold at least one (the kernel picks the process)."""
    pids = server_pids(server.proc.pid)
    assert len(pids) == 2, f"expected two IMAP processes, found {pids}"
    watchers: list[socket.socket] = []
    held: dict[int, int] = {pid: 0 for pid in pids}
    while min(held.values()) == 0:
        assert len(watchers) < 60, f"every connection went to one process: {held}"
        watchers.append(_idle_session(server.ports["imap"], user))
        held[_holder(server.ports["imap"], watchers[-1], pids)] += 1
    return watchers


def test_append_in_one_process_is_pushed_to_idle_sessions_of_the_other(server: ServerProcess) -> None:
    watchers = _watchers_in_both(server, "wa")
    writer = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
    writer.login("wa", "wa-pw")
    appended = time.monotonic()
    typ, _ = writer.append("INBOX", None, None, b"Subject: across\r\n\r\nworkers\r\n")
    assert typ == "OK"
    for sock in watchers:
        assert b"* 1 EXISTS\r\n" in read_until(sock, b" EXISTS\r\n", timeout=2)
    assert time.monotonic() - appended < 2
    # the other account's sessions are not disturbed, in either process
    others = _watchers_in_both(server, "wb")
    writer.append("INBOX", None, None, b"Subject: second\r\n\r\nx\r\n")
    for sock in watchers:
        read_until(sock, b"* 2 EXISTS\r\n", timeout=2)
    for sock in others:
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(100)
    writer.logout()
    for sock in watchers + others:
        sock.sendall(b"DONE\r\n")
        read_until(sock, b"c OK")
        sock.close()


def test_pop3_expunge_reaches_idle_sessions_of_every_process_and_the_lock_holds(server: ServerProcess) -> None:
    import poplib

    imap = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
    imap.login("wb", "wb-pw")
    for n in range(2):
        assert imap.append("INBOX", None, None, b"Subject: %d\r\n\r\nbody\r\n" % n)[0] == "OK"
    watchers = _watchers_in_both(server, "wb")
    pop = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    pop.user("wb")
    pop.pass_("wb-pw")
    second = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    second.user("wb")
    with pytest.raises(poplib.error_proto, match="IN-USE"):
        second.pass_("wb-pw")  # RFC 1939 §8: one process serves POP3, so its lock still holds
    second.close()
    pop.dele(1)
    assert pop.quit().startswith(b"+OK")
    for sock in watchers:
        assert b"* 1 EXPUNGE\r\n" in read_until(sock, b" EXPUNGE\r\n", timeout=2)
        sock.sendall(b"DONE\r\n")
        read_until(sock, b"c OK")
        sock.close()
    imap.logout()


def test_workers_end_when_the_first_process_is_killed(server: ServerProcess) -> None:
    pids = server_pids(server.proc.pid)
    workers = [p for p in pids if p != server.proc.pid]
    assert len(workers) == 1
    server.kill9()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(workers[0]):
        time.sleep(0.05)
    assert not _alive(workers[0]), "the worker outlived the first process"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
