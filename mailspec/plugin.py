"""The pytest plugin behind the conformance suite (`pytest -p mailspec.plugin`).

This module is the protocol-neutral core: it picks the target (the embedded reference server by
default, or a target file), checks each test's `spec` marker against the requirement catalogue,
skips what the target cannot run (a capability it does not advertise, SHOULD-level without
--mailspec-strict), and turns outcomes into reports: failure text with the requirement and the
transcript, known deviations as xfail, timeouts as their own outcome, and results.json for the
report writers. Under pytest-xdist each worker reports its results to the controller, which
writes the one results.json.

The protocol fixtures live in `mailspec.fixtures_pop3` and `mailspec.fixtures_imap`, registered
below through `pytest_plugins`.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from mailspec.catalogue import MANDATORY_LEVELS, Requirement, lookup, rfc_url, strongest
from mailspec.delivery import Deliver, make_deliverer
from mailspec.faults import validate_faults
from mailspec.targets import Account, Target, load_target
from mailspec.wire.transcript import Transcript

pytest_plugins = ("mailspec.fixtures_pop3", "mailspec.fixtures_imap")

TEST_HEADER = "X-Mailspec-Test"
SUITE_PREFIXES = ("pop3/", "imap/", "smtp/")
RESULTS_KEY = "mailspec_results"  # xdist workeroutput key carrying a worker's results (JSON text)


@dataclass(frozen=True)
class Spec:
    """What a test's `spec` marker says, resolved against the catalogue."""

    test_id: str
    requirements: tuple[Requirement, ...]
    needs: tuple[str, ...]
    expected: str

    @property
    def protocol(self) -> str:
        return self.test_id.split("/")[0]

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
        "(<proto>/<rfc>/<section>/<behaviour>), the catalogue requirements it checks, and the "
        "capabilities the target must advertise (POP3 CAPA for pop3/ ids, IMAP CAPABILITY for imap/)",
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
    if not mark.args or not str(mark.args[0]).startswith(SUITE_PREFIXES):
        raise pytest.UsageError(f"{item.nodeid}: spec marker's first argument must be the test id")
    test_id = str(mark.args[0])
    if len(test_id.split("/")) != 4:
        raise pytest.UsageError(f"{item.nodeid}: test id {test_id!r} is not <proto>/<rfc>/<section>/<name>")
    try:
        reqs = tuple(lookup(str(r)) for r in mark.args[1:])
    except KeyError as exc:
        raise pytest.UsageError(f"{item.nodeid}: {exc.args[0]}") from None
    needs = mark.kwargs.get("needs", ())
    if isinstance(needs, str):
        raise pytest.UsageError(f"{item.nodeid}: needs= takes a tuple of capability names, not a string")
    doc = (getattr(item, "function", None).__doc__ or "") if hasattr(item, "function") else ""
    expected = " ".join(doc.strip().split("\n\n")[0].split()) or "see the requirement"
    return Spec(test_id, reqs, tuple(needs), expected)


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


def worker_slot(config: pytest.Config) -> tuple[int, int]:
    """(this process's index, number of processes) under pytest-xdist; (0, 1) without it."""
    info = getattr(config, "workerinput", None)
    if not info:
        return 0, 1
    return int(str(info["workerid"]).removeprefix("gw")), int(info.get("workercount", 1))


EMBEDDED_QUOTA_KIB = 10240


