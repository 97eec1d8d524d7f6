"""report.html: one run as a publishable conformance matrix by RFC section, linked to every test.

The header gives the target, the run's flags, the outcome counts and the suite's requirement
coverage (from summary.json); the matrix counts outcomes per RFC and section; each section lists its
tests with requirement links, what was expected, the message and the transcript.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mailspec.catalogue import LEVEL_ORDER, rfc_url
from mailspec.report.html_page import (
    COLUMNS,
    NONE,
    OUTCOME_LABELS,
    anchor,
    badge,
    page,
    requirement_link,
    rfc_heading,
    rfc_home,
    seconds,
    test_anchor,
    text,
    when,
)
from mailspec.report.results import FAILING
from mailspec.report.summary import Tests, group_by_section, outcome_counts

_STRICT = {True: "yes: SHOULD-level tests ran too", False: "no: SHOULD-level tests were skipped"}
_LINE_KIND = re.compile(r"^(?:\[[^\]]*\]\s*)?(C:|S:|--)")


def _verdict(counts: dict[str, int]) -> str:
    failing = sum(counts[o] for o in FAILING)
    executed = failing + counts["passed"] + counts["deviation"]
    if executed == 0:
        return '<p class="verdict bad" id="verdict">No test was executed.</p>'
    if failing:
        return (f'<p class="verdict bad" id="verdict">Does not conform: {failing} of {executed} executed tests '
                "failed, timed out or stopped with an error.</p>")
    known = f" ({counts['deviation']} known deviations)" if counts["deviation"] else ""
    return (f'<p class="verdict ok" id="verdict">Conforms: all {executed} executed tests passed{known}.</p>')


def _header(results: dict[str, Any], summary: dict[str, Any]) -> str:
    faults = ", ".join(results.get("faults") or []) or "none"
    counts = summary["counts"]
    badges = "".join(badge(o, str(counts[o]), muted=not counts[o], id=f"count-{o}") for o in COLUMNS)
    return (
        f'<header>\n<h1>Mail server conformance: <span id="target">{text(results["target"])}</span></h1>\n'
        '<p class="sub">POP3/IMAP4 conformance report by mailspec</p>\n<dl class="meta">'
        f'<dt>Target</dt><dd>{text(results["target"])}</dd>'
        f'<dt>Target file</dt><dd class="mono">{text(results.get("source") or NONE)}</dd>'
        f'<dt>Started</dt><dd id="started">{text(when(results.get("started")))}</dd>'
        f'<dt>Duration</dt><dd>{text(seconds(results.get("duration")))}</dd>'
        f'<dt>Faults injected</dt><dd id="faults">{text(faults)}</dd>'
        f'<dt>Strict</dt><dd id="strict">{_STRICT[bool(results.get("strict"))]}</dd>'
        f'<dt>Tests</dt><dd id="total">{len(results["tests"])}</dd>'
        f"</dl>\n{_verdict(counts)}\n<div class=\"badges\">{badges}</div>\n{_coverage(summary)}\n</header>"
    )


def _level_rank(level: str) -> int:
    return LEVEL_ORDER.index(level) if level in LEVEL_ORDER else len(LEVEL_ORDER)


def _coverage(summary: dict[str, Any]) -> str:
    rows = []
    for rfc, cov in summary.get("coverage", {}).items():
        pct = float(cov["server_mandatory_percent"])
        observable = cov["server_mandatory_total"] - cov["server_mandatory_unobservable"]
        by_level = sorted(cov["by_level"].items(), key=lambda kv: _level_rank(kv[0]))
        levels = ", ".join(f"{lv} {c['tagged']}/{c['total']}" for lv, c in by_level)
        rows.append(
            f'<tr id="{anchor("cov", rfc)}"><th><a href="{text(rfc_home(rfc))}">'
            f"{rfc_heading(rfc)}</a></th>"
            f'<td class="pct">{pct:.1f}%<span class="bar" aria-hidden="true"><span style="width:{min(pct, 100):.0f}%">'
            f"</span></span></td><td>{cov['server_mandatory_tagged']}/{observable}</td><td>{text(levels)}</td></tr>"
        )
    if not rows:
        return ""
    return (
        '<h2 id="coverage">Requirement coverage of the suite</h2>\n<table class="coverage"><thead><tr>'
        "<th>RFC</th><th>Server MUST-level rows tested</th><th>Tested / observable</th>"
        "<th>Catalogue rows tested, by level</th></tr></thead>\n<tbody>" + "\n".join(rows) + "</tbody></table>\n"
        '<p class="sub">How much of each RFC the suite checks: the server MUST-level requirements its tests are '
        "tagged with, out of those a client can observe on the wire. It describes the suite, not this run.</p>"
    )


def _worst(counts: dict[str, int]) -> str:
    """The outcome a row is summed up by: any failure first, then deviations, passes, skips."""
    for o in ("failed", "error", "timeout", "deviation", "passed", "skipped"):
        if counts[o]:
            return o
    return "skipped"


def _count_cells(counts: dict[str, int]) -> str:
    return "".join(
        f'<td class="n c-{o}" headers="col-{o}">{counts[o]}</td>' if counts[o]
        else f'<td class="n zero" headers="col-{o}">0</td>' for o in COLUMNS
    )


def _matrix(grouped: dict[str, dict[str, Tests]]) -> str:
    head = "".join(f'<th id="col-{o}" scope="col">{OUTCOME_LABELS[o][0]}</th>' for o in COLUMNS)
    rows = []
    for rfc, sections in grouped.items():
        all_tests = [t for ts in sections.values() for t in ts]
        c = outcome_counts(all_tests)
        rows.append(
            f'<tr class="rfc" id="{anchor("m", rfc)}"><th scope="row"><a href="#{anchor("rfc", rfc)}">'
            f"{rfc_heading(rfc)}</a></th><td>{badge(_worst(c))}</td>{_count_cells(c)}"
            f'<td class="n">{len(all_tests)}</td><td></td></tr>'
        )
        for section, tests in sections.items():
            c = outcome_counts(tests)
            links = " ".join(
                f'<span class="np"><a href="#{test_anchor(t["id"])}">{text(t["id"].rsplit("/", 1)[-1])}</a> '
                f'({OUTCOME_LABELS[t["outcome"]][0]})</span>'
                for t in tests if t["outcome"] not in ("passed", "skipped")
            )
            rows.append(
                f'<tr class="section" id="{anchor("m", rfc, section)}"><th scope="row">'
                f'<a href="#{anchor("s", rfc, section)}">Section {text(section)}</a></th>'
                f"<td>{badge(_worst(c))}</td>{_count_cells(c)}<td class=\"n\">{len(tests)}</td>"
                f'<td class="links">{links}</td></tr>'
            )
    return (
        '<h2 id="matrix">Results by RFC section</h2>\n<table class="matrix"><thead><tr>'
        f'<th scope="col">RFC / section</th><th scope="col">Result</th>{head}<th scope="col">tests</th>'
        '<th scope="col">Not passing</th></tr></thead>\n<tbody>' + "\n".join(rows) + "</tbody></table>"
    )


def _transcript(transcript: str | None) -> str:
    if not transcript:
        return '<p class="sub">No transcript: the test opened no connection.</p>'
    lines = transcript.splitlines()
    spans = []
    for line in lines:
        m = _LINE_KIND.match(line)
        kind = {"C:": "c", "S:": "s", "--": "x"}.get(m.group(1), "") if m else ""
        spans.append(f'<span class="{kind}">{text(line)}</span>' if kind else text(line))
    return (f"<details><summary>Transcript ({len(lines)} lines)</summary>"
            f'<pre class="transcript">{chr(10).join(spans)}</pre></details>')


def _test(t: dict[str, Any]) -> str:
    reqs = ", ".join(requirement_link(r, t) for r in t.get("requirements") or []) or NONE
    facts = [("Requirements", reqs), ("Needs", text(" ".join(t.get("needs") or []) or NONE)),
             ("Duration", text(seconds(t.get("duration"))))]
    if t.get("expected"):
        facts.append(("Expected", text(t["expected"])))
    if t.get("message"):
        label = "Reason" if t["outcome"] == "skipped" else "Message"
        facts.append((label, f'<pre>{text(t["message"])}</pre>'))
    if t.get("deviation"):
        facts.append(("Deviation", text(t["deviation"])))
    dl = "".join(
        f'<dt>{name}</dt><dd class="{name.lower()}">{value}</dd>' for name, value in facts
    )
    return (
        f'<article class="test o-{t["outcome"]}" id="{test_anchor(t["id"])}" data-outcome-of="{t["outcome"]}">'
        f'<h5>{badge(t["outcome"])}<code>{text(t["id"])}</code>'
        f'<span class="level">{text(t.get("level") or NONE)}</span></h5>'
        f'<dl class="facts">{dl}</dl>{_transcript(t.get("transcript"))}</article>'
    )


def _tests(grouped: dict[str, dict[str, Tests]]) -> str:
    boxes = "".join(
        f'<label><input type="checkbox" checked data-outcome="{o}"> {OUTCOME_LABELS[o][0]}</label>' for o in COLUMNS
    )
    parts = ['<h2 id="tests">Tests</h2>',
             f'<div class="toolbar" id="filter" hidden>Show: {boxes}</div>']
    for rfc, sections in grouped.items():
        parts.append(f'<section id="{anchor("rfc", rfc)}"><h3>{rfc_heading(rfc)}</h3>')
        for section, tests in sections.items():
            parts.append(
                f'<section id="{anchor("s", rfc, section)}"><h4>Section {text(section)} · '
                f'<a href="{text(rfc_url(rfc, section))}">RFC {text(rfc)} section {text(section)} '
                "on rfc-editor.org</a></h4>"
            )
            parts += [_test(t) for t in tests]
            parts.append("</section>")
        parts.append("</section>")
    return "\n".join(parts)


def render_report(results: dict[str, Any], summary: dict[str, Any]) -> str:
    """The HTML page of one run; `summary` is what build_summary made of the same results."""
    grouped = group_by_section(results["tests"])
    body = "\n".join((_header(results, summary), _matrix(grouped), _tests(grouped)))
    return page(f"mailspec conformance: {results['target']}", body)


def write_report_html(results: dict[str, Any], summary: dict[str, Any], path: Path) -> None:
    path.write_text(render_report(results, summary), encoding="utf-8")
