"""The reference server's shortcuts for many sessions stay correct: the store's read cache sees
every change (this thread, other threads, other processes); group commit shares one fsync among
sessions yet answers nobody before it, holding back only the account a commit touched; the IMAP
server's one subscription and one timeout sweeper still push to every idling session and still log
idle sessions out."""

from __future__ import annotations

import asyncio
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reference_server.durability import GroupCommit
from reference_server.embedded import EmbeddedServer
from reference_server.store import _BARE_CR, _BARE_LF, MessageRow, Store, _AccountReads, normalise_crlf
from reference_server.store_version import StoreVersion


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "s.sqlite")
    s.sync_accounts([("ann", "user")])
    yield s
    s.close()


def test_cached_reads_see_changes_from_this_thread(store: Store) -> None:
    mid = store.mailbox_info("ann", "INBOX").id
    assert store.message_rows(mid) == ()
    uid = store.deliver("ann", b"Subject: a\r\n\r\nx\r\n")
    assert [r.uid for r in store.message_rows(mid)] == [uid]
    store.store_flags("ann", mid, [uid], "+", ("\\Seen",))
    assert store.message_rows(mid)[0].flags == ("\\Seen",)
    info = store.mailbox_by_id(mid)
    assert info is not None and info.uidnext == uid + 1


def test_cached_rows_see_recent_claims_and_changes_to_their_mailbox_only(store: Store) -> None:
    store.create_imap_mailbox("ann", "Other")
    inbox, other = store.mailbox_info("ann", "INBOX").id, store.mailbox_info("ann", "Other").id
    uid = store.deliver("ann", b"Subject: a\r\n\r\nx\r\n")
    assert store.message_rows(inbox)[0].recent
    rows_other = store.message_rows(other)
    assert store.claim_recent(inbox, [uid]) == {uid}
    assert not store.message_rows(inbox)[0].recent
    store.deliver("ann", b"Subject: b\r\n\r\nx\r\n")
    assert store.message_rows(other) is rows_other  # INBOX's change left Other's rows alone
    assert len(store.message_rows(inbox)) == 2


def test_rows_changed_since_are_the_rows_above_a_modseq_in_uid_order(store: Store) -> None:
    mid = store.mailbox_info("ann", "INBOX").id
    uids = [store.deliver("ann", b"Subject: %d\r\n\r\nx\r\n" % n) for n in range(6)]
    rng = random.Random(5)
    for _ in range(30):
        store.store_flags("ann", mid, [rng.choice(uids)], rng.choice("+-"), (rng.choice(("\\Seen", "$x")),))
        rows = store.message_rows(mid)
        for modseq in {0, *(r.modseq for r in rows)}:
            want = [r for r in rows if r.modseq > modseq]
            assert store.rows_changed_since(mid, None, modseq) == want


def test_a_cached_mailbox_survives_other_accounts_commits_only(store: Store, tmp_path: Path) -> None:
    store.sync_accounts([("bob", "user")])
    mid = store.mailbox_info("ann", "INBOX").id
    other = Store(tmp_path / "s.sqlite")
    reads: list[str] = []
    store._conn().set_trace_callback(reads.append)
    first = store.mailbox_by_id(mid)
    other.deliver("bob", b"Subject: for bob\r\n\r\nx\r\n")
    assert store.mailbox_by_id(mid) is first and len(reads) == 1  # bob's commit: no second read
    other.deliver("ann", b"Subject: for ann\r\n\r\nx\r\n")
    info = store.mailbox_by_id(mid)
    assert info is not None and info.uidnext == first.uidnext + 1 and len(reads) == 2
    store._conn().set_trace_callback(None)
    other.close()


def test_own_writes_update_the_cached_mailbox_and_other_connections_writes_empty_it(
        store: Store, tmp_path: Path) -> None:
    mid = store.mailbox_info("ann", "INBOX").id
    uid = store.deliver("ann", b"Subject: a\r\n\r\nx\r\n")
    other = Store(tmp_path / "s.sqlite")
    store.create_imap_mailbox("ann", "Archive")
    assert [m.name for m in store.mailboxes("ann")] == ["Archive", "INBOX"]
    info = store.mailbox_by_id(mid)
    assert info is not None
    reads: list[str] = []
    store._conn().set_trace_callback(reads.append)
    store.store_flags("ann", mid, [uid], "+", ("\\Seen",))
    store.append("ann", "INBOX", [(b"Subject: b\r\n\r\ny\r\n", (), None)])
    store.expunge_ids("ann", mid, [uid])
    writes = len(reads)
    now = store.mailbox_by_id(mid)
    assert now is not None and (now.uidnext, now.highestmodseq) == (info.uidnext + 1, info.highestmodseq + 3)
    assert store.mailbox_info("ann", "INBOX") is now and store.mailboxes("ann")[1] is now
    assert store.mailbox_info("ann", "Archive").name == "Archive"
    assert len(reads) == writes  # all from what this thread already had
    store._conn().set_trace_callback(None)
    other.create_imap_mailbox("ann", "Later")  # another connection: read again
    assert [m.name for m in store.mailboxes("ann")] == ["Archive", "INBOX", "Later"]
    other.close()


