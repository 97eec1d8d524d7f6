"""JUnit and summary reports written from a results.json."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from mailspec.report.junit import write_junit
from mailspec.report.summary import write_summary, write_transcripts


def _test(tid: str, outcome: str, **extra: object) -> dict:
    rfc, section = tid.split("/")[1:3]
    t = {"id": tid, "nodeid": f"suite/x.py::{tid}", "outcome": outcome, "rfc": rfc, "section": section,
         "requirements": [{"id": "RFC1939-5-05", "level": "MUST NOT"}], "level": "MUST NOT", "needs": ["UIDL"],
         "duration": 0.25, "message": None, "expected": None, "transcript": "C: STAT\r\nS: +OK 1 2\r\n",
         "deviation": None}
    t.update(extra)
    return t


RESULTS = {
    "target": "example", "source": "builtin", "faults": ["pop3-rset-ignored"], "strict": False,
    "started": "2026-11-28T00:00:00Z", "duration": 1.5,
    "tests": [
        _test("pop3/1939/5/a-pass", "passed"),
        _test("pop3/1939/5/b-fail", "failed", message="AssertionError: sizes differ\nmore", expected="equal"),
        _test("pop3/2449/6.6/c-timeout", "timeout", message="no answer in 10 s"),
        _test("pop3/2449/5/d-skip", "skipped", message="target does not advertise CAPA UIDL"),
        _test("pop3/1939/7/e-dev", "deviation", message="failed", deviation="vendor: by design"),
    ],
}


def test_junit_names_tests_by_id_and_classes_by_rfc_section(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit(RESULTS, path)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("5", "1", "1", "2")
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {t["id"] for t in RESULTS["tests"]}
    fail = cases["pop3/1939/5/b-fail"]
    assert fail.get("classname") == "RFC 1939 section 5"
    props = {(p.get("name"), p.get("value")) for p in fail.find("properties")}
    assert ("requirement", "RFC1939-5-05 MUST NOT") in props
    assert ("rfc_url", "https://www.rfc-editor.org/rfc/rfc1939#section-5") in props
    failure = fail.find("failure")
    assert failure.get("message") == "AssertionError: sizes differ"
    assert "RFC1939-5-05 (MUST NOT)" in failure.text and "expected: equal" in failure.text
    assert "S: +OK 1 2" in fail.find("system-out").text
    assert cases["pop3/2449/6.6/c-timeout"].find("error").get("type") == "timeout"
    assert "known deviation: vendor: by design" in cases["pop3/1939/7/e-dev"].find("skipped").get("message")
    assert cases["pop3/1939/5/a-pass"].find("failure") is None


def test_summary_counts_outcomes_and_lists_failures(tmp_path: Path) -> None:
    summary = write_summary(RESULTS, ("pop3",), tmp_path / "summary.json")
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert summary["counts"] == {"passed": 1, "failed": 1, "timeout": 1, "error": 0, "deviation": 1, "skipped": 1}
    assert summary["failed_ids"] == ["pop3/1939/5/b-fail", "pop3/2449/6.6/c-timeout"]
    assert set(summary["coverage"]) == {"1939", "2449", "2595", "5034", "8314"}


def test_transcripts_written_for_every_test_that_did_not_pass(tmp_path: Path) -> None:
    assert write_transcripts(RESULTS, tmp_path) == 3
    text = (tmp_path / "pop3__1939__5__b-fail.txt").read_text()
    assert text.startswith("pop3/1939/5/b-fail  [failed]") and "C: STAT" in text
