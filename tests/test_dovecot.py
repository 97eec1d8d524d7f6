"""The POP3 suite against a real Dovecot: every failure is either fixed or a listed deviation.

Dovecot is the independent oracle of the suite: it is not our code, so a suite bug shows up here as a
failure that Dovecot's behaviour and the RFC text do not justify.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mailspec.targets import load_target
from tests.suite_runs import run_mailspec_test

pytestmark = pytest.mark.xdist_group("dovecot")


def test_whole_suite_against_dovecot_fails_only_on_listed_deviations(dovecot: Path, tmp_path: Path) -> None:
    run = run_mailspec_test(tmp_path, "--target", str(dovecot), "--protocol", "all")
    assert run.exit_code == 0, run.output[-6000:]
    counts = run.summary["counts"]
    assert counts["failed"] == counts["timeout"] == counts["error"] == 0, counts
    ran = {t["id"].split("/")[0] for t in run.results["tests"] if t["outcome"] == "passed"}
    assert ran == {"pop3", "imap"}, ran
    assert counts["passed"] >= 500, counts
    listed = set(load_target(dovecot).deviations)
    # a listed deviation that now passes is stale and must be removed from the target file
    stale = {t for t in listed if t in run.ids_with("passed")}
    assert not stale, f"deviations that Dovecot no longer shows: {stale}"
    assert run.ids_with("deviation") == listed
