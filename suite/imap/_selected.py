"""Steps shared by the selected-state tests (SELECT/EXAMINE, FETCH, STORE, COPY/MOVE, EXPUNGE).

Opening a mailbox and reading what SELECT reported, FETCH with its responses merged per message,
following EXPUNGE renumbering, and the message corpus (suite/imap/data/corpus) with its
hand-written expectations, read through the suite's own response grammar.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import pytest

from mailspec.protocol.imap_body import body, envelope
from mailspec.protocol.imap_lexer import Cursor
from mailspec.protocol.imap_response import Body, BodyPart, Envelope, Multipart, Response, Tagged, Untagged
from mailspec.wire.imap import ImapClient, ImapUnexpectedResponse, mailbox_arg, untagged

CORPUS = Path(__file__).parent / "data" / "corpus"
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


# -- SELECT / EXAMINE ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    """What SELECT or EXAMINE answered: the untagged data and the tagged completion."""

    responses: list[Response]
    done: Tagged

    def untagged_data(self, kind: str) -> object | None:
        found = untagged(self.responses, kind)
        return found[-1].data if found else None

    def code(self, name: str) -> object | None:
        """The argument of an untagged OK [name ...] response code (None when not sent)."""
        for r in self.responses:
            if isinstance(r, Untagged) and r.kind == "OK" and r.code == name:
                return r.code_args
        return None

    def has_code(self, name: str) -> bool:
        return any(isinstance(r, Untagged) and r.kind == "OK" and r.code == name for r in self.responses)

    @property
    def flags(self) -> tuple[str, ...] | None:
        return self.untagged_data("FLAGS")  # type: ignore[return-value]

    @property
    def exists(self) -> int | None:
        return self.untagged_data("EXISTS")  # type: ignore[return-value]

    @property
    def recent(self) -> int | None:
        return self.untagged_data("RECENT")  # type: ignore[return-value]

    @property
    def permanentflags(self) -> tuple[str, ...] | None:
        return self.code("PERMANENTFLAGS")  # type: ignore[return-value]

    @property
    def uidvalidity(self) -> int | None:
        return self.code("UIDVALIDITY")  # type: ignore[return-value]

    @property
    def uidnext(self) -> int | None:
        return self.code("UIDNEXT")  # type: ignore[return-value]

    @property
    def unseen(self) -> int | None:
        return self.code("UNSEEN")  # type: ignore[return-value]

    @property
    def read_only(self) -> bool:
        return self.done.code == "READ-ONLY"


def open_box(client: ImapClient, mailbox: str, *, readonly: bool = False) -> Opened:
    """SELECT (or EXAMINE) that must succeed."""
    responses, done = client.select(mailbox, readonly=readonly)
    if not done.ok:
        verb = "EXAMINE" if readonly else "SELECT"
        raise ImapUnexpectedResponse(f"{client.label}: {verb} {mailbox} was refused: {done.raw!r}")
    return Opened(responses, done)


def selected_with(imap, mailbox: str, append, count: int) -> tuple[ImapClient, list[str]]:
    """A new client with `mailbox` selected after appending `count` marked messages through it;
    and their X-Mailspec-Test markers, in order."""
    client = imap()
    markers = [str(append(client, mailbox).marker) for _ in range(count)]
    open_box(client, mailbox)
    return client, markers


def examine_read_only(client: ImapClient, mailbox: str) -> Opened:
    """EXAMINE, skipping the test when the server does not open it read-only: the test that owns
    that rule (imap/3501/6.3.2/examine-is-read-only) reports it, and tests built on a read-only
    EXAMINE cannot tell anything then."""
    opened = open_box(client, mailbox, readonly=True)
    if not opened.read_only:
        pytest.skip("EXAMINE did not answer [READ-ONLY]; imap/3501/6.3.2/examine-is-read-only covers that")
    return opened


# -- FETCH ------------------------------------------------------------------------------------------


Fetched = dict[int, dict[str, object]]  # message sequence number -> FETCH data items


def merge_fetches(responses: Iterable[Response]) -> Fetched:
    """FETCH responses per message number; several responses for one message are merged."""
    out: Fetched = {}
    for r in untagged(responses, "FETCH"):
        assert r.number is not None and isinstance(r.data, dict)
        out.setdefault(r.number, {}).update(r.data)
    return out


def fetch(client: ImapClient, sequence: str, items: str, *, uid: bool = False) -> Fetched:
    """FETCH (or UID FETCH) that must succeed; returns the merged FETCH data per message number."""
    responses, done = client.run(f"{'UID ' if uid else ''}FETCH {sequence} {items}")
    if not done.ok:
        raise ImapUnexpectedResponse(f"{client.label}: FETCH {sequence} {items} was refused: {done.raw!r}")
    return merge_fetches(responses)


def fetch_one(client: ImapClient, number: int, items: str) -> dict[str, object]:
    """The FETCH data of one message (by sequence number)."""
    got = fetch(client, str(number), items)
    assert number in got, f"FETCH {number} {items} sent no FETCH response for message {number}"
    return got[number]


def flags_of(client: ImapClient, number: int) -> set[str]:
    """The message's flags, lower-cased (flag names compare case-insensitively), \\Recent left out."""
    value = fetch_one(client, number, "(FLAGS)").get("FLAGS")
    assert isinstance(value, tuple), f"FETCH {number} (FLAGS) sent no FLAGS item"
    return {f.lower() for f in value} - {"\\recent"}


