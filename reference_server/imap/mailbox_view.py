"""The selected mailbox as one session sees it: message sequence numbers, flags, \\Recent, and the
changes other sessions made that this session has not reported yet.

The store is the truth; this view is what the client was told. `sync()` compares the two and
returns the untagged responses that bring the client up to date (EXISTS, RECENT, FETCH FLAGS,
EXPUNGE or VANISHED). Expunges are only reported when the caller says it may: RFC 3501 §7.4.1 (and
RFC 9051 §7.5.1) forbid EXPUNGE while FETCH, STORE or SEARCH is answered, because the client would
lose track of sequence numbers. Until then an expunged message keeps its number and is remembered in
`gone`.
"""

from __future__ import annotations

import bisect
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field

from reference_server.imap.model import SAVED_RESULT, SequenceSet
from reference_server.imap.responses import flag_list, uid_set, untagged
from reference_server.store import MailboxInfo, MessageRow, Store

_uid = operator.itemgetter(0)  # of a MessageRow


class BadSequence(ValueError):
    """A message sequence number beyond the mailbox (tagged BAD, RFC 9051 §6.4.4 / §7.1)."""


@dataclass
class SyncOptions:
    """What the session has enabled, and which faults bend reporting."""

    condstore: bool = False
    qresync: bool = False
    rev2: bool = False
    faults: frozenset[str] = frozenset()


