"""Transcript rendering, and the recorded client against a tiny scripted server on loopback."""

from __future__ import annotations

import socket
import threading

import pytest

from mailspec.protocol.pop3 import Pop3ProtocolViolation, Rule
from mailspec.wire.pop3 import Pop3Client, Pop3ConnectionClosed, Pop3Timeout
from mailspec.wire.transcript import MAX_RUN_LINES, Transcript, escape_line


def test_escape_line():
    assert escape_line(b"+OK hi\r\n") == "+OK hi\\r\\n"
    assert escape_line(b"a\x00\x7f\xff\\") == "a\\x00\\x7f\\xff\\\\"


def test_render_directions_and_events():
    t = Transcript()
    t.event("c1", "connect 127.0.0.1:110")
    t.record("c1", "S", b"+OK ready\r\n")
    t.record("c1", "C", b"STAT\r\n")
    t.record("c2", "S", b"+OK\r\nline\n.\r\n")
    text = t.render()
    assert "c1] -- connect" in text
    assert "c1] S: +OK ready\\r\\n" in text and "c1] C: STAT\\r\\n" in text
    assert "c2] S: line\\n" in text  # a bare LF stays visible
    assert "c2" not in t.render("c1") and t.connections() == ["c1", "c2"]


def test_render_elides_long_bodies():
    t = Transcript()
    t.record("c", "C", b"RETR 1\r\n")
    t.record("c", "S", b"".join(b"line %d\r\n" % i for i in range(500)))
    text = t.render()
    assert "line 0\\r\\n" in text and "line 499\\r\\n" in text and "line 250\\r\\n" not in text
    assert "lines elided" in text
    assert text.count("\n") < MAX_RUN_LINES


class ScriptedServer:
    """Sends canned replies, one per received line, on a loopback socket."""

    def __init__(self, greeting: bytes, replies: list[bytes]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.greeting, self.replies = greeting, replies
        threading.Thread(target=self.run, daemon=True).start()

    def run(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.sendall(self.greeting)
            f = conn.makefile("rb")
            for reply in self.replies:
                if not f.readline():
                    return
                if reply == b"<hang>":
                    threading.Event().wait(2)
                    return
                if reply == b"<close>":
                    return
                conn.sendall(reply)
            f.readline()


def client(greeting: bytes, replies: list[bytes], **kw) -> Pop3Client:
    srv = ScriptedServer(greeting, replies)
    return Pop3Client("127.0.0.1", srv.port, timeout=0.5, **kw)


def test_commands_are_recorded_and_parsed():
    c = client(b"+OK hi <1.2@x>\r\n", [b"+OK 1 5\r\n", b"+OK\r\n1 5\r\n.\r\n", b"-ERR [IN-USE] busy\r\n"])
    assert c.greeting is not None and c.greeting.ok
    assert c.stat() == (1, 5)
    assert c.list()[1] == [b"1 5"]
    ev = c.cmd("PASS x")
    assert not ev.ok and ev.code == "IN-USE"
    text = c.transcript.render()
    assert "C: STAT\\r\\n" in text and "S: -ERR [IN-USE] busy\\r\\n" in text


def test_strict_client_raises_on_violation():
    c = client(b"+OK hi\r\n", [b"+ok 1 5\r\n"])
    with pytest.raises(Pop3ProtocolViolation) as info:
        c.cmd("STAT")
    assert info.value.rule is Rule.STATUS_CASE


def test_tolerant_client_records_violation_in_transcript():
    c = client(b"+OK hi\r\n", [b"+ok 1 5\r\n"], tolerate=[Rule.STATUS_CASE])
    assert c.cmd("STAT").ok
    assert "protocol violation (tolerated here)" in c.transcript.render()


def test_lenient_greeting_only_when_asked():
    with pytest.raises(Pop3ProtocolViolation):
        client(b"POP3 ready\r\n", [])
    c = client(b"POP3 ready\r\n", [], lenient_greeting=True)
    assert c.greeting is not None and c.greeting.ok


def test_timeout_is_reported():
    c = client(b"+OK hi\r\n", [b"<hang>"])
    with pytest.raises(Pop3Timeout, match="no complete response"):
        c.cmd("STAT")
    assert "timeout" in c.transcript.render()


def test_closed_connection_is_reported():
    c = client(b"+OK hi\r\n", [b"<close>"])
    with pytest.raises(Pop3ConnectionClosed):
        c.cmd("STAT")
