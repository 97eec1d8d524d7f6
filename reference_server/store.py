"""The SQLite mail store shared by the POP3 (and later IMAP) servers; see DESIGN.md "The store".

One file, WAL journal, ``synchronous=FULL`` so an acknowledged delivery or expunge survives a crash.
Each public method is one transaction. Connections are per thread (SQLite objects must not cross
threads) so the embedded server's loop thread and the test thread can both use one Store.

Message bytes are stored once in ``messages`` and referenced from ``mailbox_messages`` (an IMAP COPY
will share them). Delivery turns bare LF into CRLF because POP3 and IMAP count octets of CRLF text.
Change events (``MessageAdded``, ``MessagesExpunged``) are fanned out to subscribers in-process after
the transaction commits, for IMAP IDLE later.

IMAP (reference_server/imap) uses the same tables through the methods under "IMAP": mailboxes by id,
per-message flags with a MODSEQ bump per change (RFC 7162), \\Recent claimed by exactly one session,
COPY/MOVE with UID mappings (RFC 4315, RFC 6851), quota usage (RFC 9208), and ``FlagsChanged`` /
``MailboxDeleted`` events so other sessions of a mailbox learn about every change.

POP3 and IMAP together: a POP3 session takes the per-account maildrop lock (accounts.py), which only
keeps other POP3 sessions out; IMAP sessions never take or honour it. POP3 works on a snapshot of
INBOX taken at login, and its DELE+QUIT is an ordinary ``expunge`` that selected IMAP sessions report
as EXPUNGE/VANISHED. If IMAP expunges a message a POP3 session still lists, RETR of it fails with
-ERR and QUIT ignores it; a message APPENDed over IMAP is seen by the next POP3 login.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from reference_server.commit_marks import CommitMarks
from reference_server.store_version import StoreVersion

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
CREATE TABLE IF NOT EXISTS subscriptions (
    account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE, name TEXT NOT NULL,
    PRIMARY KEY (account, name));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS expunged_by_modseq ON expunged(mailbox, modseq);
"""
# Columns added after the first release; _migrate() adds them to older store files.
_ADDED_COLUMNS = (
    ("mailbox_messages", "recent", "INTEGER NOT NULL DEFAULT 1"),
    ("mailboxes", "noselect", "INTEGER NOT NULL DEFAULT 0"),
    # \Recent claims ever made in the mailbox: they change no MODSEQ, so cached rows check this.
    ("mailboxes", "recent_claims", "INTEGER NOT NULL DEFAULT 0"),
)

_WRITE_LOCK_WAIT = 30.0  # seconds a transaction waits for another process's write lock
_CACHE_ENTRIES = 256  # per thread; reads of mailboxes not touched since the last change
_MEMO_MESSAGES = 4096  # messages whose derived values (memo()) are kept
_BARE_LF = re.compile(rb"(?<!\r)\n")
_BARE_CR = re.compile(rb"\r(?!\n)")


class StoreError(LookupError):
    """No such account, mailbox or message."""


class MailboxExists(StoreError):
    """CREATE or RENAME onto a name that exists (IMAP: NO [ALREADYEXISTS])."""


class MailboxRefused(StoreError):
    """The operation is not allowed on this mailbox (IMAP: NO [CANNOT] / [NOPERM])."""


class QuotaExceeded(StoreError):
    """The account's storage or message limit would be passed (IMAP: NO [OVERQUOTA])."""


@dataclass(frozen=True)
class MessageAdded:
    user: str
    mailbox: str
    uid: int
    mailbox_id: int = field(default=0, compare=False)


@dataclass(frozen=True)
class MessagesExpunged:
    user: str
    mailbox: str
    uids: tuple[int, ...]
    mailbox_id: int = field(default=0, compare=False)


@dataclass(frozen=True)
class FlagsChanged:
    user: str
    mailbox: str
    uids: tuple[int, ...]
    mailbox_id: int = field(default=0, compare=False)


@dataclass(frozen=True)
class MailboxDeleted:
    user: str
    mailbox: str
    mailbox_id: int = field(default=0, compare=False)


@dataclass(frozen=True)
class MailboxInfo:
    id: int
    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    special_use: str | None
    noselect: bool
    recent_claims: int = 0  # moves whenever a session takes \Recent for messages of the mailbox


class MessageRow(NamedTuple):
    """One message of a mailbox as IMAP sees it (a named tuple: sessions build thousands of these,
    and a frozen dataclass costs several times as much to construct)."""

    uid: int
    flags: tuple[str, ...]
    modseq: int
    size: int
    internaldate: float
    recent: bool


StoreEvent = MessageAdded | MessagesExpunged | FlagsChanged | MailboxDeleted
Subscriber = Callable[[StoreEvent], None]


def superiors(name: str, delimiter: str) -> list[str]:
    """The names above `name` in its hierarchy, outermost first ("a/b/c" -> ["a", "a/b"])."""
    parts = name.split(delimiter)
    return [delimiter.join(parts[:i]) for i in range(1, len(parts))]


def _modseq(row: MessageRow) -> int:
    return row.modseq


def normalise_crlf(raw: bytes) -> bytes:
    """Turn bare LF and bare CR into CRLF, and make sure the message ends with CRLF."""
    crlf = raw.count(b"\r\n")
    if raw.count(b"\r") == crlf and raw.count(b"\n") == crlf:
        out = raw  # every CR and every LF is already part of a CRLF (counting beats two regex scans)
    else:
        out = _BARE_LF.sub(b"\r\n", _BARE_CR.sub(b"\r\n", raw))
    if out and not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out


