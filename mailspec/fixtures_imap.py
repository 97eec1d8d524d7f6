"""IMAP fixtures of the suite plugin: recorded clients, CAPABILITY, accounts, mailboxes, APPEND.

Registered by `mailspec.plugin`; suite/imap/README.md describes each fixture for test writers.
Every connection is an `ImapClient`, so every byte the server sends is checked by the strict
response grammar and lands in the test's transcript.

Safety: the suite only writes to disposable accounts, only creates mailboxes under the test's
own prefix (`mailspec-<hash of the test id>-`), and only deletes those and the messages it
appended itself.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

import pytest

from mailspec.delivery import tls_context
from mailspec.plugin import MailspecSession, Spec, build_test_message, disposable_account
from mailspec.protocol.imap_response import MailboxList, Response, SearchData, StatusData, Tagged, Untagged
from mailspec.targets import Account, Endpoint, Target
from mailspec.wire.imap import ImapClient, ImapUnexpectedResponse, mailbox_arg, quote, untagged
from mailspec.wire.transcript import Transcript

TLS_CHOICES = ("auto", "none", "starttls", "implicit")
MAILBOX_ROOT = "mailspec-"  # every mailbox the suite creates starts with this
SUITE_MAILBOX = re.compile(r"mailspec-[0-9a-f]{8}-")  # ... and then the test's hash (prefix_for)
# One wrong password for every failed-login test: servers that slow down repeated failures
# (Dovecot's auth penalty) do not escalate for a combination they have just seen.
WRONG_PASSWORD = "mailspec-wrong-password"
_CAPS_KEY = "imap-capabilities"
_CLEANED_KEY = "imap-stale-mailboxes-removed"
_POOL_KEY = "imap-pooled-connections"


# -- connecting and logging in ----------------------------------------------------------------------


def imap_endpoint(target: Target, tls: str) -> Endpoint:
    """The endpoint for a connection with this TLS choice; skips the test when the target has none."""
    if tls not in TLS_CHOICES:
        raise ValueError(f"tls must be one of {', '.join(TLS_CHOICES)}, not {tls!r}")
    plain = target.endpoint("imap")
    if tls == "implicit":
        ep = target.endpoint("imaps") or (plain if plain is not None and plain.tls == "implicit" else None)
        if ep is None:
            pytest.skip("target has no implicit-TLS IMAP endpoint (imaps)")
        return ep
    if tls in ("none", "starttls"):
        if plain is None or plain.tls == "implicit" or (tls == "starttls" and plain.tls != "starttls"):
            pytest.skip(f"target has no IMAP endpoint that allows tls={tls!r}")
        return plain
    ep = plain or target.endpoint("imaps")
    if ep is None:
        pytest.skip("target has no IMAP endpoint")
    return ep


def imap_connect(target: Target, transcript: Transcript, label: str, tls: str = "auto") -> ImapClient:
    """A connected, recorded client in the not-authenticated state, the greeting read.

    tls: "auto" uses STARTTLS on a starttls endpoint and implicit TLS on an implicit one; "none"
    stays in clear text; "starttls" and "implicit" insist (and skip when the target cannot).
    """
    ep = imap_endpoint(target, tls)
    client = ImapClient(ep.host, ep.port, timeout=target.timeout, transcript=transcript, label=label,
                        tls_context=tls_context(target), server_hostname=target.tls.server_name or ep.host,
                        implicit_tls=ep.tls == "implicit")
    want_starttls = ep.tls == "starttls" and tls in ("auto", "starttls")
    if want_starttls:
        done = client.starttls()
        if not done.ok:
            client.close()
            raise ImapUnexpectedResponse(f"{label}: STARTTLS refused: {done.raw!r}")
    return client


def sasl_plain(user: str, password: str, authzid: str = "") -> str:
    """The base64 PLAIN response (RFC 4616): authzid NUL authcid NUL password."""
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode("ascii")


def authenticate(client: ImapClient, account: Account) -> Tagged:
    """Log in: LOGIN, or AUTHENTICATE PLAIN when the server advertises LOGINDISABLED.

    The capability list is only asked for when LOGIN is refused (one round trip less per login).
    """
    known = {c.upper() for c in client.reader.capabilities or ()}
    if "LOGINDISABLED" not in known:
        done = client.login(account.user, account.password)
        if done.ok or client.reader.closed or not client.has_capability("LOGINDISABLED"):
            return done
    if not client.has_capability("AUTH=PLAIN"):
        return client.login(account.user, account.password)
    response = sasl_plain(account.user, account.password)
    if client.has_capability("SASL-IR"):
        _, done = client.run(f"AUTHENTICATE PLAIN {response}")
    else:
        _, done = client.run("AUTHENTICATE PLAIN", on_continuation=lambda _c: response.encode())
    if done.ok and done.code != "CAPABILITY":
        client.reader.forget_capabilities()
    return done


# -- capabilities -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImapCapabilities:
    """What the target advertises at each stage (capabilities may change after TLS and login).

    `before_tls` is None when the target has no clear-text endpoint; `after_login` is None when
    no disposable account could log in.
    """

    before_tls: tuple[str, ...] | None
    before_login: tuple[str, ...]
    after_login: tuple[str, ...] | None

    @property
    def all(self) -> frozenset[str]:
        """Every capability seen at any stage, upper-cased."""
        stages = (self.before_tls or (), self.before_login, self.after_login or ())
        return frozenset(c.upper() for stage in stages for c in stage)

    def has(self, name: str) -> bool:
        """Advertised at some stage (names compare case-insensitively)."""
        return name.upper() in self.all

    def auth_mechanisms(self) -> tuple[str, ...]:
        return tuple(sorted(c[5:] for c in self.all if c.startswith("AUTH=")))


def _capabilities_now(client: ImapClient) -> tuple[str, ...]:
    client.reader.forget_capabilities()
    return client.capabilities


def imap_capabilities_of(session: MailspecSession) -> ImapCapabilities:
    """The target's IMAP capabilities before TLS, after TLS and after login; probed once per session."""
    cached = session.cache.get(_CAPS_KEY)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    target = session.get_target()
    probe = Transcript()
    before_tls = None
    plain = target.endpoint("imap")
    if plain is not None and plain.tls == "starttls":
        with imap_connect(target, probe, "capability-probe-plain", tls="none") as client:
            before_tls = _capabilities_now(client)
    after_login = None
    with imap_connect(target, probe, "capability-probe") as client:
        before_login = _capabilities_now(client)
        accounts = session.disposable_accounts()
        if accounts and authenticate(client, accounts[0]).ok:
            after_login = _capabilities_now(client)
    caps = session.cache[_CAPS_KEY] = ImapCapabilities(before_tls, before_login, after_login)
    return caps


