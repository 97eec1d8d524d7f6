"""report.html and the comparison page, opened in headless Chromium: what a reader sees, not only the source.

A harness page loads the report in an iframe (same origin thanks to --allow-file-access-from-files),
reads what the browser rendered (innerText leaves out hidden elements and closed <details>),
follows links and ticks the filters, and writes its findings as JSON into its own DOM, which
`chromium --dump-dom` prints once the virtual time budget has run the page's timers.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mailspec.report.compare import Run, write_comparison
from mailspec.report.html import write_report_html
from mailspec.report.results import counts
from mailspec.report.summary import build_summary
from tests.suite_runs import SuiteRun, run_mailspec_test

INSTALL_HINT = ("Chromium is not installed: run `bash .ci/test` (it installs Debian's chromium) "
                "or `apt-get install -y chromium`")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")
FAILING_ID = "pop3/1939/5/rset-unmarks-deleted"
SHOWN = {"passed": ("✓", "pass"), "failed": ("✗", "fail"), "timeout": ("◷", "timeout"), "error": ("!", "error"),
         "deviation": ("≈", "deviation"), "skipped": ("\N{EN DASH}", "skip")}


def shown_counts(results: dict[str, Any]) -> dict[str, str]:
    """The count badges as a reader sees them: symbol, number, outcome word."""
    return {f"count-{o}": f"{SHOWN[o][0]} {n} {SHOWN[o][1]}" for o, n in counts(results).items()}


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(INSTALL_HINT)
    return path


def _run_chromium(tmp: Path, *args: str) -> str:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"  # one per call: a profile is locked
    proc = subprocess.Popen([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: Chromium and the helpers it started
        proc.communicate()
        pytest.fail(f"Chromium did not finish in 60 s with {args}: a script dialog or a hung page?")
    assert proc.returncode == 0, err[-3000:]
    return out


HARNESS = """<!DOCTYPE html><meta charset="utf-8"><body><pre id="out">harness: the page did not load</pre>
<script>
function done(value) { document.getElementById('out').textContent = JSON.stringify(value); }
function probe(frame) {
  var d = frame.contentDocument, w = frame.contentWindow;
  try { (function (d, w, done) { %s })(d, w, done); } catch (e) { done({error: String(e)}); }
}
</script>
<iframe src="%s" onload="probe(this)" style="width:1280px;height:900px;border:0"></iframe>
"""


def probe(tmp: Path, page: Path, script: str, fragment: str = "") -> dict[str, Any]:
    """Run `script` (JavaScript with d, w and done in scope) against the rendered page."""
    harness = tmp / "harness.html"
    harness.write_text(HARNESS % (script, page.resolve().as_uri() + fragment), encoding="utf-8")
    dom = _run_chromium(tmp, "--allow-file-access-from-files", "--virtual-time-budget=5000",
                        "--dump-dom", harness.as_uri())
    m = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert m, dom[:2000]
    found: dict[str, Any] = json.loads(html.unescape(m.group(1)))
    assert "error" not in found, found
    return found


# What a reader sees of report.html: counts, matrix rows, each test's visible text and links; then a
# click on the matrix's link to the first test that did not pass, and the 'pass' filter unticked.
REPORT_PROBE = r"""
var rows = {}, tests = {}, badges = {};
d.querySelectorAll('table.matrix tbody tr').forEach(function (tr) {
  rows[tr.id] = Array.from(tr.cells).map(function (c) { return c.innerText.trim(); });
});
d.querySelectorAll('.badges .badge').forEach(function (b) { badges[b.id] = b.innerText.trim(); });
function seen(el) { return el.getBoundingClientRect().height > 0; }
d.querySelectorAll('article.test').forEach(function (a) {
  var badge = a.querySelector('h5 .badge'), pre = a.querySelector('pre.transcript');
  tests[a.querySelector('h5 code').innerText] = {
    anchor: a.id, outcome: badge.innerText.trim(), colour: w.getComputedStyle(badge).backgroundColor,
    text: a.innerText, shown: seen(a), transcript: pre ? pre.textContent : null,
    reqs: Array.from(a.querySelectorAll('a.req')).map(function (x) { return x.href; })
  };
});
var out = {
  title: d.title, header: d.querySelector('header').innerText, verdict: d.getElementById('verdict').innerText,
  badges: badges, rows: rows, tests: tests, text: d.body.innerText, scripts: d.scripts.length,
  filterShown: seen(d.getElementById('filter')),
  columns: Array.from(d.querySelectorAll('table.matrix thead th')).map(function (th) { return th.innerText.trim(); })
};
var link = d.querySelector('td.links a');
out.clicked = link ? link.getAttribute('href') : null;
if (link) link.click();
setTimeout(function () {
  var target = out.clicked && d.getElementById(out.clicked.slice(1));
  if (target) out.afterClick = {hash: w.location.hash, text: target.innerText,
                                open: target.querySelector('details').open, top: target.getBoundingClientRect().top};
  d.querySelector('input[data-outcome=passed]').click();
  out.shownAfterFilter = Array.from(d.querySelectorAll('article.test')).filter(seen).map(function (a) { return a.id; });
  done(out);
}, 100);
"""

COMPARE_PROBE = r"""
function seen(el) { return el.getBoundingClientRect().height > 0; }
var rows = {};
d.querySelectorAll('table.compare tbody tr.test').forEach(function (tr) {
  rows[tr.cells[0].innerText.trim()] = Array.from(tr.cells).slice(2).map(function (c) {
    var a = c.querySelector('a');
    return {text: c.innerText.trim(), href: a ? a.getAttribute('href') : null};
  });
});
var out = {
  columns: Array.from(d.querySelectorAll('table.compare thead th')).map(function (th) { return th.innerText.trim(); }),
  summary: Array.from(d.getElementById('summary').cells).map(function (c) { return c.innerText.trim(); }),
  overview: d.getElementById('overview').innerText, rows: rows
};
d.querySelector('input[data-differ]').click();
out.shownWhenDiffering = Array.from(d.querySelectorAll('tr.test')).filter(seen).map(function (tr) {
  return tr.cells[0].innerText.trim();
});
done(out);
"""


def _test(tid: str, outcome: str, **extra: object) -> dict[str, Any]:
    rfc, section = tid.split("/")[1:3]
    t: dict[str, Any] = {
        "id": tid, "nodeid": f"suite/x.py::{tid}", "outcome": outcome, "rfc": rfc, "section": section,
        "requirements": [{"id": "RFC1939-5-05", "level": "MUST NOT"}], "level": "MUST NOT", "needs": ["UIDL"],
        "duration": 0.25, "message": None, "expected": "the maildrop is listed",
        "transcript": "[+  0.001s c1] C: STAT\\r\\n\n[+  0.002s c1] S: +OK 1 2\\r\\n", "deviation": None,
    }
    t.update(extra)
    return t


HOSTILE = "S: <script>alert(1)</script></pre></details> & \x00\x1b[31m \ud800 done"
RESULTS: dict[str, Any] = {
    "target": "acme <b>mail</b>", "source": "targets/acme.toml", "faults": [], "strict": True,
    "started": "2026-11-28T00:00:00Z", "duration": 75.5,
    "tests": [
        _test("pop3/1939/5/a-pass", "passed"),
        _test("pop3/1939/5/b-fail", "failed", message="AssertionError: sizes differ <img src=x onerror=alert(2)>",
              transcript=f"[+  0.001s c1] C: LIST\\r\\n\n[+  0.002s c1] {HOSTILE}"),
        _test("pop3/1939/10/f-pass", "passed", requirements=[{"id": "RFC1939-10-01", "level": "MUST"}]),
        _test("pop3/2449/6.6/c-timeout", "timeout", message="no answer in 10 s"),
        _test("pop3/2449/5/d-skip", "skipped", message="target does not advertise CAPA UIDL", transcript=""),
        _test("pop3/1939/7/e-dev", "deviation", message="failed", deviation="vendor: by design"),
        _test("pop3/2449/5/g-error", "error", message="ConnectionResetError"),
    ],
}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The synthetic results rendered to report.html and probed once."""
    tmp = tmp_path_factory.mktemp("synthetic")
    page = tmp / "report.html"
    write_report_html(RESULTS, build_summary(RESULTS, ("pop3",)), page)
    return {"page": page, "seen": probe(tmp, page, REPORT_PROBE)}