class _AccountReads:
    """What one thread has read of one account's mailboxes while the account's label was `label`."""

    __slots__ = ("by_id", "by_name", "label", "mailboxes", "subscriptions")

    def __init__(self, label: int) -> None:
        self.label = label
        self.by_id: dict[int, MailboxInfo] = {}
        self.by_name: dict[str, MailboxInfo] = {}
        self.mailboxes: list[MailboxInfo] | None = None
        self.subscriptions: list[str] | None = None

    def keep(self, info: MailboxInfo) -> None:
        old = self.by_id.get(info.id)
        if old is not None and old.name != info.name:
            self.by_name.pop(old.name, None)
        self.by_id[info.id] = self.by_name[info.name] = info
        if self.mailboxes is not None and old is not None and old is not info:
            self.mailboxes = [info if m.id == info.id else m for m in self.mailboxes]

    def forget(self, mailbox_id: int) -> None:
        old = self.by_id.pop(mailbox_id, None)
        if old is not None:
            self.by_name.pop(old.name, None)
        self.mailboxes = None


class Store:
    """A mail store in one SQLite file (created if missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._subscribers: list[Subscriber] = []
        self._memos: dict[tuple[int, int, int], dict[object, Any]] = {}
        self._mailbox_users: dict[int, str] = {}  # mailbox id -> its account's user, once read
        self._sub_lock = threading.Lock()
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        # Quota limits (RFC 9208) per account; None = unlimited. Set by the runtime from the config.
        self.quota_storage_kib: int | None = None
        self.quota_messages: int | None = None
        # Which accounts this server's deferred commits touched, and which are flushed (durability.py).
        self.marks = CommitMarks()
        self.version = StoreVersion(self.path)  # moves with every transaction, in any process
        # executescript() manages its own transaction, so no _tx() here.
        self._conn().executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        db = self._conn()
        for table, column, decl in _ADDED_COLUMNS:
            have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        self._migrate_names()

    def _migrate_names(self) -> None:
        """Mailbox names used to be kept as IMAP sent them, in modified UTF-7 (RFC 3501 §5.1.3); they
        are Unicode now (reference_server/imap/names.py). Decode an older file's names, once."""
        from reference_server.imap.encode import decode_mutf7
        with self._tx(None) as db:
            if db.execute("SELECT 1 FROM counters WHERE name='unicode_names'").fetchone():
                return
            for table in ("mailboxes", "subscriptions"):
                for rowid, name in db.execute(f"SELECT rowid, name FROM {table} WHERE instr(name, '&')").fetchall():
                    try:
                        text = decode_mutf7(name)
                    except ValueError:
                        continue  # not modified UTF-7 (a name made by an IMAP4rev2 session): already Unicode
                    db.execute(f"UPDATE OR IGNORE {table} SET name=? WHERE rowid=?", (text, rowid))
            db.execute("INSERT INTO counters(name, value) VALUES ('unicode_names', 1)")

    # -- connections and transactions --------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves so writers queue, not deadlock.
            db = sqlite3.connect(self.path, isolation_level=None, timeout=_WRITE_LOCK_WAIT,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
            with self._conns_lock:
                self._all_conns.append(db)
        return db

    class _Tx:
        def __init__(self, store: Store, account: str | None, durable: bool) -> None:
            self.store = store
            self.account = account
            self.db = store._conn()
            self.local = store._local
            self.deferred = getattr(self.local, "deferred", False)  # connection already NORMAL
            self.toggle = not durable and not self.deferred
            self.durable = durable

        def __enter__(self) -> sqlite3.Connection:
            if self.toggle:
                self.db.execute("PRAGMA synchronous=NORMAL")
            self._begin()
            version = self.store.version
            self.label_before = version.label(self.account)  # (under the write lock: nothing moves it)
            self.number = version.begin(self.account)  # under the write lock: never lost
            return self.db

        def _begin(self) -> None:
            """BEGIN IMMEDIATE, waiting while another connection holds the write lock (IMAP workers
            share the file). Off the event loop SQLite's busy handler waits. On a loop thread it
            would sleep 1, 2, 5, 10... ms, stalling every session of the process for many times a
            write transaction's length, so there (busy_timeout 0, see defer_fsync) the lock is
            polled every 0.1 ms instead."""
            db = self.db
            if not self.deferred:
                db.execute("BEGIN IMMEDIATE")
                return
            deadline = 0.0
            while True:
                try:
                    db.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if not str(exc).startswith("database is locked"):
                        raise
                    now = time.monotonic()
                    deadline = deadline or now + _WRITE_LOCK_WAIT
                    if now > deadline:
                        raise
                time.sleep(0.0001)

        def __exit__(self, exc_type: object, *_: object) -> None:
            try:
                if exc_type:
                    self.db.execute("ROLLBACK")
                elif self.durable and self.deferred:  # durable once the WAL is synced after this
                    marks = self.store.marks
                    token = marks.mark(self.account)  # before COMMIT: whoever sees it sees the mark
                    try:
                        self.db.execute("COMMIT")
                    except BaseException:
                        marks.unmark(token)
                        raise
                    marks.committed()
                else:
                    self.db.execute("COMMIT")
            finally:
                self.store.version.end(self.number)
                self.local.last_tx = (self.label_before, self.number)  # for _patch_reads
                if self.toggle:
                    self.db.execute("PRAGMA synchronous=FULL")

    def _tx(self, account: str | None, durable: bool = True) -> Store._Tx:
        """One transaction changing `account`'s mail (None: the accounts themselves, or all of them).
        `durable=False` commits without fsync: the change survives the server process dying
        (kill -9), not necessarily a power cut, and the next durable commit makes it durable too
        (the WAL is written in order). Only for bookkeeping no client was promised."""
        return Store._Tx(self, account, durable)

    @property
    def commits(self) -> int:
        """Commits made on this process's loop thread with their fsync deferred (see defer_fsync)."""
        return self.marks.commits

    # -- group commit ----------------------------------------------------------------------------

    def defer_fsync(self) -> None:
        """Commits made on the calling thread from now on skip their own fsync and are counted in
        `commits`; they are durable once the WAL has been synced (wal_sync.py). The asyncio servers call this on
        their loop thread and send nothing to any client while a counted commit is not yet synced
        (reference_server/durability.py), so one fsync covers every session's command of the moment
        and an acknowledged change is still on disk first. Other threads keep fsync per commit."""
        db = self._conn()
        db.execute("PRAGMA synchronous=NORMAL")
        # Only BEGIN IMMEDIATE waits for a lock in WAL mode (readers never do once the file is
        # open), and _Tx._begin polls for it on this thread rather than sleeping in SQLite.
        db.execute("PRAGMA busy_timeout=0")
        self._local.deferred = True

    @property
    def wal_path(self) -> str:
        """The write-ahead log: syncing it (wal_sync.py) makes every commit written before durable."""
        return self.path + "-wal"

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
        with self._tx(None) as db:
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
        cur = db.execute("INSERT INTO mailboxes(account, name, uidvalidity, subscribed) VALUES (?,?,?,1)",
                         (account, name, Store._next_uidvalidity(db)))
        return int(cur.lastrowid or 0)

    @staticmethod
    def _next_uidvalidity(db: sqlite3.Connection) -> int:
        # Seconds since the epoch, but always past every value ever issued (the counter survives
        # deleted mailboxes), so a mailbox re-created with the same name never reuses one
        # (RFC 3501 §2.3.1.1). Wraps below 2^32 as the field is a 32-bit nz-number.
        row = db.execute("SELECT value FROM counters WHERE name='uidvalidity'").fetchone()
        top = max(int(row[0]) if row else 0,
                  db.execute("SELECT COALESCE(MAX(uidvalidity), 0) FROM mailboxes").fetchone()[0])
        value = max(int(time.time()), top + 1)
        if value > 0xFFFFFFFF:
            value = 1
        db.execute("INSERT INTO counters(name, value) VALUES ('uidvalidity', ?) "
                   "ON CONFLICT(name) DO UPDATE SET value=excluded.value", (value,))
        return value

    @staticmethod
    def _mailbox(db: sqlite3.Connection, user: str, mailbox: str) -> sqlite3.Row | tuple[int, ...]:
        row = db.execute(
            "SELECT m.id, m.uidvalidity, m.uidnext, m.highestmodseq FROM mailboxes m "
            "JOIN accounts a ON a.id = m.account WHERE a.user=? AND m.name=?", (user, mailbox)).fetchone()
        if row is None:
            raise StoreError(f"no mailbox {mailbox!r} for account {user!r}")
        return row

    def create_mailbox(self, user: str, mailbox: str, special_use: str | None = None) -> None:
        with self._tx(user) as db:
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
        with self._tx(user) as db:
            mid, _, uid, modseq = self._mailbox(db, user, mailbox)
            when = time.time() if internaldate is None else internaldate
            msg = db.execute("INSERT INTO messages(raw, size, internaldate) VALUES (?,?,?)",
                             (data, len(data), when)).lastrowid
            modseq += 1
            db.execute("INSERT INTO mailbox_messages(mailbox, uid, message, flags, modseq) "
                       "VALUES (?,?,?,?,?)",
                       (mid, uid, msg, " ".join(flags), modseq))
            db.execute("UPDATE mailboxes SET uidnext=?, highestmodseq=? WHERE id=?", (uid + 1, modseq, mid))
        self._emit(MessageAdded(user, mailbox, uid, mid))
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
        with self._tx(user) as db:
            mid = self._mailbox(db, user, mailbox)[0]
            removed = self._expunge_in(db, mid, uids)
        if removed:
            self._emit(MessagesExpunged(user, mailbox, tuple(removed), mid))
        return removed

    @staticmethod
    def _expunge_in(db: sqlite3.Connection, mid: int, uids: Iterable[int]) -> list[int]:
        wanted = sorted(set(uids))
        removed: list[int] = []
        modseq = db.execute("SELECT highestmodseq FROM mailboxes WHERE id=?", (mid,)).fetchone()[0]
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
        return removed

    def expunged_since(self, user: str, modseq: int, mailbox: str = "INBOX") -> list[int]:
        """UIDs expunged with a mod-sequence above `modseq` (for QRESYNC VANISHED)."""
        db = self._conn()
        mid = self._mailbox(db, user, mailbox)[0]
        return [int(r[0]) for r in db.execute(
            "SELECT uid FROM expunged WHERE mailbox=? AND modseq>? ORDER BY uid", (mid, modseq))]

    # -- IMAP ------------------------------------------------------------------------------------------

    def _account_id(self, db: sqlite3.Connection, user: str) -> int:
        row = db.execute("SELECT id FROM accounts WHERE user=?", (user,)).fetchone()
        if row is None:
            raise StoreError(f"no account {user!r}")
        return int(row[0])

    _MBOX_COLS = "m.id, m.name, m.uidvalidity, m.uidnext, m.highestmodseq, m.special_use, m.noselect, m.recent_claims"

    @staticmethod
    def _info(row: Sequence[object]) -> MailboxInfo:
        return MailboxInfo(int(row[0]), str(row[1]), int(row[2]), int(row[3]),  # type: ignore[call-overload]
                           int(row[4]), row[5], bool(row[6]), int(row[7]))  # type: ignore[arg-type, call-overload]

    def provision_special_use(self, user: str, folders: Sequence[tuple[str, str]]) -> None:
        """Give an account its special-use mailboxes (RFC 6154), e.g. ("Sent", "\\Sent"), if missing,
        and subscribe INBOX and them (what a fresh account looks like on most servers)."""
        with self._tx(user) as db:
            acc = self._account_id(db, user)
            for name, use in folders:
                if db.execute("SELECT 1 FROM mailboxes WHERE account=? AND (name=? OR special_use=?)",
                              (acc, name, use)).fetchone() is None:
                    mid = self._ensure_mailbox(db, acc, name)
                    db.execute("UPDATE mailboxes SET special_use=? WHERE id=?", (use, mid))
                    db.execute("INSERT OR IGNORE INTO subscriptions(account, name) VALUES (?,?)", (acc, name))
            db.execute("INSERT OR IGNORE INTO subscriptions(account, name) VALUES (?, 'INBOX')", (acc,))

    def _reads_of(self, user: str) -> _AccountReads:
        """This thread's cache of what it read of `user`'s mailboxes, emptied whenever the account's
        label in the change count (store_version.py) has moved: another account's commits leave it
        alone, so a thousand IDLE sessions told of one change read their mailbox once."""
        caches: dict[str, _AccountReads] = self._local.__dict__.setdefault("accounts", {})
        label = self.version.label(user)
        reads = caches.get(user)
        if reads is None or reads.label != label:
            if len(caches) >= _CACHE_ENTRIES:
                caches.clear()
            reads = caches[user] = _AccountReads(label)
        return reads

    def _settled_since(self, settled: int | None) -> bool:
        """Whether what was read since `version.settled()` gave `settled` may be kept: no transaction
        was under way then, and none has begun since (so nothing read is older than the label)."""
        return settled is not None and self.version.settled() == settled

    def mailbox_info(self, user: str, name: str) -> MailboxInfo:
        """The mailbox `name` of `user`; StoreError if there is none. Do not mutate the result."""
        reads = self._reads_of(user)
        info = reads.by_name.get(name)
        if info is not None:
            return info
        settled = self.version.settled()
        row = self._conn().execute(
            f"SELECT {self._MBOX_COLS} FROM mailboxes m JOIN accounts a ON a.id = m.account "
            "WHERE a.user=? AND m.name=?", (user, name)).fetchone()
        if row is None:
            raise StoreError(f"no mailbox {name!r}")
        info = self._info(row)
        if self._settled_since(settled):
            reads.keep(info)
        return info

    def mailbox_by_id(self, mailbox_id: int) -> MailboxInfo | None:
        """The mailbox with this id (None if deleted). Do not mutate the result."""
        user = self._mailbox_users.get(mailbox_id)
        if user is not None:
            info = self._reads_of(user).by_id.get(mailbox_id)
            if info is not None:
                return info
        settled = self.version.settled()
        read = self._read_mailbox(mailbox_id)
        if read is None:
            return None
        info, user = read
        self._mailbox_users[mailbox_id] = user  # (a mailbox never changes account)
        if self._settled_since(settled):
            self._reads_of(user).keep(info)
        return info

    def _read_mailbox(self, mailbox_id: int) -> tuple[MailboxInfo, str] | None:
        """The mailbox with this id and its account's user name, from the file."""
        row = self._conn().execute(
            f"SELECT {self._MBOX_COLS}, a.user FROM mailboxes m JOIN accounts a ON a.id = m.account "
            "WHERE m.id=?", (mailbox_id,)).fetchone()
        return None if row is None else (self._info(row), row[-1])

    def mailboxes(self, user: str) -> list[MailboxInfo]:
        """Every mailbox of `user`, by name. Do not mutate the result."""
        reads = self._reads_of(user)
        if reads.mailboxes is not None:
            return reads.mailboxes
        settled = self.version.settled()
        boxes = [self._info(r) for r in self._conn().execute(
            f"SELECT {self._MBOX_COLS} FROM mailboxes m JOIN accounts a ON a.id = m.account "
            "WHERE a.user=? ORDER BY m.name", (user,))]
        if self._settled_since(settled):
            for info in boxes:  # (under one label no mailbox is renamed)
                reads.by_id[info.id] = reads.by_name[info.name] = info
            reads.mailboxes = boxes
        return boxes

    def subscriptions(self, user: str) -> list[str]:
        """The names `user` subscribed to, in order. Do not mutate the result."""
        reads = self._reads_of(user)
        if reads.subscriptions is not None:
            return reads.subscriptions
        settled = self.version.settled()
        names = [r[0] for r in self._conn().execute(
            "SELECT s.name FROM subscriptions s JOIN accounts a ON a.id = s.account WHERE a.user=? "
            "ORDER BY s.name", (user,))]
        if self._settled_since(settled):
            reads.subscriptions = names
        return names

    def set_subscribed(self, user: str, name: str, subscribed: bool) -> None:
        with self._tx(user) as db:
            acc = self._account_id(db, user)
            if subscribed:
                db.execute("INSERT OR IGNORE INTO subscriptions(account, name) VALUES (?,?)", (acc, name))
            else:
                db.execute("DELETE FROM subscriptions WHERE account=? AND name=?", (acc, name))

    def create_imap_mailbox(self, user: str, name: str, special_use: str | None = None,
                            delimiter: str = "/", subscribe: bool = False) -> MailboxInfo:
        """CREATE: a new mailbox with a fresh UIDVALIDITY, and any missing superiors (RFC 3501 §6.3.3).

        An existing \\Noselect placeholder of that name becomes selectable again.
        """
        with self._tx(user) as db:
            acc = self._account_id(db, user)
            row = db.execute("SELECT id, noselect FROM mailboxes WHERE account=? AND name=?",
                             (acc, name)).fetchone()
            if row is not None and not row[1]:
                raise MailboxExists(f"mailbox {name!r} already exists")
            if special_use and db.execute("SELECT 1 FROM mailboxes WHERE account=? AND special_use=?",
                                          (acc, special_use)).fetchone():
                raise MailboxRefused(f"another mailbox already has the {special_use} role")
            for parent in superiors(name, delimiter):
                self._ensure_mailbox(db, acc, parent)
            if row is not None:
                # A placeholder left by DELETE: a new mailbox as far as clients are concerned.
                db.execute("UPDATE mailboxes SET noselect=0, uidvalidity=?, uidnext=1 WHERE id=?",
                           (self._next_uidvalidity(db), row[0]))
                mid = int(row[0])
            else:
                mid = self._ensure_mailbox(db, acc, name)
            if special_use:
                db.execute("UPDATE mailboxes SET special_use=? WHERE id=?", (special_use, mid))
            if subscribe:
                db.execute("INSERT OR IGNORE INTO subscriptions(account, name) VALUES (?,?)", (acc, name))
        info = self.mailbox_by_id(mid)
        assert info is not None
        return info

    def delete_imap_mailbox(self, user: str, name: str, delimiter: str = "/") -> None:
        """DELETE (RFC 3501 §6.3.4): a mailbox with inferiors keeps its name as \\Noselect."""
        if name == "INBOX":
            raise MailboxRefused("INBOX cannot be deleted")
        with self._tx(user) as db:
            acc = self._account_id(db, user)
            row = db.execute("SELECT id, noselect FROM mailboxes WHERE account=? AND name=?",
                             (acc, name)).fetchone()
            if row is None:
                raise StoreError(f"no mailbox {name!r}")
            mid = int(row[0])
            children = db.execute("SELECT 1 FROM mailboxes WHERE account=? AND substr(name, 1, ?)=? LIMIT 1",
                                  (acc, len(name) + len(delimiter), name + delimiter)).fetchone()
            if children and row[1]:
                raise MailboxRefused(f"{name!r} has inferior mailboxes and is already \\Noselect")
            uids = [r[0] for r in db.execute("SELECT uid FROM mailbox_messages WHERE mailbox=?", (mid,))]
            self._expunge_in(db, mid, uids)
            if children:
                db.execute("UPDATE mailboxes SET noselect=1, special_use=NULL WHERE id=?", (mid,))
            else:
                db.execute("DELETE FROM expunged WHERE mailbox=?", (mid,))
                db.execute("DELETE FROM mailboxes WHERE id=?", (mid,))
        self._emit(MailboxDeleted(user, name, mid))

    def rename_imap_mailbox(self, user: str, old: str, new: str, delimiter: str = "/") -> None:
        """RENAME (RFC 3501 §6.3.5): inferiors move with the mailbox; INBOX is special.

        Renaming INBOX moves its messages into a new mailbox and leaves INBOX empty, with its
        inferiors where they are.
        """
        with self._tx(user) as db:
            acc = self._account_id(db, user)
            src = db.execute("SELECT id, noselect FROM mailboxes WHERE account=? AND name=?",
                             (acc, old)).fetchone()
            if src is None:
                raise StoreError(f"no mailbox {old!r}")
            if db.execute("SELECT 1 FROM mailboxes WHERE account=? AND name=?", (acc, new)).fetchone():
                raise MailboxExists(f"mailbox {new!r} already exists")
            if new == old or new.startswith(old + delimiter):
                raise MailboxRefused("a mailbox cannot be renamed into itself")
            for parent in superiors(new, delimiter):
                self._ensure_mailbox(db, acc, parent)
            if old == "INBOX":
                dest = self._ensure_mailbox(db, acc, new)
                uids = [r[0] for r in db.execute(
                    "SELECT uid FROM mailbox_messages WHERE mailbox=? ORDER BY uid", (src[0],))]
                self._copy_in(db, int(src[0]), uids, dest)
                moved = self._expunge_in(db, int(src[0]), uids)
            else:
                moved = []
                prefix = old + delimiter
                for mid, name in db.execute("SELECT id, name FROM mailboxes WHERE account=? AND "
                                            "(name=? OR substr(name, 1, ?)=?)",
                                            (acc, old, len(prefix), prefix)).fetchall():
                    db.execute("UPDATE mailboxes SET name=? WHERE id=?", (new + name[len(old):], mid))
        if moved:
            self._emit(MessagesExpunged(user, "INBOX", tuple(moved), int(src[0])))

    @staticmethod
    def _read_rows(db: sqlite3.Connection, where: str, args: tuple[int, ...]) -> list[MessageRow]:
        """The mailbox's rows matching `where` (SQL after the mailbox condition), as MessageRows."""
        return [MessageRow(u, tuple(f.split()), ms, sz, float(d), bool(r)) for u, f, ms, sz, d, r in db.execute(
            "SELECT mm.uid, mm.flags, mm.modseq, m.size, m.internaldate, mm.recent FROM mailbox_messages mm "
            "JOIN messages m ON m.id = mm.message WHERE mm.mailbox=? " + where, args)]

    def message_rows(self, mailbox_id: int, info: MailboxInfo | None = None) -> tuple[MessageRow, ...]:
        """Every message of the mailbox in UID order (a session's resynchronisation reads this).

        Kept per thread while nothing can have changed them: the mailbox's UIDVALIDITY, UIDNEXT and
        HIGHESTMODSEQ (which every new message, flag change and expunge moves) and its count of
        \\Recent claims all stay the same, whichever connection, thread or process made a change.
        So a change to one mailbox does not make the sessions of the others read theirs again. When
        only UIDNEXT and HIGHESTMODSEQ moved, the rows are brought up to date from what changed since
        (MODSEQ, RFC 7162, and the expunge records) rather than read again. Do not mutate the result.
        """
        if info is None or info.id != mailbox_id:  # `info`: what mailbox_by_id() gave just now
            info = self.mailbox_by_id(mailbox_id)
        local = self._local
        fixed = (None, 0) if info is None else (info.uidvalidity, info.recent_claims)
        moving = (0, 0) if info is None else (info.uidnext, info.highestmodseq)
        rows_cache: dict[int, tuple[object, tuple[int, int], tuple[MessageRow, ...]]]
        rows_cache = local.__dict__.setdefault("rows", {})
        hit = rows_cache.get(mailbox_id)
        if hit is not None and hit[0] == fixed and hit[1] == moving:
            return hit[2]
        db = self._conn()
        if hit is not None and hit[0] == fixed and hit[1][0] <= moving[0] and hit[1][1] <= moving[1]:
            rows = self._rows_since(db, mailbox_id, hit[2], hit[1][1])
        else:
            rows = tuple(self._read_rows(db, "ORDER BY mm.uid", (mailbox_id,)))
        if len(rows_cache) >= _CACHE_ENTRIES:
            rows_cache.clear()
        rows_cache[mailbox_id] = (fixed, moving, rows)
        return rows

    def rows_changed_since(self, mailbox_id: int, info: MailboxInfo | None, modseq: int) -> list[MessageRow]:
        """The rows of `message_rows()` whose MODSEQ is above `modseq`, in UID order.

        A session in sync up to `modseq` needs only these to find flag changes made elsewhere; with
        a thousand sessions of a large mailbox, walking every row for each would cost more than the
        whole push. The rows are ordered by MODSEQ once per change and shared by every session."""
        rows = self.message_rows(mailbox_id, info)
        indexes: dict[int, tuple[tuple[MessageRow, ...], list[int], list[MessageRow]]]
        indexes = self._local.__dict__.setdefault("by_modseq", {})
        index = indexes.get(mailbox_id)
        if index is None or index[0] is not rows:
            ordered = sorted(rows, key=_modseq)
            if len(indexes) >= _CACHE_ENTRIES:
                indexes.clear()
            index = indexes[mailbox_id] = (rows, [r.modseq for r in ordered], ordered)
        return sorted(index[2][bisect.bisect_right(index[1], modseq):])

    def _rows_since(self, db: sqlite3.Connection, mailbox_id: int, old: tuple[MessageRow, ...],
                    modseq: int) -> tuple[MessageRow, ...]:
        """`old` (the rows when HIGHESTMODSEQ was `modseq`) with every later change applied: a
        changed or new message has a higher MODSEQ, an expunged one an expunge record with one."""
        changed = {r.uid: r for r in self._read_rows(db, "AND mm.modseq>?", (mailbox_id, modseq))}
        gone = {u for (u,) in db.execute("SELECT uid FROM expunged WHERE mailbox=? AND modseq>?",
                                         (mailbox_id, modseq))}
        rows = [changed.pop(r.uid, r) for r in old if r.uid not in gone]
        rows += sorted(changed.values())  # new messages: UIDs past every old one
        return tuple(rows)

    def _patch_reads(self, user: str, mailbox_id: int, before: tuple[int, int], after: tuple[int, int],
                     change: Callable[[tuple[MessageRow, ...]], tuple[MessageRow, ...]]) -> None:
        """Bring what this thread has cached of a mailbox along with a change to it this thread has
        just committed, instead of reading it again (`before` and `after`: UIDNEXT and HIGHESTMODSEQ
        as its transaction found and left them; transactions do not overlap, so nothing else came
        between). The rows: when they were current at its start. The account's mailboxes: when the
        cache was current at its start and no transaction on the account has begun since."""
        local = self._local
        rows_cache = local.__dict__.get("rows")
        hit = rows_cache.get(mailbox_id) if rows_cache else None
        if hit is not None and hit[1] == before:
            rows_cache[mailbox_id] = (hit[0], after, change(hit[2]))  # type: ignore[index]
        label_before, number = local.last_tx
        reads = local.__dict__.get("accounts", {}).get(user)
        if reads is None or reads.label != label_before or self.version.label(user) != number:
            return  # stale already: the next read empties it
        reads.label = number
        info = reads.by_id.get(mailbox_id)
        if info is None or (info.uidnext, info.highestmodseq) != before:
            reads.forget(mailbox_id)
            return
        reads.keep(dataclasses.replace(info, uidnext=after[0], highestmodseq=after[1]))

    def claim_recent(self, mailbox_id: int, uids: Iterable[int]) -> set[int]:
        """Take \\Recent for `uids`: returns those no other session took first (RFC 3501 §2.3.2)."""
        wanted = list(uids)
        if not wanted:
            return set()
        claimed: set[int] = set()
        # \Recent lives for a session at most; losing a claim to a power cut harms nobody.
        with self._tx(None, durable=False) as db:
            for uid in wanted:
                cur = db.execute("UPDATE mailbox_messages SET recent=0 WHERE mailbox=? AND uid=? AND recent=1",
                                 (mailbox_id, uid))
                if cur.rowcount:
                    claimed.add(uid)
            count = 0
            if claimed:  # in the same transaction, so a reader that sees the new count sees the claims
                (count,) = db.execute("UPDATE mailboxes SET recent_claims=recent_claims+1 WHERE id=? "
                                      "RETURNING recent_claims", (mailbox_id,)).fetchone()
        if claimed:
            # This thread's cached rows need not be read again: the claim changed only \Recent.
            rows_cache = self._local.__dict__.get("rows", {})
            hit = rows_cache.get(mailbox_id)
            if hit is not None and hit[0][1] == count - 1:
                rows = tuple(r._replace(recent=False) if r.uid in claimed else r for r in hit[2])
                rows_cache[mailbox_id] = ((hit[0][0], count), hit[1], rows)
        return claimed

    def memo(self, message: tuple[int, int, int]) -> dict[object, Any]:
        """A place for values derived from one message's bytes (an IMAP ENVELOPE, say), given as
        (mailbox id, UIDVALIDITY, UID): the bytes never change under those (RFC 3501 §2.3.1.1), so
        what is kept never goes stale. The last few thousand messages asked about are kept."""
        memos = self._memos
        found = memos.get(message)
        if found is None:
            if len(memos) >= _MEMO_MESSAGES:
                del memos[next(iter(memos))]  # the oldest
            found = memos[message] = {}
        return found

    def message_bytes(self, mailbox_id: int, uid: int) -> bytes | None:
        row = self._conn().execute(
            "SELECT m.raw FROM mailbox_messages mm JOIN messages m ON m.id = mm.message "
            "WHERE mm.mailbox=? AND mm.uid=?", (mailbox_id, uid)).fetchone()
        return None if row is None else bytes(row[0])

    def store_flags(self, user: str, mailbox_id: int, uids: Iterable[int], mode: str, flags: Sequence[str],
                    unchangedsince: int | None = None) -> tuple[dict[int, tuple[tuple[str, ...], int]], list[int]]:
        """STORE: mode "" replaces, "+" adds, "-" removes. Each message whose flags change gets a new
        MODSEQ (RFC 7162 §3.1). Returns ({uid: (flags, modseq)} for every existing uid, and the uids
        refused because their MODSEQ is above `unchangedsince` (RFC 7162 §3.1.3))."""
        result: dict[int, tuple[tuple[str, ...], int]] = {}
        failed: list[int] = []
        changed: list[int] = []
        with self._tx(user) as db:
            name, uidnext, modseq = db.execute("SELECT name, uidnext, highestmodseq FROM mailboxes WHERE id=?",
                                               (mailbox_id,)).fetchone()
            before = (uidnext, modseq)
            for uid in sorted(set(uids)):
                row = db.execute("SELECT flags, modseq FROM mailbox_messages WHERE mailbox=? AND uid=?",
                                 (mailbox_id, uid)).fetchone()
                if row is None:
                    continue
                old = tuple(row[0].split())
                if unchangedsince is not None and row[1] > unchangedsince:
                    failed.append(uid)
                    result[uid] = (old, int(row[1]))
                    continue
                if mode == "+":
                    new = old + tuple(f for f in flags if f not in old)
                elif mode == "-":
                    new = tuple(f for f in old if f not in flags)
                else:
                    new = tuple(dict.fromkeys(flags))
                if set(new) == set(old):
                    result[uid] = (old, int(row[1]))
                    continue
                modseq += 1
                db.execute("UPDATE mailbox_messages SET flags=?, modseq=? WHERE mailbox=? AND uid=?",
                           (" ".join(new), modseq, mailbox_id, uid))
                result[uid] = (new, modseq)
                changed.append(uid)
            if changed:
                db.execute("UPDATE mailboxes SET highestmodseq=? WHERE id=?", (modseq, mailbox_id))
        if changed:
            news = {uid: result[uid] for uid in changed}
            self._patch_reads(user, mailbox_id, before, (uidnext, modseq), lambda rows: tuple(
                r._replace(flags=news[r.uid][0], modseq=news[r.uid][1]) if r.uid in news else r for r in rows))
            self._emit(FlagsChanged(user, name, tuple(changed), mailbox_id))
        return result, failed

    def _usage(self, db: sqlite3.Connection, acc: int) -> tuple[int, int]:
        octets, count = db.execute(
            "SELECT COALESCE(SUM(m.size), 0), COUNT(*) FROM mailbox_messages mm "
            "JOIN messages m ON m.id = mm.message JOIN mailboxes b ON b.id = mm.mailbox WHERE b.account=?",
            (acc,)).fetchone()
        return int(octets), int(count)

    def quota_usage(self, user: str) -> tuple[int, int]:
        """(storage in KiB rounded up, message count) of the whole account (RFC 9208 §5)."""
        octets, count = self._usage(self._conn(), self._account_id(self._conn(), user))
        return (octets + 1023) // 1024, count

    def _check_quota(self, db: sqlite3.Connection, acc: int, add_octets: int, add_count: int) -> None:
        if self.quota_messages is None and self.quota_storage_kib is None:
            return  # no limits: spare every APPEND and COPY a sum over the whole account
        octets, count = self._usage(db, acc)
        if self.quota_messages is not None and count + add_count > self.quota_messages:
            raise QuotaExceeded(f"message quota of {self.quota_messages} would be exceeded")
        if self.quota_storage_kib is not None and octets + add_octets > self.quota_storage_kib * 1024:
            raise QuotaExceeded(f"storage quota of {self.quota_storage_kib} KiB would be exceeded")

    def append(self, user: str, name: str, messages: Sequence[tuple[bytes, Sequence[str], float | None]],
               recent_taken: bool = False) -> tuple[int, list[int]]:
        """APPEND (one or more messages, atomically, RFC 3502): returns (UIDVALIDITY, new UIDs).
        `recent_taken`: the appending session has the mailbox selected and takes \\Recent for the new
        messages in the same transaction (it is told of them first), instead of claiming it after."""
        datas = [normalise_crlf(raw) for raw, _, _ in messages]
        with self._tx(user) as db:
            acc = self._account_id(db, user)
            row = db.execute("SELECT id, uidvalidity, uidnext, highestmodseq, noselect FROM mailboxes "
                             "WHERE account=? AND name=?", (acc, name)).fetchone()
            if row is None or row[4]:
                raise StoreError(f"no mailbox {name!r}")
            mid, uidvalidity, uid, modseq, _ = row
            before = (uid, modseq)
            self._check_quota(db, acc, sum(map(len, datas)), len(datas))
            uids = []
            added: list[MessageRow] = []
            for data, (_, flags, when) in zip(datas, messages, strict=True):
                stored_flags = " ".join(dict.fromkeys(flags))
                when = time.time() if when is None else when
                msg = db.execute("INSERT INTO messages(raw, size, internaldate) VALUES (?,?,?)",
                                 (data, len(data), when)).lastrowid
                modseq += 1
                db.execute("INSERT INTO mailbox_messages(mailbox, uid, message, flags, modseq, recent) "
                           "VALUES (?,?,?,?,?,?)", (mid, uid, msg, stored_flags, modseq, not recent_taken))
                uids.append(uid)
                added.append(MessageRow(uid, tuple(stored_flags.split()), modseq, len(data), float(when),
                                        not recent_taken))
                uid += 1
            db.execute("UPDATE mailboxes SET uidnext=?, highestmodseq=? WHERE id=?", (uid, modseq, mid))
        self._patch_reads(user, mid, before, (uid, modseq), lambda rows: rows + tuple(added))
        for u in uids:
            self._emit(MessageAdded(user, name, u, mid))
        return int(uidvalidity), uids

    @staticmethod
    def _copy_in(db: sqlite3.Connection, src: int, uids: Sequence[int], dest: int) -> list[tuple[int, int]]:
        uidnext, modseq = db.execute("SELECT uidnext, highestmodseq FROM mailboxes WHERE id=?",
                                     (dest,)).fetchone()
        pairs = []
        for uid in uids:
            row = db.execute("SELECT message, flags FROM mailbox_messages WHERE mailbox=? AND uid=?",
                             (src, uid)).fetchone()
            if row is None:
                continue
            modseq += 1
            db.execute("INSERT INTO mailbox_messages(mailbox, uid, message, flags, modseq) VALUES (?,?,?,?,?)",
                       (dest, uidnext, row[0], row[1], modseq))
            pairs.append((uid, uidnext))
            uidnext += 1
        db.execute("UPDATE mailboxes SET uidnext=?, highestmodseq=? WHERE id=?", (uidnext, modseq, dest))
        return pairs

    def copy_messages(self, user: str, src_id: int, uids: Sequence[int], dest: str, move: bool = False
                      ) -> tuple[int, list[tuple[int, int]]]:
        """COPY or MOVE in one transaction: returns (destination UIDVALIDITY, [(source uid, new uid)])."""
        with self._tx(user) as db:
            acc = self._account_id(db, user)
            row = db.execute("SELECT id, uidvalidity, noselect, name FROM mailboxes WHERE account=? AND name=?",
                             (acc, dest)).fetchone()
            if row is None or row[2]:
                raise StoreError(f"no mailbox {dest!r}")
            if not move:
                octets = db.execute(
                    "SELECT COALESCE(SUM(m.size), 0) FROM mailbox_messages mm JOIN messages m ON m.id = mm.message "
                    f"WHERE mm.mailbox=? AND mm.uid IN ({','.join('?' * len(uids))})",
                    (src_id, *uids)).fetchone()[0]
                self._check_quota(db, acc, int(octets), len(uids))
            pairs = self._copy_in(db, src_id, sorted(uids), int(row[0]))
            removed = self._expunge_in(db, src_id, [s for s, _ in pairs]) if move else []
            src_name = db.execute("SELECT name FROM mailboxes WHERE id=?", (src_id,)).fetchone()[0]
        for _, new in pairs:
            self._emit(MessageAdded(user, dest, new, int(row[0])))
        if removed:
            self._emit(MessagesExpunged(user, src_name, tuple(removed), src_id))
        return int(row[1]), pairs

    def expunge_ids(self, user: str, mailbox_id: int, uids: Iterable[int]) -> list[int]:
        """Expunge `uids` of a mailbox given by id; returns the UIDs removed."""
        with self._tx(user) as db:
            row = db.execute("SELECT name, uidnext, highestmodseq FROM mailboxes WHERE id=?",
                             (mailbox_id,)).fetchone()
            if row is None:
                return []
            removed = self._expunge_in(db, mailbox_id, uids)
        if removed:
            gone = set(removed)
            self._patch_reads(user, mailbox_id, (row[1], row[2]), (row[1], row[2] + len(removed)),
                             lambda rows: tuple(r for r in rows if r.uid not in gone))
            self._emit(MessagesExpunged(user, row[0], tuple(removed), mailbox_id))
        return removed

    def vanished_since(self, mailbox_id: int, modseq: int) -> list[int]:
        """UIDs expunged with a MODSEQ above `modseq` (QRESYNC VANISHED (EARLIER), RFC 7162 §3.2.10)."""
        return [int(r[0]) for r in self._conn().execute(
            "SELECT uid FROM expunged WHERE mailbox=? AND modseq>? ORDER BY uid", (mailbox_id, modseq))]
