"""IMAP commands of the selected state (RFC 3501 §6.4, RFC 9051 §6.4): CHECK, CLOSE, UNSELECT,
EXPUNGE (and UID EXPUNGE, RFC 4315), SEARCH (ESEARCH, RFC 4731), SORT (RFC 5256), FETCH, STORE (CONDSTORE/QRESYNC,
RFC 7162), COPY and MOVE (RFC 6851) and their UID forms.

A mixin of `ImapSession` (session.py). Numbers from the client are resolved against the session's
view of the mailbox (mailbox_view.py), never against the store directly, so sequence numbers stay
what the client was told until an EXPUNGE may be reported.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from reference_server.imap.commands import Command, CopyArgs, Fetch, FetchItem, Search, Sort, StoreArgs, UidExpunge
from reference_server.imap.fetch import MessageFacts, MessageGone, UnknownEncoding, render_item, sets_seen
from reference_server.imap.mailbox_view import BadSequence, SelectedMailbox
from reference_server.imap.message import MessageModel
from reference_server.imap.model import SAVED_RESULT, SearchKey, SequenceSet, sequence_set_contains
from reference_server.imap.responses import flag_list, uid_set, untagged
from reference_server.imap.search import SearchContext, matches
from reference_server.imap.sort import sorted_hits
from reference_server.store import QuotaExceeded, StoreError

if TYPE_CHECKING:
    from reference_server.imap.session import ImapSession


def _failed(status: str, text: str, code: str = "") -> Exception:
    from reference_server.imap.session import CommandFailed
    return CommandFailed(status, text, code)


def _result(**kw: object) -> object:
    from reference_server.imap.session import Result
    return Result(**kw)  # type: ignore[arg-type]


def _uses(key: SearchKey, test: Callable[[SearchKey], bool]) -> bool:
    """Whether `test` holds for the key or any key inside it."""
    if test(key):
        return True
    return any(isinstance(a, SearchKey) and _uses(a, test) for a in key.args) or any(
        isinstance(a, tuple) and any(isinstance(k, SearchKey) and _uses(k, test) for k in a) for a in key.args)


def _is_modseq(key: SearchKey) -> bool:
    return key.name == "MODSEQ"


def _is_saved(key: SearchKey) -> bool:
    return key.name in ("SEQSET", "UID") and key.args[0] == SAVED_RESULT


def _without_not(key: SearchKey) -> SearchKey:
    """The `imap-search-ignores-not` fault: NOT x evaluated as x."""
    if key.name == "NOT":
        return _without_not(key.args[0])  # type: ignore[arg-type]
    if key.name == "OR":
        return SearchKey("OR", tuple(_without_not(k) for k in key.args))  # type: ignore[arg-type]
    if key.name == "AND":
        return SearchKey("AND", (tuple(_without_not(k) for k in key.args[0]),))  # type: ignore[union-attr]
    return key


def _numbers_line(name: str, numbers: list[int], modseq: int) -> bytes:
    """`* SEARCH` / `* SORT`: the numbers, then (MODSEQ n) when the search used MODSEQ and found
    anything (RFC 7162 §3.1.5, §3.1.9); `modseq` is 0 when it did not use MODSEQ."""
    line = name + "".join(f" {n}" for n in numbers)
    if modseq and numbers:
        line += f" (MODSEQ {modseq})"
    return untagged(line)


class SelectedCommands:
    """Handlers of the selected state."""

    @property
    def view(self: ImapSession) -> SelectedMailbox:
        assert self.selected is not None
        return self.selected

    def _resolve(self: ImapSession, seqset: SequenceSet, uid: bool) -> list[tuple[int, int]]:
        self._saved_allowed(seqset)
        try:
            return self.view.resolve(seqset, uid)
        except BadSequence as exc:
            raise _failed("BAD", str(exc)) from None

    def _saved_allowed(self: ImapSession, seqset: SequenceSet) -> None:
        """"$" (the search result variable) is IMAP4rev2's (RFC 9051 §6.4.4.1); SEARCHRES is not
        advertised to IMAP4rev1 sessions."""
        if seqset == SAVED_RESULT and "IMAP4REV2" not in self.enabled:
            raise _failed("BAD", "the $ marker needs ENABLE IMAP4rev2")

    def _need_condstore(self: ImapSession, why: str = "CONDSTORE is not supported") -> None:
        if "CONDSTORE" not in self.caps:
            raise _failed("BAD", why)
        self.enabled.add("CONDSTORE")  # a CONDSTORE enabling command (RFC 7162 §3.1)

    def _writable(self: ImapSession) -> None:
        if self.view.readonly:
            raise _failed("NO", "the mailbox is read-only (EXAMINE)", "CANNOT")

    # -- CHECK / CLOSE / UNSELECT / EXPUNGE -----------------------------------------------------------------

    def cmd_check(self: ImapSession, cmd: Command) -> object:
        if "imap-check-sends-status" in self.faults and self.selected is not None:  # FAULT
            return _result(lines=[untagged(b"STATUS " + self._wire_name(self.selected.info.name) + b" (MESSAGES %d)"
                                           % len(self.selected.uids))])
        return _result()

    def _leave(self: ImapSession) -> None:
        from reference_server.imap.session import State
        self.selected = None
        self.state = State.AUTHENTICATED

    def cmd_close(self: ImapSession, cmd: Command) -> object:
        assert self.user is not None
        lines: list[bytes] = []
        if not self.view.readonly:
            deleted = [r.uid for r in self.store.message_rows(self.view.info.id) if "\\Deleted" in r.flags]
            self.store.expunge_ids(self.user, self.view.info.id, deleted)
            if "imap-close-sends-expunge" in self.faults:
                lines = self._sync(allow_expunge=True)  # FAULT: CLOSE must expunge silently
            if deleted and "imap-close-reports-highestmodseq" in self.faults and "QRESYNC" in self.enabled:
                info = self.store.mailbox_by_id(self.view.info.id)  # FAULT: CLOSE is not EXPUNGE
                self._leave()
                return _result(code=f"HIGHESTMODSEQ {info.highestmodseq if info else 0}", sync=False)
        self._leave()
        return _result(lines=lines, sync=False)

    def cmd_unselect(self: ImapSession, cmd: Command) -> object:
        if "imap-unselect-expunges" in self.faults and not self.view.readonly and self.user is not None:
            deleted = [r.uid for r in self.store.message_rows(self.view.info.id) if "\\Deleted" in r.flags]
            self.store.expunge_ids(self.user, self.view.info.id, deleted)  # FAULT: UNSELECT acts like CLOSE
        self._leave()
        return _result(sync=False)

    def cmd_expunge(self: ImapSession, cmd: Command) -> object:
        assert self.user is not None
        self._writable()
        rows = self.store.message_rows(self.view.info.id)
        if "imap-expunge-ignores-deleted" in self.faults:
            doomed = [r.uid for r in rows]  # FAULT: every message goes
        else:
            doomed = [r.uid for r in rows if "\\Deleted" in r.flags]
        if cmd.uid:
            assert isinstance(cmd.args, UidExpunge)
            top = rows[-1].uid if rows else 0
            if "imap-uid-expunge-star-off-by-one" in self.faults:
                top -= 1  # FAULT
            self._saved_allowed(cmd.args.sequence)
            if cmd.args.sequence == SAVED_RESULT:
                doomed = [u for u in doomed if u in self.view.saved]
            else:
                doomed = [u for u in doomed if sequence_set_contains(cmd.args.sequence, u, top)]
        self.store.expunge_ids(self.user, self.view.info.id, doomed)
        info = self.store.mailbox_by_id(self.view.info.id)  # RFC 7162 §3.2.7/§3.2.9: QRESYNC gets the new value
        tell = doomed and info is not None and "QRESYNC" in self.enabled
        if ("imap-uid-expunge-no-highestmodseq" if cmd.uid else "imap-expunge-no-highestmodseq") in self.faults:
            tell = False  # FAULT: the completion lacks [HIGHESTMODSEQ n]
        return _result(code=f"HIGHESTMODSEQ {info.highestmodseq}" if tell and info is not None else "")

    # -- SEARCH -----------------------------------------------------------------------------------------------

    def cmd_search(self: ImapSession, cmd: Command) -> object:
        args = cmd.args
        assert isinstance(args, Search)
        rev2 = "IMAP4REV2" in self.enabled
        opts = args.return_opts or ()
        if args.return_opts is not None and "ESEARCH" not in self.caps and not rev2:
            raise _failed("BAD", "SEARCH RETURN needs ESEARCH")
        save = "SAVE" in opts
        if save and not rev2:
            raise _failed("BAD", "RETURN (SAVE) needs ENABLE IMAP4rev2 (RFC 9051 section 6.4.4.1)")
        view = self.view
        try:
            self._check_charset(args.charset, bad=rev2 and "imap-rev2-unknown-charset-bad" in self.faults)  # FAULT
            modseq_key = self._modseq_key(args.key)
            key = _without_not(args.key) if "imap-search-ignores-not" in self.faults else args.key
            hits = self._search_hits(key, modseq_shift=int("imap-search-modseq-strict" in self.faults))  # FAULT hook
        except Exception as exc:
            if save and getattr(exc, "status", "") == "NO":
                view.saved = ()  # a SEARCH ... (SAVE) answered NO empties "$" (RFC 9051 §6.4.4.1)
            raise
        if save and "imap-searchres-not-saved" not in self.faults:  # FAULT: "$" keeps its old value
            uids = [h.uid for h in hits]  # (in sequence order, so UID order too)
            if uids and not {"ALL", "COUNT"} & set(opts) and {"MIN", "MAX"} & set(opts):
                # SAVE with MIN and/or MAX alone keeps just those (RFC 9051 §6.4.4.1, Table 4)
                uids = sorted({*(uids[:1] if "MIN" in opts else ()), *(uids[-1:] if "MAX" in opts else ())})
            view.saved = tuple(uids)
        if save and set(opts) == {"SAVE"}:
            return _result()  # SAVE alone: no ESEARCH response
        as_uid = cmd.uid and "imap-search-uid-msn" not in self.faults
        numbers = [h.uid if as_uid else h.seq for h in hits]
        top_modseq = max((view.modseqs[h.uid] for h in hits), default=0)
        if numbers and ("imap-esearch-modseq-lowest" if args.return_opts is not None or rev2
                        else "imap-search-modseq-lowest") in self.faults:
            top_modseq = min(view.modseqs[h.uid] for h in hits)  # FAULT: the lowest, not the highest
        if args.return_opts is not None or rev2:
            return _result(lines=[self._esearch(cmd, tuple(o for o in opts if o != "SAVE") or ("ALL",), numbers,
                                                top_modseq if modseq_key else 0)])
        return _result(lines=[_numbers_line("SEARCH", numbers, top_modseq if modseq_key else 0)])

    def cmd_sort(self: ImapSession, cmd: Command) -> object:
        """SORT and UID SORT (RFC 5256 §3); `* SORT` also in IMAP4rev2 sessions, which have no ESORT."""
        args = cmd.args
        assert isinstance(args, Sort)
        self._check_charset(args.charset)
        modseq_key = self._modseq_key(args.key)
        hits = sorted_hits(self._search_hits(args.key), args.criteria)
        numbers = [h.uid if cmd.uid else h.seq for h in hits]
        top_modseq = max((self.view.modseqs[h.uid] for h in hits), default=0)
        if "imap-sort-modseq-missing" in self.faults:
            modseq_key = False  # FAULT: no (MODSEQ n) after a SORT with a MODSEQ criterion
        return _result(lines=[_numbers_line("SORT", numbers, top_modseq if modseq_key else 0)])

    def _check_charset(self: ImapSession, charset: str | None, bad: bool = False) -> None:
        if charset not in (None, "US-ASCII", "UTF-8"):
            raise _failed("BAD" if bad else "NO", f"charset {charset} is not supported",
                          "BADCHARSET (US-ASCII UTF-8)")

    def _modseq_key(self: ImapSession, key: SearchKey) -> bool:
        """Whether the search uses MODSEQ, which makes the command CONDSTORE-enabling (RFC 7162 §3.1)."""
        if not _uses(key, _is_modseq):
            return False
        self._need_condstore()
        return True

    def _search_hits(self: ImapSession, key: SearchKey, modseq_shift: int = 0) -> list[SearchContext]:
        """The messages of the view that match `key`, in sequence-number order."""
        if _uses(key, _is_saved):
            self._saved_allowed(SAVED_RESULT)
        view = self.view
        rows = {r.uid: r for r in self.store.message_rows(view.info.id)}
        mid = view.info.id
        hits: list[SearchContext] = []
        largest_uid = view.uids[-1] if view.uids else 0
        saved = frozenset(view.saved)
        for i, uid in enumerate(view.uids):
            row = rows.get(uid)
            if row is None:
                continue  # expunged elsewhere; not reported yet, so it matches nothing

            def model(uid: int = uid) -> MessageModel:
                return MessageModel(self.store.message_bytes(mid, uid) or b"")

            ctx = SearchContext(seq=i + 1, uid=uid, flags=frozenset(view.flags[uid]),
                                internaldate=dt.datetime.fromtimestamp(row.internaldate, dt.UTC), size=row.size,
                                modseq=view.modseqs[uid] - modseq_shift, model=model, largest_seq=view.exists,
                                largest_uid=largest_uid, recent=uid in view.recent, saved=saved)
            try:
                if matches(key, ctx):
                    hits.append(ctx)
            except (ValueError, TypeError) as exc:
                raise _failed("BAD", f"cannot evaluate the search: {exc}") from None
        return hits

    def _esearch(self: ImapSession, cmd: Command, opts: tuple[str, ...], numbers: list[int], modseq: int) -> bytes:
        parts = [] if "imap-esearch-no-tag" in self.faults else [f'(TAG "{cmd.tag}")']
        if cmd.uid:
            parts.append("UID")
        if numbers:
            if "MIN" in opts:
                parts.append(f"MIN {min(numbers)}")
            if "MAX" in opts:
                parts.append(f"MAX {max(numbers)}")
            if "ALL" in opts:
                parts.append(f"ALL {uid_set(numbers)}")
        if "COUNT" in opts:
            parts.append(f"COUNT {len(numbers)}")
        if modseq and numbers and "imap-esearch-no-modseq" not in self.faults:
            parts.append(f"MODSEQ {modseq}")
        return untagged("ESEARCH " + " ".join(parts) if parts else "ESEARCH")

    # -- FETCH ----------------------------------------------------------------------------------------------------

    def cmd_fetch(self: ImapSession, cmd: Command) -> object:
        args = cmd.args
        assert isinstance(args, Fetch) and self.user is not None
        view = self.view
        items = list(args.items)
        names = {i.name for i in items}
        if "MODSEQ" in names or args.changedsince is not None:
            self._need_condstore()
        if args.vanished and (not cmd.uid or "QRESYNC" not in self.enabled or args.changedsince is None):
            raise _failed("BAD", "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC (RFC 7162 section 3.2.6)")
        if any(i.name.startswith("BINARY") for i in items) and "IMAP4rev2" not in self.caps:
            raise _failed("BAD", "BINARY is not supported")
        if cmd.uid and "UID" not in names:
            items.insert(0, FetchItem("UID"))  # RFC 3501 §6.4.8
        if args.changedsince is not None and "MODSEQ" not in names and (
                "imap-changedsince-no-implicit-modseq" not in self.faults):
            items.append(FetchItem("MODSEQ"))  # RFC 7162 §3.1.4.1
        pairs = self._resolve(args.sequence, cmd.uid)
        lines: list[bytes] = []
        if args.vanished and args.changedsince is not None:
            top = view.uids[-1] if view.uids else 0
            gone = [u for u in self.store.vanished_since(view.info.id, args.changedsince)
                    if sequence_set_contains(args.sequence, u, max(top, u))
                    or "imap-vanished-ignores-uid-set" in self.faults]
            if gone:
                lines.append(untagged(f"VANISHED (EARLIER) {uid_set(gone)}"))
        rows = {r.uid: r for r in self.store.message_rows(view.info.id)}
        seen_items = [i for i in items if sets_seen(i) or (
            "imap-fetch-peek-sets-seen" in self.faults and i.name == "BODY.PEEK")]
        if "imap-fetch-body-no-seen" in self.faults:
            seen_items = []  # FAULT
        set_seen = bool(seen_items) and not view.readonly
        item_names = {i.name for i in items}  # with the UID and MODSEQ added above
        missing = False
        for msn, uid in pairs:
            row = rows.get(uid)
            if row is None:
                # Expunged by another session. UID FETCH names only UIDs that exist, and this reply
                # reports the expunge before its tagged line (RFC 3501 §6.4.8, §7.4.1), so the UID
                # is ignored. FETCH by number cannot report it yet: NO [EXPUNGEISSUED] (RFC 2180
                # §4.1.3, RFC 9051 §7.1).
                missing = missing or not cmd.uid
                continue
            if args.changedsince is not None and view.modseqs[uid] <= args.changedsince:
                continue
            extra: list[FetchItem] = []
            if set_seen and "\\Seen" not in view.flags[uid]:
                changed, _ = self.store.store_flags(self.user, view.info.id, [uid], "+", ("\\Seen",))
                if uid in changed:
                    view.flags[uid], view.modseqs[uid] = changed[uid]
                if "FLAGS" not in names:
                    extra.append(FetchItem("FLAGS"))  # the client learns of the new \Seen
                if "CONDSTORE" in self.enabled and "imap-implicit-seen-no-uid-modseq" not in self.faults:
                    # RFC 7162 §3.2.4: ... with its UID and MODSEQ
                    extra += [FetchItem(n) for n in ("UID", "MODSEQ") if n not in item_names]
            facts = MessageFacts(uid, view.flags_with_recent(uid), row.internaldate, row.size, view.modseqs[uid],
                                 functools.partial(self.store.message_bytes, view.info.id, uid),
                                 self.store.memo((view.info.id, view.info.uidvalidity, uid)))
            try:
                body = b" ".join(render_item(i, facts, self.faults) for i in (*items, *extra))
            except UnknownEncoding as exc:
                raise _failed("NO", str(exc), "UNKNOWN-CTE") from None
            except MessageGone:
                missing = missing or not cmd.uid
                continue
            lines.append(b"* %d FETCH (" % msn + body + b")\r\n")
        if missing:
            return _result(lines=lines, status="NO", code="EXPUNGEISSUED",
                           text="some of the messages were expunged meanwhile")
        return _result(lines=lines)

    # -- STORE ----------------------------------------------------------------------------------------------------

    def cmd_store(self: ImapSession, cmd: Command) -> object:
        args = cmd.args
        assert isinstance(args, StoreArgs) and self.user is not None
        self._writable()
        view = self.view
        if args.unchangedsince is not None:
            self._need_condstore()
        pairs = self._resolve(args.sequence, cmd.uid)
        flags = tuple(f for f in args.flags if f != "\\Recent")  # \Recent is the server's (RFC 3501 §2.3.2)
        unchanged = None if "imap-unchangedsince-ignored" in self.faults else args.unchangedsince
        result, failed = self.store.store_flags(self.user, view.info.id, [u for _, u in pairs], args.mode, flags,
                                                unchanged)
        opts = self.sync_options
        lines = []
        for msn, uid in pairs:
            if uid not in result:
                continue
            new_flags, modseq = result[uid]
            if "imap-modseq-backwards" in self.faults and uid not in failed and new_flags != view.flags[uid]:
                modseq = max(1, view.modseqs[uid] - 1)  # FAULT: the reported MODSEQ goes down
            if uid in failed:
                continue
            view.flags[uid], view.modseqs[uid] = new_flags, modseq
            if args.silent and args.unchangedsince is None and "imap-store-silent-echoes" not in self.faults:
                continue
            items = [f"FLAGS {flag_list(view.flags_with_recent(uid))}"]
            if cmd.uid or opts.qresync:
                items.insert(0, f"UID {uid}")
            if opts.condstore:
                items.append(f"MODSEQ ({modseq})")
            lines.append(untagged(f"{msn} FETCH ({' '.join(items)})"))
        code = ""
        if failed:
            numbers = failed if cmd.uid else [view.msn(u) for u in failed]
            code = f"MODIFIED {uid_set(numbers)}"
        return _result(lines=lines, code=code)

    # -- COPY / MOVE -----------------------------------------------------------------------------------------------

    def cmd_copy(self: ImapSession, cmd: Command) -> object:
        return self._copy(cmd, move=False)

    def cmd_move(self: ImapSession, cmd: Command) -> object:
        self._writable()
        return self._copy(cmd, move=True)

    def _copy(self: ImapSession, cmd: Command, move: bool) -> object:
        args = cmd.args
        assert isinstance(args, CopyArgs) and self.user is not None
        view = self.view
        by_uid = cmd.uid and not (move and "imap-uid-move-by-sequence" in self.faults)  # FAULT: UID lost for MOVE
        pairs = self._resolve(args.sequence, by_uid)
        uids = [u for _, u in pairs]
        rows = {r.uid for r in self.store.message_rows(view.info.id)}
        if cmd.uid:
            uids = [u for u in uids if u in rows]  # expunged elsewhere: ignored, as in UID FETCH
        elif any(u not in rows for u in uids):
            raise _failed("NO", "some of the messages were expunged meanwhile", "EXPUNGEISSUED")
        stale = self.store.mailbox_by_id(view.info.id) if "imap-move-stale-highestmodseq" in self.faults else None
        try:
            uidvalidity, mapping = self.store.copy_messages(self.user, view.info.id, uids, args.mailbox, move=move)
        except QuotaExceeded as exc:
            raise _failed("NO", str(exc), "OVERQUOTA") from None
        except StoreError:
            code = "" if "imap-copy-no-trycreate" in self.faults else "TRYCREATE"
            raise _failed("NO", f"no mailbox {args.mailbox}", code) from None
        copyuid = ""
        if mapping and "UIDPLUS" in self.caps:
            copyuid = f"COPYUID {uidvalidity} {uid_set(s for s, _ in mapping)} {uid_set(d for _, d in mapping)}"
        own = view.info.id == self.store.mailbox_info(self.user, args.mailbox).id
        if not move:
            late = own and "imap-copy-to-self-no-exists" in self.faults  # FAULT: EXISTS only at the next command
            return _result(code=copyuid, own_change=own, sync=not late)
        lines = []
        if copyuid and "imap-move-no-copyuid" not in self.faults:
            lines.append(untagged(f"OK [{copyuid}] moved"))  # RFC 6851 §4.3: before the expunges
        if "imap-move-reports-deleted" in self.faults:  # FAULT: MOVE done as COPY, STORE \Deleted, EXPUNGE
            marked = {u: flag_list((*view.flags[u], "\\Deleted")) for _, u in pairs if u in rows}
            lines += [untagged(f"{n} FETCH (UID {u} FLAGS {marked[u]})") for n, u in pairs if u in marked]
        lines += self._sync(allow_expunge=True, own_change=own)
        info = self.store.mailbox_by_id(view.info.id) if mapping and "QRESYNC" in self.enabled else None
        if info and stale:
            info = stale  # FAULT: the HIGHESTMODSEQ from before the move
        return _result(lines=lines, code=f"HIGHESTMODSEQ {info.highestmodseq}" if info else "")  # RFC 6851 §4.4
