"""The SQLite store: durability across reopen, CRLF normalisation, expunge records, events, import."""

from __future__ import annotations

import mailbox
import sqlite3
import threading
from pathlib import Path

import pytest

from reference_server.importer import import_paths
from reference_server.store import MessageAdded, MessagesExpunged, Store, StoreError, normalise_crlf


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "s.sqlite")
    s.sync_accounts([("alice", "user"), ("bob", "user")])
    return s


def test_delivered_message_survives_reopen(tmp_path: Path, store: Store) -> None:
    uid = store.deliver("alice", b"Subject: a\r\n\r\nbody\r\n")
    store.close()
    again = Store(tmp_path / "s.sqlite")
    assert again.list_messages("alice") == [(uid, 20)]
    assert again.fetch_raw("alice", uid) == b"Subject: a\r\n\r\nbody\r\n"


def test_wal_and_full_sync(store: Store) -> None:
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._conn().execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_bare_lf_normalised_and_size_counts_crlf(store: Store) -> None:
    uid = store.deliver("alice", b"A: b\n\nx\ny")
    assert store.fetch_raw("alice", uid) == b"A: b\r\n\r\nx\r\ny\r\n"
    assert store.list_messages("alice") == [(uid, len(b"A: b\r\n\r\nx\r\ny\r\n"))]
    assert normalise_crlf(b"a\r\nb\rc\n") == b"a\r\nb\r\nc\r\n"


def test_uids_ascend_and_are_not_reused(store: Store) -> None:
    u1 = store.deliver("alice", b"1\r\n")
    u2 = store.deliver("alice", b"2\r\n")
    assert u2 == u1 + 1
    store.expunge("alice", [u2])
    assert store.deliver("alice", b"3\r\n") == u2 + 1
    assert store.uidnext("alice") == u2 + 2


def test_expunge_records_and_bumps_modseq(store: Store) -> None:
    uids = [store.deliver("alice", f"m{i}\r\n".encode()) for i in range(3)]
    before = store.highestmodseq("alice")
    assert store.expunge("alice", [uids[0], uids[2], 999]) == [uids[0], uids[2]]
    assert store.highestmodseq("alice") == before + 2
    assert store.list_messages("alice") == [(uids[1], 4)]
    assert store.expunged_since("alice", before) == [uids[0], uids[2]]
    with pytest.raises(StoreError):
        store.fetch_raw("alice", uids[0])


def test_accounts_are_separate_and_unknown_raises(store: Store) -> None:
    store.deliver("alice", b"x\r\n")
    assert store.list_messages("bob") == []
    assert store.uidvalidity("alice") != store.uidvalidity("bob")
    with pytest.raises(StoreError):
        store.deliver("nobody", b"x\r\n")


def test_events_fan_out_and_unsubscribe(store: Store) -> None:
    seen: list[object] = []
    unsubscribe = store.subscribe(seen.append)
    uid = store.deliver("alice", b"x\r\n")
    store.expunge("alice", [uid])
    unsubscribe()
    store.deliver("alice", b"y\r\n")
    assert seen == [MessageAdded("alice", "INBOX", uid), MessagesExpunged("alice", "INBOX", (uid,))]


def test_usable_from_another_thread(store: Store) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(20):
                store.deliver("bob", b"t\r\n")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(store.list_messages("bob")) == 60


def test_import_eml_mbox_and_maildir(tmp_path: Path, store: Store) -> None:
    eml = tmp_path / "one.eml"
    eml.write_bytes(b"Subject: eml\n\nhello\n")
    mb = mailbox.mbox(str(tmp_path / "box.mbox"))
    for s in ("m1", "m2"):
        mb.add(f"Subject: {s}\n\nbody\n".encode())
    mb.close()
    md = mailbox.Maildir(str(tmp_path / "md"))
    md.add(b"Subject: md\n\nx\n")
    uids = import_paths(store, "alice", [eml, tmp_path / "box.mbox", tmp_path / "md"])
    assert len(uids) == 4
    subjects = [store.fetch_raw("alice", u).split(b"\r\n")[0] for u in uids]
    assert subjects == [b"Subject: eml", b"Subject: m1", b"Subject: m2", b"Subject: md"]
