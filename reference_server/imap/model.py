"""Values shared by the IMAP command parser, the session and the message model.

The parser produces these from the wire; the message model (message.py) and the search evaluator
(search.py) consume them. They carry no behaviour beyond small helpers, so the modules that build
and the modules that use them can be written and tested apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal, Union

SectionText = Literal["", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"]


@dataclass(frozen=True)
class Section:
    """A BODY[...] section spec (RFC 3501 §6.4.5, RFC 9051 §6.4.5).

    `part` is the dotted part number ((), (1,), (1, 2), ...); `text` the optional section text;
    `fields` the header names of HEADER.FIELDS / HEADER.FIELDS.NOT, upper-cased as sent.
    BODY[] is Section(); BODY[1.MIME] is Section((1,), "MIME").
    """

    part: tuple[int, ...] = ()
    text: SectionText = ""
    fields: tuple[str, ...] = ()

    def spec(self) -> str:
        """The section as it is echoed in a FETCH response: '1.HEADER.FIELDS (FROM TO)'."""
        parts = [".".join(map(str, self.part))] if self.part else []
        if self.text:
            parts.append(self.text)
        out = ".".join(parts)
        if self.fields:
            out += " (" + " ".join(self.fields) + ")"
        return out


@dataclass(frozen=True)
class Partial:
    """<start.length> of a BODY[] fetch; `length` None means to the end (BINARY/no partial)."""

    start: int
    length: int | None = None


# A sequence set: ranges (low, high) with None standing for '*'; a single number n is (n, n).
SequenceSet = tuple[tuple[int | None, int | None], ...]
# "$", the search result variable (RFC 9051 §6.4.4.1), where a sequence set may stand: the one
# empty set, which no set written out can be. Resolved against the session's saved result.
SAVED_RESULT: SequenceSet = ()


def resolve_sequence_set(seqset: SequenceSet, largest: int) -> set[int]:
    """The numbers a set names when '*' is `largest` (RFC 3501 §9: ranges may be given backwards)."""
    out: set[int] = set()
    for low, high in seqset:
        a = largest if low is None else low
        b = largest if high is None else high
        if a > b:
            a, b = b, a
        out.update(range(a, b + 1))
    return out


SearchArg = Union[str, int, dt.date, "SearchKey", SequenceSet, tuple["SearchKey", ...]]


@dataclass(frozen=True)
class SearchKey:
    """One SEARCH criterion (RFC 3501 §6.4.4, RFC 9051 §6.4.4, RFC 7162 MODSEQ).

    name is the upper-case key: ALL ANSWERED BCC BEFORE BODY CC DELETED DRAFT FLAGGED FROM HEADER
    KEYWORD LARGER NEW NOT OLD ON OR RECENT SEEN SENTBEFORE SENTON SENTSINCE SINCE SMALLER SUBJECT
    TEXT TO UID UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD UNSEEN MODSEQ, plus
      SEQSET  args=(SequenceSet,)            a bare sequence set
      AND     args=(tuple[SearchKey, ...],)  a parenthesised list, or the top-level list
    args by key: strings decoded to str (BCC/BODY/CC/FROM/SUBJECT/TEXT/TO: (needle,);
    HEADER: (field-name, needle); KEYWORD/UNKEYWORD: (flag,)); dates as datetime.date;
    LARGER/SMALLER: (int,); UID: (SequenceSet,); NOT: (SearchKey,); OR: (SearchKey, SearchKey);
    MODSEQ: (int,) (the optional entry-name/type pair is dropped).
    """

    name: str
    args: tuple[SearchArg, ...] = field(default=())


SortKeyName = Literal["ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO"]
SORT_KEYS: tuple[SortKeyName, ...] = ("ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO")


@dataclass(frozen=True)
class SortCriterion:
    """One SORT criterion (RFC 5256 §3): a sort key, descending when REVERSE came before it."""

    key: SortKeyName
    reverse: bool = False


def sequence_set_contains(seqset: SequenceSet, number: int, largest: int) -> bool:
    """Whether `number` is in the set when '*' is `largest`, without building the set (1:* is huge)."""
    for low, high in seqset:
        a = largest if low is None else low
        b = largest if high is None else high
        if min(a, b) <= number <= max(a, b):
            return True
    return False
