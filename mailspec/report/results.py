"""Reading the results.json that the pytest plugin writes, and the outcome vocabulary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUTCOMES: tuple[str, ...] = ("passed", "failed", "timeout", "error", "deviation", "skipped")
FAILING: frozenset[str] = frozenset({"failed", "timeout", "error"})


def load_results(path: str | Path) -> dict[str, Any]:
    with Path(path).open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    for t in data.get("tests", []):
        if t.get("outcome") not in OUTCOMES:
            raise ValueError(f"{path}: test {t.get('id')!r} has unknown outcome {t.get('outcome')!r}")
    return data


def counts(results: dict[str, Any]) -> dict[str, int]:
    out = dict.fromkeys(OUTCOMES, 0)
    for t in results["tests"]:
        out[t["outcome"]] += 1
    return out


def section_label(test: dict[str, Any]) -> str:
    """The JUnit classname and HTML row: 'RFC 1939 section 5'."""
    return f"RFC {test['rfc']} section {test['section']}"


def transcript_filename(test_id: str) -> str:
    return test_id.replace("/", "__") + ".txt"
