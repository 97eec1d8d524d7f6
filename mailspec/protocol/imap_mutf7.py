"""Modified UTF-7 mailbox names (RFC 3501 §5.1.3): strict decoding for the response grammar.

A name is rejected when a client could not be sure what it means or when the encoder broke the
section's rules: octets outside printable US-ASCII, an "&" that does not open a valid shift, a shift
that never closes, an empty shift other than "&-", two shifts back to back (a null shift), base64
that does not decode to whole UTF-16 units or leaves non-zero padding bits, and base64 used for a
printable US-ASCII character that should have stood for itself.
"""

from __future__ import annotations

import base64
import binascii
import re

_SHIFT = re.compile(rb"&([A-Za-z0-9+,]*)-")


class MUtf7Error(ValueError):
    pass


def decode_mutf7(name: bytes) -> str:
    """Decode a modified UTF-7 mailbox name; raise MUtf7Error saying what is wrong."""
    out: list[str] = []
    i = 0
    last_shift_end = -1
    while i < len(name):
        c = name[i]
        if c != 0x26:  # "&"
            if not 0x20 <= c <= 0x7E:
                raise MUtf7Error(f"octet 0x{c:02x} must be encoded in modified BASE64")
            out.append(chr(c))
            i += 1
            continue
        m = _SHIFT.match(name, i)
        if not m:
            raise MUtf7Error("'&' without a modified BASE64 run closed by '-'")
        run = m.group(1)
        if not run:
            out.append("&")
        else:
            if last_shift_end == i:
                raise MUtf7Error("null shift: a BASE64 run directly follows another")
            out.append(_decode_run(run))
            last_shift_end = m.end()
        i = m.end()
    return "".join(out)


def _decode_run(run: bytes) -> str:
    if len(run) % 4 == 1:
        raise MUtf7Error("BASE64 run of impossible length")
    padded = run.replace(b",", b"/") + b"=" * (-len(run) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except binascii.Error as exc:
        raise MUtf7Error(f"bad BASE64: {exc}") from None
    if base64.b64encode(raw).rstrip(b"=") != run.replace(b",", b"/"):
        raise MUtf7Error("non-zero padding bits at the end of a BASE64 run")
    if len(raw) % 2:
        raise MUtf7Error("BASE64 run is not a whole number of UTF-16 units")
    try:
        text = raw.decode("utf-16-be")
    except UnicodeDecodeError:
        raise MUtf7Error("BASE64 run is not valid UTF-16 (unpaired surrogate)") from None
    for ch in text:
        if 0x20 <= ord(ch) <= 0x7E:
            raise MUtf7Error(f"printable US-ASCII {ch!r} encoded in BASE64")
    return text


def encode_mutf7(name: str) -> bytes:
    """The canonical modified UTF-7 form of `name` (for building commands and test data)."""
    out = bytearray()
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.extend(b"&" + base64.b64encode(raw).rstrip(b"=").replace(b"/", b",") + b"-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.extend(b"&-" if ch == "&" else ch.encode("ascii"))
        else:
            pending.append(ch)
    flush()
    return bytes(out)
