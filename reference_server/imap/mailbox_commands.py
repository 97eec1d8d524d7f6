"""IMAP commands of the authenticated state (RFC 3501 §6.3, RFC 9051 §6.3) and the mailbox-level
extensions: SELECT/EXAMINE (CONDSTORE, QRESYNC), CREATE (CREATE-SPECIAL-USE), DELETE, RENAME,
SUBSCRIBE, LIST (LIST-EXTENDED, LIST-STATUS, SPECIAL-USE, CHILDREN), LSUB, STATUS, APPEND
(UIDPLUS, MULTIAPPEND), NAMESPACE and QUOTA.

A mixin of `ImapSession` (session.py): the handlers use its store, user, capabilities and faults.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from reference_server.imap.commands import (
    Append,
    Command,
    Create,
    ListArgs,
    MailboxArg,
    QuotaRoot,
    Rename,
    Select,
    Status,
)
from reference_server.imap.encode import quoted
from reference_server.imap.mailbox_view import SelectedMailbox
from reference_server.imap.names import wire_name
from reference_server.imap.responses import flag_list, uid_set, untagged
from reference_server.store import (
    MailboxExists,
    MailboxInfo,
    MailboxRefused,
    QuotaExceeded,
    Store,
    StoreError,
    superiors,
)

if TYPE_CHECKING:
    from reference_server.imap.session import ImapSession

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
SPECIAL_USES = ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")
DEFAULT_SPECIAL_FOLDERS = (("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"), ("Junk", "\\Junk"),
                           ("Archive", "\\Archive"))


def _failed(status: str, text: str, code: str = "") -> Exception:
    from reference_server.imap.session import CommandFailed
    return CommandFailed(status, text, code)


def _result(**kw: object) -> object:
    from reference_server.imap.session import Result
    return Result(**kw)  # type: ignore[arg-type]


def pattern_regex(pattern: str, delimiter: str) -> re.Pattern[str]:
    """A LIST pattern as a regex: '*' matches anything, '%' anything but the delimiter (RFC 3501 §6.3.8)."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "%":
            out.append(f"[^{re.escape(delimiter)}]*")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _parents(boxes: dict[str, MailboxInfo], delimiter: str) -> set[str]:
    """The names among `boxes`' superiors, i.e. the mailboxes that have inferiors."""
    return {parent for name in boxes for parent in superiors(name, delimiter)}


def _canonical(name: str) -> str:
    # INBOX matches case-insensitively, also as a pattern prefix (RFC 3501 §5.1).
    if name[:5].upper() == "INBOX" and (len(name) == 5 or not name[5].isalnum()):
        return "INBOX" + name[5:]
    return name


# FAULT imap-utf8-names-before-enable: per store, the names a rev2 CREATE made.
_CREATED_AS_UTF8: weakref.WeakKeyDictionary[Store, set[str]] = weakref.WeakKeyDictionary()


