"""Transcripts: every byte a wire client sent and received, with when, where and which way.

A failure report shows the transcript of each connection the test opened, so it must be
readable (one `C:`/`S:` line per protocol line, control bytes escaped) yet keep the evidence
(whole lines; only very long bodies lose their middle, and say how many lines were elided).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["C", "S", "*"]  # client sent, server sent, event (TLS, connect, close, note)
MAX_RUN_LINES = 200  # a run of consecutive server lines longer than this is elided in the middle
KEEP_EDGE = 40


@dataclass(frozen=True)
class Entry:
    at: float  # time.monotonic()
    connection: str
    direction: Direction
    data: bytes


_ESCAPES = {b: f"\\x{b:02x}" for b in [*range(0x20), *range(0x7F, 0x100)]}
_ESCAPES.update({0x5C: "\\\\", 0x0D: "\\r", 0x0A: "\\n", 0x09: "\\t"})


def escape_line(data: bytes) -> str:
    """Printable ASCII as is, everything else escaped, so a CR or a 0x7F is visible."""
    return data.decode("latin-1").translate(_ESCAPES)


def _split_lines(data: bytes) -> list[bytes]:
    """Split after each LF, keeping the line ends so CRLF vs LF shows in the rendering."""
    parts = data.splitlines(keepends=True)
    return parts or [data]


@dataclass
class Transcript:
    """A shared, thread-safe log; several connections of one test write into the same one."""

    entries: list[Entry] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, connection: str, direction: Direction, data: bytes) -> None:
        with self._lock:
            self.entries.append(Entry(time.monotonic(), connection, direction, data))

    def event(self, connection: str, text: str) -> None:
        self.record(connection, "*", text.encode("utf-8", "replace"))

    def connections(self) -> list[str]:
        return list(dict.fromkeys(e.connection for e in self.entries))

    def render(self, connection: str | None = None) -> str:
        """Readable text: `[+0.012s conn] S: +OK\\r\\n`, lines split, long runs elided."""
        rows: list[tuple[float, str, str, str | bytes]] = []
        for e in self.entries:
            if connection is not None and e.connection != connection:
                continue
            if e.direction == "*":
                rows.append((e.at, e.connection, "*", e.data.decode("utf-8", "replace")))
                continue
            for line in _split_lines(e.data):
                rows.append((e.at, e.connection, e.direction, line))
        return "\n".join(self._format(rows))

    def _format(self, rows: list[tuple[float, str, str, str | bytes]]) -> list[str]:
        """Rows as text; octets are escaped only for the lines shown (long runs are elided)."""
        out: list[str] = []
        i = 0
        while i < len(rows):
            j = i
            while j < len(rows) and rows[j][2] == "S" and rows[j][1] == rows[i][1]:
                j += 1
            run = rows[i:j] if j > i else [rows[i]]
            if len(run) > MAX_RUN_LINES:
                elided = len(run) - 2 * KEEP_EDGE
                shown = [*run[:KEEP_EDGE], None, *run[-KEEP_EDGE:]]
            else:
                shown, elided = list(run), 0
            for row in shown:
                if row is None:
                    out.append(f"   ... {elided} lines elided ...")
                    continue
                at, conn, direction, data = row
                text = escape_line(data) if isinstance(data, bytes) else data
                prefix = f"[+{at - self.started:7.3f}s {conn}]"
                out.append(f"{prefix} {'--' if direction == '*' else direction + ':'} {text}")
            i = j if j > i else i + 1
        return out
