"""POP3 fixtures of the suite plugin: recorded clients, CAPA, accounts, delivery and cleanup.

Registered by `mailspec.plugin`; the POP3 tests (suite/pop3/) use `pop3`, `account`,
`second_account`, `deliver`, `maildrop`, `login` and `target`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from mailspec.delivery import tls_context
from mailspec.plugin import TEST_HEADER, MailspecSession, Spec, build_test_message, disposable_account
from mailspec.protocol.pop3 import MultiLine, Rule
from mailspec.protocol.pop3_listings import Capabilities, parse_capa
from mailspec.targets import Account, Target
from mailspec.wire.pop3 import Pop3Client, Pop3UnexpectedResponse
from mailspec.wire.transcript import Transcript

# Rules that a dedicated test owns (line ends, upper-case indicators, the greeting's '+OK'):
# other tests record a break of them in the transcript and carry on, so one server bug fails
# the one test about it instead of the whole suite.
OWNED_RULES = frozenset({Rule.LINE_END, Rule.STATUS_CASE})
_CAPA_KEY = "pop3-capa"


def connect(target: Target, transcript: Transcript, label: str, tls: str = "auto",
            server_hostname: str | None = None) -> Pop3Client:
    """A connected client in the AUTHORIZATION state; tls: auto | none | starttls | implicit.
    `server_hostname` is the name the certificate is checked against (default: the target's
    TLS server name, else the endpoint's host)."""
    if tls == "implicit":
        ep = target.endpoint("pop3s")
        if ep is None:
            pytest.skip("target has no implicit-TLS POP3 endpoint (pop3s)")
    else:
        ep = target.endpoint("pop3") or target.endpoint("pop3s")
        if ep is None:
            pytest.skip("target has no POP3 endpoint")
    ctx = tls_context(target)
    client = Pop3Client(ep.host, ep.port, timeout=target.timeout, transcript=transcript, label=label,
                        tls_context=ctx, server_hostname=server_hostname or target.tls.server_name or ep.host,
                        implicit_tls=ep.tls == "implicit", tolerate=OWNED_RULES, lenient_greeting=True)
    want_stls = tls == "starttls" or (tls == "auto" and ep.tls == "starttls")
    if want_stls and not client.tls_active:
        ev = client.starttls()
        if not ev.ok:
            raise Pop3UnexpectedResponse(f"STLS refused: {ev.raw!r}")
    return client


def login_user_pass(client: Pop3Client, account: Account) -> Any:
    """USER/PASS; returns the final status line (PASS's, or USER's when USER is refused)."""
    ev = client.cmd(f"USER {account.user}")
    if not ev.ok:
        return ev
    return client.cmd(f"PASS {account.password}")


def pop3_capabilities_of(session: MailspecSession) -> Capabilities:
    """CAPA as the suite sees it (before STLS when offered, over TLS before and after login), cached."""
    cached = session.cache.get(_CAPA_KEY)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    target = session.get_target()
    entries: dict[str, tuple[str, ...]] = {}
    ep = target.endpoint("pop3")
    if ep is not None and ep.tls == "starttls":
        plain = connect(target, Transcript(), "capa-probe-plain", tls="none")
        try:
            first = plain.cmd_multi("CAPA")
            if isinstance(first, MultiLine):
                entries.update(parse_capa(first).entries)
        finally:
            plain.close()
    client = connect(target, Transcript(), "capa-probe")
    try:
        pre = client.cmd_multi("CAPA")
        if isinstance(pre, MultiLine):
            entries.update(parse_capa(pre).entries)
        accounts = session.disposable_accounts()
        if accounts and login_user_pass(client, accounts[0]).ok:
            post = client.cmd_multi("CAPA")
            if isinstance(post, MultiLine):
                entries.update(parse_capa(post).entries)
    finally:
        client.close()
    capa = session.cache[_CAPA_KEY] = Capabilities(entries)
    return capa


@pytest.fixture
def capabilities(mailspec_session: MailspecSession) -> Capabilities:
    """The target's POP3 CAPA, cached for the session."""
    return pop3_capabilities_of(mailspec_session)


Pop3Factory = Callable[..., Pop3Client]


@pytest.fixture
def pop3(target: Target, transcript: Transcript) -> Iterator[Pop3Factory]:
    """Factory: `pop3(account=None, tls="auto", label=None)` -> a connected, recorded client.

    With an account it is logged in (USER/PASS) and in the TRANSACTION state. Connections are
    closed without QUIT at teardown, so a test never commits deletions by accident.
    """
    opened: list[Pop3Client] = []

    def factory(account: Account | None = None, tls: str = "auto", label: str | None = None) -> Pop3Client:
        client = connect(target, transcript, label or f"c{len(opened) + 1}", tls)
        opened.append(client)
        if account is not None:
            ev = login_user_pass(client, account)
            if not ev.ok:
                raise Pop3UnexpectedResponse(f"login as {account.user} failed: {ev.raw!r}")
        return client

    yield factory
    for c in opened:
        if c.sock is not None:
            c.close()


@pytest.fixture
def login() -> Callable[[Pop3Client, Account], Any]:
    """`login(client, account)`: USER/PASS, returns the final status line (not raising)."""
    return login_user_pass


@pytest.fixture
def account(mailspec_session: MailspecSession, maildrop: Maildrop) -> Account:
    """A disposable account whose stale suite messages were removed before the test."""
    acc = disposable_account(mailspec_session, 0)
    maildrop.purge(acc)
    return acc


@pytest.fixture
def second_account(mailspec_session: MailspecSession, maildrop: Maildrop) -> Account:
    acc = disposable_account(mailspec_session, 1)
    maildrop.purge(acc)
    return acc


@dataclass
class Maildrop:
    """Finds and cleans up the suite's own messages (by their X-Mailspec-Test header)."""

    target: Target
    transcript: Transcript

    @staticmethod
    def marker_of(header_lines: list[bytes] | tuple[bytes, ...]) -> str | None:
        prefix = TEST_HEADER.lower().encode() + b":"
        for line in header_lines:
            if line == b"":
                break
            if line.lower().startswith(prefix):
                return line[len(prefix):].strip().decode("ascii", "replace")
        return None

    def markers(self, client: Pop3Client) -> dict[int, str]:
        """message-number -> marker for every suite message visible in this session."""
        listing = client.cmd_multi("LIST")
        if not isinstance(listing, MultiLine):
            return {}
        out: dict[int, str] = {}
        for line in listing.lines:
            num = int(line.split()[0])
            top = client.cmd_multi(f"TOP {num} 0", kind="message")
            if not isinstance(top, MultiLine):
                top = client.cmd_multi(f"RETR {num}", kind="message")
            if isinstance(top, MultiLine):
                marker = self.marker_of(top.lines)
                if marker is not None:
                    out[num] = marker
        return out

    def find(self, client: Pop3Client, marker: str) -> int:
        """The message-number of the message carrying `marker` (fails the test when absent)."""
        for num, m in self.markers(client).items():
            if m == marker:
                return num
        raise AssertionError(f"the delivered message {marker!r} is not in the maildrop")

    def purge(self, account: Account) -> None:
        """Best effort: DELE earlier suite messages in a disposable account, then QUIT."""
        if not account.disposable:
            raise RuntimeError(f"refusing to delete in non-disposable account {account.user}")
        for attempt in range(10):
            client = connect(self.target, self.transcript, f"cleanup-{account.user}")
            try:
                ev = login_user_pass(client, account)
                if ev.ok:
                    for num in self.markers(client):
                        client.cmd(f"DELE {num}")
                    client.cmd("QUIT")
                    return
            except Exception as exc:  # cleanup must not decide the test's outcome
                self.transcript.event(client.label, f"cleanup failed: {exc}")
                return
            finally:
                client.close()
            time.sleep(0.05 * (attempt + 1))  # the last session's lock may not be released yet


@pytest.fixture
def maildrop(target: Target, transcript: Transcript) -> Maildrop:
    return Maildrop(target, transcript)


@dataclass(frozen=True)
class Delivered:
    marker: str
    raw: bytes


@pytest.fixture
def deliver(mailspec_session: MailspecSession, target: Target, spec: Spec,
            transcript: Transcript) -> Callable[..., Delivered]:
    """`deliver(account, body_lines=None, headers=None) -> Delivered`: one marked test message
    into the account's INBOX, by the target's delivery method."""

    def _deliver(acc: Account, body_lines: list[str] | None = None,
                 headers: dict[str, str] | None = None) -> Delivered:
        if not acc.disposable:
            raise RuntimeError(f"refusing to deliver test mail into non-disposable account {acc.user}")
        raw, marker = build_test_message(spec.test_id, acc.user, body_lines, headers)
        assert mailspec_session.deliverer is not None
        mailspec_session.deliverer(acc, raw)
        transcript.event("deliver", f"delivered {len(raw)} octets to {acc.user}: {marker}")
        return Delivered(marker, raw)

    return _deliver