def test_header_shows_target_flags_and_counts_per_outcome(synthetic: dict[str, Any]) -> None:
    seen = synthetic["seen"]
    header = seen["header"]
    assert "acme <b>mail</b>" in header and "targets/acme.toml" in header  # shown as text, not markup
    assert "2026-11-28 00:00:00 UTC" in header and "1 min 16 s" in header
    assert "Faults injected\nnone" in header and "yes: SHOULD-level tests ran" in header
    assert seen["badges"] == shown_counts(RESULTS)
    assert seen["verdict"].startswith("Does not conform: 3 of 6 executed tests")
    assert "RFC 1939 — POP3" in header and "100.0%" in header  # suite coverage per RFC
    assert seen["title"] == "mailspec conformance: acme <b>mail</b>"


def test_matrix_counts_outcomes_per_rfc_and_section_in_words(synthetic: dict[str, Any]) -> None:
    seen = synthetic["seen"]
    assert seen["columns"] == ["RFC / section", "Result", "pass", "fail", "timeout", "error", "deviation",
                               "skip", "tests", "Not passing"]
    rows = seen["rows"]
    assert list(rows) == ["m-1939", "m-1939-5", "m-1939-7", "m-1939-10", "m-2449", "m-2449-5", "m-2449-6.6"]
    assert rows["m-1939"][:9] == ["RFC 1939 — POP3", "✗ fail", "2", "1", "0", "0", "1", "0", "4"]
    assert rows["m-1939-5"][1:] == ["✗ fail", "1", "1", "0", "0", "0", "0", "2", "b-fail (fail)"]
    assert rows["m-1939-7"][1] == "≈ deviation" and rows["m-1939-7"][-1] == "e-dev (deviation)"
    assert rows["m-1939-10"][1:3] == ["✓ pass", "1"]
    assert rows["m-2449-5"][1:] == ["! error", "0", "0", "0", "1", "0", "1", "2", "g-error (error)"]
    assert rows["m-2449-6.6"][1] == "◷ timeout"


