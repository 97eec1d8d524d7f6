"""A report folder: everything `mailspec test` and `mailspec report` write from one results.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailspec.report.html import write_report_html
from mailspec.report.junit import write_junit
from mailspec.report.summary import write_summary, write_transcripts


def write_reports(results: dict[str, Any], folder: Path, protocols: tuple[str, ...],
                  junit_path: Path | None = None) -> dict[str, Any]:
    """junit.xml, transcripts/, summary.json and report.html; returns the summary."""
    write_junit(results, junit_path or folder / "junit.xml")
    write_transcripts(results, folder / "transcripts")
    summary = write_summary(results, protocols, folder / "summary.json")
    write_report_html(results, summary, folder / "report.html")
    return summary