@pytest.fixture
def imap_capabilities(mailspec_session: MailspecSession) -> ImapCapabilities:
    """The target's IMAP capabilities at each stage, cached for the session."""
    return imap_capabilities_of(mailspec_session)


# -- the client factory -----------------------------------------------------------------------------


@dataclass
class ImapFactory:
    """`imap(account=None, tls="auto", label=None, login=True)` -> a connected, recorded ImapClient.

    With login=True the client is authenticated as `account` (default: this process's first
    disposable account); with login=False it is in the not-authenticated state. Connections are
    dropped without LOGOUT at teardown.
    """

    session: MailspecSession
    target: Target
    transcript: Transcript
    opened: list[ImapClient] = field(default_factory=list)
    accounts: dict[int, Account] = field(default_factory=dict)  # id(client) -> its login

    def __call__(self, account: Account | None = None, tls: str = "auto", label: str | None = None,
                 login: bool = True) -> ImapClient:
        client = imap_connect(self.target, self.transcript, label or f"c{len(self.opened) + 1}", tls)
        self.opened.append(client)
        if login:
            account = account or disposable_account(self.session, 0)
            done = authenticate(client, account)
            if not done.ok:
                raise ImapUnexpectedResponse(f"{client.label}: login as {account.user} failed: {done.raw!r}")
            self.accounts[id(client)] = account
        return client

    def account_of(self, client: ImapClient) -> Account:
        """The account a client of this factory logged in as."""
        try:
            return self.accounts[id(client)]
        except KeyError:
            raise ValueError(f"{client.label} was not logged in by the imap fixture") from None

    @property
    def accounts_used(self) -> list[Account]:
        return list({a.user: a for a in self.accounts.values()}.values())

    def close_all(self) -> None:
        for client in self.opened:
            client.close()


