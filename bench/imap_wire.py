"""A lean blocking IMAP client for the benchmark generators, and the messages they exchange.

The suite's ImapClient (mailspec/wire/imap.py) validates every response against the full grammar
and records a transcript, which costs more CPU per command than a fast server spends answering it;
on a 2-core machine that would make the generator the bottleneck. This client only frames
responses (lines and {n} literals) and leaves checking what came back to the load script, which
knows what state to expect.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field

_LITERAL = re.compile(rb"~?\{(\d+)\}$")
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")


class ImapBenchError(RuntimeError):
    """The server answered something the load did not expect (wrong status or wrong state)."""


@dataclass
class Response:
    """One response: its text with each literal left as {n}, and the literals' octets in order."""

    text: bytes
    literals: list[bytes] = field(default_factory=list)


@dataclass
class Completion:
    """A command's untagged responses and its tagged status line."""

    untagged: list[Response]
    status: bytes  # OK, NO or BAD
    text: bytes  # the rest of the tagged line

    def numbered(self, kind: bytes) -> list[int]:
        """The numbers of `* <n> <kind>` responses (EXISTS, EXPUNGE), in order."""
        out = []
        for r in self.untagged:
            parts = r.text.split(b" ", 3)
            if len(parts) >= 3 and parts[2].upper() == kind and parts[1].isdigit():
                out.append(int(parts[1]))
        return out

    def appenduid(self) -> tuple[int, int]:
        m = _APPENDUID.search(self.text)
        if m is None:
            raise ImapBenchError(f"APPEND gave no APPENDUID: {self.text!r}")
        return int(m[1]), int(m[2])

    def uidvalidity(self) -> int:
        for r in self.untagged:
            m = _UIDVALIDITY.search(r.text)
            if m:
                return int(m[1])
        raise ImapBenchError("SELECT gave no UIDVALIDITY")


class BenchImap:
    """One connection. `check()` runs a command and raises ImapBenchError unless it ends in OK."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection((host, port), timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()
        self._tag = 0
        self.greeting = self._response().text
        # Both servers advertise LITERAL+ in the greeting; it saves a round trip per APPEND.
        self.literal_plus = b"LITERAL+" in self.greeting.upper()

    def _fill(self) -> None:
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("the server closed the connection")
        self._buf += data

    def _line(self) -> bytes:
        start = 0
        while (end := self._buf.find(b"\r\n", start)) < 0:
            start = max(0, len(self._buf) - 1)
            self._fill()
        line = bytes(self._buf[:end])
        del self._buf[:end + 2]
        return line

    def _octets(self, n: int) -> bytes:
        while len(self._buf) < n:
            self._fill()
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def _response(self) -> Response:
        line = self._line()
        resp = Response(line)
        while (m := _LITERAL.search(line)) is not None:
            resp.literals.append(self._octets(int(m[1])))
            line = self._line()
            resp.text += line
        return resp

    def command(self, command: bytes, literal: bytes | None = None) -> Completion:
        self._tag += 1
        tag = b"b%d" % self._tag
        if literal is None:
            self.sock.sendall(tag + b" " + command + b"\r\n")
        elif self.literal_plus:
            self.sock.sendall(tag + b" " + command + b" {%d+}\r\n" % len(literal) + literal + b"\r\n")
        else:
            self.sock.sendall(tag + b" " + command + b" {%d}\r\n" % len(literal))
            first = self._response()
            if not first.text.startswith(b"+"):
                raise ImapBenchError(f"{command!r}: no continuation for the literal: {first.text!r}")
            self.sock.sendall(literal + b"\r\n")
        untagged = []
        prefix = tag + b" "
        while True:
            resp = self._response()
            if resp.text.startswith(prefix):
                status, _, text = resp.text[len(prefix):].partition(b" ")
                return Completion(untagged, status.upper(), text)
            untagged.append(resp)

    def check(self, command: bytes, literal: bytes | None = None) -> Completion:
        done = self.command(command, literal)
        if done.status != b"OK":
            raise ImapBenchError(f"{command[:60]!r} -> {done.status.decode()} {done.text.decode(errors='replace')}")
        return done

    def login(self, user: str, password: str) -> None:
        self.check(b'LOGIN "%s" "%s"' % (user.encode(), password.encode()))

    def close(self) -> None:
        self.sock.close()


def bench_message(k: int) -> bytes:
    """Message number `k`: 1-16 KiB, headers an ENVELOPE has something to say about, subject "bench k"."""
    body = b"".join(b"line %d of message %d, lorem ipsum dolor sit amet consectetur\r\n" % (j, k)
                    for j in range(12 + (k * 37) % 220))
    headers = (b"From: Bench Sender <bench@example.test>\r\nTo: user@example.test\r\n"
               b"Subject: bench %d\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n"
               b"Message-ID: <bench-%d@example.test>\r\n\r\n" % (k, k))
    return headers + body
