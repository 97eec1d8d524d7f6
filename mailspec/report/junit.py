"""JUnit XML: test id as name, RFC section as classname, requirement ids as properties.

The junit-xml package builds the document; it has no per-testcase <properties>, so those are added
to its element tree before writing.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from junit_xml import TestCase, TestSuite

from mailspec.catalogue import rfc_url
from mailspec.report.results import section_label


def _failure_text(t: dict[str, Any]) -> str:
    reqs = ", ".join(f"{r['id']} ({r['level']})" for r in t["requirements"])
    return (
        f"{t['id']}\nRFC {t['rfc']} section {t['section']}: {rfc_url(t['rfc'], t['section'])}\n"
        f"requirements: {reqs}\nexpected: {t.get('expected') or '-'}\n\n{t.get('message') or ''}"
    )


def _case(t: dict[str, Any]) -> TestCase:
    case = TestCase(
        name=t["id"], classname=section_label(t), elapsed_sec=t.get("duration") or 0.0,
        stdout=t.get("transcript") or None,
    )
    outcome = t["outcome"]
    if outcome == "failed":
        case.add_failure_info(message=(t.get("message") or "failed").splitlines()[0][:500],
                              output=_failure_text(t), failure_type="conformance")
    elif outcome in ("timeout", "error"):
        case.add_error_info(message=(t.get("message") or outcome).splitlines()[0][:500],
                            output=_failure_text(t), error_type=outcome)
    elif outcome == "skipped":
        case.add_skipped_info(message=t.get("message") or "skipped")
    elif outcome == "deviation":
        case.add_skipped_info(message=f"known deviation: {t.get('deviation')}", output=_failure_text(t))
    return case


def write_junit(results: dict[str, Any], path: str | Path) -> None:
    """One <testsuite> per RFC, in the order the tests ran."""
    by_rfc: dict[str, list[dict[str, Any]]] = {}
    for t in results["tests"]:
        by_rfc.setdefault(t["rfc"], []).append(t)
    root = ET.Element("testsuites", {"name": f"mailspec: {results['target']}"})
    for rfc, tests in by_rfc.items():
        suite = TestSuite(
            name=f"{results['target']} RFC {rfc}", test_cases=[_case(t) for t in tests],
            timestamp=results.get("started"),
            properties={"target": results["target"], "faults": ",".join(results.get("faults", [])),
                        "strict": str(results.get("strict", False)).lower()},
        )
        element = suite.build_xml_doc()
        for case_el, t in zip(element.iter("testcase"), tests, strict=True):
            props = ET.Element("properties")
            for r in t["requirements"]:
                ET.SubElement(props, "property", {"name": "requirement", "value": f"{r['id']} {r['level']}"})
            ET.SubElement(props, "property", {"name": "rfc_url", "value": rfc_url(t["rfc"], t["section"])})
            if t.get("needs"):
                ET.SubElement(props, "property", {"name": "needs", "value": " ".join(t["needs"])})
            ET.SubElement(props, "property", {"name": "outcome", "value": t["outcome"]})
            case_el.insert(0, props)
        root.append(element)
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in root)))
    ET.indent(root)
    Path(path).write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
