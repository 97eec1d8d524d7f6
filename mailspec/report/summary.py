"""summary.json (counts, failures, coverage, outcomes per RFC section, for machines) and transcripts/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mailspec.coverage import PROTOCOL_RFCS, collect_spec_tests, coverage_summary
from mailspec.report.results import FAILING, OUTCOMES, counts, transcript_filename

Tests = list[dict[str, Any]]


def write_transcripts(results: dict[str, Any], folder: Path) -> int:
    """One file for every test that did not pass, with its failure text and transcript."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for t in results["tests"]:
        if t["outcome"] in FAILING or t["outcome"] == "deviation":
            body = (f"{t['id']}  [{t['outcome']}]\n{t.get('message') or ''}\n"
                    f"expected: {t.get('expected') or '-'}\n\n{t.get('transcript') or '(no transcript)'}\n")
            (folder / transcript_filename(t["id"])).write_text(body, encoding="utf-8")
            written += 1
    return written


def natural_key(label: str) -> tuple[tuple[int, int | str], ...]:
    """Sorts RFC numbers and sections as people read them: 5 < 6.6 < 10 < A.1."""
    # (0, n) for numbers and (1, s) for words, so the tuples always compare.
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-]", label))


def group_by_section(tests: Tests) -> dict[str, dict[str, Tests]]:
    """{rfc: {section: tests sorted by id}}, RFCs and sections in natural order."""
    grouped: dict[str, dict[str, Tests]] = {}
    for t in tests:
        grouped.setdefault(str(t["rfc"]), {}).setdefault(str(t["section"]), []).append(t)
    return {
        rfc: {s: sorted(grouped[rfc][s], key=lambda t: t["id"]) for s in sorted(grouped[rfc], key=natural_key)}
        for rfc in sorted(grouped, key=natural_key)
    }


def outcome_counts(tests: Tests) -> dict[str, int]:
    return counts({"tests": tests})


def outcomes_by_section(tests: Tests) -> dict[str, dict[str, Any]]:
    """{rfc: {counts, total, sections: {section: {counts, total, not_passed: [{id, outcome}]}}}}."""
    out: dict[str, dict[str, Any]] = {}
    for rfc, sections in group_by_section(tests).items():
        rfc_tests = [t for ts in sections.values() for t in ts]
        out[rfc] = {"counts": outcome_counts(rfc_tests), "total": len(rfc_tests), "sections": {
            section: {
                "counts": outcome_counts(ts), "total": len(ts),
                "not_passed": [{"id": t["id"], "outcome": t["outcome"]} for t in ts
                               if t["outcome"] not in ("passed", "skipped")],
            }
            for section, ts in sections.items()
        }}
    return out


def protocols_of(results: dict[str, Any], default: tuple[str, ...]) -> tuple[str, ...]:
    """The protocols a run's test ids belong to (their coverage goes in the summary), else `default`."""
    seen = {t["id"].split("/", 1)[0] for t in results["tests"]}
    found = tuple(p for p in PROTOCOL_RFCS if p in seen)
    return found or default


def build_summary(results: dict[str, Any], protocols: tuple[str, ...]) -> dict[str, Any]:
    rfcs = tuple(rfc for p in protocols for rfc in PROTOCOL_RFCS.get(p, ()))
    c = counts(results)
    return {
        "target": results["target"],
        "source": results.get("source"),
        "faults": results.get("faults", []),
        "strict": results.get("strict", False),
        "started": results.get("started"),
        "duration": results.get("duration"),
        "outcomes": list(OUTCOMES),
        "counts": c,
        "total": len(results["tests"]),
        "failed_ids": [t["id"] for t in results["tests"] if t["outcome"] in FAILING],
        "deviation_ids": [t["id"] for t in results["tests"] if t["outcome"] == "deviation"],
        "by_rfc": outcomes_by_section(results["tests"]),
        "coverage": coverage_summary(rfcs, collect_spec_tests()),
    }


def write_summary(results: dict[str, Any], protocols: tuple[str, ...], path: Path) -> dict[str, Any]:
    summary = build_summary(results, protocols)
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