def test_each_test_shows_outcome_level_requirements_message_and_deviation(synthetic: dict[str, Any]) -> None:
    tests = synthetic["seen"]["tests"]
    assert {tid: t["outcome"] for tid, t in tests.items()} == {
        t["id"]: " ".join(SHOWN[t["outcome"]]) for t in RESULTS["tests"]}
    fail = tests["pop3/1939/5/b-fail"]
    assert fail["reqs"] == ["https://www.rfc-editor.org/rfc/rfc1939#section-5"]
    assert tests["pop3/1939/10/f-pass"]["reqs"] == ["https://www.rfc-editor.org/rfc/rfc1939#section-10"]
    for line in ("RFC1939-5-05 MUST NOT", "Needs\nUIDL", "Duration\n0.25 s", "Expected\nthe maildrop is listed",
                 "AssertionError: sizes differ <img src=x onerror=alert(2)>", "Transcript (2 lines)"):
        assert line in fail["text"], (line, fail["text"])
    assert "Deviation\nvendor: by design" in tests["pop3/1939/7/e-dev"]["text"]
    assert "Reason\ntarget does not advertise CAPA UIDL" in tests["pop3/2449/5/d-skip"]["text"]
    assert "No transcript" in tests["pop3/2449/5/d-skip"]["text"]
    # Colour backs the word up: fail and pass badges are painted differently.
    assert fail["colour"] != tests["pop3/1939/5/a-pass"]["colour"]


def test_transcripts_are_collapsed_and_arbitrary_bytes_show_as_text(synthetic: dict[str, Any]) -> None:
    seen = synthetic["seen"]
    fail = seen["tests"]["pop3/1939/5/b-fail"]
    assert "C: LIST" not in fail["text"]  # inside a closed <details>
    assert fail["transcript"].endswith("S: <script>alert(1)</script></pre></details> & \\x00\\x1b[31m \\ud800 done")
    assert seen["scripts"] == 1  # the page's own; nothing from the results became markup
    source = synthetic["page"].read_text(encoding="utf-8")
    assert "<img" not in source and "<b>mail" not in source


