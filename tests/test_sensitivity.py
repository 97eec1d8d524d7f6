"""Every catalogued fault makes exactly the conformance tests that name it fail, and no others.

This proves the suite can see each bug: the reference server runs with one fault injected and the
whole suite runs against it (with --strict when a test that must catch it is below MUST level,
since only a strict run carries those tests out).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from mailspec.catalogue import MANDATORY_LEVELS, lookup
from mailspec.cli import SUITE_PROTOCOLS
from mailspec.coverage import collect_spec_tests
from mailspec.faults import FAULTS
from tests.suite_runs import run_mailspec_test

# Faults of a protocol whose suite is not written yet are proven by their unit tests
# (tests/test_imap_faults.py) until the suite lands.
SUITE_FAULTS = sorted(n for n, f in FAULTS.items() if f.protocol in SUITE_PROTOCOLS)


@functools.cache
def _levels() -> dict[str, set[str]]:
    """Each suite test's requirement levels (MUST, SHOULD...), read once per run."""
    return {t.test_id: {lookup(r).level for r in t.requirement_ids} for t in collect_spec_tests()}


def _below_must(test_ids: tuple[str, ...]) -> bool:
    """Whether any of the tests is SHOULD-level or weaker (all its requirements below MUST)."""
    levels = _levels()
    return any(levels[t] and not levels[t] & MANDATORY_LEVELS for t in test_ids)


@pytest.mark.parametrize("name", SUITE_FAULTS)
def test_fault_is_caught_by_exactly_its_named_tests(name: str, tmp_path: Path) -> None:
    fault = FAULTS[name]
    strict = ("--strict",) if _below_must(fault.caught_by) else ()
    run = run_mailspec_test(tmp_path, "--protocol", fault.protocol, "--fault", name, "--jobs", "1", *strict)
    assert run.exit_code == 1, f"the suite did not fail with {name} injected:\n{run.output[-3000:]}"
    failed = run.ids_with("failed", "timeout", "error")
    assert set(fault.caught_by) <= failed, f"{name}: not caught by {set(fault.caught_by) - failed}"
    assert failed <= set(fault.caught_by), f"{name}: also broke {failed - set(fault.caught_by)}"