def uids(client: ImapClient) -> list[int]:
    """The UIDs of the selected mailbox in message-number order (UID FETCH 1:* works when empty)."""
    got = fetch(client, "1:*", "(UID)", uid=True)
    ordered = [got[n]["UID"] for n in sorted(got)]
    assert sorted(got) == list(range(1, len(got) + 1)), f"FETCH numbered the messages {sorted(got)}"
    return ordered  # type: ignore[return-value]


def store(client: ImapClient, command: str) -> tuple[list[Response], Tagged]:
    """A STORE (or UID STORE) step that must succeed."""
    responses, done = client.run(command)
    if not done.ok:
        raise ImapUnexpectedResponse(f"{client.label}: {command} was refused: {done.raw!r}")
    return responses, done


# -- EXPUNGE ----------------------------------------------------------------------------------------


def expunged(responses: Iterable[Response]) -> list[int]:
    """The message numbers of the untagged EXPUNGE responses, in the order they came."""
    return [r.number for r in untagged(responses, "EXPUNGE") if r.number is not None]


def after_expunges(before: list[int], numbers: Iterable[int]) -> list[int]:
    """The UID list a client keeps after applying EXPUNGE responses one by one (RFC 3501 §7.4.1:
    each names the message's number at that moment, and the ones above it move down)."""
    left = list(before)
    for n in numbers:
        assert 1 <= n <= len(left), f"EXPUNGE {n} names no message (the mailbox has {len(left)} at that point)"
        del left[n - 1]
    return left


def skip_unless_only_deleted_went(client: ImapClient, expected: list[int]) -> None:
    """Skip when EXPUNGE took more (or fewer) messages than those marked \\Deleted: the test that
    owns that rule (imap/3501/6.4.3/expunge-removes-only-deleted) reports it."""
    if uids(client) != expected:
        pytest.skip("EXPUNGE did not remove exactly the \\Deleted messages; "
                    "imap/3501/6.4.3/expunge-removes-only-deleted covers that")


def expunge_first(client: ImapClient) -> list[int]:
    """Expunge message 1 (STORE \\Deleted, EXPUNGE); skip unless exactly it went. Returns the UIDs
    from before, so the survivors are `before[1:]`."""
    before = uids(client)
    store(client, "STORE 1 +FLAGS (\\Deleted)")
    client.ok("EXPUNGE")
    skip_unless_only_deleted_went(client, before[1:])
    return before


def mailbox_exists(client: ImapClient, mailbox: str) -> bool:
    """LIST shows the mailbox."""
    responses, done = client.run(b'LIST "" ', mailbox_arg(mailbox, utf8=client.reader.utf8))
    assert done.ok, f"LIST {mailbox} was refused: {done.raw!r}"
    return bool(untagged(responses, "LIST"))


