"""SORT ordering (RFC 5256 §2, §3): the sort value of a message per criterion, and the order of hits.

The messages come as the `SearchContext`s that SEARCH evaluation built, so a message is parsed once
for both the search keys and the sort values, and only if a key or a criterion looks at content.

Rules worth knowing:
- Strings compare with i;ascii-casemap (RFC 4790 §9.2): ASCII letters fold to upper case, everything
  else compares by its UTF-8 octets. A missing field sorts as the empty string, so first.
- FROM, TO and CC use the local part of the field's first mailbox (groups are looked through).
- DATE is the Date: field in UTC (a zone-less date counts as UTC); without a readable Date: it is
  the INTERNALDATE (RFC 5256 §2.2).
- REVERSE turns only the criterion it precedes around; messages equal on every criterion stay in
  sequence-number order, also under REVERSE (RFC 5256 §3).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence

from reference_server.imap.model import SortCriterion, SortKeyName
from reference_server.imap.search import SearchContext

__all__ = ["base_subject", "sorted_hits"]

SortValue = int | float | bytes

_WSP_RUN = re.compile(r"[ \t]+")
_TRAILER = re.compile(r"(?:\(fwd\)|[ \t])\Z", re.IGNORECASE)  # subj-trailer
_BLOB = r"\[[^\[\]]*\][ \t]*"  # subj-blob: "[" *BLOBCHAR "]" *WSP
# subj-leader: (*subj-blob subj-refwd) / WSP, where subj-refwd is ("re" / "fw" ["d"]) *WSP [subj-blob] ":".
_LEADER = re.compile(rf"(?:{_BLOB})*(?:re|fwd?)[ \t]*(?:{_BLOB})?:|[ \t]+", re.IGNORECASE)
_LEADING_BLOB = re.compile(_BLOB)
_FWD_HEADER = "[fwd:"  # subj-fwd-hdr; subj-fwd-trl is "]"


def base_subject(subject: str) -> str:
    """The base subject of RFC 5256 §2.1 from an unfolded, decoded Subject value (the rest of step 1, then 2 to 7)."""
    text = _WSP_RUN.sub(" ", subject)  # step 1; the caller has unfolded and decoded the field
    while True:
        text = _strip_trailers(text)  # step 2
        text = _strip_leaders(text)  # steps 3 to 5
        if text[:len(_FWD_HEADER)].lower() == _FWD_HEADER and text.endswith("]"):
            text = text[len(_FWD_HEADER):-1]  # step 6, then again from step 2
            continue
        return text


def _strip_trailers(text: str) -> str:
    while (m := _TRAILER.search(text)) is not None:
        text = text[:m.start()]
    return text


def _strip_leaders(text: str) -> str:
    while True:
        before = text
        while (m := _LEADER.match(text)) is not None:
            text = text[m.end():]
        blob = _LEADING_BLOB.match(text)
        if blob is not None and text[blob.end():].strip(" \t"):  # only when a subj-base is left behind
            text = text[blob.end():]
        if text == before:
            return text


def _collation_key(text: str) -> bytes:
    """i;ascii-casemap: bytes.upper() changes only the ASCII letters."""
    return text.encode("utf-8", "surrogatepass").upper()


def _utc_timestamp(when: dt.datetime) -> float:
    return (when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)).timestamp()


def _sent_date(ctx: SearchContext) -> float:
    return _utc_timestamp(ctx.message().date() or ctx.internaldate)


def _address(field_name: str) -> Callable[[SearchContext], SortValue]:
    return lambda ctx: _collation_key(ctx.message().first_mailbox(field_name))


def _subject(ctx: SearchContext) -> bytes:
    subjects = ctx.message().header("Subject")
    return _collation_key(base_subject(subjects[0] if subjects else ""))


_VALUES: dict[SortKeyName, Callable[[SearchContext], SortValue]] = {
    "ARRIVAL": lambda ctx: _utc_timestamp(ctx.internaldate),
    "CC": _address("Cc"),
    "DATE": _sent_date,
    "FROM": _address("From"),
    "SIZE": lambda ctx: ctx.size,
    "SUBJECT": _subject,
    "TO": _address("To"),
}


def sorted_hits(hits: Sequence[SearchContext], criteria: Sequence[SortCriterion]) -> list[SearchContext]:
    """The hits (in sequence-number order) in the order the criteria give, ties as they came."""
    ordered = list(hits)
    # Stable sorts from the last criterion to the first make the first one decide; Python keeps equal
    # items in place under reverse=True too, so REVERSE never reorders ties.
    for criterion in reversed(criteria):
        value = _VALUES[criterion.key]
        ordered.sort(key=value, reverse=criterion.reverse)
    return ordered
