"""The pytest plugin behind the conformance suite (`pytest -p mailspec.plugin`).

It picks the target (the embedded reference server by default, or a target file), checks each
test's `spec` marker against the requirement catalogue, skips what the target cannot run (missing
capability, SHOULD-level without --mailspec-strict), hands tests recorded wire clients, and turns
outcomes into reports: failure text with the requirement and the transcript, known deviations as
xfail, timeouts as their own outcome, and results.json for the report writers.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from mailspec.catalogue import MANDATORY_LEVELS, Requirement, lookup, rfc_url, strongest
from mailspec.delivery import Deliver, make_deliverer, tls_context
from mailspec.faults import validate_faults
from mailspec.protocol.pop3 import MultiLine, Rule
from mailspec.protocol.pop3_listings import Capabilities, parse_capa
from mailspec.targets import Account, Target, load_target
from mailspec.wire.pop3 import Pop3Client, Pop3UnexpectedResponse
from mailspec.wire.transcript import Transcript

TEST_HEADER = "X-Mailspec-Test"
# Rules that a dedicated test owns (line ends, upper-case indicators, the greeting's '+OK'):
# other tests record a break of them in the transcript and carry on, so one server bug fails
# the one test about it instead of the whole suite.
OWNED_RULES = frozenset({Rule.LINE_END, Rule.STATUS_CASE})


@dataclass(frozen=True)
class Spec:
    """What a test's `spec` marker says, resolved against the catalogue."""

    test_id: str
    requirements: tuple[Requirement, ...]
    needs: tuple[str, ...]
    expected: str

    @property
    def rfc(self) -> str:
        return self.test_id.split("/")[1]

    @property
    def section(self) -> str:
        return self.test_id.split("/")[2]

    @property
    def level(self) -> str:
        return strongest([r.level for r in self.requirements]) if self.requirements else "MUST"

    @property
    def mandatory(self) -> bool:
        return not self.requirements or any(r.level in MANDATORY_LEVELS for r in self.requirements)

    def header(self) -> str:
        lines = [f"{self.test_id}  (RFC {self.rfc} section {self.section}, {rfc_url(self.rfc, self.section)})"]
        lines += [f"  requirement {r.id} [{r.level}] {r.url}" for r in self.requirements]
        lines.append(f"  expected: {self.expected}")
        return "\n".join(lines)


spec_key = pytest.StashKey[Spec]()
transcript_key = pytest.StashKey[Transcript]()
session_key = pytest.StashKey["MailspecSession"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mailspec", "mail server conformance suite")
    group.addoption("--mailspec-target", default="builtin", metavar="builtin|FILE",
                    help="server under test: 'builtin' starts the embedded reference server "
                         "for the session (default); otherwise a target TOML file")
    group.addoption("--mailspec-fault", action="append", default=[], metavar="NAME",
                    help="inject this fault into the builtin server (repeatable; see mailspec.faults)")
    group.addoption("--mailspec-strict", action="store_true", default=False,
                    help="also run tests whose requirements are all below MUST level (SHOULD, MAY)")
    group.addoption("--mailspec-results", default=None, metavar="PATH",
                    help="write the results of the run as JSON to PATH")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "spec(test_id, *requirement_ids, needs=()): conformance test id "
        "(pop3/<rfc>/<section>/<behaviour>), the catalogue requirements it checks, and the "
        "capabilities the target must advertise",
    )
    faults = config.getoption("--mailspec-fault")
    try:
        validate_faults(faults)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    if faults and config.getoption("--mailspec-target") != "builtin":
        raise pytest.UsageError("--mailspec-fault only works with --mailspec-target builtin")
    config.stash[session_key] = MailspecSession(config)
    config.pluginmanager.register(config.stash[session_key], "mailspec-session")


