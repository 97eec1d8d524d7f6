"""Small builders for IMAP server responses (RFC 3501 §7, RFC 9051 §7): status lines, flag lists,
dates, UID sets. Strings and lists come from encode.py; nothing here knows about sessions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from reference_server.imap.encode import astring, quoted_or_literal

CRLF = b"\r\n"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def tagged(tag: str, status: str, text: str, code: str = "") -> bytes:
    """`tag OK|NO|BAD [code] text` (a response code in brackets when given).

    The text goes out as ASCII, anything else escaped: RFC 3501's TEXT-CHAR is 7-bit, and a
    message may quote a mailbox name or a client's input.
    """
    code_part = f"[{code}] " if code else ""
    return f"{tag} {status} {code_part}{text}".encode("ascii", "backslashreplace") + CRLF


def untagged(text: str | bytes) -> bytes:
    return b"* " + (text.encode() if isinstance(text, str) else text) + CRLF


def flag_list(flags: Iterable[str]) -> str:
    return "(" + " ".join(flags) + ")"


def internaldate(timestamp: float) -> str:
    """INTERNALDATE as a quoted date-time (RFC 3501 §9 date-time), in UTC."""
    t = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return f'"{t.day:02d}-{_MONTHS[t.month - 1]}-{t.year:04d} {t:%H:%M:%S} +0000"'


def uid_set(numbers: Iterable[int]) -> str:
    """Numbers in ascending order as a compact sequence set: 1:3,7,9:10 ("" when empty)."""
    out: list[str] = []
    run: list[int] = []
    for n in sorted(set(numbers)):
        if run and n == run[-1] + 1:
            run.append(n)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}:{run[-1]}")
        run = [n]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}:{run[-1]}")
    return ",".join(out)


def mailbox(name: str) -> bytes:
    """A mailbox name as an astring (quoted or literal when it needs to be)."""
    return astring(name)


def string(value: str | bytes) -> bytes:
    return quoted_or_literal(value)
