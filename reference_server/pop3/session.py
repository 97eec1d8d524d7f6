"""A sans-I/O POP3 server session (RFC 1939, 2449 CAPA, 2595 STLS, 5034 AUTH, 3206 codes).

Like h11, the session does no network I/O: the driver feeds it received bytes with
``receive_data()`` and gets back a ``Reply`` (bytes to send, and whether to start TLS or close).
The session frames command lines itself, so line-length limits, pipelining and garbage input are
handled (and testable) here. It reads and changes the store and the account directory directly:
both are synchronous and fast.

States (RFC 1939 §3): AUTHORIZATION -> TRANSACTION -> UPDATE (after QUIT) -> CLOSED.
Deletions happen only in UPDATE, in one store transaction (RFC1939-6-01); a dropped connection
(``connection_lost()``) releases the maildrop lock and deletes nothing.

Fault injection: ``faults`` is a set of names from ``mailspec.faults``; each branch is marked with
the fault name so the deliberate misbehaviour is easy to find.
"""

from __future__ import annotations

import base64
import binascii
import enum
import itertools
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reference_server.accounts import AccountDirectory, AuthResult
from reference_server.config import AccountConfig
from reference_server.store import Store, StoreError

CRLF = b"\r\n"
# Longest SASL continuation line accepted; RFC 5034 lets these exceed the command limit.
MAX_SASL_LINE = 8192
_greeting_counter = itertools.count(1)
_DIGITS = re.compile(r"[0-9]{1,9}")


class State(enum.Enum):
    AUTHORIZATION = "AUTHORIZATION"
    TRANSACTION = "TRANSACTION"
    UPDATE = "UPDATE"
    CLOSED = "CLOSED"


@dataclass
class Reply:
    """What the driver must do after feeding data: send `data`, then maybe start TLS or close."""

    data: bytes = b""
    start_tls: bool = False
    close: bool = False


@dataclass(frozen=True)
class SessionSettings:
    implementation: str = "mailspec-reference"
    allow_plaintext_auth: bool = False
    tls_available: bool = True
    max_line: int = 255
    login_delay: int = 0
    expire: str = "NEVER"
    apop: bool = True
    hostname: str = "localhost"


@dataclass
class _Message:
    uid: int
    size: int
    deleted: bool = False


class _ArgError(Exception):
    """A command argument is malformed; the message is the -ERR text."""


@dataclass
class _SaslPending:
    mechanism: str


