"""The SQLite mail store shared by the POP3 (and later IMAP) servers; see DESIGN.md "The store".

One file, WAL journal, ``synchronous=FULL`` so an acknowledged delivery or expunge survives a crash.
Each public method is one transaction. Connections are per thread (SQLite objects must not cross
threads) so the embedded server's loop thread and the test thread can both use one Store.

Message bytes are stored once in ``messages`` and referenced from ``mailbox_messages`` (an IMAP COPY
will share them). Delivery turns bare LF into CRLF because POP3 and IMAP count octets of CRLF text.
Change events (``MessageAdded``, ``MessagesExpunged``) are fanned out to subscribers in-process after
the transaction commits, for IMAP IDLE later.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY, user TEXT NOT NULL UNIQUE, role TEXT NOT NULL DEFAULT 'user');
CREATE TABLE IF NOT EXISTS mailboxes (
    id INTEGER PRIMARY KEY, account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL, uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL DEFAULT 1,
    highestmodseq INTEGER NOT NULL DEFAULT 1, special_use TEXT, subscribed INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account, name));
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY, raw BLOB NOT NULL, size INTEGER NOT NULL, internaldate REAL NOT NULL);
CREATE TABLE IF NOT EXISTS mailbox_messages (
    mailbox INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE, uid INTEGER NOT NULL,
    message INTEGER NOT NULL REFERENCES messages(id), flags TEXT NOT NULL DEFAULT '',
    modseq INTEGER NOT NULL, PRIMARY KEY (mailbox, uid));
CREATE TABLE IF NOT EXISTS expunged (
    mailbox INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE, uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL, PRIMARY KEY (mailbox, uid));
"""

_BARE_LF = re.compile(rb"(?<!\r)\n")
_BARE_CR = re.compile(rb"\r(?!\n)")


class StoreError(LookupError):
    """No such account, mailbox or message."""


@dataclass(frozen=True)
class MessageAdded:
    user: str
    mailbox: str
    uid: int


@dataclass(frozen=True)
class MessagesExpunged:
    user: str
    mailbox: str
    uids: tuple[int, ...]


StoreEvent = MessageAdded | MessagesExpunged
Subscriber = Callable[[StoreEvent], None]


def normalise_crlf(raw: bytes) -> bytes:
    """Turn bare LF and bare CR into CRLF, and make sure the message ends with CRLF."""
    out = _BARE_LF.sub(b"\r\n", _BARE_CR.sub(b"\r\n", raw))
    if out and not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out


