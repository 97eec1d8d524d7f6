"""Sans-I/O IMAP client side: server bytes in, validated responses out, with session context.

`ImapResponseReader` frames the stream (`ResponseFramer`), parses each response
(`parse_response`) and checks what needs the session's history:

* the first response is the greeting: untagged OK, PREAUTH or BYE; PREAUTH never comes later;
* a tagged response echoes the tag of a command the client sent and that is still running
  (the client reports each tag with `command_sent`);
* CAPABILITY data (response or code) and ENABLED are remembered, and enabling IMAP4rev2 or
  UTF8=ACCEPT switches the grammar to accept UTF-8 (RFC 9051 §9, RFC 6855).

A broken rule raises `ImapProtocolViolation`. Rule names in `tolerate` (or "*" for all) are
recorded in `violations` instead, and the response comes back as `Malformed` so a forgiving client
can carry on: framing does not depend on the grammar, so the next response is read correctly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from mailspec.protocol.imap_grammar import parse_response
from mailspec.protocol.imap_lexer import Frame, ResponseFramer, line_at
from mailspec.protocol.imap_response import (
    Continuation,
    ImapProtocolViolation,
    Malformed,
    Response,
    Tagged,
    Untagged,
)


class NeedData:
    """More bytes are needed before the next response is complete."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData()


@dataclass
class ImapResponseReader:
    tolerate: frozenset[str] = frozenset()
    check_tags: bool = True
    allow_unknown: bool = True
    utf8: bool = False
    rev2: bool = False
    expect_greeting: bool = True
    violations: list[ImapProtocolViolation] = field(default_factory=list)
    capabilities: tuple[str, ...] | None = None  # last advertised list, as sent
    enabled: set[str] = field(default_factory=set)  # upper-cased
    greeting: Untagged | None = None
    framer: ResponseFramer = field(default_factory=ResponseFramer)
    _running: list[str] = field(default_factory=list)

    # -- input ----------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes in any chunking; b"" means the server closed the connection."""
        self.framer.receive_data(data)

    def command_sent(self, tag: str) -> None:
        self._running.append(tag)

    def forget_capabilities(self) -> None:
        """After STARTTLS or authentication the earlier list no longer holds (RFC 3501 §6.2.1)."""
        self.capabilities = None

    @property
    def running(self) -> tuple[str, ...]:
        return tuple(self._running)

    @property
    def closed(self) -> bool:
        return self.framer.closed

    @property
    def offset(self) -> int:
        return self.framer.offset

    def has_capability(self, name: str) -> bool:
        return name.upper() in {c.upper() for c in self.capabilities or ()}

    # -- output ---------------------------------------------------------------------------

    def next_response(self) -> Response | NeedData:
        frame = self.framer.next_frame()
        if frame is None:
            return NEED_DATA
        try:
            resp = parse_response(frame.raw, frame.offset, utf8=self.utf8, rev2=self.rev2,
                                  allow_unknown=self.allow_unknown)
            self._check_session(resp, frame)
        except ImapProtocolViolation as exc:
            if not self._tolerated(exc):
                raise
            self.violations.append(exc)
            if self.expect_greeting and self.greeting is None:
                self.expect_greeting = False
            tag = _first_token(frame.raw)
            if tag in self._running:
                self._running.remove(tag)
            return Malformed(exc, tag, frame.raw, frame.offset)
        self._learn(resp)
        return resp

    def _tolerated(self, exc: ImapProtocolViolation) -> bool:
        return "*" in self.tolerate or exc.rule in self.tolerate

    def _check_session(self, resp: Untagged | Tagged | Continuation, frame: Frame) -> None:
        if self.expect_greeting and self.greeting is None:
            if not (isinstance(resp, Untagged) and resp.kind in ("OK", "PREAUTH", "BYE")):
                raise ImapProtocolViolation("greeting", frame.offset, line_at(frame.raw, 0),
                                            "the first response must be untagged OK, PREAUTH or BYE")
            return
        if isinstance(resp, Untagged) and resp.kind == "PREAUTH":
            raise ImapProtocolViolation("greeting-first", frame.offset, line_at(frame.raw, 0),
                                        "PREAUTH is only valid as the greeting")
        if isinstance(resp, Tagged) and self.check_tags and resp.tag not in self._running:
            raise ImapProtocolViolation("tag-echo", frame.offset, line_at(frame.raw, 0),
                                        f"tag {resp.tag!r} is not a command in progress "
                                        f"(running: {', '.join(self._running) or 'none'})")

    def _learn(self, resp: Response) -> None:
        if isinstance(resp, Untagged):
            if self.expect_greeting and self.greeting is None:
                self.greeting = resp
            if resp.kind == "CAPABILITY":
                self._set_capabilities(resp.data)  # type: ignore[arg-type]
            elif resp.kind == "ENABLED":
                self.enabled.update(c.upper() for c in cast(tuple[str, ...], resp.data))
                self.rev2 = self.rev2 or "IMAP4REV2" in self.enabled
                self.utf8 = self.utf8 or bool({"IMAP4REV2", "UTF8=ACCEPT"} & self.enabled)
            elif resp.code == "CAPABILITY":
                self._set_capabilities(resp.code_args)  # type: ignore[arg-type]
        elif isinstance(resp, Tagged):
            if resp.tag in self._running:
                self._running.remove(resp.tag)
            if resp.code == "CAPABILITY":
                self._set_capabilities(resp.code_args)  # type: ignore[arg-type]

    def _set_capabilities(self, caps: tuple[str, ...]) -> None:
        self.capabilities = caps
        upper = {c.upper() for c in caps}
        if "IMAP4REV2" in upper and "IMAP4REV1" not in upper:
            self.rev2 = True  # a server of RFC 9051 only: its rules apply from the start


def _first_token(raw: bytes) -> str | None:
    token = raw.split(b" ", 1)[0].split(b"\r", 1)[0].split(b"\n", 1)[0]
    return token.decode("ascii", "replace") if token else None