def _spec_from_marker(item: pytest.Item) -> Spec:
    marks = list(item.iter_markers("spec"))
    if len(marks) != 1:
        raise pytest.UsageError(f"{item.nodeid}: needs exactly one @pytest.mark.spec marker, has {len(marks)}")
    mark = marks[0]
    if not mark.args or not str(mark.args[0]).startswith(("pop3/", "imap/", "smtp/")):
        raise pytest.UsageError(f"{item.nodeid}: spec marker's first argument must be the test id")
    test_id = str(mark.args[0])
    if len(test_id.split("/")) != 4:
        raise pytest.UsageError(f"{item.nodeid}: test id {test_id!r} is not <proto>/<rfc>/<section>/<name>")
    try:
        reqs = tuple(lookup(str(r)) for r in mark.args[1:])
    except KeyError as exc:
        raise pytest.UsageError(f"{item.nodeid}: {exc.args[0]}") from None
    doc = (getattr(item, "function", None).__doc__ or "") if hasattr(item, "function") else ""
    expected = " ".join(doc.strip().split("\n\n")[0].split()) or "see the requirement"
    return Spec(test_id, reqs, tuple(mark.kwargs.get("needs", ())), expected)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seen: dict[str, str] = {}
    for item in items:
        spec = _spec_from_marker(item)
        if spec.test_id in seen:
            raise pytest.UsageError(f"test id {spec.test_id} used by both {seen[spec.test_id]} and {item.nodeid}")
        seen[spec.test_id] = item.nodeid
        item.stash[spec_key] = spec


@dataclass
class TestRecord:
    spec: Spec
    nodeid: str
    outcome: str = "passed"
    duration: float = 0.0
    message: str = ""
    transcript: str = ""
    deviation: str | None = None


@dataclass(eq=False)  # registered as a plugin, so it must stay hashable
class MailspecSession:
    """Per-run state: the target, its builtin server, the capability cache and the results."""

    config: pytest.Config
    target: Target | None = None
    deliverer: Deliver | None = None
    server: Any = None
    _capa: Capabilities | None = None
    records: dict[str, TestRecord] = field(default_factory=dict)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    t0: float = field(default_factory=time.monotonic)

    # -- target --------------------------------------------------------------------------------

    def get_target(self) -> Target:
        if self.target is None:
            source = self.config.getoption("--mailspec-target")
            if source == "builtin":
                from reference_server.embedded import EmbeddedServer

                self.server = EmbeddedServer(faults=tuple(self.config.getoption("--mailspec-fault")))
                self.target = self.server.start()
                self.deliverer = make_deliverer(self.target, builtin=self.server.deliver)
            else:
                self.target = load_target(source)
                self.deliverer = make_deliverer(self.target)
        return self.target

    def capabilities(self) -> Capabilities:
        """CAPA as the suite sees it (after STLS when offered, before and after login), cached."""
        if self._capa is None:
            target = self.get_target()
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
                accounts = target.disposable_accounts()
                if accounts and login_user_pass(client, accounts[0]).ok:
                    post = client.cmd_multi("CAPA")
                    if isinstance(post, MultiLine):
                        entries.update(parse_capa(post).entries)
            finally:
                client.close()
            self._capa = Capabilities(entries)
        return self._capa

    # -- hooks ---------------------------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        path = self.config.getoption("--mailspec-results")
        if path:
            Path(path).write_text(json.dumps(self.results(), indent=2), "utf-8")
        if self.server is not None:
            self.server.stop()

    def results(self) -> dict[str, Any]:
        target = self.target
        return {
            "target": target.name if target else None,
            "source": self.config.getoption("--mailspec-target"),
            "faults": list(self.config.getoption("--mailspec-fault")),
            "strict": bool(self.config.getoption("--mailspec-strict")),
            "started": self.started.isoformat().replace("+00:00", "Z"),
            "duration": round(time.monotonic() - self.t0, 3),
            "tests": [
                {
                    "id": r.spec.test_id, "nodeid": r.nodeid, "outcome": r.outcome,
                    "rfc": r.spec.rfc, "section": r.spec.section,
                    "requirements": [{"id": q.id, "level": q.level} for q in r.spec.requirements],
                    "level": r.spec.level, "needs": list(r.spec.needs), "duration": round(r.duration, 4),
                    "message": r.message, "expected": r.spec.expected, "transcript": r.transcript,
                    "deviation": r.deviation,
                }
                for r in self.records.values()
            ],
        }


def connect(target: Target, transcript: Transcript, label: str, tls: str = "auto") -> Pop3Client:
    """A connected client in the AUTHORIZATION state; tls: auto | none | starttls | implicit."""
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
                        tls_context=ctx, server_hostname=target.tls.server_name or ep.host,
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


# -- hooks on items ---------------------------------------------------------------------------------


def _session(config: pytest.Config) -> MailspecSession:
    return config.stash[session_key]


