"""Running `mailspec test` as a user would (a subprocess) and reading what it wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class SuiteRun:
    exit_code: int
    output: str
    report_dir: Path

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.report_dir / "summary.json").read_text())

    @property
    def results(self) -> dict[str, Any]:
        return json.loads((self.report_dir / "results.json").read_text())

    def ids_with(self, *outcomes: str) -> set[str]:
        return {t["id"] for t in self.results["tests"] if t["outcome"] in outcomes}


def run_mailspec_test(report_dir: Path, *args: str, timeout: float = 300) -> SuiteRun:
    proc = subprocess.run(
        [sys.executable, "-m", "mailspec", "test", "--report-dir", str(report_dir), "-q", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    return SuiteRun(proc.returncode, proc.stdout + proc.stderr, report_dir)