@dataclass
class SelectedMailbox:
    info: MailboxInfo
    readonly: bool
    uids: list[int] = field(default_factory=list)  # index = message sequence number - 1
    flags: dict[int, tuple[str, ...]] = field(default_factory=dict)
    modseqs: dict[int, int] = field(default_factory=dict)
    recent: set[int] = field(default_factory=set)  # \Recent for this session only
    gone: set[int] = field(default_factory=set)  # expunged in the store, not yet reported
    highestmodseq: int = 0
    uidnext: int = 1
    # The search result variable "$" (RFC 9051 §6.4.4.1) as UIDs: empty at SELECT/EXAMINE (a new
    # view), and a message leaves it when its expunge is reported (it leaves the view).
    saved: tuple[int, ...] = ()

    @classmethod
    def open(cls, store: Store, info: MailboxInfo, readonly: bool, faults: frozenset[str]) -> SelectedMailbox:
        rows = store.message_rows(info.id)
        view = cls(info, readonly, highestmodseq=info.highestmodseq, uidnext=info.uidnext)
        for r in rows:
            view._add(r)
        view.recent = view._claim(store, [r for r in rows if r.recent], faults)
        return view

    def _claim(self, store: Store, rows: list[MessageRow], faults: frozenset[str]) -> set[int]:
        uids = [r.uid for r in rows]
        if "imap-recent-in-two-sessions" in faults:
            return set(uids)  # FAULT: every session keeps \Recent for itself
        if self.readonly:
            return set()  # EXAMINE must not take \Recent away from others (RFC 3501 §6.3.2)
        return store.claim_recent(self.info.id, uids)

    def _add(self, r: MessageRow) -> None:
        self.uids.append(r.uid)
        self.flags[r.uid] = r.flags
        self.modseqs[r.uid] = r.modseq

    # -- numbers -------------------------------------------------------------------------------------

    @property
    def exists(self) -> int:
        return len(self.uids)

    def msn(self, uid: int) -> int:
        return bisect.bisect_left(self.uids, uid) + 1

    def resolve(self, seqset: SequenceSet, uid: bool) -> list[tuple[int, int]]:
        """(msn, uid) pairs a sequence set names, ascending. UID sets ignore UIDs that do not exist
        (RFC 3501 §6.4.8); a message number beyond EXISTS raises BadSequence."""
        if seqset == SAVED_RESULT:
            return [(self.msn(u), u) for u in self.saved if u in self.flags]
        uids = self.uids
        spans: list[tuple[int, int]] = []  # index ranges [start, stop) of self.uids
        if uid:
            largest = uids[-1] if uids else 0
            for low, high in seqset:
                a, b = largest if low is None else low, largest if high is None else high
                spans.append((bisect.bisect_left(uids, min(a, b)), bisect.bisect_right(uids, max(a, b))))
        else:
            n = len(uids)
            for low, high in seqset:
                for x in (low, high):
                    if x is not None and x > n:
                        raise BadSequence(f"message number {x} does not exist (EXISTS is {n})")
                    if x is None and n == 0:
                        raise BadSequence("the mailbox is empty, so '*' names no message")
                a, b = n if low is None else low, n if high is None else high
                spans.append((min(a, b) - 1, max(a, b)))
        if len(spans) == 1:
            indexes: Iterable[int] = range(*spans[0])
        else:
            indexes = sorted({i for span in spans for i in range(*span)})
        return [(i + 1, uids[i]) for i in indexes]

    def flags_with_recent(self, uid: int) -> tuple[str, ...]:
        f = self.flags.get(uid, ())
        return (*f, "\\Recent") if uid in self.recent else f

    # -- keeping up with the store ------------------------------------------------------------------------

    def fetch_flags_line(self, uid: int, opts: SyncOptions, with_uid: bool) -> bytes:
        items = [f"FLAGS {flag_list(self.flags_with_recent(uid))}"]
        if with_uid or opts.qresync or opts.rev2:
            items.insert(0, f"UID {uid}")  # RFC 7162 §3.2.4: with QRESYNC unsolicited FETCH carries UID
        if opts.condstore:
            items.append(f"MODSEQ ({self.modseqs.get(uid, 0)})")
        return untagged(f"{self.msn(uid)} FETCH ({' '.join(items)})")

    def sync(self, store: Store, allow_expunge: bool, opts: SyncOptions, own_change: bool = False,
             info: MailboxInfo | None = None) -> list[bytes]:
        """Untagged responses for what changed in the store since the client was last told.

        `info` is the mailbox as the caller just read it (read here when not given).
        """
        info = info or store.mailbox_by_id(self.info.id)
        if info is None:
            return []
        faults = opts.faults
        if "imap-expunge-during-fetch" in faults:
            allow_expunge = True  # FAULT: EXPUNGE even while FETCH/STORE/SEARCH is answered
        if (info.highestmodseq == self.highestmodseq and info.uidnext == self.uidnext
                and info.uidvalidity == self.info.uidvalidity):
            # Every change a client must hear of (a new message, a flag change, an expunge) moves
            # HIGHESTMODSEQ or UIDNEXT, so the messages need not be read: only expunges seen
            # earlier, while they could not be reported, may still be due. Most commands end here.
            return self._report_expunges(opts) if allow_expunge and self.gone else []
        rows = store.message_rows(self.info.id, info)
        # Rows up to the last UID the client knows are the messages it knows minus those expunged
        # since (UIDs only grow); the rows after it are new.
        last = self.uids[-1] if self.uids else 0
        split = bisect.bisect_right(rows, last, key=_uid)
        if split != len(self.uids) - len(self.gone):  # some were expunged since: find them
            present = {r.uid for r in rows[:split]}
            self.gone.update(u for u in self.uids if u not in present)
        if "imap-vanished-unseen-uids" in faults and opts.qresync:  # FAULT: UIDs the client never saw
            self.gone.update(u for u in store.vanished_since(self.info.id, self.highestmodseq) if u > last)
        out: list[bytes] = []
        if allow_expunge and self.gone:
            out += self._report_expunges(opts)
        # Flag changes made elsewhere (our own STOREs already updated self.flags). A row whose
        # MODSEQ is not above the HIGHESTMODSEQ of the last sync was taken in then, or was changed
        # by our own STORE, which gave it a higher MODSEQ; only the others need comparing.
        if "imap-flags-not-shared" not in faults:
            for row in store.rows_changed_since(self.info.id, info, self.highestmodseq):
                uid = row.uid
                if uid > last:
                    break  # a new message, announced below
                if uid not in self.flags or (row.flags == self.flags[uid] and row.modseq == self.modseqs[uid]):
                    continue
                changed = set(row.flags) != set(self.flags[uid])
                self.flags[uid] = row.flags
                self.modseqs[uid] = row.modseq
                if changed or opts.condstore:
                    out.append(self.fetch_flags_line(uid, opts, with_uid=False))
        new = rows[split:]
        if new and "imap-exists-not-shared" in faults and not own_change:
            new = ()  # FAULT: other sessions' messages never announced
        if new:
            for r in new:
                self._add(r)
            self.recent |= self._claim(store, [r for r in new if r.recent], faults)
            out.append(untagged(f"{self.exists} EXISTS"))
            if not opts.rev2:
                out.append(untagged(f"{len(self.recent)} RECENT"))
        self.highestmodseq = info.highestmodseq
        if "imap-uidnext-not-advanced" not in faults:
            self.uidnext = info.uidnext
        return out

    def _report_expunges(self, opts: SyncOptions) -> list[bytes]:
        gone = sorted(self.gone)
        self.gone.clear()
        out: list[bytes] = []
        if opts.qresync and "imap-vanished-missing" not in opts.faults:
            out.append(untagged(f"VANISHED {uid_set(gone)}"))
            for uid in gone:
                self._drop(uid)
            return out
        if "imap-expunge-original-numbers" in opts.faults:  # FAULT: lowest first, numbers not renumbered
            numbers = [self.msn(uid) for uid in gone]
            for uid in gone:
                self._drop(uid)
            return [untagged(f"{n} EXPUNGE") for n in numbers]
        # Highest number first, so each number is still right when the client applies it.
        for uid in sorted(gone, reverse=True):
            out.append(untagged(f"{self.msn(uid)} EXPUNGE"))
            self._drop(uid)
        return out

    def _drop(self, uid: int) -> None:
        i = bisect.bisect_left(self.uids, uid)
        if i < len(self.uids) and self.uids[i] == uid:
            del self.uids[i]
        self.flags.pop(uid, None)
        self.modseqs.pop(uid, None)
        self.recent.discard(uid)
