"""Fuzzing the IMAP command reader (random bytes, mutated valid commands) and a live session."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_server.embedded import EmbeddedServer
from reference_server.imap.commands import Command, NeedContinuation, ParseError
from reference_server.imap.parser import CommandReader, ReaderLimits

VALID = [
    b"a LOGIN {5}\r\nalice pw\r\n", b"a FETCH 1:* (FLAGS BODY.PEEK[1.HEADER.FIELDS (FROM)]<0.10>)\r\n",
    b'a SEARCH CHARSET UTF-8 OR FROM "x" NOT (SEEN 1:3) UID 2,4:*\r\n',
    b'a APPEND INBOX (\\Seen) " 1-Jan-2020 10:00:00 +0100" {3+}\r\nabc\r\n',
    b'a LIST (SUBSCRIBED) "" ("*" %) RETURN (CHILDREN STATUS (MESSAGES))\r\n',
    b"a UID STORE 1:* (UNCHANGEDSINCE 3) +FLAGS.SILENT (\\Deleted)\r\n",
    b"a SELECT INBOX (QRESYNC (67 90 1:10 (1,5 10,20)))\r\n", b'a ID ("name" "x")\r\n',
]
LIMITS = ReaderLimits(max_line=1024, max_literal=512, max_append=2048, max_depth=8)


def _drain(data: bytes) -> None:
    reader = CommandReader(LIMITS)
    for i in range(0, len(data), 7):
        reader.receive_data(data[i:i + 7])
        while (event := reader.next_event()) is not None:
            assert isinstance(event, Command | NeedContinuation | ParseError)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes_only_give_events(data: bytes) -> None:
    _drain(data)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(VALID), st.lists(st.tuples(st.integers(0, 200), st.binary(max_size=4)), max_size=5))
def test_mutated_commands_only_give_events(base: bytes, edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(base)
    for pos, chunk in edits:
        pos = pos % (len(data) + 1)
        data[pos:pos + len(chunk)] = chunk
    _drain(bytes(data))


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(settings={"allow_plaintext_auth": True}) as srv:
        yield srv


def _until(sock: socket.socket, needle: bytes) -> bytes:
    data = b""
    while needle not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before {needle!r}: {data[-300:]!r}"
        data += chunk
    return data


def test_live_session_survives_mutated_commands(server: EmbeddedServer) -> None:
    rng = random.Random(1234)
    t = server.target
    acc = t.accounts[0]
    with socket.create_connection(("127.0.0.1", t.endpoints["imap"].port), timeout=10) as s:
        _until(s, b"\r\n")
        s.sendall(f"l LOGIN {acc.user} {acc.password}\r\nm SELECT INBOX\r\n".encode())
        _until(s, b"m OK")
        for i in range(150):
            base = bytearray(rng.choice(VALID).replace(b"{", b"[").replace(b"}", b"]"))
            for _ in range(rng.randint(1, 4)):
                pos = rng.randrange(len(base))
                base[pos:pos + 1] = bytes([rng.randrange(256)])
            line = bytes(base).replace(b"\r", b"").replace(b"\n", b"").replace(b"{", b"") + b"\r\n"
            s.sendall(line + f"p{i} NOOP\r\n".encode())
            _until(s, f"p{i} OK".encode())
