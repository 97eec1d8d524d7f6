"""Encoders for the string forms of IMAP responses (RFC 3501 §4.3, §4.5, §5.1.3; RFC 9051 §4.3).

Everything here returns wire bytes (except the mailbox-name codec, which maps text to text), so a
response is built by joining these pieces. The server, not the data, decides between a quoted string
and a literal: a literal is always correct, a quoted string is only shorter.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Union

# Quoted strings longer than this become literals: a quoted string has to fit on one line that a
# client reads whole, and some clients limit their line length.
MAX_QUOTED = 1000

# Characters that may not appear in an atom (RFC 3501 §9 atom-specials); "]" is allowed in an astring.
_ATOM_SPECIALS = frozenset(b'(){ %*"\\]')
# An octet a quoted string cannot carry (searched by the regex engine, not a Python loop per octet).
_UNQUOTABLE = re.compile(rb"[\x00\r\n\x80-\xff]")

ListItem = Union[bytes, str, int, None, "list[ListItem]", "tuple[ListItem, ...]"]


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def _quotable(data: bytes) -> bool:
    # Quoted strings carry 7-bit text without CR, LF or NUL (RFC 3501 §4.3 and the QUOTED-CHAR rule).
    return len(data) <= MAX_QUOTED and _UNQUOTABLE.search(data) is None


def quoted(data: bytes) -> bytes:
    """A quoted string; the caller has checked that `data` may be quoted."""
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def literal(data: bytes) -> bytes:
    """A synchronising literal as a server sends it: {n} CRLF and the n octets."""
    return b"{%d}\r\n" % len(data) + data


def quoted_or_literal(value: bytes | str) -> bytes:
    """A string: quoted when it is short 7-bit text without CR/LF/NUL, else a literal."""
    data = _as_bytes(value)
    return quoted(data) if _quotable(data) else literal(data)


def nstring(value: bytes | str | None) -> bytes:
    """NIL for None, else a string."""
    return b"NIL" if value is None else quoted_or_literal(value)


def astring(value: bytes | str) -> bytes:
    """An atom when the value is a non-empty run of ASTRING-CHARs, else a string.

    "NIL" is quoted so that a mailbox or user named NIL is never read as the NIL token.
    """
    data = _as_bytes(value)
    atom_like = data and all((0x20 < b < 0x7F and b not in _ATOM_SPECIALS) or b == ord("]") for b in data)
    if atom_like and data.upper() != b"NIL":
        return data
    return quoted_or_literal(data)


def encode_list(items: Iterable[ListItem]) -> bytes:
    """A parenthesised list. bytes are taken as already encoded (atoms, flags, nested structures);
    str becomes a string, int a number, None NIL, and a list or tuple a nested list."""
    return b"(" + b" ".join(_item(item) for item in items) + b")"


def _item(item: ListItem) -> bytes:
    if item is None:
        return b"NIL"
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return quoted_or_literal(item)
    if isinstance(item, bool):  # bool is an int, but never a meaningful IMAP number
        raise TypeError("bool is not an IMAP list item")
    if isinstance(item, int):
        return b"%d" % item
    return encode_list(item)


# --- Mailbox names in modified UTF-7 (RFC 3501 §5.1.3) -------------------------------------------
#
# Printable ASCII other than "&" stands for itself; "&" is written "&-"; any other run of characters
# is UTF-16BE in base64 (with "," for "/", no padding) between "&" and "-".


def _b64_encode(run: str) -> str:
    raw = base64.b64encode(run.encode("utf-16-be")).rstrip(b"=")
    return raw.decode("ascii").replace("/", ",")


def encode_mutf7(name: str) -> str:
    """The modified UTF-7 form of a mailbox name."""
    out: list[str] = []
    pending: list[str] = []  # characters waiting to be base64-encoded as one run

    def flush() -> None:
        if pending:
            out.append("&" + _b64_encode("".join(pending)) + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")


def decode_mutf7(name: str) -> str:
    """The mailbox name that a modified UTF-7 string stands for; ValueError when it is not valid.

    Besides malformed base64, the non-canonical forms are refused too (a printable character
    encoded in base64, two adjacent encoded runs, non-zero padding bits), because two spellings of
    one name would make two mailboxes that look the same.
    """
    out: list[str] = []
    i = 0
    while i < len(name):
        ch = name[i]
        if not 0x20 <= ord(ch) <= 0x7E:
            raise ValueError(f"character {ch!r} at {i} must be base64-encoded")
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = name.find("-", i + 1)
        if end < 0:
            raise ValueError(f"'&' at {i} has no closing '-'")
        run = name[i + 1 : end]
        if not run:
            out.append("&")
        else:
            out.append(_b64_decode(run, i))
        i = end + 1
    text = "".join(out)
    if encode_mutf7(text) != name:
        raise ValueError(f"{name!r} is not the canonical modified UTF-7 form of {text!r}")
    return text


def _b64_decode(run: str, at: int) -> str:
    if not set(run) <= _B64_ALPHABET or len(run) % 4 == 1:
        raise ValueError(f"bad modified base64 {run!r} at {at}")
    raw = base64.b64decode(run.replace(",", "/") + "=" * (-len(run) % 4))
    if len(raw) % 2:
        raise ValueError(f"base64 run at {at} is not whole UTF-16 code units")
    try:
        text = raw.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise ValueError(f"base64 run at {at} is not valid UTF-16: {exc.reason}") from None
    if any(0x20 <= ord(c) <= 0x7E for c in text):
        raise ValueError(f"base64 run at {at} encodes printable ASCII, which must stand for itself")
    return text
