"""What a client was told survives `kill -9` of the reference server (DESIGN.md, "The store").

The server runs as `mailspec serve --config` in a child process and is killed with SIGKILL while
clients work, then started again on the same store file. An APPEND answered with a tagged OK and an
APPENDUID must come back byte-for-byte under that UID; a POP3 DELE is final only once QUIT was
answered with +OK (RFC 1939 §6), so DELE without QUIT leaves the message in place.
"""

from __future__ import annotations

import imaplib
import os
import poplib
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reference_server.main import serving_ports
from reference_server.passwords import hash_password

ROOT = Path(__file__).resolve().parent.parent
USERS = ("dura", "durb")
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")


class ServerProcess:
    """`mailspec serve --config` in a child process; `ports` as it printed them."""

    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailspec", "serve", "--config", str(config)], cwd=ROOT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 20
        ports = None
        while ports is None and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                break
            ports = serving_ports(line)
        if ports is None:
            self.proc.kill()
            pytest.fail(f"mailspec serve did not start (exit status {self.proc.poll()})")
        self.ports: dict[str, int] = ports

    def kill9(self) -> None:
        """SIGKILL the server: its first process only (its IMAP workers must notice by themselves)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        assert self.proc.returncode == -signal.SIGKILL

    def kill9_all(self) -> None:
        """SIGKILL every process of the server at once, as a crash of the machine would stop them."""
        pids = server_pids(self.proc.pid)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        self.proc.wait(10)
        assert self.proc.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def server_pids(pid: int) -> list[int]:
    """A server's processes: `pid` and its children that are IMAP workers of `[imap] workers` (not
    the fsync helpers of reference_server/wal_sync.py, which end by themselves with their parent)."""
    children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [pid, *(c for c in children if b"wal_sync" not in Path(f"/proc/{c}/cmdline").read_bytes())]


@pytest.fixture(params=[1, 2], ids=["one-process", "two-imap-workers"])
def config(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    accounts = "".join(f'[[accounts]]\nuser = "{u}"\npassword_hash = "{hash_password(u + "-pw", n=2**4)}"\n\n'
                       for u in USERS)
    cfg = tmp_path / "server.toml"
    cfg.write_text('host = "127.0.0.1"\npop3_port = 0\npop3s_port = -1\nimap_port = 0\nimaps_port = -1\n'
                   'store = "mail.sqlite"\nallow_plaintext_auth = true\n\n[imap]\nspecial_use_folders = false\n'
                   f"workers = {request.param}\n\n"
                   f"{accounts}")
    return cfg


@pytest.fixture
def started() -> Iterator[list[ServerProcess]]:
    """Servers the test starts on `config`; every one still running at the end is stopped."""
    servers: list[ServerProcess] = []
    yield servers
    for s in servers:
        s.stop()


def imap_login(server: ServerProcess, user: str) -> imaplib.IMAP4:
    conn = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
    conn.login(user, user + "-pw")
    return conn


def message(writer: int, n: int) -> bytes:
    """A distinct CRLF message of 0.3-30 KiB with 8-bit octets, so byte-for-byte means something."""
    body = b"".join(b"writer %d message %d line %d \xc3\xa9\xe2\x82\xac\r\n" % (writer, n, i)
                    for i in range(10 + (n * 97 + writer * 31) % 900))
    return b"From: w%d@example.test\r\nSubject: durability %d/%d\r\n\r\n" % (writer, writer, n) + body


@dataclass
class Acknowledged:
    uidvalidity: int
    uid: int
    data: bytes


def append_until_killed(server: ServerProcess, writer: int, acked: list[Acknowledged],
                        sent: list[bytes], stop: threading.Event) -> None:
    """APPEND to dura's INBOX until the connection dies; record what got a tagged OK with APPENDUID."""
    try:
        conn = imap_login(server, "dura")
        n = 0
        while not stop.is_set() and n < 2000:
            data = message(writer, n)
            sent.append(data)
            typ, resp = conn.append("INBOX", None, None, data)
            n += 1
            m = _APPENDUID.search(resp[0] or b"")
            assert typ == "OK" and m, resp
            acked.append(Acknowledged(int(m[1]), int(m[2]), data))
    except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error, EOFError):
        pass  # the server was killed under us: that is the point


def test_acknowledged_appends_survive_kill9(config: Path, started: list[ServerProcess]) -> None:
    started.append(first := ServerProcess(config))
    acked: list[Acknowledged] = []
    sent: list[bytes] = []
    stop = threading.Event()
    writers = [threading.Thread(target=append_until_killed, args=(first, w, acked, sent, stop)) for w in range(4)]
    for t in writers:
        t.start()
    deadline = time.monotonic() + 4
    while len(acked) < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    first.kill9_all()  # while the writers still have APPENDs in flight
    stop.set()
    for t in writers:
        t.join(10)
    assert len(acked) >= 20, f"only {len(acked)} APPENDs were acknowledged before the kill"

    started.append(second := ServerProcess(config))
    conn = imap_login(second, "dura")
    assert conn.select("INBOX")[0] == "OK"
    assert {a.uidvalidity for a in acked} == {int(conn.untagged_responses["UIDVALIDITY"][0])}
    typ, fetched = conn.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
    assert typ == "OK"
    stored: dict[int, bytes] = {}
    for item in fetched:
        if isinstance(item, tuple):
            uid = int(re.search(rb"UID (\d+)", item[0])[1])  # type: ignore[index]
            stored[uid] = item[1]
    for a in acked:
        assert stored.get(a.uid) == a.data, f"acknowledged UID {a.uid} is missing or differs after kill -9"
    # Anything else there is an APPEND that was in flight: whole, and not stored twice.
    others = [d for u, d in stored.items() if u not in {a.uid for a in acked}]
    assert all(d in sent for d in others)
    assert len(set(stored.values())) == len(stored)
    # UIDs handed out before the crash are never handed out again (RFC 3501 §2.3.1.1).
    typ, resp = conn.append("INBOX", None, None, message(99, 0))
    m = _APPENDUID.search(resp[0])
    assert typ == "OK" and m and int(m[2]) > max(stored)
    conn.logout()


def pop3_login(server: ServerProcess, user: str) -> poplib.POP3:
    pop = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    pop.user(user)
    pop.pass_(user + "-pw")
    return pop


def uidl(pop: poplib.POP3) -> list[bytes]:
    return [line.split()[1] for line in pop.uidl()[1]]


def test_pop3_deletes_count_only_after_quit(config: Path, started: list[ServerProcess]) -> None:
    started.append(first := ServerProcess(config))
    for user in USERS:
        conn = imap_login(first, user)
        for n in range(3):
            assert conn.append("INBOX", None, None, message(7, n))[0] == "OK"
        conn.logout()
    # durb: DELE 1 and QUIT answered +OK -- gone for good.
    pop = pop3_login(first, "durb")
    gone = uidl(pop)[0]
    pop.dele(1)
    assert pop.quit().startswith(b"+OK")
    # dura: DELE 1, no QUIT: the server dies with the session still in the TRANSACTION state.
    pop = pop3_login(first, "dura")
    kept = uidl(pop)
    assert pop.dele(1).startswith(b"+OK")
    first.kill9_all()
    pop.close()

    started.append(second := ServerProcess(config))
    pop = pop3_login(second, "durb")
    assert pop.stat()[0] == 2 and gone not in uidl(pop)
    pop.quit()
    pop = pop3_login(second, "dura")
    assert pop.stat()[0] == 3 and uidl(pop) == kept
    assert b"\r\n".join(pop.retr(1)[1]) + b"\r\n" == message(7, 0)
    pop.quit()
