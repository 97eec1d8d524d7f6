"""A sans-I/O IMAP4 server session (RFC 3501 and RFC 9051, with the extensions in capabilities.py).

Like h11 (and pop3/session.py), the session does no network I/O. The driver feeds received bytes to
``receive_data()`` and gets a `Reply`: bytes to send and whether to start TLS or close. While the
client idles (RFC 2177) the driver calls ``idle_updates()`` whenever the store reports a change.

States (RFC 3501 §3): NOT_AUTHENTICATED -> AUTHENTICATED <-> SELECTED -> LOGOUT. One handler method
per command (``cmd_<name>``), aiosmtpd-style; commands of the authenticated state live in
mailbox_commands.py, those of the selected state in selected_commands.py. Each handler returns a
`Result`; the dispatcher adds the pending mailbox updates (mailbox_view.py) before the tagged line.

Fault injection: ``faults`` holds names from ``mailspec.faults``; each deliberate misbehaviour is
marked ``FAULT:`` where it happens.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from reference_server.accounts import AccountDirectory
from reference_server.imap.capabilities import CapabilitySet
from reference_server.imap.commands import (
    Authenticate,
    Command,
    Enable,
    Id,
    Login,
    NeedContinuation,
    ParseError,
    RawLine,
)
from reference_server.imap.encode import nstring
from reference_server.imap.mailbox_commands import MailboxCommands
from reference_server.imap.mailbox_view import SelectedMailbox, SyncOptions
from reference_server.imap.names import BadMailboxName, stored_args
from reference_server.imap.parser import CommandReader, ReaderLimits
from reference_server.imap.responses import CRLF, tagged, untagged
from reference_server.imap.selected_commands import SelectedCommands
from reference_server.store import Store, StoreError

__all__ = ["ImapSession", "ImapSettings", "Reply", "Result", "State"]


class State(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


_ANY = (State.NOT_AUTHENTICATED, State.AUTHENTICATED, State.SELECTED)
_AUTH = (State.AUTHENTICATED, State.SELECTED)
_STATES: dict[str, tuple[State, ...]] = {
    **dict.fromkeys(("CAPABILITY", "NOOP", "LOGOUT", "ID"), _ANY),
    **dict.fromkeys(("STARTTLS", "AUTHENTICATE", "LOGIN"), (State.NOT_AUTHENTICATED,)),
    **dict.fromkeys(("SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "LIST",
                     "LSUB", "STATUS", "APPEND", "NAMESPACE", "GETQUOTA", "GETQUOTAROOT", "SETQUOTA", "IDLE"),
                    _AUTH),
    "ENABLE": (State.AUTHENTICATED,),  # RFC 5161 §3.1
    **dict.fromkeys(("CHECK", "CLOSE", "EXPUNGE", "SEARCH", "SORT", "FETCH", "STORE", "COPY", "MOVE",
                     "UNSELECT"), (State.SELECTED,)),
}
# Commands that exist only with their extension switched on.
_NEEDS: dict[str, str] = {"IDLE": "IDLE", "NAMESPACE": "NAMESPACE", "UNSELECT": "UNSELECT", "MOVE": "MOVE",
                          "ENABLE": "ENABLE", "ID": "ID", "GETQUOTA": "QUOTA", "GETQUOTAROOT": "QUOTA",
                          "SETQUOTA": "QUOTA", "STARTTLS": "STARTTLS", "SORT": "SORT"}
# RFC 3501 §7.4.1: no EXPUNGE while these (without UID) are answered. SORT is not in that list (it
# came later), but its answer is sequence numbers just like SEARCH's, so the same reason holds.
_NO_EXPUNGE = frozenset({"FETCH", "STORE", "SEARCH", "SORT"})
# The capabilities ENABLE knows (RFC 5161 §3.1: others are ignored).
_ENABLEABLE = ("CONDSTORE", "QRESYNC", "IMAP4REV2")
# Case-sensitivity faults: commands spelled like this (not in upper case) are refused as unknown.
_REFUSED_SPELLINGS = {
    "imap-status-inbox-case-sensitive": rb'^\S+ (?i:status) "?(?i:inbox)(?<!INBOX)["\s]',
    "imap-enable-case-sensitive": rb"^\S+ (?i:enable) (?:[^\r\n]* )?(?i:condstore)(?<!CONDSTORE)",
    "imap-quota-keywords-case-sensitive": rb"^\S+ (?i:getquotaroot)(?<!GETQUOTAROOT) ",
    "imap-unselect-case-sensitive": rb"^\S+ (?i:unselect)(?<!UNSELECT)(?:\r?\n|$)",
    "imap-move-case-sensitive": rb"^\S+ (?:(?i:uid) )?(?i:move)(?<!MOVE) ",
    "imap-esearch-return-case-sensitive":
        rb"^\S+ (?:(?i:uid) )?(?i:search) (?i:return) \([^)]*"
        rb"(?:(?i:min)(?<!MIN)|(?i:max)(?<!MAX)|(?i:count)(?<!COUNT))",
    "imap-unchangedsince-case-sensitive":  # STORE's modifier only in upper case
        rb"^\S+ (?:(?i:uid) )?(?i:store) \S+ \((?i:unchangedsince)(?<!UNCHANGEDSINCE) ",
}
_REFUSED = {name: re.compile(p) for name, p in _REFUSED_SPELLINGS.items()}  # compiled once


@dataclass
class Reply:
    """What the driver must do after feeding data: send `data`, then maybe start TLS or close."""

    data: bytes = b""
    start_tls: bool = False
    close: bool = False


@dataclass
class Result:
    """A handler's answer: untagged lines, then the tagged status (unless `continuation` is set: the
    command is still running and that '+' line goes out instead)."""

    lines: list[bytes] = field(default_factory=list)
    status: str = "OK"
    text: str = "completed"
    code: str = ""
    continuation: bytes | None = None
    start_tls: bool = False
    close: bool = False
    sync: bool = True  # send pending mailbox updates before the tagged line
    own_change: bool = False  # the command itself added messages to the selected mailbox


class CommandFailed(Exception):
    """Raised by helpers to end a command with NO/BAD and a response code."""

    def __init__(self, status: str, text: str, code: str = "") -> None:
        super().__init__(text)
        self.status, self.text, self.code = status, text, code


@dataclass(frozen=True)
class ImapSettings:
    implementation: str = "mailspec-reference"
    version: str = "0.1.0"
    allow_plaintext_auth: bool = False
    tls_available: bool = True
    capabilities: CapabilitySet = field(default_factory=lambda: CapabilitySet.from_config((), "plus"))
    limits: ReaderLimits = field(default_factory=ReaderLimits)
    delimiter: str = "/"


class ImapSession(MailboxCommands, SelectedCommands):
    """One IMAP connection's protocol state. Call `greeting()` first."""

    def __init__(self, store: Store, directory: AccountDirectory, settings: ImapSettings | None = None,
                 faults: frozenset[str] = frozenset(), tls_active: bool = False) -> None:
        self.store = store
        self.directory = directory
        self.settings = settings or ImapSettings()
        self.faults = faults
        self.tls_active = tls_active
        self.caps = self.settings.capabilities
        self.state = State.NOT_AUTHENTICATED
        self.user: str | None = None
        self.selected: SelectedMailbox | None = None
        self.enabled: set[str] = set()
        limits = self.settings.limits
        self.reader = self._new_reader(ReaderLimits(
            limits.max_line, limits.max_literal, limits.max_append, limits.max_depth, limits.max_literals,
            self.caps.literal_mode))
        self._idle_tag: str | None = None
        self._sasl_tag: str | None = None
        # State only some faults use (FAULT hooks; see mailspec/faults.py).
        self._implicit_tls = False  # imap-implicit-tls-login-refused
        self._did_starttls = False  # imap-starttls-twice-ok
        self._outlook_quirks = False  # imap-id-outlook-drops-idle
        self._condstore_via_select = False  # imap-select-condstore-not-enabling
        self._last_tag: str | None = None  # imap-tag-reuse-refused
        self._selects = 0  # imap-uidvalidity-changes-on-reselect
        self._status_hms: dict[int, int] = {}  # imap-status-highestmodseq-stale

    def _new_reader(self, limits: ReaderLimits) -> CommandReader:
        reader = CommandReader(limits)
        reader.nonsync_continuation = "imap-literal-plus-ignored" in self.faults  # FAULT hook
        reader.refused_spellings = tuple(r for name, r in _REFUSED.items() if name in self.faults)  # FAULT hook
        return reader

    # -- driver interface -------------------------------------------------------------------------------

    def greeting(self) -> bytes:
        caps = " ".join(self.capability_atoms())
        self._implicit_tls = self.tls_active and "imap-implicit-tls-login-refused" in self.faults  # FAULT hook
        if "imap-implicit-tls-greeting-bye" in self.faults and self.tls_active:
            self.state = State.LOGOUT  # FAULT: the implicit-TLS listener's connection limit read as 0
            return untagged("BYE [UNAVAILABLE] too many connections, try again later")
        if "imap-greeting-caps-stale" in self.faults:
            caps = caps.replace(" STARTTLS", "")  # FAULT: greeting code omits STARTTLS
        return untagged(f"OK [CAPABILITY {caps}] {self.settings.implementation} IMAP4 server ready")

    @property
    def idling(self) -> bool:
        return self._idle_tag is not None

    def receive_data(self, data: bytes) -> Reply:
        """Feed received bytes; every complete command is answered in order."""
        reply = Reply()
        self.reader.receive_data(data)
        while self.state is not State.LOGOUT and not reply.start_tls:
            event = self.reader.next_event()
            if event is None:
                break
            if isinstance(event, NeedContinuation):
                if event.size == 0 and "imap-empty-literal-no-continuation" in self.faults:
                    continue  # FAULT: no '+' for a {0} literal
                if "imap-continuation-jumps-queue" in self.faults:
                    reply.data = b"+ Ready for literal data" + CRLF + reply.data  # FAULT: '+' before earlier answers
                    continue
                reply.data += b"+ Ready for literal data" + CRLF
            elif isinstance(event, ParseError):
                reply.data += self._parse_error(event)
            elif isinstance(event, RawLine):
                reply.data += self._raw_line(event.data)
            else:
                out = self.handle(event)
                reply.data += out.data
                reply.close = reply.close or out.close
                if out.start_tls:
                    # Anything pipelined after STARTTLS came in clear and must not be run (RFC 3501 §6.2.1).
                    self.reader = self._new_reader(self.reader.limits)
                    reply.start_tls = True
        if self.state is State.LOGOUT:
            reply.close = True
        return reply

    def idle_updates(self) -> bytes:
        """Pending mailbox changes for a client in IDLE (the driver calls this on store events)."""
        if self._idle_tag is None or self.selected is None or "imap-idle-no-push" in self.faults:
            return b""
        return b"".join(self._sync(allow_expunge=True))

    def tls_started(self) -> None:
        """The driver finished the TLS handshake after STARTTLS."""
        self.tls_active = True

    def timed_out(self) -> bytes:
        """Autologout (RFC 3501 §5.4): tell the client, then the driver closes."""
        self.state = State.LOGOUT
        return untagged("BYE Autologout; idle for too long")

    def command_timed_out(self) -> bytes:
        self.state = State.LOGOUT
        return untagged("BYE [LIMIT] command took too long to arrive")

    def connection_lost(self) -> None:
        self.state = State.LOGOUT
        self.selected = None

    # -- responses --------------------------------------------------------------------------------------

    def capability_atoms(self) -> list[str]:
        atoms = self.caps.capability_list(authenticated=self.state in _AUTH, tls_active=self.tls_active,
                                          plaintext_ok=self.settings.allow_plaintext_auth
                                          or "imap-login-before-tls" in self.faults)
        if "imap-capability-no-imap4rev1" in self.faults:
            atoms = [a for a in atoms if a != "IMAP4rev1"]  # FAULT
        if "imap-login-before-tls" in self.faults:
            atoms = [a for a in atoms if a != "LOGINDISABLED"]  # FAULT
        if self._outlook_quirks:
            atoms = [a for a in atoms if a != "IDLE"]  # FAULT imap-id-outlook-drops-idle
        if "imap-rev2-drops-imap4rev1" in self.faults and "IMAP4REV2" in self.enabled:
            atoms = [a for a in atoms if a != "IMAP4rev1"]  # FAULT: as if the session were rev2-only now
        if "imap-qresync-without-condstore" in self.faults:
            atoms = [a for a in atoms if a != "CONDSTORE"]  # FAULT: CONDSTORE works but is not listed
        if "imap-namespace-not-advertised" in self.faults:
            atoms = [a for a in atoms if a != "NAMESPACE"]  # FAULT: NAMESPACE works but is not listed
        if "imap-literal-minus-too-in-cleartext" in self.faults and not self.tls_active and "LITERAL+" in atoms:
            atoms.insert(atoms.index("LITERAL+") + 1, "LITERAL-")  # FAULT: both LITERAL+ and LITERAL-
        return atoms

    @property
    def utf8(self) -> bool:
        """Whether mailbox names go as UTF-8 rather than modified UTF-7 (RFC 9051 Appendix A)."""
        return "IMAP4REV2" in self.enabled

    @property
    def sync_options(self) -> SyncOptions:
        return SyncOptions(condstore="CONDSTORE" in self.enabled, qresync="QRESYNC" in self.enabled,
                           rev2="IMAP4REV2" in self.enabled, faults=self.faults)

    def _sync(self, allow_expunge: bool, own_change: bool = False) -> list[bytes]:
        if self.selected is None:
            return []
        info = self.store.mailbox_by_id(self.selected.info.id)
        if info is None:
            # Deleted by another session: the client cannot go on using it (RFC 5530 NONEXISTENT).
            self.selected = None
            self.state = State.LOGOUT
            return [untagged("BYE [NONEXISTENT] the selected mailbox was deleted")]
        opts = self.sync_options
        if self._condstore_via_select:  # FAULT imap-select-condstore-not-enabling
            opts = replace(opts, condstore=False)
        return self.selected.sync(self.store, allow_expunge, opts, own_change, info)

    def _parse_error(self, err: ParseError) -> bytes:
        status = err.status
        if "imap-trailing-text-ignored" in self.faults and err.message.startswith("unexpected text at octet"):
            return tagged(err.tag, "OK", "completed")  # FAULT: extra text after the arguments is not an error
        if "imap-bad-command-no" in self.faults:
            status = "NO"  # FAULT: syntax errors answered NO
        if err.tag == "*":
            return untagged(f"BAD {'[' + err.code + '] ' if err.code else ''}{err.message}")
        return tagged(err.tag, status, err.message, err.code)

    # -- dispatch ---------------------------------------------------------------------------------------

    def handle(self, cmd: Command) -> Reply:
        """Run one parsed command and return everything it answers."""
        if "imap-tag-reuse-refused" in self.faults:
            last, self._last_tag = self._last_tag, cmd.tag
            if cmd.tag == last:
                return Reply(tagged(cmd.tag, "BAD", "tag already in use"))  # FAULT
        if "imap-copy-without-selection-ok" in self.faults and cmd.name == "COPY" and self.state is State.AUTHENTICATED:
            return Reply(tagged(cmd.tag, "OK", "COPY completed"))  # FAULT: no state check for COPY
        if "imap-expunge-without-selection-ok" in self.faults and cmd.name == "EXPUNGE" and (
                self.state is State.AUTHENTICATED):
            return Reply(tagged(cmd.tag, "OK", "EXPUNGE completed"))  # FAULT: no state check for EXPUNGE
        if "imap-lsub-before-login-ok" in self.faults and cmd.name == "LSUB" and (
                self.state is State.NOT_AUTHENTICATED):
            return Reply(tagged(cmd.tag, "OK", "LSUB completed"))  # FAULT: no state check for LSUB
        needs = _NEEDS.get(cmd.name)
        if (needs and needs not in self.caps) or (cmd.uid and cmd.name == "EXPUNGE" and "UIDPLUS" not in self.caps):
            return Reply(self._parse_error(ParseError(cmd.tag, f"unknown command {cmd.name}")))
        if self.state not in _STATES.get(cmd.name, ()):
            if cmd.name == "ID" and "imap-id-not-in-nonauth" in self.faults:
                pass
            elif not (cmd.name == "ENABLE" and self.state is State.SELECTED):
                return Reply(tagged(cmd.tag, "BAD", f"{cmd.name} is not allowed in the {self.state.value} state"))
            else:
                return Reply(tagged(cmd.tag, "BAD", "ENABLE is only allowed before SELECT (RFC 5161 section 3.1)"))
        if cmd.name == "ID" and self.state is State.NOT_AUTHENTICATED and "imap-id-not-in-nonauth" in self.faults:
            return Reply(tagged(cmd.tag, "BAD", "ID is not allowed in the not authenticated state"))  # FAULT
        handler: Callable[[Command], Result] = getattr(self, f"cmd_{cmd.name.lower()}")
        condstore_before = "CONDSTORE" in self.enabled
        try:
            args = stored_args(cmd.args, self.utf8)
            result = handler(cmd if args is cmd.args else replace(cmd, args=args))
        except BadMailboxName as exc:
            result = Result(status="NO", text=str(exc), code="CANNOT")
        except CommandFailed as exc:
            result = Result(status=exc.status, text=exc.text, code=exc.code)
        except StoreError as exc:
            result = Result(status="NO", text=str(exc), code="NONEXISTENT")
        data = b"".join(result.lines)
        if result.continuation is not None:
            return Reply(data + result.continuation)
        if result.sync and self.state is State.SELECTED:
            allow = cmd.uid or cmd.name not in _NO_EXPUNGE
            data += b"".join(self._sync(allow_expunge=allow, own_change=result.own_change))
            if self.selected is not None and self.selected.gone and "imap-highestmodseq-past-pending-expunge" in (
                    self.faults) and "QRESYNC" in self.enabled and (info := self.store.mailbox_by_id(
                    self.selected.info.id)) is not None:  # FAULT: a value that already covers the expunge
                data += untagged(f"OK [HIGHESTMODSEQ {info.highestmodseq}] highest mod-sequence")
        if (not condstore_before and "CONDSTORE" in self.enabled and self.selected is not None
                and cmd.name not in ("SELECT", "EXAMINE")
                and "imap-enabling-command-no-highestmodseq" not in self.faults):  # FAULT
            # RFC 7162 §3.1 (RFC7162-3.1-08): the session's first CONDSTORE enabling command with a
            # mailbox selected reports HIGHESTMODSEQ (SELECT and EXAMINE send it themselves).
            data += untagged(f"OK [HIGHESTMODSEQ {self.selected.highestmodseq}] highest mod-sequence")
        if self.state is State.LOGOUT and not result.close:
            return Reply(data, close=True)
        data += tagged(cmd.tag, result.status, f"{cmd.name} {result.text}", result.code)
        return Reply(data, start_tls=result.start_tls, close=result.close)

    def _raw_line(self, line: bytes) -> bytes:
        if self._idle_tag is not None:
            tag, self._idle_tag = self._idle_tag, None
            self.reader.raw_mode = False
            if line.upper() != b"DONE":
                return tagged(tag, "BAD", "expected DONE to end IDLE")
            return b"".join(self._sync(allow_expunge=True)) + tagged(tag, "OK", "IDLE terminated")
        if self._sasl_tag is not None:
            tag, self._sasl_tag = self._sasl_tag, None
            self.reader.raw_mode = False
            if line == b"*":
                if "imap-auth-cancel-no" in self.faults:
                    return tagged(tag, "NO", "AUTHENTICATE cancelled")  # FAULT
                return tagged(tag, "BAD", "AUTHENTICATE cancelled")  # RFC 3501 §6.2.2
            import base64
            import binascii
            try:
                data = base64.b64decode(line, validate=True)
            except (binascii.Error, ValueError):
                return tagged(tag, "BAD", "invalid base64 in the SASL response")
            return self._finish_plain(tag, data)
        return b""

    # -- any state (RFC 3501 §6.1) -------------------------------------------------------------------------

    def cmd_capability(self, cmd: Command) -> Result:
        if "imap-capability-no-rev2-before-login" in self.faults and self.tls_active and (
                self.state is State.NOT_AUTHENTICATED):  # FAULT: IMAP4rev2 listed only after login
            return Result([untagged("CAPABILITY " + " ".join(a for a in self.capability_atoms() if a != "IMAP4rev2"))])
        return Result([untagged("CAPABILITY " + " ".join(self.capability_atoms()))])

    def cmd_noop(self, cmd: Command) -> Result:
        if "imap-noop-before-login-bad" in self.faults and self.state is State.NOT_AUTHENTICATED:
            return Result(status="BAD", text="log in first")  # FAULT
        return Result()

    def cmd_logout(self, cmd: Command) -> Result:
        bye = [untagged("BYE logging out")]
        if self.state is State.NOT_AUTHENTICATED and "imap-logout-no-bye-before-login" in self.faults:
            bye = []  # FAULT: LOGOUT before login sends no BYE
        self.state = State.LOGOUT
        self.selected = None
        return Result(bye, close=True, sync=False)

    def cmd_id(self, cmd: Command) -> Result:
        assert isinstance(cmd.args, Id)
        fields: tuple[tuple[str, str], ...] = (
            ("name", self.settings.implementation), ("version", self.settings.version), ("vendor", "mailspec"))
        if "imap-id-name-twice" in self.faults:
            fields = (*fields, ("name", "mailspec"))  # FAULT: the field name "name" sent twice
        if "imap-id-outlook-drops-idle" in self.faults and "Outlook" in str(cmd.args.params):
            self._outlook_quirks = True  # FAULT: the capabilities depend on the client's ID
        body = " ".join(f'{nstring(k).decode()} {nstring(v).decode()}' for k, v in fields)
        return Result([untagged(f"ID ({body})")])

    # -- not authenticated (RFC 3501 §6.2) -------------------------------------------------------------------

    @property
    def _plaintext_refused(self) -> bool:
        return not (self.tls_active or self.settings.allow_plaintext_auth or "imap-login-before-tls" in self.faults)

    def cmd_starttls(self, cmd: Command) -> Result:
        if self.tls_active and self._did_starttls:
            return Result(text="TLS is already active")  # FAULT imap-starttls-twice-ok
        if self.tls_active and "imap-starttls-no-on-implicit-tls" in self.faults:
            return Result(status="NO", text="TLS is already active")  # FAULT: NO instead of BAD
        if self.tls_active:
            return Result(status="BAD", text="TLS is already active")
        if not self.settings.tls_available:
            return Result(status="NO", text="TLS is not available", code="UNAVAILABLE")
        self._did_starttls = "imap-starttls-twice-ok" in self.faults  # FAULT hook
        return Result(text="begin TLS negotiation now", start_tls=True)

    def cmd_login(self, cmd: Command) -> Result:
        assert isinstance(cmd.args, Login)
        if self._plaintext_refused or self._implicit_tls:  # FAULT imap-implicit-tls-login-refused
            return Result(status="NO", text="use STARTTLS first (LOGINDISABLED)", code="PRIVACYREQUIRED")
        return self._login(cmd.args.user, cmd.args.password)

    def cmd_authenticate(self, cmd: Command) -> Result:
        assert isinstance(cmd.args, Authenticate)
        if cmd.args.mechanism != "PLAIN" or "AUTH=PLAIN" not in self.caps:
            return Result(status="NO", text="unsupported SASL mechanism", code="CANNOT")
        if self._plaintext_refused:
            return Result(status="NO", text="use STARTTLS first", code="PRIVACYREQUIRED")
        if cmd.args.initial is not None:
            if "SASL-IR" not in self.caps or "imap-sasl-ir-refused" in self.faults:
                return Result(status="BAD", text="SASL-IR is not enabled")
            data = self._finish_plain(cmd.tag, cmd.args.initial)
            return Result([data], continuation=b"")  # the tagged line is already in `data`
        self._sasl_tag = cmd.tag
        self.reader.raw_mode = True
        return Result(continuation=b"+ " + CRLF)

    def _finish_plain(self, tag: str, data: bytes) -> bytes:
        parts = data.split(b"\0")
        if len(parts) != 3:
            return tagged(tag, "BAD", "a PLAIN response is authzid NUL authcid NUL password")
        if "imap-plain-short-fields" in self.faults and max(len(p) for p in parts) > 64:
            return tagged(tag, "BAD", "PLAIN field too long")  # FAULT
        try:
            authz, user, password = (p.decode("utf-8") for p in parts)
        except UnicodeDecodeError:
            return tagged(tag, "BAD", "PLAIN credentials must be UTF-8")
        if authz and authz != user:
            return tagged(tag, "NO", "cannot act as another user", "AUTHORIZATIONFAILED")
        result = self._login(user, password)
        return tagged(tag, result.status, f"AUTHENTICATE {result.text}", result.code)

    def _login(self, user: str, password: str) -> Result:
        check = self.directory.check_password(user, password)
        acc = check.account
        if acc is None:
            return Result(status="NO", text="invalid user name or password", code="AUTHENTICATIONFAILED")
        if acc.role != "user":
            return Result(status="NO", text=f"{acc.role} accounts may not use IMAP", code="CONTACTADMIN")
        self.user = acc.user
        self.state = State.AUTHENTICATED
        return Result(text="logged in", code="CAPABILITY " + " ".join(self.capability_atoms()))

    # -- authenticated, session-wide (RFC 5161, RFC 2177) -------------------------------------------------------

    def cmd_enable(self, cmd: Command) -> Result:
        assert isinstance(cmd.args, Enable)
        newly = []
        for cap in cmd.args.capabilities:
            if "imap-enable-echoes-unknown" in self.faults and cap.startswith("X-"):
                newly.append(cap)  # FAULT: unknown names reported as enabled
            if cap not in _ENABLEABLE or cap in self.enabled:
                continue  # unknown ones are ignored (RFC 5161 §3.1)
            if cap == "IMAP4REV2" and "IMAP4rev2" not in self.caps:
                continue
            if cap in ("CONDSTORE", "QRESYNC") and cap not in self.caps:
                continue
            self.enabled.add(cap)
            newly.append("IMAP4rev2" if cap == "IMAP4REV2" else cap)
            if cap == "QRESYNC":
                self.enabled.add("CONDSTORE")  # RFC 7162 §3.2.3: QRESYNC implies CONDSTORE
        if "imap-enabled-last-only" in self.faults and len(cmd.args.capabilities) > 1:
            newly = [cmd.args.capabilities[-1]]  # FAULT: only the last capability named is confirmed
        return Result([untagged("ENABLED" + "".join(" " + c for c in newly))])

    def cmd_idle(self, cmd: Command) -> Result:
        self._idle_tag = cmd.tag
        self.reader.raw_mode = True
        pending = b"".join(self._sync(allow_expunge=True))
        return Result([pending], continuation=b"+ idling" + CRLF)