def test_matrix_links_through_to_the_test_and_opens_its_transcript(synthetic: dict[str, Any]) -> None:
    seen = synthetic["seen"]
    anchor = seen["tests"]["pop3/1939/5/b-fail"]["anchor"]
    assert seen["clicked"] == f"#{anchor}"
    after = seen["afterClick"]
    assert after["hash"] == f"#{anchor}" and after["open"] is True
    assert "C: LIST" in after["text"] and abs(after["top"]) < 5  # scrolled to, transcript visible
    assert seen["filterShown"] is True  # the script ran
    passed = {t["anchor"] for t in seen["tests"].values() if t["outcome"].endswith("pass")}
    assert passed and not passed & set(seen["shownAfterFilter"])
    assert len(seen["shownAfterFilter"]) == len(RESULTS["tests"]) - len(passed)


def test_page_is_one_self_contained_file(synthetic: dict[str, Any]) -> None:
    source = synthetic["page"].read_text(encoding="utf-8")
    assert not re.search(r"<link\b|<[^>]*\bsrc=|@import|url\(", source)
    hrefs = set(re.findall(r'href="([^"]*)"', source))
    assert hrefs and all(h.startswith(("#", "https://www.rfc-editor.org/rfc/rfc")) for h in hrefs), hrefs


def test_summary_counts_outcomes_per_rfc_section_in_reading_order() -> None:
    by_rfc = build_summary(RESULTS, ("pop3",))["by_rfc"]
    assert list(by_rfc) == ["1939", "2449"]
    assert list(by_rfc["1939"]["sections"]) == ["5", "7", "10"]
    assert by_rfc["1939"]["counts"] == {"passed": 2, "failed": 1, "timeout": 0, "error": 0, "deviation": 1,
                                        "skipped": 0}
    five = by_rfc["2449"]["sections"]["5"]
    assert five["total"] == 2 and five["counts"]["error"] == 1 and five["counts"]["skipped"] == 1
    assert five["not_passed"] == [{"id": "pop3/2449/5/g-error", "outcome": "error"}]


# Real runs of the suite against the reference server: one with RSET broken, one clean and wider.

@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[SuiteRun, SuiteRun]:
    base = tmp_path_factory.mktemp("runs")
    faulty = run_mailspec_test(base / "faulty", "--fault", "pop3-rset-ignored", "-k", "rset or stat")
    assert faulty.exit_code == 1, faulty.output[-3000:]
    clean = run_mailspec_test(base / "clean", "-k", "rset or stat or uidl_unique")
    assert clean.exit_code == 0, clean.output[-3000:]
    return faulty, clean


def test_a_run_writes_report_html_that_shows_the_failure(runs: tuple[SuiteRun, SuiteRun], tmp_path: Path) -> None:
    faulty = runs[0]
    results = faulty.results
    seen = probe(tmp_path, faulty.report_dir / "report.html", REPORT_PROBE)
    assert seen["badges"] == shown_counts(results)
    assert set(seen["tests"]) == {t["id"] for t in results["tests"]}
    assert seen["tests"][FAILING_ID]["outcome"] == "✗ fail"
    assert seen["rows"]["m-1939-5"][1] == "✗ fail" and "rset-unmarks-deleted (fail)" in seen["rows"]["m-1939-5"][-1]
    reqs = [u for t in seen["tests"].values() for u in t["reqs"]]
    assert reqs and all(u.startswith("https://www.rfc-editor.org/rfc/rfc") for u in reqs)
    assert seen["afterClick"]["hash"] == f"#{seen['tests'][FAILING_ID]['anchor']}"
    assert "C: RSET" in seen["afterClick"]["text"]  # the transcript, once the matrix link opened it
    assert "message still missing from LIST after RSET" in seen["tests"][FAILING_ID]["text"]
    assert "pop3-rset-ignored" in seen["header"]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_report_screenshot_is_a_full_page_of_content(runs: tuple[SuiteRun, SuiteRun], tmp_path: Path) -> None:
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><title>blank</title>", encoding="utf-8")
    shots = {}
    for name, page in (("report", runs[0].report_dir / "report.html"), ("blank", blank)):
        shot = tmp_path / f"{name}.png"
        _run_chromium(tmp_path, "--window-size=1280,2000", f"--screenshot={shot}", page.as_uri())
        shots[name] = shot.read_bytes()
        assert _png_size(shots[name]) == (1280, 2000)
    # A white page compresses to almost nothing; text, tables and badges do not.
    assert len(shots["report"]) > 10 * len(shots["blank"]), (len(shots["report"]), len(shots["blank"]))