def test_rows_brought_up_to_date_equal_rows_read_afresh(store: Store, tmp_path: Path) -> None:
    store.create_imap_mailbox("ann", "Other")
    inbox, other = store.mailbox_info("ann", "INBOX").id, store.mailbox_info("ann", "Other").id
    fresh = Store(tmp_path / "s.sqlite")  # another connection, whose cache we keep empty
    rng = random.Random(3)
    for step in range(300):
        uids = [r.uid for r in store.message_rows(inbox)]
        op = rng.randrange(6)
        if op == 0 or not uids:
            store.deliver("ann", b"Subject: %d\r\n\r\nx\r\n" % step)
        elif op == 1:
            store.store_flags("ann", inbox, rng.sample(uids, min(3, len(uids))), rng.choice("+-"), ("\\Seen",))
        elif op == 2:
            store.expunge_ids("ann", inbox, rng.sample(uids, min(2, len(uids))))
        elif op == 3:
            store.claim_recent(inbox, rng.sample(uids, 1))
        elif op == 4:
            store.deliver("ann", b"Subject: o\r\n\r\nx\r\n", mailbox="Other")
            store.copy_messages("ann", other, [r.uid for r in store.message_rows(other)][-1:], "INBOX")
        else:
            store.append("ann", "INBOX", [(b"Subject: a\r\n\r\nx\r\n", ("\\Flagged",), None)] * 2)
        fresh._local = threading.local()  # forget its cache: a full read every time
        assert store.message_rows(inbox) == fresh.message_rows(inbox), f"step {step}, op {op}"
    fresh.close()


def test_cached_reads_see_changes_from_another_thread_and_another_connection(store: Store, tmp_path: Path) -> None:
    mid = store.mailbox_info("ann", "INBOX").id
    assert store.message_rows(mid) == ()
    thread = threading.Thread(target=store.deliver, args=("ann", b"Subject: t\r\n\r\nx\r\n"))
    thread.start()
    thread.join()
    assert len(store.message_rows(mid)) == 1
    other = Store(tmp_path / "s.sqlite")  # another connection
    other.deliver("ann", b"Subject: p\r\n\r\nx\r\n")
    other.close()
    assert len(store.message_rows(mid)) == 2
    # another process, as `mailspec deliver` is: it shares the change count through the file
    code = "import sys; from reference_server.store import Store; Store(sys.argv[1]).deliver('ann', b'S: q\\r\\n')"
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.sqlite")], check=True)
    assert len(store.message_rows(mid)) == 3
    info = store.mailbox_by_id(mid)
    assert info is not None and info.uidnext == 4


def test_the_change_count_is_shared_through_the_file_and_never_settles_twice_on_one_number(
        tmp_path: Path) -> None:
    here, there = StoreVersion(str(tmp_path / "s")), StoreVersion(str(tmp_path / "s"))  # two processes' maps
    settled = [here.settled()]
    first = here.begin("ann")  # (writers take turns under SQLite's write lock)
    assert there.settled() is None  # under way: nothing read now may be cached
    here.end(first)
    settled.append(there.settled())
    second = there.begin("bob")
    there.end(second)
    settled.append(here.settled())
    here.end(first)  # the first writer's end arriving late, after the second's
    assert here.settled() is None and there.settled() is None
    third = here.begin(None)
    here.end(third)
    settled.append(there.settled())
    assert settled == [0, first, second, third] and len(set(settled)) == 4


def test_crlf_shortcut_agrees_with_the_full_rewrite() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        raw = bytes(rng.choice(b"a\r\n") for _ in range(rng.randrange(12)))
        full = _BARE_LF.sub(b"\r\n", _BARE_CR.sub(b"\r\n", raw))
        assert normalise_crlf(raw) == full + (b"\r\n" if full and not full.endswith(b"\r\n") else b"")


def test_a_recent_claim_leaves_commits_durable(store: Store) -> None:
    uid = store.deliver("ann", b"Subject: a\r\n\r\nx\r\n")
    assert store.claim_recent(store.mailbox_info("ann", "INBOX").id, [uid]) == {uid}
    assert store._conn().execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again


def slow_helper(log: Path, delay: float) -> list[str]:
    """A GroupCommit.helper that syncs after `delay` and logs when each sync ended (slow_wal_sync.py)."""
    return [sys.executable, "-I", str(Path(__file__).with_name("slow_wal_sync.py")), str(log), str(delay)]