@pytest.fixture
def imap(mailspec_session: MailspecSession, target: Target, transcript: Transcript) -> Iterator[ImapFactory]:
    """Factory for connected, recorded IMAP clients; see ImapFactory."""
    factory = ImapFactory(mailspec_session, target, transcript)
    yield factory
    factory.close_all()


@pytest.fixture
def imap_accounts(mailspec_session: MailspecSession) -> list[Account]:
    """This process's disposable accounts (use `account`, `second_account`, `third_account` for one)."""
    return mailspec_session.disposable_accounts()


# -- mailboxes ----------------------------------------------------------------------------------------


def prefix_for(test_id: str) -> str:
    """`mailspec-<8 hex>-`: the test's own mailbox namespace, stable across runs."""
    return f"{MAILBOX_ROOT}{hashlib.sha1(test_id.encode()).hexdigest()[:8]}-"


def list_names(client: ImapClient, pattern: str) -> list[MailboxList]:
    """LIST "" pattern -> the listed mailboxes."""
    resps, done = client.run(b'LIST "" ', mailbox_arg(pattern, utf8=client.reader.utf8))
    if not done.ok:
        raise ImapUnexpectedResponse(f"{client.label}: LIST {pattern} refused: {done.raw!r}")
    return [r.data for r in untagged(resps, "LIST") if isinstance(r.data, MailboxList)]


def delete_tree(client: ImapClient, pattern: str, keep: str | None = None) -> list[str]:
    """DELETE every mailbox LIST shows for the pattern (but not those starting with `keep`),
    deepest first; returns the names that could not be deleted."""
    boxes = list_names(client, pattern)
    failed = []
    for box in sorted(boxes, key=lambda b: (b.name.count(b.delimiter or "\0"), len(b.name)), reverse=True):
        if not SUITE_MAILBOX.match(box.name) or (keep and box.name.startswith(keep)):
            continue  # only the suite's own names, and never the running test's
        _, done = client.run(b"DELETE ", mailbox_arg(box.name, utf8=client.reader.utf8))
        if not done.ok:
            failed.append(box.name)
    return failed


