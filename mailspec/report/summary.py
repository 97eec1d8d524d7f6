"""summary.json (counts, failures, coverage, for machines) and the transcripts/ folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mailspec.coverage import PROTOCOL_RFCS, collect_spec_tests, coverage_summary
from mailspec.report.results import FAILING, counts, transcript_filename


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
        "counts": c,
        "total": len(results["tests"]),
        "failed_ids": [t["id"] for t in results["tests"] if t["outcome"] in FAILING],
        "deviation_ids": [t["id"] for t in results["tests"] if t["outcome"] == "deviation"],
        "coverage": coverage_summary(rfcs, collect_spec_tests()),
    }


def write_summary(results: dict[str, Any], protocols: tuple[str, ...], path: Path) -> dict[str, Any]:
    summary = build_summary(results, protocols)
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