def synced_at(log: Path) -> list[float]:
    return [float(line) for line in log.read_text().split()] if log.exists() else []


def test_group_commit_shares_one_fsync_among_waiters(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "syncs"

    async def commit_and_wait() -> None:
        store.defer_fsync()
        group = GroupCommit(store)
        group.helper = slow_helper(log, 0.05)
        for _ in range(5):
            store.deliver("ann", b"Subject: g\r\n\r\nx\r\n")
        store.claim_recent(store.mailbox_info("ann", "INBOX").id, [1])  # bookkeeping: not counted
        assert group.pending("ann") and store.commits == 5
        await asyncio.gather(*(group.durable("ann") for _ in range(10)))
        assert not group.pending("ann")
        group.close()

    asyncio.run(commit_and_wait())
    assert len(synced_at(log)) == 1


def test_an_unflushed_commit_holds_back_its_account_only(store: Store, tmp_path: Path) -> None:
    """A session sees only its own account, so only a commit to that account can be in its answer."""
    store.sync_accounts([("bob", "user")])
    log = tmp_path / "syncs"

    async def commit_and_wait() -> None:
        store.defer_fsync()
        group = GroupCommit(store)
        group.helper = slow_helper(log, 0)
        store.deliver("ann", b"Subject: a\r\n\r\nx\r\n")
        assert group.pending("ann") and not group.pending("bob") and not group.pending(None)
        await group.durable("bob")  # nothing to wait for
        assert synced_at(log) == []
        await group.durable("ann")
        assert len(synced_at(log)) == 1 and not group.pending("ann")
        group.close()

    asyncio.run(commit_and_wait())


def test_another_worker_process_commit_is_pending_until_flushed(store: Store, tmp_path: Path) -> None:
    """With [imap] workers a session may read what another process committed but has not flushed:
    its account's answers wait for a flush that began after it (commit_marks.py)."""
    store.sync_accounts([("bob", "user")])
    store.marks.count = 2  # as workers.py sets it before forking
    store.close()  # no SQLite connection may cross the fork
    pid = os.fork()
    if pid == 0:  # the other worker: one deferred commit, then gone without a flush
        status = 1
        try:
            store.marks.me = 1
            store.defer_fsync()
            store.deliver("ann", b"Subject: elsewhere\r\n\r\nx\r\n")
            status = 0
        finally:
            os._exit(status)
    assert os.waitpid(pid, 0)[1] == 0
    log = tmp_path / "syncs"

    async def check() -> None:
        store.defer_fsync()
        group = GroupCommit(store)
        group.helper = slow_helper(log, 0)
        assert group.pending("ann") and not group.pending("bob") and not group.pending_here
        await group.durable("ann")  # this process's fsync covers the other's commit
        assert len(synced_at(log)) == 1 and not group.pending("ann")
        group.close()

    asyncio.run(check())


def test_nothing_is_answered_before_the_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "syncs"
    monkeypatch.setattr(GroupCommit, "helper", slow_helper(log, 0.3))
    with EmbeddedServer(settings={"allow_plaintext_auth": True}) as srv:
        srv.start()
        watcher, _ = _session(srv, 0)
        watcher.sendall(b"i IDLE\r\n")
        read_until(watcher, b"+ ")
        writer, _ = _session(srv, 0)
        writer.sendall(b"x APPEND INBOX {9+}\r\nSubject: \r\n")
        read_until(writer, b"x OK")
        acked = time.monotonic()
        read_until(watcher, b" EXISTS")
        pushed = time.monotonic()
        synced = synced_at(log)
        assert synced and synced[0] <= acked and synced[0] <= pushed
        watcher.close()
        writer.close()


def _random_sessions(folder: Path, seed: int) -> bytes:
    """Three sessions of one mailbox (one with CONDSTORE, one with QRESYNC) under random commands,
    deliveries and IDLE: every byte they were sent, with the time-based numbers masked."""
    from reference_server.accounts import AccountDirectory
    from reference_server.config import AccountConfig, ServerConfig
    from reference_server.imap.server import imap_settings
    from reference_server.imap.session import ImapSession
    from reference_server.passwords import hash_password

    cfg = ServerConfig(store=str(folder / "s.sqlite"), accounts=(AccountConfig("u", hash_password("p", n=16)),),
                       allow_plaintext_auth=True)
    store = Store(cfg.store)
    store.sync_accounts([("u", "user")])
    store.create_imap_mailbox("u", "Other")
    for k in range(6):
        store.deliver("u", b"Subject: %d\r\n\r\nx\r\n" % k)
    sessions = [ImapSession(store, AccountDirectory(cfg), imap_settings(cfg, True), tls_active=True) for _ in range(3)]
    out = []
    for i, extra in enumerate((b"", b"e ENABLE CONDSTORE\r\n", b"e ENABLE QRESYNC\r\n")):
        out.append(sessions[i].receive_data(b"a LOGIN u p\r\n" + extra + b"s SELECT INBOX\r\n").data)
    rng = random.Random(seed)
    commands = (b"t STORE 1:2 +FLAGS (\\Seen)", b"t STORE 2 -FLAGS (\\Seen)", b"t UID STORE 3:5 +FLAGS (\\Deleted)",
                b"t EXPUNGE", b"t FETCH 1:* (UID FLAGS)", b"t NOOP", b"t APPEND INBOX {5+}\r\nab\r\nc",
                b"t UID COPY 2:* Other", b"t UID MOVE 4 INBOX", b"t SEARCH UNSEEN", b"t IDLE")
    idling: set[int] = set()
    for _ in range(250):
        i = rng.randrange(3)
        if i in idling:
            out.append(sessions[i].idle_updates())
            if rng.random() < 0.3:
                out.append(sessions[i].receive_data(b"DONE\r\n").data)
                idling.discard(i)
        elif rng.random() < 0.15:
            store.deliver("u", b"Subject: d\r\n\r\ny\r\n")
        else:
            line = rng.choice(commands)
            out.append(sessions[i].receive_data(line + b"\r\n").data)
            if line.endswith(b"IDLE"):
                idling.add(i)
    store.close()
    return re.sub(rb"(UIDVALIDITY|COPYUID|APPENDUID) \d+", rb"\1 X", b"".join(out))


@pytest.mark.parametrize("seed", [1, 2])
def test_sessions_answer_the_same_with_the_store_caches_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            seed: int) -> None:
    cached = _random_sessions(tmp_path / "a", seed)

    def uncached_rows(self: Store, mailbox_id: int, info: object = None) -> tuple[MessageRow, ...]:
        return tuple(self._read_rows(self._conn(), "ORDER BY mm.uid", (mailbox_id,)))

    monkeypatch.setattr(Store, "message_rows", uncached_rows)
    monkeypatch.setattr(Store, "_reads_of", lambda self, user: _AccountReads(self.version.label(user)))
    assert _random_sessions(tmp_path / "b", seed) == cached


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(settings={"allow_plaintext_auth": True}) as srv:
        yield srv