@dataclass
class Mailboxes:
    """The test's mailboxes: unique names under its prefix, created on demand, removed afterwards.

    CREATE, the APPEND helper and the final cleanup go through a pooled connection per account
    (label `pool-<user>`), separate from the test's own clients.
    """

    session: MailspecSession
    factory: ImapFactory
    prefix: str
    _setup: dict[str, ImapClient] = field(default_factory=dict)
    _lent: set[str] = field(default_factory=set)  # users whose pooled connection this test used
    _count: int = 0
    _inbox_uids: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)  # user -> (box, uv, uid)

    def setup_client(self, account: Account | None = None) -> ImapClient:
        """A set-up connection of the test's own (label `setup-<user>`), logged in to `account`
        (default: the first disposable one), separate from the clients the test opened."""
        account = self._writable(account)
        client = self._setup.get(account.user)
        if client is None or client.sock is None or client.reader.closed:
            client = self._login(account, f"setup-{account.user}")
            self._setup[account.user] = client
            self._remove_stale(client, account)
        return client

    def pooled_client(self, account: Account | None = None) -> ImapClient:
        """The process's pooled connection for `account`, lent to this test (its bytes go into this
        test's transcript). It saves a TLS handshake and a login per test. For the fixtures'
        helpers, which always leave it with no mailbox selected and nothing enabled; a test that
        wants a connection of its own uses `setup_client` or `imap()`."""
        account = self._writable(account)
        pool: dict[str, ImapClient] = self.session.cache.setdefault(_POOL_KEY, {})
        client = pool.get(account.user)
        if client is None or client.sock is None or client.reader.closed:
            client = pool[account.user] = self._login(account, f"pool-{account.user}")
        client.transcript = self.factory.transcript
        self._remove_stale(client, account)
        self._lent.add(account.user)
        return client

    def _remove_stale(self, client: ImapClient, account: Account) -> None:
        """Once per session and account: mailboxes that crashed earlier runs left behind."""
        cleaned: set[str] = self.session.cache.setdefault(_CLEANED_KEY, set())
        if account.user not in cleaned:
            cleaned.add(account.user)
            delete_tree(client, f"{MAILBOX_ROOT}*", keep=self.prefix)

    def _writable(self, account: Account | None) -> Account:
        account = account or disposable_account(self.session, 0)
        if not account.disposable:
            raise RuntimeError(f"refusing to create or delete in non-disposable account {account.user}")
        return account

    def _login(self, account: Account, label: str) -> ImapClient:
        client = imap_connect(self.factory.target, self.factory.transcript, label)
        done = authenticate(client, account)
        if not done.ok:
            client.close()
            raise ImapUnexpectedResponse(f"{label}: login as {account.user} failed: {done.raw!r}")
        return client

    def delimiter(self, account: Account | None = None) -> str:
        """The hierarchy delimiter (LIST "" ""); "/" when the server has a flat namespace."""
        client = self.pooled_client(account)
        resps, _ = client.run('LIST "" ""')
        found = [r.data for r in untagged(resps, "LIST") if isinstance(r.data, MailboxList)]
        return (found[0].delimiter if found else None) or "/"

    def name(self, suffix: str = "") -> str:
        """A fresh name under the test's prefix, not created (for CREATE tests)."""
        self._count += 1
        return f"{self.prefix}{suffix or f'box{self._count}'}"

    def child(self, parent: str, leaf: str, account: Account | None = None) -> str:
        """`parent<delimiter>leaf`, with the server's delimiter."""
        return f"{parent}{self.delimiter(account)}{leaf}"

    def create(self, suffix: str = "", account: Account | None = None) -> str:
        """CREATE a fresh mailbox under the prefix (in `account`, default the first) and return its name."""
        name = self.name(suffix)
        client = self.pooled_client(account)
        client.ok(b"CREATE ", mailbox_arg(name, utf8=client.reader.utf8))
        return name

    def remember_append(self, account: Account, mailbox: str, uidvalidity: int, uid: int) -> None:
        if not mailbox.startswith(self.prefix):
            self._inbox_uids.setdefault(account.user, []).append((mailbox, uidvalidity, uid))

    def cleanup(self) -> None:
        """Delete the test's mailboxes in every account it touched, and messages it appended elsewhere."""
        self.factory.close_all()  # a mailbox still selected by the test's clients may resist DELETE
        for client in self._setup.values():
            client.close()
        users = {a.user: a for a in self.factory.accounts_used if a.disposable}
        mine = {a.user: a for a in self.session.disposable_accounts()}
        users.update((u, mine[u]) for u in (*self._setup, *self._lent) if u in mine)
        for account in users.values():
            try:
                client = self.pooled_client(account)
                self._expunge_appended(client, account)
                left = delete_tree(client, f"{self.prefix}*")
                if left:
                    client.transcript.event(client.label, f"cleanup could not delete {left}")
            except Exception as exc:  # cleanup must not decide the test's outcome
                self.factory.transcript.event(f"pool-{account.user}", f"cleanup failed: {exc}")

    def _expunge_appended(self, client: ImapClient, account: Account) -> None:
        """Remove the messages `append` put outside the prefix (e.g. INBOX), by UID only."""
        by_box: dict[str, list[tuple[int, int]]] = {}
        for box, uv, uid in self._inbox_uids.get(account.user, []):
            by_box.setdefault(box, []).append((uv, uid))
        for box, entries in by_box.items():
            resps, done = client.run(b"SELECT ", mailbox_arg(box, utf8=client.reader.utf8))
            if not done.ok:
                continue
            current = _uidvalidity(resps)
            uids = ",".join(str(uid) for uv, uid in entries if uv == current)
            if uids:  # only suite messages: the UIDs came from the server, which may be wrong
                found, _ = client.run(f'UID SEARCH UID {uids} HEADER X-Mailspec-Test ""')
                uids = ",".join(map(str, _search_numbers(found)))
            if uids and client.has_capability("UIDPLUS"):
                client.run(f"UID STORE {uids} +FLAGS.SILENT (\\Deleted)")
                client.run(f"UID EXPUNGE {uids}")
            elif uids:
                ours = {uid for _, uid in entries}
                resps, _ = client.run("UID SEARCH DELETED")
                deleted = set(_search_numbers(resps))
                if deleted <= ours:  # EXPUNGE would not take anyone else's \Deleted messages
                    client.run(f"UID STORE {uids} +FLAGS.SILENT (\\Deleted)")
                    client.run("EXPUNGE")
            client.run("CLOSE")


