"""The store's IMAP operations: UIDVALIDITY, \\Recent claims, MODSEQ, COPY/MOVE maps, mailboxes, quota."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reference_server.store import (
    FlagsChanged,
    MailboxExists,
    MailboxRefused,
    MessageAdded,
    MessagesExpunged,
    QuotaExceeded,
    Store,
    StoreEvent,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "s.sqlite")
    s.sync_accounts([("alice", "user")])
    yield s
    s.close()


def test_uidvalidity_never_reused(store: Store) -> None:
    seen = set()
    for _ in range(3):
        seen.add(store.create_imap_mailbox("alice", "Box").uidvalidity)
        store.delete_imap_mailbox("alice", "Box")
    assert len(seen) == 3


def test_recent_is_claimed_once(store: Store) -> None:
    uid = store.deliver("alice", b"Subject: x\r\n\r\nx\r\n")
    mid = store.mailbox_info("alice", "INBOX").id
    assert store.claim_recent(mid, [uid]) == {uid}
    assert store.claim_recent(mid, [uid]) == set()


def test_flags_modseq_and_unchangedsince(store: Store) -> None:
    uid = store.deliver("alice", b"x\r\n")
    mid = store.mailbox_info("alice", "INBOX").id
    before = store.message_rows(mid)[0].modseq
    changed, failed = store.store_flags("alice", mid, [uid], "+", ["\\Seen"])
    assert changed[uid][0] == ("\\Seen",) and changed[uid][1] > before and not failed
    same, _ = store.store_flags("alice", mid, [uid], "+", ["\\Seen"])
    assert same[uid][1] == changed[uid][1]  # nothing changed, no new MODSEQ
    _, failed = store.store_flags("alice", mid, [uid], "", [], unchangedsince=before)
    assert failed == [uid] and store.flags("alice", uid) == ("\\Seen",)


def test_copy_and_move_map_uids_and_emit_events(store: Store) -> None:
    events: list[StoreEvent] = []
    store.subscribe(events.append)
    store.create_imap_mailbox("alice", "Dest")
    a = store.deliver("alice", b"a\r\n")
    b = store.deliver("alice", b"b\r\n")
    mid = store.mailbox_info("alice", "INBOX").id
    uv, pairs = store.copy_messages("alice", mid, [a, b], "Dest")
    assert uv == store.uidvalidity("alice", "Dest") and pairs == [(a, 1), (b, 2)]
    _, moved = store.copy_messages("alice", mid, [a], "Dest", move=True)
    assert moved == [(a, 3)] and [u for u, _ in store.list_messages("alice")] == [b]
    store.store_flags("alice", mid, [b], "+", ["x"])
    kinds = [type(e) for e in events]
    assert MessageAdded in kinds and MessagesExpunged in kinds and FlagsChanged in kinds
    assert store.vanished_since(mid, 0) == [a]


def test_delete_with_children_and_rename(store: Store) -> None:
    store.create_imap_mailbox("alice", "A/B/C")
    assert {m.name for m in store.mailboxes("alice")} >= {"A", "A/B", "A/B/C"}
    store.delete_imap_mailbox("alice", "A")
    assert store.mailbox_info("alice", "A").noselect
    with pytest.raises(MailboxRefused):
        store.delete_imap_mailbox("alice", "A")
    with pytest.raises(MailboxExists):
        store.create_imap_mailbox("alice", "A/B")
    store.rename_imap_mailbox("alice", "A", "Z")
    assert {m.name for m in store.mailboxes("alice")} >= {"Z", "Z/B", "Z/B/C"}
    with pytest.raises(MailboxRefused):
        store.rename_imap_mailbox("alice", "Z", "Z/B/D")


def test_rename_inbox_moves_messages(store: Store) -> None:
    store.deliver("alice", b"a\r\n")
    store.create_imap_mailbox("alice", "INBOX/Sub")
    store.rename_imap_mailbox("alice", "INBOX", "Old")
    assert store.list_messages("alice") == [] and len(store.list_messages("alice", "Old")) == 1
    assert store.mailbox_info("alice", "INBOX/Sub")


def test_quota(store: Store) -> None:
    store.quota_messages = 1
    store.append("alice", "INBOX", [(b"a\r\n", (), None)])
    with pytest.raises(QuotaExceeded):
        store.append("alice", "INBOX", [(b"b\r\n", (), None)])
    assert store.quota_usage("alice") == (1, 1)


def test_old_store_files_get_new_columns(tmp_path: Path) -> None:
    import sqlite3
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE mailbox_messages (mailbox INTEGER, uid INTEGER, message INTEGER, "
                     "flags TEXT NOT NULL DEFAULT '', modseq INTEGER NOT NULL, PRIMARY KEY (mailbox, uid));"
                     "CREATE TABLE mailboxes (id INTEGER PRIMARY KEY, account INTEGER, name TEXT, "
                     "uidvalidity INTEGER, uidnext INTEGER DEFAULT 1, highestmodseq INTEGER DEFAULT 1, "
                     "special_use TEXT, subscribed INTEGER DEFAULT 0);")
    db.close()
    s = Store(path)
    cols = {r[1] for r in s._conn().execute("PRAGMA table_info(mailbox_messages)")}
    assert "recent" in cols
    s.close()