@pytest.fixture(scope="module")
def impatient() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(settings={"imap_idle_timeout": 1, "allow_plaintext_auth": True}) as srv:
        yield srv


def _session(srv: EmbeddedServer, account: int) -> tuple[socket.socket, bytes]:
    acc = srv.target.accounts[account]
    s = socket.create_connection(("127.0.0.1", srv.target.endpoints["imap"].port), timeout=5)
    data = s.recv(4096)
    s.sendall(b"a LOGIN %s %s\r\nb SELECT INBOX\r\n" % (acc.user.encode(), acc.password.encode()))
    while b"b OK" not in data:
        data += s.recv(4096)
    return s, data


def read_until(s: socket.socket, needle: bytes, timeout: float = 5.0) -> bytes:
    """Raw socket input up to and including `needle` (`timeout` seconds per recv)."""
    s.settimeout(timeout)
    data = b""
    while needle not in data:
        chunk = s.recv(4096)
        assert chunk, f"closed before {needle!r}; got {data!r}"
        data += chunk
    return data


def test_append_by_one_session_reaches_every_idling_session(server: EmbeddedServer) -> None:
    watchers = [_session(server, 0)[0] for _ in range(20)]
    for w in watchers:
        w.sendall(b"i IDLE\r\n")
        read_until(w, b"+ ")
    writer, selected = _session(server, 0)
    exists = int(selected.split(b" EXISTS")[0].rsplit(b"* ", 1)[1])
    message = b"Subject: s\r\n\r\nx\r\n"
    writer.sendall(b"x APPEND INBOX {%d+}\r\n%s\r\n" % (len(message), message))
    read_until(writer, b"x OK")
    for w in watchers:
        assert b"* %d EXISTS" % (exists + 1) in read_until(w, b" EXISTS")
        w.sendall(b"DONE\r\nz LOGOUT\r\n")
        read_until(w, b"z OK")
        w.close()
    writer.close()


def test_a_session_without_input_is_logged_out(impatient: EmbeddedServer) -> None:
    s, _ = _session(impatient, 1)
    start = time.monotonic()
    assert b"* BYE" in read_until(s, b"* BYE")
    assert 0.5 < time.monotonic() - start < 3
    assert s.recv(4096) == b""  # and the connection is closed
    s.close()


def test_an_idling_session_is_also_logged_out(impatient: EmbeddedServer) -> None:
    s, _ = _session(impatient, 1)
    s.sendall(b"i IDLE\r\n")
    read_until(s, b"+ ")
    assert b"Autologout" in read_until(s, b"* BYE")
    s.close()
