"""The pieces both HTML pages share: escaping, outcome badges, anchors, the page shell with inline CSS/JS.

The pages are single self-contained files (a vendor mails or publishes one file): no external asset,
font or script. Every value from results.json goes through `text()`; the inline script only reads
the DOM, so no data is ever spliced into JavaScript.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from mailspec import __version__
from mailspec.catalogue import lookup, rfc_url

# Word, symbol: the word is always shown, so no outcome is told by colour alone.
OUTCOME_LABELS: dict[str, tuple[str, str]] = {
    "passed": ("pass", "✓"), "failed": ("fail", "✗"), "timeout": ("timeout", "◷"),
    "error": ("error", "!"), "deviation": ("deviation", "≈"), "skipped": ("skip", "\N{EN DASH}"),
}
# The order of the matrix columns and count badges.
COLUMNS: tuple[str, ...] = ("passed", "failed", "timeout", "error", "deviation", "skipped")

NONE = "\N{EM DASH}"  # shown where a field has no value

# Short names of the RFCs the catalogue covers, in the project's own words.
RFC_TITLES: dict[str, str] = {
    "1939": "POP3", "2449": "POP3 extension mechanism (CAPA)", "2595": "TLS for IMAP and POP3 (STLS)",
    "5034": "POP3 SASL authentication (AUTH)", "8314": "Implicit TLS for mail access",
    "3501": "IMAP4rev1", "9051": "IMAP4rev2", "2087": "IMAP QUOTA (obsoleted)", "2177": "IMAP IDLE",
    "2193": "IMAP mailbox referrals", "2221": "IMAP login referrals", "2342": "IMAP NAMESPACE",
    "2971": "IMAP ID", "3207": "SMTP STARTTLS", "3348": "IMAP CHILDREN", "3691": "IMAP UNSELECT",
    "4315": "IMAP UIDPLUS", "4731": "IMAP ESEARCH", "4954": "SMTP AUTH", "4959": "IMAP SASL-IR",
    "4978": "IMAP COMPRESS", "5161": "IMAP ENABLE", "5258": "IMAP LIST-EXTENDED", "5465": "IMAP NOTIFY",
    "5530": "IMAP response codes", "5819": "IMAP LIST-STATUS", "6154": "IMAP SPECIAL-USE",
    "6409": "Message submission", "6851": "IMAP MOVE", "7162": "IMAP CONDSTORE and QRESYNC",
    "7888": "IMAP non-synchronizing literals", "9208": "IMAP QUOTA",
}

# C0/C1 controls (but tab and newline) and lone surrogates: HTML cannot show them and UTF-8 cannot
# encode a surrogate, so they are written as visible escapes, like the transcripts' own \r\n.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape_char(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def text(value: Any) -> str:
    """Any value as HTML text (also safe inside a double-quoted attribute)."""
    s = "" if value is None else str(value)
    return html.escape(_UNPRINTABLE.sub(_escape_char, s), quote=True)


def anchor(prefix: str, *parts: str) -> str:
    """A fragment id from test ids, RFCs and sections: letters, digits, ".", "_" and "-" only."""
    return prefix + "-" + "-".join(re.sub(r"[^A-Za-z0-9._-]", "_", p) for p in parts)


def test_anchor(test_id: str) -> str:
    return anchor("t", test_id)


def badge(outcome: str, extra: str = "", muted: bool = False, **attrs: str) -> str:
    """An outcome's word and symbol on its colour; `muted` greys it out (a count of zero)."""
    word, symbol = OUTCOME_LABELS[outcome]
    attr = "".join(f' {k}="{text(v)}"' for k, v in attrs.items())
    label = f"{extra} {word}" if extra else word
    return (f'<span class="badge o-{outcome}{" zero" if muted else ""}"{attr}><span aria-hidden="true">{symbol}'
            f"</span> {text(label)}</span>")


def rfc_heading(rfc: str) -> str:
    title = RFC_TITLES.get(rfc)
    return f"RFC {text(rfc)}" + (f" — {text(title)}" if title else "")


def rfc_home(rfc: str) -> str:
    return f"https://www.rfc-editor.org/rfc/rfc{rfc}"


