"""SEARCH evaluation: does one message match a SearchKey (RFC 3501 §6.4.4, RFC 9051 §6.4.4, RFC 7162 §3.1.5).

Keys on flags, size, dates and numbers use only the SearchContext; the message is parsed (through
`SearchContext.message()`, once per message) only for keys that look at content. In an AND, the
cheap keys run first, so `UNSEEN BODY x` parses only unseen messages.

Semantics worth knowing:
- String keys match a case-insensitive substring of the decoded value; the empty string matches any
  message that has the field (for BODY/TEXT: any message).
- BEFORE/ON/SINCE compare the INTERNALDATE's calendar date in its own zone; SENT* compare the date
  written in the Date: field, ignoring time and zone. A message without a readable Date: matches
  no SENT* key.
- Flags compare case-insensitively, as IMAP atoms do (RFC 3501 §9, last note); KEYWORD matches a
  whole flag, never a part of one.
- '*' in UID and sequence sets is the largest UID / sequence number in the mailbox.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from reference_server.imap.message import MessageModel
from reference_server.imap.model import SAVED_RESULT, SearchKey, SequenceSet, sequence_set_contains


@dataclass
class SearchContext:
    """What SEARCH knows about one message; `model` is called at most once, and only if needed."""

    seq: int
    uid: int
    flags: frozenset[str]
    internaldate: dt.datetime
    size: int
    modseq: int
    model: Callable[[], MessageModel]
    largest_seq: int
    largest_uid: int
    recent: bool
    saved: frozenset[int] = frozenset()  # the UIDs "$" stands for (RFC 9051 §6.4.4.1)
    _message: MessageModel | None = field(default=None, init=False, repr=False)
    _flags_lower: frozenset[str] | None = field(default=None, init=False, repr=False)

    def message(self) -> MessageModel:
        if self._message is None:
            self._message = self.model()
        return self._message

    def has_flag(self, flag: str) -> bool:
        if self._flags_lower is None:
            self._flags_lower = frozenset(f.lower() for f in self.flags)
        return flag.lower() in self._flags_lower


_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "SEEN": ("\\Seen", True),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
}
_HEADER_KEYS = {"BCC": "Bcc", "CC": "Cc", "FROM": "From", "SUBJECT": "Subject", "TO": "To"}
_CONTENT_KEYS = frozenset({*_HEADER_KEYS, "HEADER", "BODY", "TEXT", "SENTBEFORE", "SENTON", "SENTSINCE"})


def matches(key: SearchKey, ctx: SearchContext) -> bool:
    """Whether the message described by `ctx` matches `key`; ValueError for an unknown key."""
    name, args = key.name, key.args
    if name == "ALL":
        return True
    if name == "AND":
        return all(matches(k, ctx) for k in _cheap_first(_keys(args[0])))
    if name == "OR":
        first, second = _keys(args)
        return any(matches(k, ctx) for k in _cheap_first((first, second)))
    if name == "NOT":
        return not matches(_keys(args)[0], ctx)
    if name in _FLAG_KEYS:
        flag, wanted = _FLAG_KEYS[name]
        return ctx.has_flag(flag) == wanted
    if name in ("KEYWORD", "UNKEYWORD"):
        return ctx.has_flag(str(args[0])) == (name == "KEYWORD")
    if name == "RECENT":
        return ctx.recent
    if name == "OLD":
        return not ctx.recent
    if name == "NEW":
        return ctx.recent and not ctx.has_flag("\\Seen")
    if name == "LARGER":
        return ctx.size > _int(args[0])
    if name == "SMALLER":
        return ctx.size < _int(args[0])
    if name == "MODSEQ":
        return ctx.modseq >= _int(args[0])
    if name in ("SEQSET", "UID"):
        seqset = _seqset(args[0])
        if seqset == SAVED_RESULT:
            return ctx.uid in ctx.saved
        if name == "UID":
            return sequence_set_contains(seqset, ctx.uid, ctx.largest_uid)
        return sequence_set_contains(seqset, ctx.seq, ctx.largest_seq)
    if name in ("BEFORE", "ON", "SINCE"):
        return _compare_date(name, ctx.internaldate.date(), _date(args[0]))
    if name in ("SENTBEFORE", "SENTON", "SENTSINCE"):
        sent = ctx.message().date()
        return sent is not None and _compare_date(name[4:], sent.date(), _date(args[0]))
    if name in _HEADER_KEYS:
        return _header_contains(ctx, _HEADER_KEYS[name], str(args[0]))
    if name == "HEADER":
        return _header_contains(ctx, str(args[0]), str(args[1]))
    if name in ("BODY", "TEXT"):
        return ctx.message().text_matches(str(args[0]), body_only=name == "BODY")
    raise ValueError(f"unknown search key {name}")


def _compare_date(how: str, day: dt.date, wanted: dt.date) -> bool:
    # BEFORE is strictly earlier; SINCE is that day or later (RFC 3501 §6.4.4).
    if how == "BEFORE":
        return day < wanted
    if how == "ON":
        return day == wanted
    return day >= wanted


def _header_contains(ctx: SearchContext, field_name: str, needle: str) -> bool:
    folded = needle.casefold()
    return any(folded in value.casefold() for value in ctx.message().header(field_name))


def _cheap_first(keys: Iterable[SearchKey]) -> list[SearchKey]:
    """Keys that never parse the message before those that may (sorting is stable)."""
    return sorted(keys, key=_needs_content)


def _needs_content(key: SearchKey) -> bool:
    if key.name in _CONTENT_KEYS:
        return True
    if key.name in ("AND", "OR", "NOT"):
        nested = key.args[0] if key.name == "AND" else key.args
        return any(_needs_content(k) for k in _keys(nested))
    return False


def _keys(value: object) -> tuple[SearchKey, ...]:
    if not isinstance(value, tuple) or not all(isinstance(k, SearchKey) for k in value):
        raise TypeError(f"expected search keys, got {value!r}")
    return value


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"expected a number, got {value!r}")
    return value


def _date(value: object) -> dt.date:
    if not isinstance(value, dt.date):
        raise TypeError(f"expected a date, got {value!r}")
    return value.date() if isinstance(value, dt.datetime) else value


def _seqset(value: object) -> SequenceSet:
    if not isinstance(value, tuple):
        raise TypeError(f"expected a sequence set, got {value!r}")
    return value
