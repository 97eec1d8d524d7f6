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


def test_pop3_suite_against_dovecot_fails_only_on_listed_deviations(dovecot: Path, tmp_path: Path) -> None:
    run = run_mailspec_test(tmp_path, "--target", str(dovecot), "--protocol", "pop3")
    assert run.exit_code == 0, run.output[-6000:]
    assert run.summary["counts"]["passed"] >= 50, run.summary["counts"]
    listed = set(load_target(dovecot).deviations)
    # a listed deviation that now passes is stale and must be removed from the target file
    stale = {t for t in listed if t in run.ids_with("passed")}
    assert not stale, f"deviations that Dovecot no longer shows: {stale}"
