"""Typed arguments of IMAP commands, as the command parser (parser.py) produces them.

Each command the server knows gets one frozen dataclass; commands without arguments use `NoArgs`.
Strings are decoded: mailbox names stay in their wire form (modified UTF-7, RFC 3501 §5.1.3, or
UTF-8 after ENABLE IMAP4rev2; names.py turns them into the stored form) but "INBOX" is normalised
to upper case in any spelling (RFC 3501 §5.1).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from reference_server.imap.model import Partial, SearchKey, Section, SequenceSet, SortCriterion


@dataclass(frozen=True)
class NoArgs:
    pass


@dataclass(frozen=True)
class Authenticate:
    mechanism: str  # upper-cased
    initial: bytes | None = None  # SASL-IR (RFC 4959): decoded initial response; b"" for "="


@dataclass(frozen=True)
class Login:
    user: str
    password: str


@dataclass(frozen=True)
class Qresync:
    """SELECT/EXAMINE (QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]])) (RFC 7162 §3.2.5)."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    seq_match: tuple[SequenceSet, SequenceSet] | None = None


@dataclass(frozen=True)
class Select:
    mailbox: str
    condstore: bool = False
    qresync: Qresync | None = None


@dataclass(frozen=True)
class MailboxArg:
    """DELETE, SUBSCRIBE, UNSUBSCRIBE, GETQUOTAROOT: one mailbox name."""

    mailbox: str


@dataclass(frozen=True)
class Create:
    mailbox: str
    special_use: tuple[str, ...] = ()  # CREATE-SPECIAL-USE (RFC 6154 §3)


@dataclass(frozen=True)
class Rename:
    old: str
    new: str


@dataclass(frozen=True)
class ListArgs:
    """LIST / LSUB with LIST-EXTENDED (RFC 5258) and LIST-STATUS (RFC 5819) options, upper-cased."""

    reference: str
    patterns: tuple[str, ...]
    selection: tuple[str, ...] = ()
    return_opts: tuple[str, ...] = ()
    status_items: tuple[str, ...] = ()
    extended: bool = False  # the client used LIST-EXTENDED syntax (options or a pattern list)


@dataclass(frozen=True)
class Status:
    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class AppendMessage:
    flags: tuple[str, ...]
    date: dt.datetime | None
    data: bytes
    binary: bool = False  # sent as literal8 (~{n})


@dataclass(frozen=True)
class Append:
    mailbox: str
    messages: tuple[AppendMessage, ...]  # MULTIAPPEND (RFC 3502) gives more than one


@dataclass(frozen=True)
class Search:
    key: SearchKey  # an AND of the top-level keys
    charset: str | None = None  # upper-cased as sent; None when absent
    return_opts: tuple[str, ...] | None = None  # ESEARCH RETURN (...) (RFC 4731); None when absent


@dataclass(frozen=True)
class Sort:
    """SORT (RFC 5256 §3): the criteria in order, the charset (mandatory there) and the search keys."""

    criteria: tuple[SortCriterion, ...]
    charset: str  # upper-cased as sent
    key: SearchKey  # an AND of the top-level keys, as for Search


@dataclass(frozen=True)
class FetchItem:
    """One FETCH data item. `name` is upper-case: FLAGS, UID, BODY, BODY.PEEK, BINARY, BINARY.PEEK,
    BINARY.SIZE, RFC822, RFC822.HEADER, RFC822.TEXT, RFC822.SIZE, ENVELOPE, BODYSTRUCTURE,
    INTERNALDATE, MODSEQ. BODY without a section (`section` None) is the non-extensible structure."""

    name: str
    section: Section | None = None
    partial: Partial | None = None


@dataclass(frozen=True)
class Fetch:
    sequence: SequenceSet
    items: tuple[FetchItem, ...]
    changedsince: int | None = None
    vanished: bool = False


@dataclass(frozen=True)
class StoreArgs:
    sequence: SequenceSet
    mode: Literal["", "+", "-"]  # FLAGS, +FLAGS, -FLAGS
    silent: bool
    flags: tuple[str, ...]
    unchangedsince: int | None = None


@dataclass(frozen=True)
class CopyArgs:
    """COPY and MOVE."""

    sequence: SequenceSet
    mailbox: str


@dataclass(frozen=True)
class UidExpunge:
    sequence: SequenceSet


@dataclass(frozen=True)
class Enable:
    capabilities: tuple[str, ...]  # upper-cased


@dataclass(frozen=True)
class Id:
    params: tuple[tuple[str, str | None], ...] | None  # None for ID NIL


@dataclass(frozen=True)
class QuotaRoot:
    """GETQUOTA root."""

    root: str


@dataclass(frozen=True)
class SetQuota:
    root: str
    limits: tuple[tuple[str, int], ...]


CommandArgs = (NoArgs | Authenticate | Login | Select | MailboxArg | Create | Rename | ListArgs | Status
               | Append | Search | Sort | Fetch | StoreArgs | CopyArgs | UidExpunge | Enable | Id | QuotaRoot
               | SetQuota)


@dataclass(frozen=True)
class Command:
    """A complete command: tag, upper-case name (without the UID prefix), and its arguments."""

    tag: str
    name: str
    uid: bool = False
    args: CommandArgs = field(default_factory=NoArgs)


@dataclass(frozen=True)
class NeedContinuation:
    """A synchronising literal was announced: the server must send a '+' line before it arrives."""

    tag: str
    size: int


@dataclass(frozen=True)
class ParseError:
    """The command cannot be parsed or breaks a limit: answer `tag BAD [code] message`.

    `tag` is "*" when no valid tag was read. `code` is an RFC 5530 / RFC 4469 response code
    (TOOBIG, LIMIT, ...) or "". `status` is "BAD" except where a limit is a NO (RFC 5530 LIMIT)."""

    tag: str
    message: str
    code: str = ""
    status: str = "BAD"


@dataclass(frozen=True)
class RawLine:
    """A line read in raw mode (IDLE's DONE, an AUTHENTICATE response), without its CRLF."""

    data: bytes


ReaderEvent = Command | NeedContinuation | ParseError | RawLine