def requirement_link(req: dict[str, Any], test: dict[str, Any]) -> str:
    """A requirement id linked to its own RFC section (the test's section when it is not catalogued)."""
    try:
        url = lookup(req["id"]).url
    except KeyError:
        url = rfc_url(str(test["rfc"]), str(test["section"]))
    return f'<a class="req" href="{text(url)}">{text(req["id"])}</a> <span class="level">{text(req["level"])}</span>'


def when(started: str | None) -> str:
    """'2026-11-28 01:37:59 UTC' from the ISO time in results.json."""
    if not started:
        return "unknown"
    try:
        moment = dt.datetime.fromisoformat(started.replace("Z", "+00:00"))
    except ValueError:
        return started
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds(value: float | None) -> str:
    if value is None:
        return NONE
    if value < 60:
        return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"
    minutes, secs = divmod(round(value), 60)
    return f"{minutes} min {secs:02d} s"


def page(title: str, body: str) -> str:
    """The whole document around `body`."""
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="mailspec {text(__version__)}">\n'
        f"<title>{text(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n"
        f'<footer><p>Written by mailspec {text(__version__)} on {generated}. Requirement ids link to the '
        "RFC section on rfc-editor.org; the expected behaviour is the project's own wording.</p></footer>\n"
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


CSS = """
:root { --ink: #1d2733; --muted: #5d6b7a; --line: #d5dbe1; --bg: #f6f8fa;
  --passed: #1a7f37; --passed-t: #dafbe1; --failed: #b42318; --failed-t: #fee4e2;
  --timeout: #a64b00; --timeout-t: #fef0c7; --error: #7a2e98; --error-t: #f4e8fb;
  --deviation: #175cd3; --deviation-t: #dbeafe; --skipped: #5d6b7a; --skipped-t: #eef1f4; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font: 14px/1.45 "DejaVu Sans", "Liberation Sans", system-ui, sans-serif; color: var(--ink);
  max-width: 1200px; margin: 0 auto; padding: 24px 28px 40px; }
h1 { font-size: 1.7em; margin: 0 0 4px; } h2 { font-size: 1.3em; margin: 32px 0 10px;
  border-bottom: 2px solid var(--ink); padding-bottom: 4px; }
h3 { font-size: 1.1em; margin: 26px 0 8px; } h4 { font-size: 1em; margin: 18px 0 6px; color: var(--muted); }
a { color: #0b57a4; } code, pre, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; }
.sub { color: var(--muted); margin: 0 0 16px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 0 0 16px; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; }
.verdict { font-size: 1.15em; font-weight: bold; padding: 8px 12px; border-radius: 6px; margin: 12px 0; }
.verdict.ok { background: var(--passed-t); color: var(--passed); }
.verdict.bad { background: var(--failed-t); color: var(--failed); }
.badges { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0 16px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-weight: bold;
  white-space: nowrap; font-size: 0.92em; }
.o-passed.badge { background: var(--passed); } .o-failed.badge { background: var(--failed); }
.o-timeout.badge { background: var(--timeout); } .o-error.badge { background: var(--error); }
.o-deviation.badge { background: var(--deviation); } .o-skipped.badge { background: var(--skipped); }
.badges .badge { font-size: 1em; padding: 3px 12px; }
.badge.zero.badge { background: #fff; color: var(--muted); border: 1px solid var(--line); font-weight: normal; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
thead th { background: var(--bg); position: sticky; top: 0; z-index: 1; }
td.n { text-align: right; font-variant-numeric: tabular-nums; width: 4.5em; }
td.n.zero { color: #aab4be; }
td.n.c-passed { background: var(--passed-t); color: var(--passed); font-weight: bold; }
td.n.c-failed { background: var(--failed-t); color: var(--failed); font-weight: bold; }
td.n.c-timeout { background: var(--timeout-t); color: var(--timeout); font-weight: bold; }
td.n.c-error { background: var(--error-t); color: var(--error); font-weight: bold; }
td.n.c-deviation { background: var(--deviation-t); color: var(--deviation); font-weight: bold; }
td.n.c-skipped { background: var(--skipped-t); color: var(--skipped); font-weight: bold; }
tr.rfc th, tr.rfc td { background: var(--bg); font-weight: bold; border-top: 2px solid var(--ink); }
tr.section th { font-weight: normal; padding-left: 24px; }
table.matrix th[scope=row] { min-width: 16em; } table.coverage th { min-width: 16em; }
td.links { overflow-wrap: anywhere; } td.links .np { margin-right: 10px; }
.coverage td.pct { font-weight: bold; }
.bar { display: inline-block; width: 80px; height: 8px; background: var(--line); border-radius: 4px;
  vertical-align: middle; margin-left: 6px; overflow: hidden; }
.bar > span { display: block; height: 100%; background: var(--passed); }
.toolbar { position: sticky; top: 0; background: #fff; padding: 6px 0; border-bottom: 1px solid var(--line);
  z-index: 2; } .toolbar label { margin-right: 12px; white-space: nowrap; }
article.test { border: 1px solid var(--line); border-left: 6px solid var(--skipped); border-radius: 4px;
  padding: 6px 12px 8px; margin: 8px 0; break-inside: avoid; }
article.o-passed { border-left-color: var(--passed); } article.o-failed { border-left-color: var(--failed); }
article.o-timeout { border-left-color: var(--timeout); } article.o-error { border-left-color: var(--error); }
article.o-deviation { border-left-color: var(--deviation); }
article.test:target, article.test.target { outline: 3px solid #f2c94c; }
article.test h5 { font-size: 1em; margin: 2px 0 6px; display: flex; gap: 10px; align-items: baseline;
  flex-wrap: wrap; } article.test h5 code { font-weight: bold; }
.level { font-size: 0.85em; color: var(--muted); border: 1px solid var(--line); border-radius: 3px; padding: 0 4px; }
dl.facts { display: grid; grid-template-columns: 8em 1fr; gap: 2px 12px; margin: 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
dl.facts pre { margin: 0; white-space: pre-wrap; }
.message pre { background: var(--failed-t); padding: 4px 6px; border-radius: 3px; }
details { margin-top: 6px; } summary { cursor: pointer; color: #0b57a4; }
pre.transcript { background: var(--bg); border: 1px solid var(--line); padding: 6px 8px; font-size: 12px;
  white-space: pre-wrap; overflow-wrap: anywhere; max-height: 40em; overflow: auto; margin: 4px 0 0; }
pre.transcript .c { color: #0b57a4; } pre.transcript .s { color: var(--ink); }
pre.transcript .x { color: var(--muted); font-style: italic; }
td.cell { white-space: nowrap; } td.not-run { color: var(--muted); font-style: italic; }
tr.differs th { background: #fff8e1; }
tr.summary th, tr.summary td { background: var(--bg); border-bottom: 2px solid var(--ink); }
.runhead small { display: block; font-weight: normal; color: var(--muted); }
footer { margin-top: 40px; color: var(--muted); font-size: 0.85em; border-top: 1px solid var(--line); }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; } .toolbar { display: none; }
  thead th { position: static; } a { color: inherit; text-decoration: none; }
  pre.transcript { max-height: none; overflow: visible; } h2 { break-after: avoid; }
  tr { break-inside: avoid; }
}
"""