def _mailspec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailspec", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_report_rewrites_a_folder_from_results_json(runs: tuple[SuiteRun, SuiteRun]) -> None:
    folder = runs[0].report_dir
    written = ("junit.xml", "summary.json", "report.html")
    for name in written:
        (folder / name).unlink()
    shutil.rmtree(folder / "transcripts")
    proc = _mailspec("report", str(folder))
    assert proc.returncode == 0, proc.stderr
    assert all((folder / name).exists() for name in written)
    assert (folder / "transcripts" / "pop3__1939__5__rset-unmarks-deleted.txt").exists()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["by_rfc"]["1939"]["sections"]["5"]["counts"]["failed"] == 1
    assert FAILING_ID in (folder / "report.html").read_text(encoding="utf-8")


def test_report_compares_runs_one_column_each(runs: tuple[SuiteRun, SuiteRun], tmp_path: Path) -> None:
    faulty, clean = runs
    out = tmp_path / "pages" / "compare.html"
    proc = _mailspec("report", str(faulty.report_dir), str(clean.report_dir), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    seen = probe(tmp_path, out, COMPARE_PROBE)
    assert len(seen["columns"]) == 2 + 2  # test, level, one per run
    assert seen["columns"][2].startswith("mailspec-reference (faulty)")
    assert "pop3-rset-ignored" in seen["columns"][2] and "no faults" in seen["columns"][3]
    assert seen["summary"][2].startswith("does not conform") and "1 fail" in seen["summary"][2]
    assert seen["summary"][3].startswith("conforms") and "fail" not in seen["summary"][3]
    union = {t["id"] for t in faulty.results["tests"]} | {t["id"] for t in clean.results["tests"]}
    assert set(seen["rows"]) == union
    assert [c["text"] for c in seen["rows"][FAILING_ID]] == ["✗ fail", "✓ pass"]
    only_clean = {t["id"] for t in clean.results["tests"]} - {t["id"] for t in faulty.results["tests"]}
    assert only_clean and all(seen["rows"][tid][0]["text"] == "not run" for tid in only_clean)
    assert seen["shownWhenDiffering"] == [FAILING_ID]
    assert "1 with different outcomes" in seen["overview"]
    href = seen["rows"][FAILING_ID][0]["href"]
    page, fragment = href.split("#")
    assert (out.parent / page).resolve() == (faulty.report_dir / "report.html").resolve()
    assert fragment in (faulty.report_dir / "report.html").read_text(encoding="utf-8")


def test_comparison_names_same_target_runs_by_folder(tmp_path: Path) -> None:
    runs = [Run(tmp_path / "a", RESULTS), Run(tmp_path / "b", RESULTS)]
    write_comparison(runs, tmp_path / "c.html")
    seen = probe(tmp_path, tmp_path / "c.html", COMPARE_PROBE)
    assert [c.split("\n")[0] for c in seen["columns"][2:]] == ["acme <b>mail</b> (a)", "acme <b>mail</b> (b)"]
    assert seen["shownWhenDiffering"] == []


def test_report_usage_errors(tmp_path: Path) -> None:
    assert _mailspec("report", str(tmp_path)).returncode == 2  # no results.json
    (tmp_path / "results.json").write_text("{not json")
    proc = _mailspec("report", str(tmp_path))
    assert proc.returncode == 2 and "results.json" in proc.stderr
    proc = _mailspec("report", str(tmp_path), "--out", str(tmp_path / "x.html"))
    assert proc.returncode == 2 and "two or more" in proc.stderr