@dataclass
class Pop3Session:
    """One POP3 connection's protocol state. Call `greeting()` first."""

    store: Store
    directory: AccountDirectory
    settings: SessionSettings = field(default_factory=SessionSettings)
    faults: frozenset[str] = frozenset()
    tls_active: bool = False

    state: State = field(default=State.AUTHORIZATION, init=False)
    user: str | None = field(default=None, init=False)  # logged-in user (TRANSACTION)
    _pending_user: str | None = field(default=None, init=False)
    _timestamp: str = field(default="", init=False)
    _messages: list[_Message] = field(default_factory=list, init=False)
    _uidvalidity: int = field(default=0, init=False)
    _uid_salt: str = field(default="", init=False)
    _buffer: bytearray = field(default_factory=bytearray, init=False)
    _discarding: bool = field(default=False, init=False)
    _sasl: _SaslPending | None = field(default=None, init=False)
    _locked: str | None = field(default=None, init=False)
    _sasl_login: bool = field(default=False, init=False)

    # -- driver interface ---------------------------------------------------------------------------

    def greeting(self) -> bytes:
        """The server greeting, with a fresh APOP timestamp (RFC 1939 §7) when APOP is on."""
        if "pop3-apop-fixed-timestamp" in self.faults:
            self._timestamp = f"<1.1.1@{self.settings.hostname}>"
        else:
            self._timestamp = (f"<{os.getpid()}.{next(_greeting_counter)}.{time.time_ns()}"
                               f"@{self.settings.hostname}>")
        if "pop3-timestamp-control-char" in self.faults:
            self._timestamp = self._timestamp.replace(".", "\x7f", 1)
        text = f"{self.settings.implementation} POP3 server ready"
        if self.settings.apop:
            text += f" {self._timestamp}"
        if "pop3-greeting-not-ok" in self.faults:
            return text.encode() + CRLF
        return b"+OK " + text.encode() + CRLF

    @property
    def max_line(self) -> int:
        if self._sasl is not None:
            return MAX_SASL_LINE
        if "pop3-short-command-limit" in self.faults:
            return min(self.settings.max_line, 100)
        return self.settings.max_line

    def receive_data(self, data: bytes) -> Reply:
        """Feed received bytes; complete lines are answered in order (PIPELINING, RFC 2449 §6.6)."""
        reply = Reply()
        self._buffer += data
        answered = 0
        while self.state is not State.CLOSED and not reply.start_tls:
            nl = self._buffer.find(b"\n")
            if self._discarding:
                # The rest of an over-long line is dropped silently: its -ERR was already sent.
                if nl < 0:
                    self._buffer.clear()
                    break
                del self._buffer[: nl + 1]
                self._discarding = False
                continue
            if nl < 0:
                if len(self._buffer) >= self.max_line:
                    self._buffer.clear()
                    self._discarding = True
                    reply.data += self._err(f"line too long (limit {self.max_line} octets)")
                break
            raw = bytes(self._buffer[: nl + 1])
            del self._buffer[: nl + 1]
            if "pop3-pipelining-drops" in self.faults and answered:
                self._buffer.clear()
                break
            answered += 1
            if len(raw) > self.max_line:
                reply.data += self._err(f"line too long (limit {self.max_line} octets)")
                continue
            out = self.handle_line(raw.rstrip(b"\n").rstrip(b"\r"))
            reply.data += out.data
            reply.close = reply.close or out.close
            if out.start_tls:
                # Anything pipelined after STLS was sent in clear and must not be trusted.
                self._buffer.clear()
                reply.start_tls = True
        if self.state is State.CLOSED:
            reply.close = True
        return reply

    def tls_started(self) -> None:
        """The driver finished the TLS handshake after STLS; the session starts afresh (RFC 2595 §4)."""
        self.tls_active = True
        self._pending_user = None

    def connection_lost(self) -> None:
        """The connection dropped (or timed out): no UPDATE state, so nothing is deleted."""
        if self.state is State.TRANSACTION and "imap-pop3-drop-expunges-deleted" in self.faults:
            doomed = self._doomed()
            if doomed:
                self.store.expunge(self.user or "", doomed)  # FAULT: deletes without QUIT
        self._release()
        self.state = State.CLOSED

    def _doomed(self) -> list[int]:
        """The UIDs of the messages marked deleted in this session."""
        return [m.uid for m in self._messages if m.deleted]

    def timed_out(self) -> Reply:
        """Autologout (RFC 1939 §3): tell the client, then close without entering UPDATE."""
        self.connection_lost()
        return Reply(self._err("autologout: idle for too long"), close=True)

    # -- responses ----------------------------------------------------------------------------------

    def _ok(self, text: str = "") -> bytes:
        status = b"+OK"
        if "pop3-status-lowercase" in self.faults and self.state is State.TRANSACTION:
            status = b"+ok"
        return status + (b" " + text.encode("utf-8") if text else b"") + CRLF

    @staticmethod
    def _err(text: str) -> bytes:
        return b"-ERR " + text.encode("utf-8") + CRLF

    def _multiline(self, first: bytes, body: bytes) -> bytes:
        """`first` status line, then `body` (CRLF text) byte-stuffed and terminated (RFC 1939 §3)."""
        if body and not body.endswith(CRLF):
            body += CRLF
        if "pop3-no-byte-stuffing" not in self.faults:
            body = re.sub(rb"(?m)^\.", b"..", body)
        end = b"." + CRLF
        if "pop3-multiline-bare-lf" in self.faults:
            body, end = body.replace(CRLF, b"\n"), b".\n"
        return first + body + end

    # -- dispatch -----------------------------------------------------------------------------------

    def handle_line(self, line: bytes) -> Reply:
        """Answer one command line (without its line end)."""
        if self._sasl is not None:
            return self._sasl_continue(line)
        if b"\0" in line:
            return Reply(self._err("NUL octets are not allowed in commands"))
        keyword, _, rest = line.partition(b" ")
        try:
            name = keyword.decode("ascii").upper()
        except UnicodeDecodeError:
            return Reply(self._err("command keyword must be ASCII"))
        if not name.isalpha() or not 3 <= len(name) <= 4:
            return Reply(self._err("unknown command" if name else "empty command line"))
        handler: Callable[[bytes], Reply | bytes] | None = getattr(self, f"_cmd_{name.lower()}", None)
        if handler is None:
            if "pop3-unknown-command-ok" in self.faults:
                return Reply(self._ok())
            return Reply(self._err(f"unknown command {name}"))
        allowed = _STATES.get(name, ())
        if self.state not in allowed:
            if name == "STAT" and "pop3-stat-in-authorization" in self.faults:
                return Reply(self._ok("0 0"))
            if name == "STLS" and "pop3-stls-after-login" in self.faults and not self.tls_active:
                return Reply(self._ok("Begin TLS negotiation"), start_tls=True)
            if name == "AUTH" and "pop3-auth-twice-ok" in self.faults:
                return Reply(self._ok("already authenticated"))
            return Reply(self._err(f"{name} is not allowed in the {self.state.value} state"))
        try:
            out = handler(rest if keyword != line else b"")
        except _ArgError as exc:
            return Reply(self._err(str(exc)))
        except StoreError as exc:
            return Reply(self._err(f"[SYS/PERM] {exc}"))
        return out if isinstance(out, Reply) else Reply(out)

    # -- argument helpers ---------------------------------------------------------------------------

    @staticmethod
    def _args(rest: bytes, low: int, high: int) -> list[str]:
        try:
            text = rest.decode("ascii")
        except UnicodeDecodeError as exc:
            raise _ArgError("arguments must be ASCII") from exc
        args = text.split(" ") if text else []
        if any(a == "" for a in args):
            raise _ArgError("arguments are separated by single spaces")
        if not low <= len(args) <= high:
            want = str(low) if low == high else f"{low} to {high}"
            raise _ArgError(f"expected {want} argument(s), got {len(args)}")
        return args

    def _msg(self, arg: str, allow_deleted: bool = False) -> tuple[int, _Message]:
        if not _DIGITS.fullmatch(arg):
            raise _ArgError(f"invalid message number {arg!r}")
        n = int(arg)
        if not 1 <= n <= len(self._messages):
            raise _ArgError(f"no such message {n}")
        msg = self._messages[n - 1]
        if msg.deleted and not allow_deleted:
            raise _ArgError(f"message {n} is marked as deleted")
        return n, msg

    def _live(self) -> list[tuple[int, _Message]]:
        return [(i, m) for i, m in enumerate(self._messages, 1) if not m.deleted]

    def _size(self, msg: _Message) -> int:
        if "pop3-list-size-lf-only" in self.faults:
            return msg.size - self.store.fetch_raw(self.user or "", msg.uid).count(CRLF)
        return msg.size

    def _unique_id(self, msg: _Message) -> str:
        uid = f"{self._uidvalidity:08x}{msg.uid:08x}"
        if "pop3-uidl-unstable" in self.faults:
            uid = self._uid_salt + uid
        if "pop3-uidl-bad-chars" in self.faults:
            uid += "\x7f"
        if "imap-pop3-uidl-has-flags" in self.faults:  # FAULT: a Maildir-style id with the flags in it
            flags = self.store.flags(self.user or "", msg.uid)
            uid += ":2," + "".join(sorted(f[1].upper() for f in flags if f.startswith("\\")))
        return uid

    # -- AUTHORIZATION ------------------------------------------------------------------------------

    def _plaintext_ok(self) -> bool:
        return self.tls_active or self.settings.allow_plaintext_auth

    def _cmd_user(self, rest: bytes) -> bytes:
        if not self._plaintext_ok():
            return self._err("[AUTH] plaintext authentication is not allowed without TLS; use STLS")
        (name,) = self._args(rest, 1, 1)
        self._pending_user = name
        return self._ok(f"send the password for {name}")

    def _cmd_pass(self, rest: bytes) -> bytes:
        if not self._plaintext_ok():
            return self._err("[AUTH] plaintext authentication is not allowed without TLS; use STLS")
        # The password is the whole rest of the line: it may contain spaces (RFC 1939 §7).
        password = rest.decode("utf-8", "surrogateescape")
        user, self._pending_user = self._pending_user, None
        if user is None:
            if "pop3-pass-without-user" in self.faults:
                acc = self.directory.first_user_account(password)
                return self._login(AuthResult(acc) if acc else AuthResult(None, "no accounts"))
            return self._err("USER must come before PASS")
        if not password:
            return self._err("PASS needs a password")
        if "pop3-unknown-user-code-unclosed" in self.faults and self.directory.get(user) is None:
            return self._err("[AUTH invalid user name or password")  # FAULT: the code's ']' is missing
        return self._login(self.directory.check_password(user, password))

    def _cmd_apop(self, rest: bytes) -> bytes:
        if not self.settings.apop:
            return self._err("APOP is not supported")
        name, digest = self._args(rest, 2, 2)
        self._pending_user = None
        if not re.fullmatch(r"[0-9a-fA-F]{32}", digest):
            return self._err("APOP digest must be 32 hexadecimal digits")
        return self._login(self.directory.check_apop(name, self._timestamp, digest))

    def _mechanisms(self) -> list[str]:
        return ["PLAIN"] if self._plaintext_ok() else []

    def _cmd_auth(self, rest: bytes) -> Reply | bytes:
        args = self._args(rest, 0, 2)
        if not args:
            # RFC 5034 §4 lets a server list its mechanisms for a bare AUTH (as older clients expect).
            return self._multiline(self._ok("supported SASL mechanisms"),
                                   b"".join(m.encode() + CRLF for m in self._mechanisms()))
        mech = args[0] if "pop3-auth-mechanism-case-sensitive" in self.faults else args[0].upper()
        if mech != "PLAIN":
            return self._err(f"unsupported SASL mechanism {args[0]}")
        if not self._plaintext_ok():
            return self._err("[AUTH] PLAIN is not allowed without TLS; use STLS")
        self._pending_user = None
        if len(args) == 2:
            return self._sasl_response("PLAIN", args[1].encode("ascii"))
        self._sasl = _SaslPending(mech)
        return b"+ " + CRLF

    def _sasl_continue(self, line: bytes) -> Reply:
        pending = self._sasl
        assert pending is not None
        if line == b"*":
            if "pop3-auth-star-ignored" in self.faults:
                return Reply(b"+ " + CRLF)
            self._sasl = None
            return Reply(self._err("authentication cancelled"))
        self._sasl = None
        return Reply(self._sasl_response(pending.mechanism, line))

    def _sasl_response(self, mechanism: str, encoded: bytes) -> bytes:
        if encoded == b"=":
            decoded = b""
        else:
            strict = "pop3-auth-bad-base64-accepted" not in self.faults
            try:
                decoded = base64.b64decode(encoded, validate=strict)
            except (binascii.Error, ValueError):
                return self._err("invalid base64 in the SASL response")
        parts = decoded.split(b"\0")
        if len(parts) != 3:
            return self._err("[AUTH] malformed PLAIN message")
        try:
            authzid, authcid, password = (p.decode("utf-8") for p in parts)
        except UnicodeDecodeError:
            return self._err("[AUTH] PLAIN message is not UTF-8")
        if authzid and authzid != authcid:
            return self._err("[AUTH] acting as another user is not permitted")
        self._sasl_login = True
        return self._login(self.directory.check_password(authcid, password))

    def _login(self, result: AuthResult) -> bytes:
        """Common end of USER/PASS, APOP and AUTH: role check, lock, open the maildrop."""
        acc: AccountConfig | None = result.account
        if acc is None:
            return self._err(f"[AUTH] {result.reason}")
        if acc.role != "user":
            return self._err(f"[AUTH] {acc.role} accounts may not use POP3")
        if "pop3-no-maildrop-lock" not in self.faults:
            if not self.directory.try_lock(acc.user):
                code = "" if "pop3-in-use-no-code" in self.faults else "[IN-USE] "
                return self._err(f"{code}maildrop is locked by another session")
            self._locked = acc.user
        # Checked after the lock so a refused (IN-USE) attempt does not count as a login.
        wait = self.directory.seconds_until_login_allowed(acc.user, self.settings.login_delay)
        if wait > 0:
            self._release()
            return self._err(f"[LOGIN-DELAY] wait {wait:.0f} more seconds before logging in again")
        try:
            listing = self.store.list_messages(acc.user)
            self._uidvalidity = self.store.uidvalidity(acc.user)
        except (StoreError, OSError) as exc:
            self._release()  # a login that fails must not leave the maildrop locked
            return self._err(f"[SYS/TEMP] cannot open the maildrop: {exc}")
        self._messages = [_Message(uid, size) for uid, size in listing]
        self._uid_salt = secrets.token_hex(4)
        self.user = acc.user
        self.state = State.TRANSACTION
        total = sum(m.size for m in self._messages)
        return self._ok(f"maildrop has {len(self._messages)} messages ({total} octets)")

    def _cmd_stls(self, rest: bytes) -> Reply | bytes:
        self._args(rest, 0, 0)
        if self.tls_active:
            return self._err("TLS is already active")
        if not self.settings.tls_available:
            return self._err("TLS is not available")
        self._pending_user = None
        return Reply(self._ok("Begin TLS negotiation"), start_tls=True)

    # -- any state ----------------------------------------------------------------------------------

    def _cmd_capa(self, rest: bytes) -> bytes:
        self._args(rest, 0, 0)
        caps = ["TOP"]
        plain = self._plaintext_ok()
        if plain:
            caps += ["USER"]
        sasl = plain or "pop3-sasl-plain-offered-without-tls" in self.faults
        if sasl and not (self._sasl_login and "pop3-sasl-dropped-after-auth" in self.faults):
            caps += ["SASL PLAIN"]
        caps += ["RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if "pop3-capa-missing-uidl" not in self.faults:
            caps.append("UIDL")
        before_login = self.state is State.AUTHORIZATION
        if not (before_login and "pop3-expire-only-after-login" in self.faults):
            caps.append(f"EXPIRE {self.settings.expire}")
        if not (before_login and "pop3-login-delay-only-after-login" in self.faults):
            caps.append(f"LOGIN-DELAY {self.settings.login_delay}")
        caps.append(f"IMPLEMENTATION {self.settings.implementation}")
        if self.settings.tls_available and not self.tls_active and self.state is State.AUTHORIZATION:
            caps.append("STLS")
        return self._multiline(self._ok("capability list follows"),
                               b"".join(c.encode() + CRLF for c in caps))

    def _cmd_quit(self, rest: bytes) -> Reply:
        self._args(rest, 0, 0)
        if self.state is State.AUTHORIZATION:
            self.connection_lost()
            return Reply(self._ok("bye"), close=True)
        self.state = State.UPDATE
        doomed = self._doomed()
        try:
            if doomed and "pop3-quit-keeps-deleted" not in self.faults:
                self.store.expunge(self.user or "", doomed)
        except (StoreError, OSError) as exc:
            self.connection_lost()
            return Reply(self._err(f"[SYS/TEMP] deleted messages were not removed: {exc}"), close=True)
        left = len(self._messages) - len(doomed)
        self.connection_lost()
        return Reply(self._ok(f"signing off ({left} messages left)"), close=True)

    def _release(self) -> None:
        if self._locked is not None:
            self.directory.unlock(self._locked)
            self._locked = None

    # -- TRANSACTION --------------------------------------------------------------------------------

    def _cmd_noop(self, rest: bytes) -> bytes:
        self._args(rest, 0, 0)
        return self._ok()

    def _cmd_stat(self, rest: bytes) -> bytes:
        self._args(rest, 0, 0)
        live = self._live()
        return self._ok(f"{len(live)} {sum(self._size(m) for _, m in live)}")

    def _listing(self, rest: bytes, value: Callable[[_Message], str]) -> bytes:
        args = self._args(rest, 0, 1)
        if args:
            n, msg = self._msg(args[0])
            return self._ok(f"{n} {value(msg)}")
        shown = self._live()
        if "pop3-deleted-still-listed" in self.faults:
            shown = list(enumerate(self._messages, 1))
        body = b"".join(f"{n} {value(m)}".encode() + CRLF for n, m in shown)
        return self._multiline(self._ok(f"{len(shown)} messages"), body)

    def _cmd_list(self, rest: bytes) -> bytes:
        return self._listing(rest, lambda m: str(self._size(m)))

    def _cmd_uidl(self, rest: bytes) -> bytes:
        return self._listing(rest, self._unique_id)

    def _cmd_retr(self, rest: bytes) -> bytes:
        (arg,) = self._args(rest, 1, 1)
        _, msg = self._msg(arg, allow_deleted="pop3-retr-deleted-allowed" in self.faults)
        raw = self.store.fetch_raw(self.user or "", msg.uid)
        return self._multiline(self._ok(f"{msg.size} octets"), raw)

    def _cmd_top(self, rest: bytes) -> bytes:
        arg, count = self._args(rest, 2, 2)
        _, msg = self._msg(arg)
        if not _DIGITS.fullmatch(count):
            raise _ArgError(f"line count must be a non-negative number, not {count!r}")
        raw = self.store.fetch_raw(self.user or "", msg.uid)
        end = raw.find(b"\r\n\r\n")
        if end < 0:
            return self._multiline(self._ok("message has no body"), raw)
        header, body = raw[: end + 4], raw[end + 4 :]
        lines = body.splitlines(keepends=True)
        if "pop3-top-ignores-lines" not in self.faults:
            lines = lines[: int(count)]
        return self._multiline(self._ok("top of message follows"), header + b"".join(lines))

    def _cmd_dele(self, rest: bytes) -> bytes:
        (arg,) = self._args(rest, 1, 1)
        n, msg = self._msg(arg, allow_deleted="pop3-dele-twice-ok" in self.faults)
        msg.deleted = True
        if "pop3-dele-immediate" in self.faults:
            self.store.expunge(self.user or "", [msg.uid])
        return self._ok(f"message {n} marked as deleted")

    def _cmd_rset(self, rest: bytes) -> bytes:
        self._args(rest, 0, 0)
        if "pop3-rset-ignored" not in self.faults:
            for m in self._messages:
                m.deleted = False
        live = self._live()
        return self._ok(f"maildrop has {len(live)} messages ({sum(m.size for _, m in live)} octets)")


_AUTH, _TRANS = (State.AUTHORIZATION,), (State.TRANSACTION,)
_STATES: dict[str, tuple[State, ...]] = {
    "USER": _AUTH, "PASS": _AUTH, "APOP": _AUTH, "AUTH": _AUTH, "STLS": _AUTH,
    "CAPA": _AUTH + _TRANS, "QUIT": _AUTH + _TRANS,
    "NOOP": _TRANS, "STAT": _TRANS, "LIST": _TRANS, "UIDL": _TRANS, "RETR": _TRANS,
    "TOP": _TRANS, "DELE": _TRANS, "RSET": _TRANS,
}
