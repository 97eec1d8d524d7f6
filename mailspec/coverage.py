"""Requirement coverage: which catalogue rows the suite's tests are tagged with.

Read straight from the `spec` markers of the suite's test functions (no server needed). A row
listed in data/unobservable.tsv (with its reason) is left out of the denominator, and reported.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mailspec.catalogue import MANDATORY_LEVELS, Requirement, requirements, unobservable

PROTOCOL_RFCS: dict[str, tuple[str, ...]] = {
    "pop3": ("1939", "2449", "2595", "5034", "8314"),
    "imap": ("3501", "9051", "2177", "4315", "6851", "2342", "2971", "5161", "3691", "7888", "4959", "6154",
             "3348", "5258", "5819", "4731", "7162", "9208", "5530", "2595", "8314"),
}


@dataclass(frozen=True)
class SpecTest:
    test_id: str
    requirement_ids: tuple[str, ...]
    needs: tuple[str, ...]
    function: str


def _spec_marks(obj: Any) -> Iterator[Any]:
    for mark in getattr(obj, "pytestmark", []):
        if mark.name == "spec":
            yield mark


def collect_spec_tests(package: str = "suite") -> list[SpecTest]:
    """Every test function in the suite package with its spec marker."""
    pkg = importlib.import_module(package)
    found: list[SpecTest] = []
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if not name.startswith("test") or not callable(obj):
                continue
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            for mark in _spec_marks(obj):
                found.append(SpecTest(
                    test_id=mark.args[0], requirement_ids=tuple(mark.args[1:]),
                    needs=tuple(mark.kwargs.get("needs", ())), function=f"{info.name}.{name}",
                ))
    return found


@dataclass
class RfcCoverage:
    rfc: str
    # level -> (tagged, total)
    by_level: dict[str, list[int]] = field(default_factory=dict)
    server_mandatory: list[Requirement] = field(default_factory=list)
    server_mandatory_tagged: list[Requirement] = field(default_factory=list)
    server_mandatory_unobservable: list[Requirement] = field(default_factory=list)

    @property
    def server_mandatory_percent(self) -> float:
        observable = len(self.server_mandatory) - len(self.server_mandatory_unobservable)
        return 100.0 * len(self.server_mandatory_tagged) / observable if observable else 100.0

    @property
    def untagged(self) -> list[Requirement]:
        done = {r.id for r in self.server_mandatory_tagged + self.server_mandatory_unobservable}
        return [r for r in self.server_mandatory if r.id not in done]


def is_server_mandatory(req: Requirement) -> bool:
    """The rows the coverage floors count: MUST/MUST NOT-class rows that bind the server (or both)."""
    return req.level in MANDATORY_LEVELS and req.applies_to in ("server", "both")


def coverage(rfcs: tuple[str, ...], tests: list[SpecTest]) -> list[RfcCoverage]:
    tagged = {rid for t in tests for rid in t.requirement_ids}
    skip = unobservable()
    out = []
    for rfc in rfcs:
        cov = RfcCoverage(rfc)
        for req in requirements().values():
            if req.rfc != rfc:
                continue
            cell = cov.by_level.setdefault(req.level, [0, 0])
            cell[1] += 1
            if req.id in tagged:
                cell[0] += 1
            if is_server_mandatory(req):
                cov.server_mandatory.append(req)
                if req.id in tagged:
                    cov.server_mandatory_tagged.append(req)
                elif req.id in skip:
                    cov.server_mandatory_unobservable.append(req)
        out.append(cov)
    return out


def coverage_report(rfcs: tuple[str, ...], tests: list[SpecTest], verbose: bool = False) -> str:
    """A plain-text table, per RFC and level, as `mailspec coverage` prints it."""
    levels = ("MUST NOT", "MUST", "REQUIRED", "SHOULD NOT", "SHOULD", "RECOMMENDED", "MAY", "OPTIONAL")
    rows = coverage(rfcs, tests)
    head = f"{'RFC':<6}" + "".join(f"{lv:>12}" for lv in levels) + f"{'server MUST*':>16}"
    lines = [f"{len(tests)} tests tagged with {len({r for t in tests for r in t.requirement_ids})} "
             "requirement ids", "", head]
    for cov in rows:
        cells = "".join(
            f"{'/'.join(map(str, cov.by_level[lv])) if lv in cov.by_level else '-':>12}" for lv in levels
        )
        tagged = len(cov.server_mandatory_tagged)
        observable = len(cov.server_mandatory) - len(cov.server_mandatory_unobservable)
        figure = f"{cov.server_mandatory_percent:5.1f}% ({tagged}/{observable})"
        lines.append(f"{cov.rfc:<6}{cells}{figure:>16}")
    lines += ["", "server MUST*: rows of level MUST/MUST NOT/REQUIRED/SHALL (NOT) that bind the server or",
              "both sides, tagged by a test, out of those not listed as unobservable on the wire."]
    skip = unobservable()
    for cov in rows:
        if cov.server_mandatory_unobservable:
            lines.append(f"\nRFC {cov.rfc}: not observable on the wire (mailspec/data/unobservable.tsv):")
            lines += [f"  {r.id:<18} {skip[r.id]}" for r in cov.server_mandatory_unobservable]
        if verbose and cov.untagged:
            lines.append(f"\nRFC {cov.rfc}: server MUST rows no test is tagged with:")
            lines += [f"  {r.id:<18} section {r.section}" for r in cov.untagged]
    return "\n".join(lines)


def coverage_summary(rfcs: tuple[str, ...], tests: list[SpecTest]) -> dict[str, Any]:
    """The same figures for summary.json."""
    return {
        cov.rfc: {
            "server_mandatory_percent": round(cov.server_mandatory_percent, 1),
            "server_mandatory_tagged": len(cov.server_mandatory_tagged),
            "server_mandatory_total": len(cov.server_mandatory),
            "server_mandatory_unobservable": len(cov.server_mandatory_unobservable),
            "by_level": {lv: {"tagged": a, "total": b} for lv, (a, b) in cov.by_level.items()},
        }
        for cov in coverage(rfcs, tests)
    }