# -- the corpus -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusMessage:
    """One corpus message (CRLF line ends) and what FETCH must say about it."""

    name: str
    raw: bytes
    envelope: Envelope
    bodystructure: Body | None
    sections: dict[str, bytes]


def crlf(text: bytes) -> bytes:
    return text.replace(b"\n", b"\r\n")


def imap_syntax(text: str) -> bytes:
    """A structure written over several lines in expected.toml: each line break reads as one SP."""
    return re.sub(r"\n\s*", " ", text).encode("utf-8")


@cache
def corpus(name: str) -> CorpusMessage:
    table = tomllib.loads((CORPUS / "expected.toml").read_text("utf-8"))[name]
    structure = table.get("bodystructure")
    return CorpusMessage(
        name=name,
        raw=crlf((CORPUS / table["file"]).read_bytes()),
        envelope=envelope(Cursor(imap_syntax(table["envelope"]))),
        bodystructure=body(Cursor(imap_syntax(structure)), extensible=True) if structure else None,
        sections={k: crlf(v.encode("utf-8")) for k, v in table.get("sections", {}).items()},
    )


def without_extension(value: Body) -> Body:
    """The BODY form of a BODYSTRUCTURE: the same structure with no extension data."""
    if isinstance(value, Multipart):
        return Multipart(tuple(without_extension(p) for p in value.parts), value.subtype)
    inner = without_extension(value.body) if value.body is not None else None
    return replace(value, ext=None, body=inner)


def has_extension(value: Body) -> bool:
    return value.ext is not None or (isinstance(value, Multipart) and value.params is not None)


# Parameter values that are case-insensitive (RFC 2045 §5.1 makes names caseless; of the values
# this corpus uses only charset is). Boundaries, file names and locations keep their case.
_CASELESS_VALUES = frozenset({b"CHARSET"})


def _params(params: tuple[tuple[bytes, bytes], ...] | None) -> tuple[tuple[bytes, bytes], ...] | None:
    if params is None:
        return None
    return tuple((k.upper(), v.upper() if k.upper() in _CASELESS_VALUES else v) for k, v in params)


def caseless(value: Body) -> Body:
    """The structure with the parts MIME compares case-insensitively upper-cased (encodings,
    parameter names, charset values, disposition types, language tags), so servers that keep the
    message's spelling and servers that normalise it compare equal. Types are already upper-case."""
    ext = value.ext
    if ext is not None:
        dsp = ext.disposition
        ext = replace(ext, disposition=None if dsp is None else (dsp[0].upper(), _params(dsp[1])),
                      language=None if ext.language is None else tuple(t.upper() for t in ext.language))
    if isinstance(value, Multipart):
        return replace(value, parts=tuple(caseless(p) for p in value.parts), params=_params(value.params), ext=ext)
    assert isinstance(value, BodyPart)
    inner = caseless(value.body) if value.body is not None else None
    return replace(value, params=_params(value.params), encoding=value.encoding.upper(), ext=ext, body=inner)


def expected_structure(message: CorpusMessage, got: Body) -> Body:
    """The hand-written BODYSTRUCTURE, with its extension data only where the server sent some
    (extension data is optional; when sent it must be in the defined order, RFC 3501 §7.4.2)."""
    assert message.bodystructure is not None, f"no BODYSTRUCTURE expectation for {message.name}"
    return _match_extension(message.bodystructure, got)


def _match_extension(want: Body, got: Body) -> Body:
    if isinstance(want, Multipart):
        parts = want.parts
        if isinstance(got, Multipart) and len(got.parts) == len(want.parts):
            parts = tuple(_match_extension(w, g) for w, g in zip(want.parts, got.parts, strict=True))
        want = replace(want, parts=parts)
        return want if has_extension(got) else replace(want, params=None, ext=None)
    inner = want.body
    if inner is not None and isinstance(got, BodyPart) and got.body is not None:
        inner = _match_extension(inner, got.body)
    want = replace(want, body=inner)
    return want if has_extension(got) else replace(want, ext=None)