# Progressive enhancement only: the page reads fully without it. It opens the test an anchor
# points at, filters tests by outcome (or comparison rows to those that differ), and opens the
# transcripts of tests that did not pass while printing.
SCRIPT = """
(function () {
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (!el || !el.classList.contains('test')) return;
    document.querySelectorAll('.test.target').forEach(function (t) { t.classList.remove('target'); });
    el.classList.add('target');
    el.hidden = false;
    var d = el.querySelector('details');
    if (d) d.open = true;
  }
  window.addEventListener('hashchange', openTarget);
  openTarget();
  var bar = document.getElementById('filter');
  if (bar) {
    bar.hidden = false;
    bar.addEventListener('change', function () {
      var shown = {};
      bar.querySelectorAll('input[data-outcome]').forEach(function (box) {
        shown[box.getAttribute('data-outcome')] = box.checked;
      });
      var differ = bar.querySelector('input[data-differ]');
      document.querySelectorAll('[data-outcome-of]').forEach(function (el) {
        var o = el.getAttribute('data-outcome-of');
        el.hidden = (o in shown && !shown[o]) || (differ && differ.checked && !el.classList.contains('differs'));
      });
    });
  }
  var opened = [];
  window.addEventListener('beforeprint', function () {
    document.querySelectorAll('article.test:not(.o-passed):not(.o-skipped) details:not([open])')
      .forEach(function (d) { d.open = true; opened.push(d); });
  });
  window.addEventListener('afterprint', function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
  });
})();
"""