@dataclass(eq=False)  # registered as a plugin, so it must stay hashable
class MailspecSession:
    """Per-run state: the target, its builtin server, the protocol modules' caches and the results."""

    config: pytest.Config
    target: Target | None = None
    deliverer: Deliver | None = None
    server: Any = None
    cache: dict[str, Any] = field(default_factory=dict)  # per-session data of the protocol fixtures
    records: dict[str, TestRecord] = field(default_factory=dict)
    worker_results: list[dict[str, Any]] = field(default_factory=list)  # xdist controller only
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    t0: float = field(default_factory=time.monotonic)

    # -- target --------------------------------------------------------------------------------

    def get_target(self) -> Target:
        if self.target is None:
            source = self.config.getoption("--mailspec-target")
            if source == "builtin":
                from reference_server.embedded import EmbeddedServer

                # A storage quota, so the RFC 9208 tests (usage in KiB, OVERQUOTA) have a limit to meet.
                self.server = EmbeddedServer(faults=tuple(self.config.getoption("--mailspec-fault")),
                                             settings={"quota_storage_kib": EMBEDDED_QUOTA_KIB})
                self.target = self.server.start()
                self.deliverer = make_deliverer(self.target, builtin=self.server.deliver)
            else:
                self.target = load_target(source)
                self.deliverer = make_deliverer(self.target)
        return self.target

    def disposable_accounts(self) -> list[Account]:
        """The disposable accounts this process may use.

        The embedded server is one per process, so each process has all of them. A shared target's
        accounts are split between pytest-xdist workers, so no two processes write to one account.
        """
        target = self.get_target()
        accounts = target.disposable_accounts()
        index, count = worker_slot(self.config)
        if count == 1 or self.server is not None:
            return accounts
        share = len(accounts) // count
        return accounts[index * share:(index + 1) * share]

    def capability_missing(self, spec: Spec) -> str | None:
        """Why the target cannot run this test (a `needs` entry it does not advertise), or None."""
        if not spec.needs:
            return None
        if spec.protocol == "imap":
            from mailspec.fixtures_imap import imap_capabilities_of

            caps = imap_capabilities_of(self)
            for need in spec.needs:
                if not caps.has(need):
                    return f"target does not advertise the IMAP capability {need}"
            return None
        if spec.protocol != "pop3":
            return None  # no capability model for this protocol yet
        from mailspec.fixtures_pop3 import pop3_capabilities_of

        capa = pop3_capabilities_of(self)
        for need in spec.needs:
            tag, _, param = need.partition(" ")
            if tag not in capa or (param and param.upper() not in (p.upper() for p in capa.params(tag))):
                return f"target does not advertise CAPA {need}"
        return None

    # -- hooks ---------------------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: keep what a finished worker ran (see pytest_sessionfinish)."""
        output = getattr(node, "workeroutput", {}) or {}
        if RESULTS_KEY in output:
            self.worker_results.append(json.loads(output[RESULTS_KEY]))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: the controller writes the file
            workeroutput[RESULTS_KEY] = json.dumps(self.results())
        else:
            path = self.config.getoption("--mailspec-results")
            if path:
                Path(path).write_text(json.dumps(self.results(), indent=2), "utf-8")
        if self.server is not None:
            self.server.stop()

    def results(self) -> dict[str, Any]:
        tests = [self._record_json(r) for r in self.records.values()]
        name = self.target.name if self.target else None
        for worker in self.worker_results:
            tests += worker["tests"]
            name = name or worker["target"]
        return {
            "target": name,
            "source": self.config.getoption("--mailspec-target"),
            "faults": list(self.config.getoption("--mailspec-fault")),
            "strict": bool(self.config.getoption("--mailspec-strict")),
            "started": self.started.isoformat().replace("+00:00", "Z"),
            "duration": round(time.monotonic() - self.t0, 3),
            "tests": tests,
        }

    @staticmethod
    def _record_json(r: TestRecord) -> dict[str, Any]:
        return {
            "id": r.spec.test_id, "nodeid": r.nodeid, "outcome": r.outcome,
            "rfc": r.spec.rfc, "section": r.spec.section,
            "requirements": [{"id": q.id, "level": q.level} for q in r.spec.requirements],
            "level": r.spec.level, "needs": list(r.spec.needs), "duration": round(r.duration, 4),
            "message": r.message, "expected": r.spec.expected, "transcript": r.transcript,
            "deviation": r.deviation,
        }


def build_test_message(test_id: str, to_user: str, body_lines: list[str] | None = None,
                       headers: dict[str, str] | None = None) -> tuple[bytes, str]:
    """A small RFC 5322 message carrying the suite's marker header; returns (bytes, marker).

    The marker (`<test id> <nonce>`) is how the suite finds, and later deletes, only its own mail.
    """
    marker = f"{test_id} {secrets.token_hex(6)}"
    hdrs = {
        "From": "mailspec <mailspec@localhost>",
        "To": to_user if "@" in to_user else f"{to_user}@localhost",
        "Subject": f"mailspec {test_id}",
        "Date": format_datetime(datetime.now(UTC)),
        "Message-ID": f"<{secrets.token_hex(8)}@mailspec.localhost>",
        TEST_HEADER: marker,
        **(headers or {}),
    }
    body = body_lines if body_lines is not None else ["This is a mailspec test message."]
    raw = ("\r\n".join([*(f"{k}: {v}" for k, v in hdrs.items()), "", *body]) + "\r\n").encode()
    return raw, marker


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
    reason = _session(item.config).capability_missing(spec)
    if reason is not None:
        pytest.skip(reason)


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
    if call.when == "teardown" and rec.outcome in ("failed", "timeout", "deviation"):
        return report  # the call already failed; a teardown error after it does not change the verdict
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


# -- protocol-neutral fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def mailspec_session(request: pytest.FixtureRequest) -> MailspecSession:
    return _session(request.config)


@pytest.fixture(scope="session")
def target(mailspec_session: MailspecSession) -> Target:
    """The server under test."""
    return mailspec_session.get_target()


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


def disposable_account(session: MailspecSession, index: int) -> Account:
    """This process's `index`-th disposable account; skips the test when there are not enough."""
    accounts = session.disposable_accounts()
    if len(accounts) <= index:
        pytest.skip(f"test needs at least {index + 1} disposable account(s); "
                    f"this process has {len(accounts)}")
    return accounts[index]
