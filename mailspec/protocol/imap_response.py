"""Values the IMAP response grammar produces, and the error it raises.

Everything here is plain data: the reader (`imap_reader`) and the grammar (`imap_grammar`,
`imap_body`) build these objects, tests and the wire client only read them. Byte strings from the
wire stay `bytes` (message data, literals); names the protocol defines (kinds, flags, codes,
capabilities) are `str`. Keys the RFCs treat case-insensitively are upper-cased, so callers can
compare them directly.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import TypeAlias

# Where each ABNF rule is defined; rules not listed come from RFC 3501 §9 (and reappear unchanged,
# or widened, in RFC 9051 §9). A violation names the rule with this source so a reader can look it up.
RULE_SOURCE: dict[str, str] = {
    **dict.fromkeys(
        ("literal8", "number64", "nz-number64", "esearch-response", "search-correlator",
         "search-return-data", "enable-data", "obsolete-search-response", "BINARY", "BINARY.SIZE",
         "section-binary", "tagged-ext-val", "tagged-ext-comp", "tagged-ext-simple"),
        "RFC 9051 §9"),
    **dict.fromkeys(("expunged-resp", "known-uids", "fetch-mod-resp", "mod-sequence-value",
                     "mod-sequence-valzer", "search-sort-mod-seq"), "RFC 7162 §7"),
    **dict.fromkeys(("resp-code-apnd", "resp-code-copy", "uid-set", "uid-range", "append-uid"),
                    "RFC 4315 §4"),
    **dict.fromkeys(("mbox-list-extended", "mbox-list-extended-item", "mbox-list-extended-item-tag",
                     "childinfo-extended-item", "child-mbox-flag", "list-select-base-opt-quoted"),
                    "RFC 5258 §6"),
    "oldname-extended-item": "RFC 9051 §9",
    **dict.fromkeys(("quota-response", "quotaroot-response", "quota-list", "quota-resource",
                     "quota-root-name", "resource-name"), "RFC 9208 §7"),
    **dict.fromkeys(("Namespace_Response", "namespace-response", "namespace", "namespace-descr",
                     "namespace-response-extension"), "RFC 2342 §6 / RFC 9051 §9"),
    **dict.fromkeys(("id_response", "id_params_list"), "RFC 2971 §4"),
    "id-limits": "RFC 2971 §3.3",
    "use-attr": "RFC 6154 §6",
    "mailbox-name-mutf7": "RFC 3501 §5.1.3",
    "mbx-list-flags-once": "RFC 9051 §9 (mbx-list-flags comments) / RFC 5258 §6",
    "thread-data": "RFC 5256 §5",
    "sort-data": "RFC 5256 §5 / RFC 7162 §7",
    "tag-echo": "RFC 3501 §2.2.2",
    "greeting-first": "RFC 3501 §7.1 / §9 greeting",
    "non-extensible-body": "RFC 3501 §9 body-ext-1part comment",
    "copyuid-sets": "RFC 4315 §3",
    "8bit-outside-literal": "RFC 3501 §9 / RFC 9051 §9 (TEXT-CHAR, QUOTED-CHAR)",
    "server-literal-plus": "RFC 7888 §8 / RFC 9051 §9 literal",
    "NUL": "RFC 3501 §9 / RFC 9051 §9 (note 3: no NUL outside literal8)",
    "starttls-cleartext": "RFC 9051 §6.2.1 / RFC 3501 §6.2.1",
    "limit": "mailspec limit",
}


def rule_name(rule: str) -> str:
    """`resp-text-code` -> `RFC 3501 §9 resp-text-code` (the form violations are reported in)."""
    return f"{RULE_SOURCE.get(rule, 'RFC 3501 §9')} {rule}"


class ImapProtocolViolation(Exception):
    """The server broke a rule: which ABNF rule, where in the byte stream, and on which line."""

    def __init__(self, rule: str, offset: int, line: bytes, detail: str = "") -> None:
        self.rule = rule  # bare ABNF rule name, e.g. "resp-text-code"
        self.offset, self.line, self.detail = offset, line, detail
        extra = f": {detail}" if detail else ""
        super().__init__(f"{rule_name(rule)}{extra}; at byte offset {offset}, line {line[:300]!r}")

    @property
    def source(self) -> str:
        return rule_name(self.rule)


# -- values inside responses ------------------------------------------------------------------

Range = tuple[int | None, int | None]  # inclusive; None is "*"
SequenceSet = tuple[Range, ...]
ExtValue: TypeAlias = bytes | int | tuple["ExtValue", ...] | None  # tagged-ext-val / generic data


@dataclass(frozen=True)
class Address:
    name: bytes | None
    adl: bytes | None
    mailbox: bytes | None
    host: bytes | None

    @property
    def is_group_start(self) -> bool:
        return self.host is None and self.mailbox is not None

    @property
    def is_group_end(self) -> bool:
        return self.host is None and self.mailbox is None


@dataclass(frozen=True)
class Envelope:
    date: bytes | None
    subject: bytes | None
    from_: tuple[Address, ...] | None
    sender: tuple[Address, ...] | None
    reply_to: tuple[Address, ...] | None
    to: tuple[Address, ...] | None
    cc: tuple[Address, ...] | None
    bcc: tuple[Address, ...] | None
    in_reply_to: bytes | None
    message_id: bytes | None


@dataclass(frozen=True)
class BodyExtension:
    """Extension data shared by single and multi parts (present only in BODYSTRUCTURE)."""

    md5: bytes | None = None  # single parts only
    disposition: tuple[bytes, tuple[tuple[bytes, bytes], ...] | None] | None = None
    language: tuple[bytes, ...] | None = None
    location: bytes | None = None
    more: tuple[ExtValue, ...] = ()  # body-extension: future fields a client must accept


@dataclass(frozen=True)
class BodyPart:
    """A non-multipart body: type/subtype, body-fields, and per type lines / encapsulated message."""

    type: str  # upper-cased media type
    subtype: str
    params: tuple[tuple[bytes, bytes], ...] | None
    id: bytes | None
    description: bytes | None
    encoding: bytes
    size: int
    lines: int | None = None  # TEXT and MESSAGE/RFC822|GLOBAL
    envelope: Envelope | None = None  # MESSAGE/RFC822|GLOBAL
    body: Body | None = None  # MESSAGE/RFC822|GLOBAL
    ext: BodyExtension | None = None


@dataclass(frozen=True)
class Multipart:
    parts: tuple[Body, ...]
    subtype: str
    params: tuple[tuple[bytes, bytes], ...] | None = None  # extension data from here on
    ext: BodyExtension | None = None


Body = BodyPart | Multipart


@dataclass(frozen=True)
class ResponseText:
    """resp-text: an optional [code args] and human-readable text."""

    code: str | None  # upper-cased atom, e.g. "UIDVALIDITY"
    code_args: object  # per code: int, tuple of str, uid sets...; raw str for unknown codes
    text: str


@dataclass(frozen=True)
class MailboxList:
    """A LIST or LSUB response."""

    flags: tuple[str, ...]  # as sent, e.g. "\\HasNoChildren"
    delimiter: str | None
    raw_name: bytes
    name: str  # decoded (modified UTF-7 or UTF-8); "INBOX" in any case becomes "INBOX"
    extended: dict[str, ExtValue] = field(default_factory=dict)  # upper-cased tag -> value

    def has(self, flag: str) -> bool:
        return flag.lower() in (f.lower() for f in self.flags)


@dataclass(frozen=True)
class StatusData:
    raw_mailbox: bytes
    mailbox: str
    items: dict[str, ExtValue]  # upper-cased item name -> value


@dataclass(frozen=True)
class SearchData:
    numbers: tuple[int, ...]
    modseq: int | None = None


@dataclass(frozen=True)
class ESearchData:
    tag: bytes | None
    uid: bool
    items: dict[str, object]  # MIN/MAX/COUNT/MODSEQ -> int, ALL -> SequenceSet, others ExtValue


@dataclass(frozen=True)
class VanishedData:
    earlier: bool
    uids: SequenceSet


@dataclass(frozen=True)
class NamespaceDescr:
    prefix: bytes
    delimiter: str | None
    extensions: tuple[tuple[bytes, tuple[bytes, ...]], ...] = ()


@dataclass(frozen=True)
class NamespaceData:
    personal: tuple[NamespaceDescr, ...] | None
    other_users: tuple[NamespaceDescr, ...] | None
    shared: tuple[NamespaceDescr, ...] | None


@dataclass(frozen=True)
class QuotaResource:
    name: str
    usage: int
    limit: int


@dataclass(frozen=True)
class QuotaData:
    root: bytes
    resources: tuple[QuotaResource, ...]


@dataclass(frozen=True)
class QuotaRootData:
    raw_mailbox: bytes
    mailbox: str
    roots: tuple[bytes, ...]


FetchValue = object  # see imap_grammar.msg-att: flags tuple, int, bytes|None, Envelope, Body, datetime


# -- responses --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Untagged:
    """`* ...`: kind is the upper-cased response name (OK, FETCH, LIST, ...)."""

    kind: str
    number: int | None
    data: object  # ResponseText for OK/NO/BAD/BYE/PREAUTH; see the kind's value type otherwise
    raw: bytes
    offset: int = 0
    known: bool = True  # False: a well-formed response this grammar does not define

    @property
    def code(self) -> str | None:
        return self.data.code if isinstance(self.data, ResponseText) else None

    @property
    def code_args(self) -> object:
        return self.data.code_args if isinstance(self.data, ResponseText) else None

    @property
    def text(self) -> str:
        return self.data.text if isinstance(self.data, ResponseText) else ""


@dataclass(frozen=True)
class Tagged:
    """`tag OK|NO|BAD [code] text`: the completion of one command."""

    tag: str
    status: str  # "OK", "NO" or "BAD"
    code: str | None
    code_args: object
    text: str
    raw: bytes
    offset: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "OK"


@dataclass(frozen=True)
class Continuation:
    """`+ ...`: a command continuation request, either resp-text or base64 (SASL)."""

    text: str  # the payload as text (empty for "+ ")
    code: str | None
    code_args: object
    raw: bytes
    offset: int = 0
    base64: bytes | None = None  # the decoded payload when it is valid base64


@dataclass(frozen=True)
class Malformed:
    """A response that broke a tolerated rule; framing still found where it ends."""

    violation: ImapProtocolViolation
    tag: str | None  # the tag-like first token ("*", "+" or a tag), for the client's bookkeeping
    raw: bytes
    offset: int = 0


Response = Untagged | Tagged | Continuation | Malformed


def utc_offset(minutes: int) -> _dt.timezone:
    return _dt.timezone(_dt.timedelta(minutes=minutes))
