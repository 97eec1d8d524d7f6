"""The requirement catalogue: ids, RFC, section, level and who they bind (no RFC sentences).

The facts are a copy of ../shared/rfc/requirements.tsv without its text column, shipped in
mailspec/data/requirements.tsv. Reports link each id to the RFC section on rfc-editor.org.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

LEVEL_ORDER: tuple[str, ...] = (
    "MUST NOT", "MUST", "REQUIRED", "SHALL NOT", "SHALL",
    "SHOULD NOT", "NOT RECOMMENDED", "SHOULD", "RECOMMENDED", "MAY", "OPTIONAL",
)
MANDATORY_LEVELS = frozenset({"MUST NOT", "MUST", "REQUIRED", "SHALL NOT", "SHALL"})


@dataclass(frozen=True)
class Requirement:
    id: str
    rfc: str
    section: str
    level: str
    applies_to: str

    @property
    def mandatory(self) -> bool:
        return self.level in MANDATORY_LEVELS

    @property
    def url(self) -> str:
        return rfc_url(self.rfc, self.section)


def rfc_url(rfc: str, section: str) -> str:
    kind = "appendix" if section[:1].isalpha() else "section"
    return f"https://www.rfc-editor.org/rfc/rfc{rfc}#{kind}-{section}"


@cache
def requirements() -> dict[str, Requirement]:
    """All catalogued requirements by id."""
    text = resources.files("mailspec.data").joinpath("requirements.tsv").read_text("utf-8")
    rows = csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(rows)
    assert header == ["id", "rfc", "section", "level", "applies_to"], header
    return {r[0]: Requirement(*r) for r in rows if r}


def lookup(req_id: str) -> Requirement:
    """The requirement with this id; KeyError names it when the id is not catalogued."""
    try:
        return requirements()[req_id]
    except KeyError:
        raise KeyError(f"requirement id {req_id!r} is not in the catalogue") from None


def strongest(levels: list[str] | tuple[str, ...]) -> str:
    """The strongest of several RFC 2119 levels (MUST NOT > MUST > ... > OPTIONAL)."""
    return min(levels, key=LEVEL_ORDER.index)


@cache
def unobservable() -> dict[str, str]:
    """Requirement ids that no test on the wire can observe, with the reason (data/unobservable.tsv)."""
    text = resources.files("mailspec.data").joinpath("unobservable.tsv").read_text("utf-8")
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            req_id, reason = line.split("\t", 1)
            lookup(req_id)
            out[req_id] = reason.strip()
    return out
