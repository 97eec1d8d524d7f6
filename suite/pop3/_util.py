"""Small assertions and steps shared by the POP3 tests."""

from __future__ import annotations

import base64

from mailspec.protocol.pop3 import MultiLine, StatusLine
from mailspec.protocol.pop3_listings import greeting_timestamp, parse_list, parse_uidl
from mailspec.wire.pop3 import Pop3Client


def assert_err(ev: StatusLine | MultiLine, what: str) -> None:
    status = ev.status if isinstance(ev, MultiLine) else ev
    assert not status.ok, f"{what}: expected -ERR, got {status.raw!r}"


def assert_ok(ev: StatusLine | MultiLine, what: str) -> StatusLine:
    status = ev.status if isinstance(ev, MultiLine) else ev
    assert status.ok, f"{what}: expected +OK, got {status.raw!r}"
    return status


def assert_not_logged_in(client: Pop3Client, after: str) -> None:
    """NOOP is only valid in TRANSACTION, so -ERR shows the session is still in AUTHORIZATION."""
    assert_err(client.cmd("NOOP"), f"NOOP {after} (the session must still be in AUTHORIZATION)")


def require_pass_needs_user(client: Pop3Client) -> None:
    """Skip when PASS works without USER: tests that read state through PASS cannot tell then
    (that rule has its own test, pass-requires-user)."""
    import pytest

    if client.cmd("PASS mailspec-probe-not-a-password").ok:
        pytest.skip("PASS was accepted without USER; pop3/1939/7/pass-requires-user covers that")


def multi(client: Pop3Client, command: str, kind: str = "multiline") -> MultiLine:
    ev = client.cmd_multi(command, kind)  # type: ignore[arg-type]
    assert isinstance(ev, MultiLine), f"{command}: expected a multi-line +OK response, got {ev.raw!r}"
    return ev


def listing(client: Pop3Client) -> dict[int, int]:
    return parse_list(multi(client, "LIST"))


def uidls(client: Pop3Client, strict: bool = False) -> dict[int, str]:
    return parse_uidl(multi(client, "UIDL"), strict=strict)


def retr(client: Pop3Client, num: int) -> MultiLine:
    return multi(client, f"RETR {num}", "message")


def split_message(lines: tuple[bytes, ...]) -> tuple[list[bytes], list[bytes]]:
    """Header lines and body lines of a message given as lines."""
    if b"" in lines:
        i = lines.index(b"")
        return list(lines[:i]), list(lines[i + 1:])
    return list(lines), []


def plain_response(user: str, password: str) -> str:
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def apop_timestamp(client: Pop3Client) -> str | None:
    assert client.greeting is not None
    return greeting_timestamp(client.greeting)