def pytest_runtest_setup(item: pytest.Item) -> None:
    spec = item.stash.get(spec_key, None)
    if spec is None:
        return
    item.stash[transcript_key] = Transcript()
    if not spec.mandatory and not item.config.getoption("--mailspec-strict"):
        pytest.skip(f"requirements are all below MUST level ({spec.level}); run with --mailspec-strict")
    if spec.needs:
        capa = _session(item.config).capabilities()
        for need in spec.needs:
            tag, _, param = need.partition(" ")
            if tag not in capa or (param and param.upper() not in (p.upper() for p in capa.params(tag))):
                pytest.skip(f"target does not advertise CAPA {need}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    spec = item.stash.get(spec_key, None)
    if spec is None:
        return report
    session = _session(item.config)
    rec = session.records.setdefault(item.nodeid, TestRecord(spec, item.nodeid))
    rec.duration += report.duration
    transcript = item.stash.get(transcript_key, None)
    rec.transcript = transcript.render() if transcript is not None else ""
    if report.skipped and not hasattr(report, "wasxfail"):  # skipped in setup or by the test itself
        rec.outcome = "skipped"
        longrepr = report.longrepr
        rec.message = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
        return report
    if not report.failed:
        return report
    exc = call.excinfo.value if call.excinfo is not None else None
    rec.message = call.excinfo.exconly()[:500] if call.excinfo is not None else "failed"
    target = session.target
    reason = target.deviations.get(spec.test_id) if target is not None else None
    if isinstance(exc, TimeoutError):
        rec.outcome = "timeout"
    elif call.when != "call":
        rec.outcome = "error"
    else:
        rec.outcome = "failed"
    if reason is not None and call.when == "call":
        rec.outcome, rec.deviation = "deviation", reason
        report.outcome = "skipped"
        report.wasxfail = f"known deviation: {reason}"  # type: ignore[attr-defined]
        return report
    detail = report.longreprtext
    parts = [spec.header(), f"  outcome: {rec.outcome}", "", detail]
    if transcript is not None and transcript.entries:
        parts += ["", "---- transcript ----", rec.transcript]
    report.longrepr = "\n".join(parts)
    return report


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mailspec_session(request: pytest.FixtureRequest) -> MailspecSession:
    return _session(request.config)


@pytest.fixture(scope="session")
def target(mailspec_session: MailspecSession) -> Target:
    """The server under test."""
    return mailspec_session.get_target()


@pytest.fixture
def capabilities(mailspec_session: MailspecSession) -> Capabilities:
    """The target's CAPA, cached for the session."""
    return mailspec_session.capabilities()


@pytest.fixture
def transcript(request: pytest.FixtureRequest) -> Transcript:
    """The recording every connection of this test writes into (shown when the test fails)."""
    t = request.node.stash.get(transcript_key, None)
    if t is None:
        t = request.node.stash[transcript_key] = Transcript()
    return t


@pytest.fixture
def spec(request: pytest.FixtureRequest) -> Spec:
    return request.node.stash[spec_key]


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


def _disposable(target: Target, index: int) -> Account:
    accounts = target.disposable_accounts()
    if len(accounts) <= index:
        pytest.skip(f"target needs at least {index + 1} disposable account(s)")
    return accounts[index]


@pytest.fixture
def account(target: Target, maildrop: Maildrop) -> Account:
    """A disposable account whose stale suite messages were removed before the test."""
    acc = _disposable(target, 0)
    maildrop.purge(acc)
    return acc


@pytest.fixture
def second_account(target: Target, maildrop: Maildrop) -> Account:
    acc = _disposable(target, 1)
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
    """`deliver(account, body_lines=None, headers=None) -> Delivered`: one marked test message."""

    def _deliver(acc: Account, body_lines: list[str] | None = None,
                 headers: dict[str, str] | None = None) -> Delivered:
        if not acc.disposable:
            raise RuntimeError(f"refusing to deliver test mail into non-disposable account {acc.user}")
        marker = f"{spec.test_id} {secrets.token_hex(6)}"
        hdrs = {
            "From": "mailspec <mailspec@localhost>",
            "To": f"{acc.user}@localhost",
            "Subject": f"mailspec {spec.test_id}",
            "Date": format_datetime(datetime.now(UTC)),
            "Message-ID": f"<{secrets.token_hex(8)}@mailspec.localhost>",
            TEST_HEADER: marker,
            **(headers or {}),
        }
        body = body_lines if body_lines is not None else ["This is a mailspec test message."]
        raw = ("\r\n".join([*(f"{k}: {v}" for k, v in hdrs.items()), "", *body]) + "\r\n").encode()
        assert mailspec_session.deliverer is not None
        mailspec_session.deliverer(acc, raw)
        transcript.event("deliver", f"delivered {len(raw)} octets to {acc.user}: {marker}")
        return Delivered(marker, raw)

    return _deliver