class Store:
    """A mail store in one SQLite file (created if missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._subscribers: list[Subscriber] = []
        self._sub_lock = threading.Lock()
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        # executescript() manages its own transaction, so no _tx() here.
        self._conn().executescript(_SCHEMA)

    # -- connections and transactions --------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves so writers queue, not deadlock.
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
            with self._conns_lock:
                self._all_conns.append(db)
        return db

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, exc_type: object, *_: object) -> None:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")

    def _tx(self) -> Store._Tx:
        return Store._Tx(self._conn())

    def close(self) -> None:
        """Close every thread's connection (call when no other thread uses the store any more)."""
        with self._conns_lock:
            for db in self._all_conns:
                db.close()
            self._all_conns.clear()
        self._local = threading.local()

    # -- events --------------------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(event)` after each committed change; returns the unsubscribe function.

        Callbacks run on the thread that made the change; an asyncio consumer should hand the event
        over with ``loop.call_soon_threadsafe``.
        """
        with self._sub_lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._sub_lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, event: StoreEvent) -> None:
        with self._sub_lock:
            subs = list(self._subscribers)
        for cb in subs:
            cb(event)

    # -- accounts and mailboxes ----------------------------------------------------------------------

    def sync_accounts(self, accounts: Iterable[tuple[str, str]]) -> None:
        """Make sure each (user, role) exists with an INBOX; existing mail is kept."""
        with self._tx() as db:
            for user, role in accounts:
                db.execute("INSERT INTO accounts(user, role) VALUES (?, ?) "
                           "ON CONFLICT(user) DO UPDATE SET role=excluded.role", (user, role))
                acc = db.execute("SELECT id FROM accounts WHERE user=?", (user,)).fetchone()[0]
                self._ensure_mailbox(db, acc, "INBOX")

    def users(self) -> list[str]:
        return [r[0] for r in self._conn().execute("SELECT user FROM accounts ORDER BY user")]

    @staticmethod
    def _ensure_mailbox(db: sqlite3.Connection, account: int, name: str) -> int:
        row = db.execute("SELECT id FROM mailboxes WHERE account=? AND name=?", (account, name)).fetchone()
        if row:
            return int(row[0])
        # UIDVALIDITY: seconds since the epoch, bumped past any existing value so a mailbox
        # re-created with the same name never reuses one.
        top = db.execute("SELECT COALESCE(MAX(uidvalidity), 0) FROM mailboxes").fetchone()[0]
        uidvalidity = max(int(time.time()), top + 1) & 0xFFFFFFFF
        cur = db.execute("INSERT INTO mailboxes(account, name, uidvalidity, subscribed) VALUES (?,?,?,1)",
                         (account, name, uidvalidity))
        return int(cur.lastrowid or 0)

    @staticmethod
    def _mailbox(db: sqlite3.Connection, user: str, mailbox: str) -> sqlite3.Row | tuple[int, ...]:
        row = db.execute(
            "SELECT m.id, m.uidvalidity, m.uidnext, m.highestmodseq FROM mailboxes m "
            "JOIN accounts a ON a.id = m.account WHERE a.user=? AND m.name=?", (user, mailbox)).fetchone()
        if row is None:
            raise StoreError(f"no mailbox {mailbox!r} for account {user!r}")
        return row

    def create_mailbox(self, user: str, mailbox: str, special_use: str | None = None) -> None:
        with self._tx() as db:
            row = db.execute("SELECT id FROM accounts WHERE user=?", (user,)).fetchone()
            if row is None:
                raise StoreError(f"no account {user!r}")
            mid = self._ensure_mailbox(db, row[0], mailbox)
            if special_use:
                db.execute("UPDATE mailboxes SET special_use=? WHERE id=?", (special_use, mid))

    def uidvalidity(self, user: str, mailbox: str = "INBOX") -> int:
        return int(self._mailbox(self._conn(), user, mailbox)[1])

    def uidnext(self, user: str, mailbox: str = "INBOX") -> int:
        return int(self._mailbox(self._conn(), user, mailbox)[2])

    def highestmodseq(self, user: str, mailbox: str = "INBOX") -> int:
        return int(self._mailbox(self._conn(), user, mailbox)[3])

    # -- messages --------------------------------------------------------------------------------------

    def deliver(self, user: str, raw: bytes, mailbox: str = "INBOX", flags: Sequence[str] = (),
                internaldate: float | None = None) -> int:
        """Add a message (line ends normalised to CRLF) and return its UID."""
        data = normalise_crlf(raw)
        with self._tx() as db:
            mid, _, uid, modseq = self._mailbox(db, user, mailbox)
            when = time.time() if internaldate is None else internaldate
            msg = db.execute("INSERT INTO messages(raw, size, internaldate) VALUES (?,?,?)",
                             (data, len(data), when)).lastrowid
            modseq += 1
            db.execute("INSERT INTO mailbox_messages(mailbox, uid, message, flags, modseq) "
                       "VALUES (?,?,?,?,?)",
                       (mid, uid, msg, " ".join(flags), modseq))
            db.execute("UPDATE mailboxes SET uidnext=?, highestmodseq=? WHERE id=?", (uid + 1, modseq, mid))
        self._emit(MessageAdded(user, mailbox, uid))
        return int(uid)

    def list_messages(self, user: str, mailbox: str = "INBOX") -> list[tuple[int, int]]:
        """(uid, size in octets) of every message, in UID order."""
        db = self._conn()
        mid = self._mailbox(db, user, mailbox)[0]
        return [(int(u), int(s)) for u, s in db.execute(
            "SELECT mm.uid, m.size FROM mailbox_messages mm JOIN messages m ON m.id = mm.message "
            "WHERE mm.mailbox=? ORDER BY mm.uid", (mid,))]

    def fetch_raw(self, user: str, uid: int, mailbox: str = "INBOX") -> bytes:
        db = self._conn()
        mid = self._mailbox(db, user, mailbox)[0]
        row = db.execute("SELECT m.raw FROM mailbox_messages mm JOIN messages m ON m.id = mm.message "
                         "WHERE mm.mailbox=? AND mm.uid=?", (mid, uid)).fetchone()
        if row is None:
            raise StoreError(f"no message with UID {uid} in {user}/{mailbox}")
        return bytes(row[0])

    def flags(self, user: str, uid: int, mailbox: str = "INBOX") -> tuple[str, ...]:
        db = self._conn()
        mid = self._mailbox(db, user, mailbox)[0]
        row = db.execute("SELECT flags FROM mailbox_messages WHERE mailbox=? AND uid=?",
                         (mid, uid)).fetchone()
        if row is None:
            raise StoreError(f"no message with UID {uid} in {user}/{mailbox}")
        return tuple(row[0].split())

    def expunge(self, user: str, uids: Iterable[int], mailbox: str = "INBOX") -> list[int]:
        """Remove messages in one transaction, record them in `expunged`; returns the UIDs removed."""
        wanted = sorted(set(uids))
        removed: list[int] = []
        with self._tx() as db:
            mid, _, _, modseq = self._mailbox(db, user, mailbox)
            for uid in wanted:
                row = db.execute("SELECT message FROM mailbox_messages WHERE mailbox=? AND uid=?",
                                 (mid, uid)).fetchone()
                if row is None:
                    continue
                modseq += 1
                db.execute("DELETE FROM mailbox_messages WHERE mailbox=? AND uid=?", (mid, uid))
                db.execute("INSERT OR REPLACE INTO expunged(mailbox, uid, modseq) VALUES (?,?,?)",
                           (mid, uid, modseq))
                # Bytes are shared between mailboxes; drop them only when nothing refers to them.
                db.execute("DELETE FROM messages WHERE id=? AND NOT EXISTS "
                           "(SELECT 1 FROM mailbox_messages WHERE message=?)", (row[0], row[0]))
                removed.append(uid)
            if removed:
                db.execute("UPDATE mailboxes SET highestmodseq=? WHERE id=?", (modseq, mid))
        if removed:
            self._emit(MessagesExpunged(user, mailbox, tuple(removed)))
        return removed

    def expunged_since(self, user: str, modseq: int, mailbox: str = "INBOX") -> list[int]:
        """UIDs expunged with a mod-sequence above `modseq` (for QRESYNC VANISHED)."""
        db = self._conn()
        mid = self._mailbox(db, user, mailbox)[0]
        return [int(r[0]) for r in db.execute(
            "SELECT uid FROM expunged WHERE mailbox=? AND modseq>? ORDER BY uid", (mid, modseq))]