def _search_numbers(resps: Iterable[Response]) -> list[int]:
    """The numbers of the SEARCH responses among `resps`."""
    return [n for r in untagged(resps, "SEARCH") if isinstance(r.data, SearchData) for n in r.data.numbers]


def _uidvalidity(responses: Iterable[object]) -> int | None:
    for r in responses:
        if isinstance(r, Untagged) and r.code == "UIDVALIDITY":
            return int(r.code_args)  # type: ignore[call-overload]
    return None


@pytest.fixture(scope="session")
def imap_pool(mailspec_session: MailspecSession) -> Iterator[dict[str, ImapClient]]:
    """The pooled set-up connections (user -> client), closed at the end of the session."""
    pool: dict[str, ImapClient] = mailspec_session.cache.setdefault(_POOL_KEY, {})
    yield pool
    for client in pool.values():
        client.close()


@pytest.fixture
def mailboxes(mailspec_session: MailspecSession, imap: ImapFactory, spec: Spec,
              imap_pool: dict[str, ImapClient]) -> Iterator[Mailboxes]:
    """The test's mailbox namespace: `.name()`, `.create()`, `.child()`, `.delimiter()`, `.prefix`."""
    boxes = Mailboxes(mailspec_session, imap, prefix_for(spec.test_id))
    yield boxes
    boxes.cleanup()


@pytest.fixture
def mailbox(mailboxes: Mailboxes) -> str:
    """The name of a fresh, empty mailbox the test owns, created in the first disposable account."""
    return mailboxes.create()


# -- appending test messages --------------------------------------------------------------------------


class Appended(tuple[int, int]):
    """(uidvalidity, uid) of an appended message; also `.message` (its bytes) and `.marker`."""

    message: bytes
    marker: str | None

    def __new__(cls, uidvalidity: int, uid: int, message: bytes, marker: str | None) -> Appended:
        self = super().__new__(cls, (uidvalidity, uid))
        self.message, self.marker = message, marker
        return self

    @property
    def uidvalidity(self) -> int:
        return self[0]

    @property
    def uid(self) -> int:
        return self[1]


def imap_date_time(when: datetime) -> str:
    """RFC 3501 date-time ("dd-Mon-yyyy hh:mm:ss +zzzz") of an aware datetime."""
    if when.tzinfo is None:
        raise ValueError("internaldate needs a timezone-aware datetime")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{when.day:02d}-{months[when.month - 1]}-{when.year:04d} {when:%H:%M:%S %z}"


