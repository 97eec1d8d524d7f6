"""The comparison page: several runs (targets) side by side, one column each, one row per test.

Rows go by RFC, section and test id over the union of the runs' tests; a cell is that test's outcome
in that run, linked to the test in the run's own report.html (relative links, so a folder of reports
can be published as it is). A summary row gives each run's counts; rows where runs differ stand out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailspec.report.html_page import COLUMNS, NONE, OUTCOME_LABELS, badge, page, rfc_heading, test_anchor, text, when
from mailspec.report.results import FAILING, counts
from mailspec.report.summary import group_by_section


@dataclass(frozen=True)
class Run:
    """One report folder, read back: its results and where its report.html is."""

    folder: Path
    results: dict[str, Any]

    @property
    def by_id(self) -> dict[str, dict[str, Any]]:
        return {t["id"]: t for t in self.results["tests"]}


def _labels(runs: list[Run]) -> list[str]:
    """Column titles: the target name, and the folder too when two runs share a name."""
    names = [str(r.results["target"]) for r in runs]
    return [f"{n} ({r.folder.name})" if names.count(n) > 1 else n for n, r in zip(names, runs, strict=True)]


def _href(run: Run, out_dir: Path, fragment: str = "") -> str:
    rel = os.path.relpath((run.folder / "report.html").resolve(), out_dir.resolve())
    return Path(rel).as_posix() + (f"#{fragment}" if fragment else "")


def _head(runs: list[Run], out_dir: Path) -> str:
    cells = []
    for i, (run, label) in enumerate(zip(runs, _labels(runs), strict=True)):
        res = run.results
        faults = ", ".join(res.get("faults") or []) or "no faults"
        strict = "strict" if res.get("strict") else "MUST only"
        cells.append(
            f'<th scope="col" class="runhead" id="run-{i}"><a href="{text(_href(run, out_dir))}">{text(label)}</a>'
            f"<small>{text(when(res.get('started')))}</small><small>{text(faults)} · {strict}</small></th>"
        )
    return ('<thead><tr><th scope="col">RFC / section / test</th><th scope="col">Level</th>'
            + "".join(cells) + "</tr></thead>")


def _summary_row(runs: list[Run]) -> str:
    cells = []
    for run in runs:
        c = counts(run.results)
        failing = sum(c[o] for o in FAILING)
        ran = failing + c["passed"] + c["deviation"]
        verdict = "does not conform" if failing else "conforms" if ran else "no test ran"
        badges = " ".join(badge(o, str(c[o])) for o in COLUMNS if c[o])
        cells.append(f'<td class="cell"><strong>{verdict}</strong><br>{badges or NONE}</td>')
    return f'<tr class="summary" id="summary"><th scope="row">Summary</th><td></td>{"".join(cells)}</tr>'


def render_comparison(runs: list[Run], out_dir: Path) -> str:
    """The comparison page, with links relative to `out_dir` (the folder it is written to)."""
    union: dict[str, dict[str, Any]] = {}
    for run in runs:
        for t in run.results["tests"]:
            union.setdefault(t["id"], t)
    tables = [run.by_id for run in runs]
    width = len(runs) + 2
    rows = [_summary_row(runs)]
    differing = partial = 0
    for rfc, sections in group_by_section(list(union.values())).items():
        rows.append(f'<tr class="rfc"><th colspan="{width}" scope="rowgroup">{rfc_heading(rfc)}</th></tr>')
        for section, tests in sections.items():
            rows.append(f'<tr class="section"><th colspan="{width}" scope="rowgroup">Section {text(section)}</th></tr>')
            for t in tests:
                outcomes = [table.get(t["id"], {}).get("outcome") for table in tables]
                # A test some runs did not select is no difference between the servers.
                differs = len({o for o in outcomes if o}) > 1
                differing += differs
                partial += None in outcomes
                cells = "".join(
                    f'<td class="cell"><a href="{text(_href(run, out_dir, test_anchor(t["id"])))}">{badge(o)}</a></td>'
                    if o else '<td class="cell not-run">not run</td>'
                    for run, o in zip(runs, outcomes, strict=True)
                )
                rows.append(
                    f'<tr class="test{" differs" if differs else ""}" data-outcome-of="row">'
                    f'<th scope="row"><code>{text(t["id"])}</code></th><td>{text(t.get("level") or NONE)}</td>'
                    f"{cells}</tr>"
                )
    legend = " ".join(badge(o) for o in OUTCOME_LABELS)
    body = (
        f"<header><h1>Mail server conformance: {len(runs)} runs compared</h1>"
        f'<p class="sub" id="overview">{len(union)} tests; <strong>{differing}</strong> with different outcomes '
        f"across the runs (marked); {partial} not run in every run. Each outcome links to the test in its "
        f"run's report.</p><p class=\"sub\">Outcomes: {legend}</p></header>\n"
        '<div class="toolbar" id="filter" hidden><label><input type="checkbox" data-differ> '
        "only tests whose outcome differs</label></div>\n"
        f'<table class="compare">{_head(runs, out_dir)}\n<tbody>' + "\n".join(rows) + "</tbody></table>"
    )
    return page(f"mailspec comparison: {', '.join(_labels(runs))}", body)


def write_comparison(runs: list[Run], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_comparison(runs, path.parent), encoding="utf-8")