class MailboxCommands:
    """Handlers of the authenticated state."""

    # -- SELECT / EXAMINE ----------------------------------------------------------------------------------

    def cmd_select(self: ImapSession, cmd: Command) -> object:
        return self._open(cmd, readonly=False)

    def cmd_examine(self: ImapSession, cmd: Command) -> object:
        return self._open(cmd, readonly="imap-examine-writable" not in self.faults)

    def _open(self: ImapSession, cmd: Command, readonly: bool) -> object:
        from reference_server.imap.session import State
        args = cmd.args
        assert isinstance(args, Select) and self.user is not None
        if "imap-select-ampersand-name-missing" in self.faults and "&" in args.mailbox and not self.utf8:
            raise _failed("NO", f"no mailbox {args.mailbox}", "NONEXISTENT")  # FAULT
        lines: list[bytes] = []
        if self.selected is not None:
            # The old mailbox is left without expunging (RFC 3501 §6.3.1); RFC 7162 §3.2.11 and
            # RFC 9051 §7.1 mark the switch with [CLOSED].
            self.selected = None
            self.state = State.AUTHENTICATED
            if (("CONDSTORE" in self.caps and "imap-no-closed-on-switch" not in self.faults)  # FAULT: rev2 only
                    or "IMAP4REV2" in self.enabled):
                lines.append(untagged("OK [CLOSED] previous mailbox is now closed"))
        if args.qresync is not None and args.qresync.seq_match and "imap-qresync-seq-match-rejected" in self.faults:
            raise _failed("BAD", "sequence match data is not supported")  # FAULT
        if (args.qresync is not None and "QRESYNC" not in self.enabled
                and "imap-select-qresync-without-enable" not in self.faults):  # FAULT: accepted anyway
            raise _failed("BAD", "QRESYNC parameter needs ENABLE QRESYNC first (RFC 7162 section 3.2.5)")
        if args.condstore:
            if "CONDSTORE" not in self.caps:
                raise _failed("BAD", "CONDSTORE is not supported")
            if "imap-select-condstore-not-enabling" in self.faults and "CONDSTORE" not in self.enabled:
                self._condstore_via_select = True  # FAULT: unsolicited FETCHes then lack MODSEQ
            self.enabled.add("CONDSTORE")
        info = self._existing(args.mailbox)
        view = SelectedMailbox.open(self.store, info, readonly, self.faults)
        self._selects += 1
        uidvalidity = info.uidvalidity
        if "imap-uidvalidity-changes-on-reselect" in self.faults:
            uidvalidity += self._selects - 1  # FAULT: a new UIDVALIDITY on every SELECT
        keywords = sorted({f for flags in view.flags.values() for f in flags if not f.startswith("\\")})
        flags = (*SYSTEM_FLAGS, *keywords)
        shown = SYSTEM_FLAGS if "imap-flags-no-keywords" in self.faults else flags  # FAULT: keywords left out
        lines.append(untagged(f"FLAGS {flag_list(shown)}"))
        if readonly:
            lines.append(untagged("OK [PERMANENTFLAGS ()] read-only mailbox"))
        else:
            star = () if "imap-permanentflags-no-star" in self.faults else ("\\*",)
            lines.append(untagged(f"OK [PERMANENTFLAGS {flag_list((*flags, *star))}] flags permitted"))
        lines.append(untagged(f"{view.exists} EXISTS"))
        rev2 = "IMAP4REV2" in self.enabled
        no_list = "imap-examine-no-list-response" if readonly else "imap-select-no-list-response"  # FAULT
        if rev2 and no_list not in self.faults:
            # RFC 9051 §6.3.2 (RFC9051-6.3.2-03): the opened mailbox's LIST response, as LIST gives it.
            inferior = info.name + self.settings.delimiter
            has_children = any(m.name.startswith(inferior) for m in self.store.mailboxes(self.user))
            lines.append(self._list_line(info, has_children))
        if not rev2:
            lines.append(untagged(f"{len(view.recent)} RECENT"))
            unseen = [i + 1 for i, u in enumerate(view.uids) if "\\Seen" not in view.flags[u]]
            if unseen:
                first = len(unseen) if "imap-unseen-counts-unseen" in self.faults else unseen[0]  # FAULT: a count
                lines.append(untagged(f"OK [UNSEEN {first}] first unseen message"))
        lines.append(untagged(f"OK [UIDVALIDITY {uidvalidity}] UIDs valid"))
        lines.append(untagged(f"OK [UIDNEXT {self._uidnext(info, view.uids)}] predicted next UID"))
        plain_examine = readonly and not args.condstore and args.qresync is None
        if "CONDSTORE" in self.caps and "imap-nomodseq-empty-mailbox" in self.faults and not view.exists:
            lines.append(untagged("OK [NOMODSEQ] no mod-sequences yet"))  # FAULT: yet modseq commands work
        elif "CONDSTORE" in self.caps and not (plain_examine and "imap-examine-no-highestmodseq" in self.faults):
            lines.append(untagged(f"OK [HIGHESTMODSEQ {info.highestmodseq}] highest mod-sequence"))
        self.selected = view
        self.state = State.SELECTED
        if args.qresync is not None and args.qresync.uidvalidity == info.uidvalidity:
            lines += self._qresync_lines(view, args)
        mode = "READ-ONLY" if readonly else "READ-WRITE"
        return _result(lines=lines, code=mode, text="completed", sync=False)

    def _qresync_lines(self: ImapSession, view: SelectedMailbox, args: Select) -> list[bytes]:
        """RFC 7162 §3.2.5.2: what changed since the client's modseq: VANISHED (EARLIER) and FETCH."""
        from reference_server.imap.model import sequence_set_contains
        q = args.qresync
        assert q is not None
        out: list[bytes] = []
        vanished = self.store.vanished_since(view.info.id, q.modseq)
        if q.known_uids is not None:
            top = max(vanished, default=0)
            vanished = [u for u in vanished if sequence_set_contains(q.known_uids, u, top)]
        if vanished and "imap-vanished-missing" not in self.faults:
            out.append(untagged(f"VANISHED (EARLIER) {uid_set(vanished)}"))
        opts = self.sync_options
        for uid in view.uids:
            if view.readonly and "imap-examine-qresync-no-changes" in self.faults:
                break  # FAULT: EXAMINE (QRESYNC) reports no flag changes
            if view.modseqs[uid] > q.modseq:
                out.append(view.fetch_flags_line(uid, opts, with_uid=True))
        return out

    def _uidnext(self: ImapSession, info: MailboxInfo, uids: list[int]) -> int:
        if "imap-uidnext-not-advanced" in self.faults and uids:
            return uids[-1]  # FAULT: UIDNEXT not past the newest message
        return info.uidnext

    def _existing(self: ImapSession, name: str, selectable: bool = True) -> MailboxInfo:
        assert self.user is not None
        try:
            info = self.store.mailbox_info(self.user, name)
        except StoreError:
            raise _failed("NO", f"no mailbox {name}", "NONEXISTENT") from None
        if selectable and info.noselect:
            raise _failed("NO", f"{name} is \\Noselect", "CANNOT")
        return info

    # -- CREATE / DELETE / RENAME / SUBSCRIBE ----------------------------------------------------------------

    def _check_new_name(self: ImapSession, name: str) -> str:
        d = self.settings.delimiter
        if name.endswith(d):
            name = name.rstrip(d)  # a trailing delimiter only says "this will have inferiors"
        if not name or any(not part for part in name.split(d)) or set(name) & {"*", "%"}:
            raise _failed("NO", f"invalid mailbox name {name!r}", "CANNOT")
        return name

    def cmd_create(self: ImapSession, cmd: Command) -> object:
        args = cmd.args
        assert isinstance(args, Create) and self.user is not None
        name = self._check_new_name(args.mailbox)
        if "imap-utf8-names-before-enable" in self.faults and "IMAP4REV2" in self.enabled:
            _CREATED_AS_UTF8.setdefault(self.store, set()).add(name)  # FAULT hook
        use = None
        if args.special_use:
            if "CREATE-SPECIAL-USE" not in self.caps:
                raise _failed("BAD", "CREATE-SPECIAL-USE is not supported")
            if len(args.special_use) > 1 or args.special_use[0] not in SPECIAL_USES:
                if "imap-create-unknown-use-leaves-mailbox" in self.faults:  # FAULT: created before the check
                    self.store.create_imap_mailbox(self.user, name, None, self.settings.delimiter)
                raise _failed("NO", "unsupported special-use attribute", "USEATTR")
            use = args.special_use[0]
        if name == "INBOX":
            raise _failed("NO", "INBOX always exists", "ALREADYEXISTS")
        try:
            self.store.create_imap_mailbox(self.user, name, use, self.settings.delimiter)
        except MailboxExists:
            if "imap-create-existing-ok" in self.faults:
                return _result()  # FAULT
            raise _failed("NO", f"mailbox {name} already exists", "ALREADYEXISTS") from None
        except MailboxRefused as exc:
            raise _failed("NO", str(exc), "USEATTR") from None
        return _result()

    def cmd_delete(self: ImapSession, cmd: Command) -> object:
        from reference_server.imap.session import State
        args = cmd.args
        assert isinstance(args, MailboxArg) and self.user is not None
        if args.mailbox == "INBOX":
            if "imap-delete-inbox-ok" in self.faults:
                return _result()  # FAULT
            raise _failed("NO", "INBOX cannot be deleted", "CANNOT")
        info = self._existing(args.mailbox, selectable=False)
        if self.selected is not None and self.selected.info.id == info.id:
            self.selected = None
            self.state = State.AUTHENTICATED
        try:
            self.store.delete_imap_mailbox(self.user, args.mailbox, self.settings.delimiter)
        except MailboxRefused as exc:
            raise _failed("NO", str(exc), "CANNOT") from None
        return _result()

    def cmd_rename(self: ImapSession, cmd: Command) -> object:
        args = cmd.args
        assert isinstance(args, Rename) and self.user is not None
        self._existing(args.old, selectable=False)
        new = self._check_new_name(args.new)
        if new == "INBOX":
            raise _failed("NO", "INBOX already exists", "ALREADYEXISTS")
        try:
            if args.old == "INBOX" and "imap-rename-inbox-keeps-messages" in self.faults:
                self.store.create_imap_mailbox(self.user, new)  # FAULT: messages stay in INBOX
            else:
                self.store.rename_imap_mailbox(self.user, args.old, new, self.settings.delimiter)
        except MailboxExists:
            raise _failed("NO", f"mailbox {new} already exists", "ALREADYEXISTS") from None
        except MailboxRefused as exc:
            raise _failed("NO", str(exc), "CANNOT") from None
        return _result()

    def cmd_subscribe(self: ImapSession, cmd: Command) -> object:
        assert isinstance(cmd.args, MailboxArg) and self.user is not None
        self.store.set_subscribed(self.user, cmd.args.mailbox, True)
        return _result()

    def cmd_unsubscribe(self: ImapSession, cmd: Command) -> object:
        assert isinstance(cmd.args, MailboxArg) and self.user is not None
        if "imap-unsubscribe-needs-mailbox" in self.faults:
            self._existing(cmd.args.mailbox, selectable=False)  # FAULT: NO for a name without a mailbox
        self.store.set_subscribed(self.user, cmd.args.mailbox, False)
        return _result()

    # -- LIST / LSUB ------------------------------------------------------------------------------------------

    def _wire_name(self: ImapSession, name: str) -> bytes:
        """A stored mailbox name as this session writes it (names.py)."""
        if "imap-rev2-names-mutf7" in self.faults:
            return wire_name(name, False)  # FAULT: modified UTF-7 even after ENABLE IMAP4rev2
        if "imap-utf8-names-before-enable" in self.faults and name in _CREATED_AS_UTF8.get(self.store, ()):
            return wire_name(name, True)  # FAULT: raw UTF-8 without ENABLE IMAP4rev2 (kept as created)
        return wire_name(name, self.utf8)

    def _list_line(self: ImapSession, info: MailboxInfo | str, has_children: bool,
                   subscribed: bool = False, childinfo: bool = False,
                   return_children: bool = False) -> bytes:
        """One LIST response; `info` is the name alone for a mailbox that does not exist."""
        d = self.settings.delimiter
        name = info if isinstance(info, str) else info.name
        attrs: list[str] = []
        if isinstance(info, str):
            attrs.append("\\NonExistent")
        elif info.noselect:
            attrs.append("\\Noselect")
        if not isinstance(info, str) and "CHILDREN" in self.caps:
            attrs.append("\\HasChildren" if has_children else "\\HasNoChildren")
            if "imap-list-return-children-leaf-unmarked" in self.faults and return_children:
                attrs = [a for a in attrs if a != "\\HasNoChildren"]  # FAULT
        if subscribed:
            attrs.append("\\Subscribed")
        if name == "INBOX" and "imap-list-inbox-attribute" in self.faults:
            attrs.append("\\Inbox")  # FAULT: no standard defines it
        if (not isinstance(info, str) and info.special_use and "SPECIAL-USE" in self.caps
                and "imap-list-no-special-use" not in self.faults):
            attrs.append(info.special_use)
        extra = b' ("CHILDINFO" ("SUBSCRIBED"))' if childinfo else b""
        head = f"LIST {flag_list(attrs)} {quoted(d.encode()).decode()} ".encode()
        if "imap-list-deep-names-nil-delimiter" in self.faults and name.count(d) >= 2:
            head = f"LIST {flag_list(attrs)} NIL ".encode()  # FAULT
        return untagged(head + self._wire_name(name) + extra)

    def cmd_list(self: ImapSession, cmd: Command) -> object:
        args = cmd.args
        assert isinstance(args, ListArgs) and self.user is not None
        d = self.settings.delimiter
        if args.extended and "LIST-EXTENDED" not in self.caps and (args.selection or args.return_opts):
            raise _failed("BAD", "LIST-EXTENDED is not supported")
        selection = set(args.selection)
        if "imap-list-repeated-option-bad" in self.faults and len(selection) < len(args.selection):
            raise _failed("BAD", "repeated selection option")  # FAULT
        unknown = selection - {"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"}
        rm_remote = selection == {"RECURSIVEMATCH", "REMOTE"}
        if "imap-list-recursivematch-remote-accepted" in self.faults:
            rm_remote = False  # FAULT: only RECURSIVEMATCH alone is refused
        if unknown or (selection == {"RECURSIVEMATCH"}) or rm_remote:
            raise _failed("BAD", "invalid LIST selection options (RFC 5258 section 3)")
        returns = set(args.return_opts)
        if "STATUS" in returns and "LIST-STATUS" not in self.caps:
            raise _failed("BAD", "LIST-STATUS is not supported")
        known = {"SUBSCRIBED", "CHILDREN", "STATUS"} | ({"SPECIAL-USE"} if "SPECIAL-USE" in self.caps else set())
        if returns - known:
            # RFC 5258 §3 (RFC5258-3-08): an option the server does not know is a client error.
            raise _failed("BAD", f"unknown LIST return option {sorted(returns - known)[0]} (RFC 5258 section 3)")
        if "imap-list-hash-pattern-refused" in self.faults and any(p.startswith("#") for p in args.patterns):
            raise _failed("NO", "unknown namespace")  # FAULT
        if args.patterns == ("",) and not args.extended:
            # The delimiter query (RFC 3501 §6.3.8).
            return _result(lines=[untagged(f'LIST (\\Noselect) {quoted(d.encode()).decode()} ""')])
        pats = [args.reference + p for p in args.patterns]
        if "imap-list-reference-doubles-delimiter" in self.faults and args.reference:
            pats = [args.reference + d + p for p in args.patterns]  # FAULT
        if "imap-list-inner-percent-crosses" in self.faults:  # FAULT: an inner % acts like *
            pats = [p[:-1].replace("%", "*") + p[-1:] for p in pats]
        regexes = [pattern_regex(p if "imap-list-inbox-case-sensitive" in self.faults else _canonical(p), d)
                   for p in pats]
        boxes = {m.name: m for m in self.store.mailboxes(self.user)}
        subscribed = set(self.store.subscriptions(self.user))
        names: list[str] = []
        childinfo: set[str] = set()
        if "SUBSCRIBED" in selection:
            candidates = sorted(subscribed)
            if "RECURSIVEMATCH" in selection:
                for name in boxes:
                    if name not in subscribed and any(s.startswith(name + d) for s in subscribed):
                        candidates.append(name)
                        childinfo.add(name)
        else:
            candidates = sorted(boxes)
        for name in sorted(set(candidates)):
            if any(r.match(name) for r in regexes):
                if "SPECIAL-USE" in selection and (name not in boxes or not boxes[name].special_use):
                    continue
                names.append(name)
        lines: list[bytes] = []
        parents = _parents(boxes, d)
        if "imap-list-children-only-on-request" in self.faults and "CHILDREN" not in returns:
            parents = set()  # FAULT: inferiors are looked up only for RETURN (CHILDREN)
        show_subscribed = "SUBSCRIBED" in selection or ("SUBSCRIBED" in returns
                                                        and "imap-list-return-subscribed-ignored" not in self.faults)
        if "IMAP4REV2" in self.enabled and "imap-list-rev2-subscribed-unmarked" in self.faults:
            show_subscribed = False  # FAULT
        for name in names:
            info = boxes.get(name)
            lines.append(self._list_line(info or name, name in parents,
                                         childinfo=name in childinfo and "imap-list-no-childinfo" not in self.faults,
                                         subscribed=show_subscribed and name in subscribed and name not in childinfo,
                                         return_children="CHILDREN" in returns))
            if "STATUS" in returns and info is not None and not info.noselect:
                lines.append(self._status_line(info, args.status_items))
        if "imap-list-status-after-all-lists" in self.faults:  # FAULT: STATUS lines batched at the end
            lines = [x for x in lines if b" STATUS " not in x[:10]] + [x for x in lines if b" STATUS " in x[:10]]
        return _result(lines=lines)

    def cmd_lsub(self: ImapSession, cmd: Command) -> object:
        args = cmd.args
        assert isinstance(args, ListArgs) and self.user is not None
        d = self.settings.delimiter
        quoted_d = quoted(d.encode()).decode()
        if args.patterns == ("",):
            return _result(lines=[untagged(f'LSUB (\\Noselect) {quoted_d} ""')])
        regex = pattern_regex(_canonical(args.reference + args.patterns[0]), d)
        if "imap-lsub-exact-name-unmatched" in self.faults and not set(args.reference + args.patterns[0]) & {"*", "%"}:
            return _result(lines=[])  # FAULT
        boxes = {m.name: m for m in self.store.mailboxes(self.user)}
        subscribed = self.store.subscriptions(self.user)
        found: dict[str, bool] = {}  # name -> flagged \Noselect
        for name in subscribed:
            if regex.match(name):
                info = boxes.get(name)
                found[name] = info is None or info.noselect
                if "imap-lsub-star-adds-parents" not in self.faults:
                    continue  # FAULT: otherwise the superiors below are added too
            # RFC 3501 §6.3.9 (RFC3501-6.3.9-02): a "%" that stops above a subscribed name gives
            # its unsubscribed superior instead, flagged \Noselect.
            for parent in superiors(name, d):
                if regex.match(parent):
                    found.setdefault(parent, True)
        lines = []
        for name in sorted(found):
            attrs = "(\\Noselect)" if found[name] else "()"
            lines.append(untagged(f"LSUB {attrs} {quoted_d} ".encode() + self._wire_name(name)))
        return _result(lines=lines)

    # -- STATUS --------------------------------------------------------------------------------------------------

    def cmd_status(self: ImapSession, cmd: Command) -> object:
        args = cmd.args
        assert isinstance(args, Status)
        if "HIGHESTMODSEQ" in args.items:
            self._need_condstore("HIGHESTMODSEQ needs CONDSTORE")
        if "DELETED-STORAGE" in args.items and "QUOTA=RES-STORAGE" not in self.caps:
            raise _failed("BAD", "DELETED-STORAGE needs QUOTA=RES-STORAGE (RFC 9208 section 4.1.4)")
        info = self._existing(args.mailbox)
        return _result(lines=[self._status_line(info, args.items)])

    def _status_line(self: ImapSession, info: MailboxInfo, items: tuple[str, ...]) -> bytes:
        rows = self.store.message_rows(info.id)
        faults = self.faults
        counts: dict[str, Callable[[], int]] = {  # only the items asked for are counted
            "MESSAGES": lambda: len(rows) + (1 if "imap-status-messages-off" in faults else 0),
            "RECENT": lambda: sum(r.recent for r in rows),
            "UIDNEXT": lambda: self._uidnext(info, [r.uid for r in rows]),
            "UIDVALIDITY": lambda: info.uidvalidity,
            "UNSEEN": lambda: sum("\\Seen" not in r.flags for r in rows),
            "DELETED": lambda: sum("\\Deleted" in r.flags and not ("imap-status-deleted-skips-seen" in faults
                                                                 and "\\Seen" in r.flags) for r in rows),
            "SIZE": lambda: sum(r.size for r in rows) // (1024 if "imap-status-size-in-kib" in faults else 1),
            # What EXPUNGE would free, in the STORAGE resource's KiB rounded up (RFC 9208 §4.1.4, §5.1).
            "DELETED-STORAGE": lambda: (sum(r.size for r in rows if "\\Deleted" in r.flags) + 1023) // 1024,
            "HIGHESTMODSEQ": lambda: info.highestmodseq,
        }
        values = {item: counts[item]() for item in items}
        if "imap-status-highestmodseq-stale" in faults:  # FAULT: the session's first answer, kept
            first = self._status_hms.setdefault(info.id, info.highestmodseq)
            if "HIGHESTMODSEQ" in values:
                values["HIGHESTMODSEQ"] = first
        body = " ".join(f"{item} {values[item]}" for item in items)
        return untagged(b"STATUS " + self._wire_name(info.name) + f" ({body})".encode())

    # -- APPEND ----------------------------------------------------------------------------------------------------

    def cmd_append(self: ImapSession, cmd: Command) -> object:
        args = cmd.args
        assert isinstance(args, Append) and self.user is not None
        if len(args.messages) > 1 and "MULTIAPPEND" not in self.caps:
            raise _failed("BAD", "MULTIAPPEND is not supported")
        try:
            info = self.store.mailbox_info(self.user, args.mailbox)
        except StoreError:
            code = "" if "imap-append-no-trycreate" in self.faults else "TRYCREATE"
            raise _failed("NO", f"no mailbox {args.mailbox}", code) from None
        if info.noselect:
            raise _failed("NO", f"{args.mailbox} is \\Noselect", "CANNOT")
        batch = []
        for m in args.messages:
            if not m.data:
                raise _failed("NO", "an empty message cannot be stored", "CANNOT")
            flags = tuple(f for f in m.flags if f != "\\Recent")
            batch.append((m.data, flags, m.date.timestamp() if m.date else None))
        # Appending to the mailbox this session has selected (read-write): it is told of the new
        # messages first, so it takes \Recent for them in the APPEND's own transaction (RFC 3501
        # §2.3.2) instead of claiming it in a second one.
        view = self.selected
        take_recent = (view is not None and view.info.id == info.id and not view.readonly
                       and "imap-recent-in-two-sessions" not in self.faults)
        try:
            uidvalidity, uids = self.store.append(self.user, args.mailbox, batch, recent_taken=take_recent)
        except QuotaExceeded as exc:
            code = "" if "imap-overquota-no-code" in self.faults else "OVERQUOTA"
            raise _failed("NO", str(exc), code) from None
        if take_recent:
            assert view is not None
            view.recent.update(uids)
        code = ""
        if "UIDPLUS" in self.caps:
            reported = [u + 1 for u in uids] if "imap-appenduid-wrong" in self.faults else uids  # FAULT
            code = f"APPENDUID {uidvalidity} {uid_set(reported)}"
            if "imap-appenduid-range" in self.faults and "IMAP4REV2" in self.enabled and len(uids) == 1:
                code = f"APPENDUID {uidvalidity} {uids[0]}:{uids[0]}"  # FAULT
        return _result(code=code, own_change=True)

    # -- NAMESPACE and QUOTA -------------------------------------------------------------------------------------------

    def cmd_namespace(self: ImapSession, cmd: Command) -> object:
        d = "." if "imap-namespace-wrong-delimiter" in self.faults else self.settings.delimiter
        if "IMAP4REV2" in self.enabled and "imap-namespace-rev2-no-personal" in self.faults:
            return _result(lines=[untagged("NAMESPACE NIL NIL NIL")])  # FAULT
        if "IMAP4REV2" not in self.enabled and "imap-namespace-personal-prefix" in self.faults:
            return _result(lines=[untagged(f'NAMESPACE (("Mail/" {quoted(d.encode()).decode()})) NIL NIL')])  # FAULT
        if "imap-namespace-prefix-raw-ampersand" in self.faults:  # FAULT: '&' not written as '&-'
            return _result(lines=[untagged(f'NAMESPACE (("" {quoted(d.encode()).decode()})) NIL (("R&D/" "/"))')])
        return _result(lines=[untagged(f'NAMESPACE (("" {quoted(d.encode()).decode()})) NIL NIL')])

    def _quota_line(self: ImapSession) -> bytes | None:
        assert self.user is not None
        kib, count = self.store.quota_usage(self.user)
        if "imap-quota-octets" in self.faults:
            kib *= 1024  # FAULT: octets where KiB are due
        parts = []
        if self.store.quota_storage_kib is not None and "QUOTA=RES-STORAGE" in self.caps:
            parts.append(f"STORAGE {kib} {self.store.quota_storage_kib}")
        if self.store.quota_messages is not None and "QUOTA=RES-MESSAGE" in self.caps:
            parts.append(f"MESSAGE {count} {self.store.quota_messages}")
        if parts and "imap-quota-unadvertised-resource" in self.faults:
            parts.append("MAILBOX 1 1000")  # FAULT: not advertised
        return untagged(f'QUOTA "" ({" ".join(parts)})') if parts else None

    def cmd_getquotaroot(self: ImapSession, cmd: Command) -> object:
        assert isinstance(cmd.args, MailboxArg)
        info = self._existing(cmd.args.mailbox, selectable=False)
        quota = self._quota_line()
        if quota is None:
            return _result(lines=[untagged(b"QUOTAROOT " + self._wire_name(info.name))])
        if "imap-quotaroot-names-root" in self.faults:
            return _result(lines=[untagged(b'QUOTAROOT "" ""'), quota])  # FAULT
        return _result(lines=[untagged(b"QUOTAROOT " + self._wire_name(info.name) + b' ""'), quota])

    def cmd_getquota(self: ImapSession, cmd: Command) -> object:
        assert isinstance(cmd.args, QuotaRoot)
        quota = self._quota_line()
        if cmd.args.root != "" or quota is None:
            raise _failed("NO", "no such quota root", "NONEXISTENT")
        if "imap-getquota-no-response" in self.faults:
            return _result()  # FAULT
        return _result(lines=[quota])

    def cmd_setquota(self: ImapSession, cmd: Command) -> object:
        if "imap-setquota-ok-without-quotaset" in self.faults:
            return _result()  # FAULT: accepted, yet QUOTASET is not advertised
        raise _failed("NO", "quota limits are set in the server configuration", "NOPERM")