@dataclass
class Appender:
    """`append(client_or_account, mailbox, message=None, flags=(), internaldate=None) -> Appended`.

    Without a message it builds a marked test message (header `X-Mailspec-Test: <id> <nonce>`).
    The UID comes from APPENDUID (UIDPLUS); otherwise a set-up connection finds it with
    UID SEARCH HEADER on the marker (so `message` must then carry the header itself).
    """

    mailboxes: Mailboxes
    spec: Spec

    def __call__(self, client_or_account: ImapClient | Account, mailbox: str, message: bytes | None = None,
                 flags: Iterable[str] = (), internaldate: datetime | str | None = None) -> Appended:
        if isinstance(client_or_account, ImapClient):
            client = client_or_account
            account = self.mailboxes.factory.account_of(client)
        else:
            account = client_or_account
            client = self.mailboxes.pooled_client(account)
        if not account.disposable:
            raise RuntimeError(f"refusing to append test mail into non-disposable account {account.user}")
        marker = None
        if message is None:
            message, marker = build_test_message(self.spec.test_id, account.user)
        date = imap_date_time(internaldate) if isinstance(internaldate, datetime) else internaldate
        _, done = client.append(mailbox, message, flags, date)
        if not done.ok:
            raise ImapUnexpectedResponse(f"{client.label}: APPEND to {mailbox} refused: {done.raw!r}")
        if done.code == "APPENDUID":
            code_args = cast(tuple[int, tuple[tuple[int, int], ...]], done.code_args)
            uidvalidity, uid = code_args[0], code_args[1][0][0]
        else:
            uidvalidity, uid = self._find(account, mailbox, message, marker)
        self.mailboxes.remember_append(account, mailbox, uidvalidity, uid)
        return Appended(uidvalidity, uid, message, marker)

    def _find(self, account: Account, mailbox: str, message: bytes, marker: str | None) -> tuple[int, int]:
        if marker is None:
            marker = _marker_in(message)
        if marker is None:
            raise ValueError("without UIDPLUS, append() finds the message by its X-Mailspec-Test header; "
                             "the given message has none")
        client = self.mailboxes.pooled_client(account)
        resps, done = client.run(b"EXAMINE ", mailbox_arg(mailbox, utf8=client.reader.utf8))
        if not done.ok:
            raise ImapUnexpectedResponse(f"{client.label}: EXAMINE {mailbox} refused: {done.raw!r}")
        uidvalidity = _uidvalidity(resps)
        found, _ = client.ok(b"UID SEARCH HEADER X-Mailspec-Test ", quote(marker))
        client.run("CLOSE")
        uids = _search_numbers(found)
        if uidvalidity is None or len(uids) != 1:
            raise ImapUnexpectedResponse(f"appended message {marker!r} not found once in {mailbox} "
                                         f"(UIDVALIDITY {uidvalidity}, UIDs {uids})")
        return uidvalidity, uids[0]


def _marker_in(message: bytes) -> str | None:
    head = message.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-mailspec-test":
            return value.strip().decode("ascii", "replace")
    return None


@pytest.fixture
def append(mailboxes: Mailboxes, spec: Spec) -> Appender:
    """Append a (marked) test message and learn its UID; see Appender."""
    return Appender(mailboxes, spec)


def status_of(client: ImapClient, mailbox: str, items: str = "MESSAGES UIDNEXT UIDVALIDITY") -> dict[str, object]:
    """STATUS mailbox (items) -> {item: value}."""
    resps, _ = client.ok(b"STATUS ", mailbox_arg(mailbox, utf8=client.reader.utf8), f" ({items})".encode())
    for r in untagged(resps, "STATUS"):
        if isinstance(r.data, StatusData):
            return dict(r.data.items)
    raise ImapUnexpectedResponse(f"{client.label}: STATUS {mailbox} sent no STATUS response")
