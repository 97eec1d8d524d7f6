"""The recording IMAP client (mailspec.wire.imap): against scripted loopback servers for the client's
own logic (literal handshakes, timeouts, STARTTLS injection, closes), and against the private
Dovecot, the independent oracle for the response grammar: a realistic session must validate cleanly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailspec.protocol.imap_response import (
    BodyPart,
    Continuation,
    ImapProtocolViolation,
    Malformed,
    Multipart,
    Tagged,
    Untagged,
)
from mailspec.targets import Target, load_target
from mailspec.wire.imap import (
    ImapClient,
    ImapConnectionClosed,
    ImapTimeout,
    ImapUnexpectedResponse,
    Literal,
    mailbox_arg,
    quote,
    untagged,
)
from mailspec.wire.transcript import Transcript

# -- scripted servers ------------------------------------------------------------------------------


class Script:
    """One loopback connection served by `handler(sock_file, sock)` in a thread; records what came in."""

    def __init__(self, handler: Callable[[socket.socket, list[bytes]], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, args=(handler,), daemon=True)
        self._thread.start()

    def _serve(self, handler: Callable[[socket.socket, list[bytes]], None]) -> None:
        conn, _ = self.listener.accept()
        try:
            with conn:
                handler(conn, self.received)
        except BaseException as exc:  # surfaced by finish()
            self.error = exc

    def finish(self) -> None:
        self._thread.join(5)
        self.listener.close()
        if self.error is not None:
            raise self.error


def read_line(conn: socket.socket, into: list[bytes]) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            break
        line += chunk
    into.append(line)
    return line


def read_exact(conn: socket.socket, n: int, into: list[bytes]) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    into.append(data)
    return data


GREETING = b"* OK [CAPABILITY IMAP4rev1] ready\r\n"


def client_for(script: Script, **kw: object) -> ImapClient:
    return ImapClient("127.0.0.1", script.port, timeout=2.0, **kw)  # type: ignore[arg-type]


def test_synchronising_literal_waits_for_the_continuation() -> None:
    def handler(conn: socket.socket, got: list[bytes]) -> None:
        conn.sendall(GREETING)
        assert read_line(conn, got) == b'A0001 APPEND "box" {5}\r\n'
        conn.sendall(b"* 3 EXISTS\r\n+ go ahead\r\n")
        assert read_exact(conn, 7, got) == b"hello\r\n"
        conn.sendall(b"A0001 OK [APPENDUID 7 9] done\r\n")

    script = Script(handler)
    client = client_for(script)
    untagged_resps, done = client.run(b"APPEND ", mailbox_arg("box"), b" ", Literal(b"hello"))
    script.finish()
    assert done.ok and done.code_args == (7, ((9, 9),))
    assert [r.kind for r in untagged_resps if isinstance(r, Untagged)] == ["EXISTS"]
    sent = b"".join(e.data for e in client.transcript.entries if e.direction == "C")
    assert sent == b'A0001 APPEND "box" {5}\r\nhello\r\n'
    assert b"+ go ahead" in b"".join(e.data for e in client.transcript.entries if e.direction == "S")


def test_refused_literal_is_not_sent() -> None:
    def handler(conn: socket.socket, got: list[bytes]) -> None:
        conn.sendall(GREETING)
        read_line(conn, got)
        conn.sendall(b"A0001 NO [LIMIT] too big\r\n")
        conn.settimeout(0.3)
        with contextlib.suppress(TimeoutError):
            got.append(conn.recv(100))

    script = Script(handler)
    client = client_for(script)
    _, done = client.run(b"APPEND x ", Literal(b"x" * 100))
    script.finish()
    assert done.status == "NO" and done.code == "LIMIT"
    assert script.received[1:] in ([], [b""])  # nothing after the announcement


def test_literal_plus_when_advertised() -> None:
    def handler(conn: socket.socket, got: list[bytes]) -> None:
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n")
        read_line(conn, got)
        read_line(conn, got)
        conn.sendall(b"A0001 OK done\r\n")

    script = Script(handler)
    client = client_for(script)
    _, done = client.run(b"APPEND x ", Literal(b"hi"))
    script.finish()
    assert done.ok and script.received == [b"A0001 APPEND x {2+}\r\n", b"hi\r\n"]


def test_timeouts_and_poll() -> None:
    release = threading.Event()

    def handler(conn: socket.socket, got: list[bytes]) -> None:
        conn.sendall(GREETING)
        read_line(conn, got)
        conn.sendall(b"* 1 EXI")  # half a response, then silence
        release.wait(5)

    script = Script(handler)
    client = client_for(script)
    with pytest.raises(ImapTimeout):
        client.run("NOOP", timeout=0.3)
    assert client.poll(0.1) is None
    assert "timeout" in client.transcript.render()
    release.set()
    client.close()
    script.finish()


def test_server_close_raises_with_what_came() -> None:
    def handler(conn: socket.socket, got: list[bytes]) -> None:
        conn.sendall(GREETING)
        read_line(conn, got)
        conn.sendall(b"* BYE shutting down\r\n")

    script = Script(handler)
    client = client_for(script)
    with pytest.raises(ImapConnectionClosed) as info:
        client.run("NOOP")
    script.finish()
    assert [r.kind for r in info.value.responses if isinstance(r, Untagged)] == ["BYE"]
    assert "connection closed by server" in client.transcript.render()


def test_grammar_violation_is_raised_and_recorded() -> None:
    def handler(conn: socket.socket, got: list[bytes]) -> None:
        conn.sendall(GREETING)
        read_line(conn, got)
        conn.sendall(b"* OK [UIDNEXT 0] bad\r\nA0001 OK done\r\n")

    script = Script(handler)
    client = client_for(script)
    with pytest.raises(ImapProtocolViolation) as info:
        client.run("NOOP")
    script.finish()
    assert info.value.rule == "resp-text-code"
    assert "protocol violation" in client.transcript.render()


def test_tolerated_violation_comes_back_as_malformed() -> None:
    def handler(conn: socket.socket, got: list[bytes]) -> None:
        conn.sendall(GREETING)
        read_line(conn, got)
        conn.sendall(b"* OK [UIDNEXT 0] bad\r\nA0001 OK done\r\n")

    script = Script(handler)
    client = client_for(script, tolerate=["resp-text-code"])
    resps, done = client.run("NOOP")
    script.finish()
    assert done.ok and isinstance(resps[0], Malformed)
    assert "tolerated here" in client.transcript.render()


def test_wrong_tag_is_a_violation() -> None:
    def handler(conn: socket.socket, got: list[bytes]) -> None:
        conn.sendall(GREETING)
        read_line(conn, got)
        conn.sendall(b"B0001 OK done\r\n")

    script = Script(handler)
    client = client_for(script)
    with pytest.raises(ImapProtocolViolation) as info:
        client.run("NOOP")
    script.finish()
    assert info.value.rule == "tag-echo"


def test_starttls_refuses_cleartext_bytes_after_ok() -> None:
    def handler(conn: socket.socket, got: list[bytes]) -> None:
        conn.sendall(GREETING)
        read_line(conn, got)
        conn.sendall(b"A0001 OK begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n")

    script = Script(handler)
    client = client_for(script)
    with pytest.raises(ImapProtocolViolation) as info:
        client.starttls()
    script.finish()
    assert info.value.rule == "starttls-cleartext"


def test_idle_done_and_pushes_from_a_script() -> None:
    def handler(conn: socket.socket, got: list[bytes]) -> None:
        conn.sendall(GREETING)
        read_line(conn, got)
        conn.sendall(b"+ idling\r\n")
        conn.sendall(b"* 4 EXISTS\r\n")
        assert read_line(conn, got) == b"DONE\r\n"
        conn.sendall(b"A0001 OK IDLE terminated\r\n")

    script = Script(handler)
    client = client_for(script)
    assert isinstance(client.idle(), Continuation)
    push = client.poll(2)
    assert isinstance(push, Untagged) and push.kind == "EXISTS" and push.number == 4
    _, done = client.done()
    script.finish()
    assert done.ok


def test_quote_helpers() -> None:
    assert quote('a"b\\c') == b'"a\\"b\\\\c"'
    assert mailbox_arg("caf\u00e9") == b'"caf&AOk-"'
    assert mailbox_arg("caf\u00e9", utf8=True) == '"caf\u00e9"'.encode()
    with pytest.raises(ValueError):
        quote("a\r\nb")


# -- Dovecot: the independent oracle ------------------------------------------------------------

dovecot_only = pytest.mark.xdist_group("dovecot")


@pytest.fixture
def target(dovecot: Path) -> Target:
    return load_target(dovecot)


def _tls(target: Target) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=target.tls.ca_file)


def _dave(target: Target) -> tuple[str, str]:
    account = next(a for a in target.accounts if a.user == "dave")
    return account.user, account.password


def _connect(target: Target, transcript: Transcript, label: str, *, implicit: bool = False) -> ImapClient:
    endpoint = target.endpoint("imaps" if implicit else "imap")
    assert endpoint is not None
    client = ImapClient(endpoint.host, endpoint.port, timeout=target.timeout, transcript=transcript, label=label,
                        tls_context=_tls(target), server_hostname=target.tls.server_name, implicit_tls=implicit)
    if not implicit:
        assert client.starttls().ok
    user, password = _dave(target)
    assert client.login(user, password).ok, transcript.render()
    return client


@pytest.fixture
def scratch(target: Target) -> Iterator[str]:
    """A mailbox of dave's that this test owns; deleted afterwards whatever happened."""
    name = f"mailspec-wire-{uuid.uuid4().hex[:10]}"
    yield name
    with _connect(target, Transcript(), "cleanup") as client:
        resps, _ = client.ok(b'LIST "" ' + quote(name + "*"))
        for mailbox in sorted((r.data.name for r in untagged(resps, "LIST")), key=len, reverse=True):
            client.run(b"DELETE " + mailbox_arg(mailbox))  # children first
        client.logout()


MESSAGE = (
    b"From: Alice Example <alice@example.org>\r\n"
    b"To: Dave <dave@example.org>, undisclosed-recipients:;\r\n"
    b"Subject: =?UTF-8?Q?caf=C3=A9?= wire test\r\n"
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    b"Message-ID: <wire-test@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n'
    b"\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"caf=C3=A9\r\n"
    b"--b1\r\n"
    b'Content-Type: application/octet-stream; name="a.bin"\r\n'
    b'Content-Disposition: attachment; filename="a.bin"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"AAECAwQ=\r\n"
    b"--b1\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"Subject: inner\r\n"
    b"\r\n"
    b"inner body\r\n"
    b"--b1--\r\n"
)


def _no_violations(*clients: ImapClient) -> None:
    for client in clients:
        assert client.reader.violations == [], client.transcript.render()


@dovecot_only
def test_realistic_session_validates_cleanly(target: Target, scratch: str) -> None:
    transcript = Transcript()
    endpoint = target.endpoint("imap")
    assert endpoint is not None
    client = ImapClient(endpoint.host, endpoint.port, timeout=target.timeout, transcript=transcript, label="dave",
                        tls_context=_tls(target), server_hostname=target.tls.server_name)
    assert isinstance(client.greeting, Untagged) and client.greeting.kind == "OK"
    assert client.has_capability("STARTTLS") and not client.tls_active
    assert client.starttls().ok and client.tls_active
    assert not client.has_capability("STARTTLS")  # asked again after TLS (RFC 9051 §6.2.1)
    user, password = _dave(target)
    assert client.login(user, password).ok
    resps, _ = client.ok('LIST "" "*"')
    assert "INBOX" in {r.data.name for r in untagged(resps, "LIST")}
    client.ok(b"CREATE " + mailbox_arg(scratch))
    _, appended = client.append(scratch, MESSAGE, flags=["\\Draft"], date="07-Feb-1994 21:52:25 -0800",
                                non_sync=False)
    assert appended.ok and appended.code == "APPENDUID"
    _, second = client.append(scratch, b"Subject: second\r\n\r\nbody\r\n", non_sync=True)
    assert second.ok
    resps, selected = client.select(scratch)
    assert selected.code == "READ-WRITE"
    assert untagged(resps, "EXISTS")[0].number == 2
    assert any(r.code == "UIDVALIDITY" for r in untagged(resps, "OK"))

    resps, _ = client.ok("FETCH 1 (FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY BODY.PEEK[])")
    fetch = untagged(resps, "FETCH")[0].data
    assert fetch["BODY[]"] == MESSAGE and fetch["RFC822.SIZE"] == len(MESSAGE)
    assert "\\Draft" in fetch["FLAGS"] and fetch["UID"] == appended.code_args[1][0][0]
    # the instant must survive; Dovecot keeps it in UTC (the zone may change, RFC 3501 §6.3.11)
    assert fetch["INTERNALDATE"] == dt.datetime(1994, 2, 8, 5, 52, 25, tzinfo=dt.UTC)
    env = fetch["ENVELOPE"]
    assert env.subject == b"=?UTF-8?Q?caf=C3=A9?= wire test" and env.message_id == b"<wire-test@example.org>"
    assert env.to[1].is_group_start and env.to[2].is_group_end
    structure = fetch["BODYSTRUCTURE"]
    assert isinstance(structure, Multipart) and structure.subtype == "MIXED" and structure.ext is not None
    text, attachment, inner = structure.parts
    assert isinstance(text, BodyPart) and (text.type, text.encoding.upper()) == ("TEXT", b"QUOTED-PRINTABLE")
    assert attachment.ext.disposition[0].lower() == b"attachment"
    assert inner.type == "MESSAGE" and inner.envelope.subject == b"inner"
    assert fetch["BODY"].ext is None  # non-extensible form

    resps, _ = client.ok("FETCH 1:2 (BODY.PEEK[HEADER.FIELDS (Subject)]<0.9> BINARY.PEEK[2] BINARY.SIZE[2])")
    by_number = {r.number: r.data for r in untagged(resps, "FETCH")}
    assert by_number[1]["BINARY[2]"] == b"\x00\x01\x02\x03\x04"
    assert by_number[2]["BODY[HEADER.FIELDS (SUBJECT)]<0>"] == b"Subject: "

    resps, _ = client.ok("SEARCH SUBJECT second")
    assert untagged(resps, "SEARCH")[0].data.numbers == (2,)
    resps, _ = client.ok("UID SEARCH RETURN (MIN MAX COUNT ALL) ALL")
    esearch = untagged(resps, "ESEARCH")[0].data
    assert esearch.uid and esearch.items["COUNT"] == 2
    resps, _ = client.ok("STORE 2 +FLAGS (\\Flagged $Forwarded)")
    assert "\\Flagged" in untagged(resps, "FETCH")[0].data["FLAGS"]

    # IDLE, with the push caused by a second connection
    other = _connect(target, transcript, "dave-2", implicit=True)
    assert isinstance(client.idle(), Continuation)
    other.append(scratch, b"Subject: pushed\r\n\r\nnew\r\n")
    pushes = []
    while not any(isinstance(p, Untagged) and p.kind == "EXISTS" for p in pushes):
        push = client.poll(5)
        assert push is not None, transcript.render()
        pushes.append(push)
    assert [p.number for p in pushes if p.kind == "EXISTS"] == [3]
    _, idle_done = client.done()
    assert idle_done.ok
    other.logout()

    resps, _ = client.logout()
    assert untagged(resps, "BYE")
    _no_violations(client, other)


@dovecot_only
def test_extension_responses_validate_over_implicit_tls(target: Target, scratch: str) -> None:
    transcript = Transcript()
    client = _connect(target, transcript, "dave", implicit=True)
    assert client.tls_active
    resps, _ = client.ok("ENABLE CONDSTORE QRESYNC")
    assert {"CONDSTORE", "QRESYNC"} <= set(untagged(resps, "ENABLED")[0].data)
    resps, _ = client.ok("NAMESPACE")
    assert untagged(resps, "NAMESPACE")[0].data.personal
    resps, _ = client.ok('ID ("name" "mailspec")')
    assert untagged(resps, "ID")
    client.ok(b"CREATE " + mailbox_arg(scratch))
    client.ok(b"CREATE " + mailbox_arg(scratch + ".caf\u00e9"))
    for message in (b"Subject: a\r\n\r\na\r\n", b"Subject: b\r\nIn-Reply-To: <x>\r\n\r\nb\r\n"):
        assert client.append(scratch, message)[1].ok
    resps, _ = client.ok(b'LIST (SUBSCRIBED RECURSIVEMATCH) "" ' + quote(scratch + "*")
                         + b" RETURN (CHILDREN STATUS (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ SIZE))")
    resps, _ = client.ok(b'LIST "" ' + quote(scratch + "*") + b" RETURN (CHILDREN SPECIAL-USE)")
    names = {r.data.name for r in untagged(resps, "LIST")}
    assert names == {scratch, scratch + ".caf\u00e9"}
    resps, _ = client.ok(b"STATUS " + mailbox_arg(scratch) + b" (MESSAGES UIDNEXT UNSEEN HIGHESTMODSEQ SIZE)")
    assert untagged(resps, "STATUS")[0].data.items["MESSAGES"] == 2
    resps, _ = client.select(scratch)
    assert any(r.code == "HIGHESTMODSEQ" for r in untagged(resps, "OK"))
    resps, _ = client.ok("FETCH 1:* (UID FLAGS MODSEQ)")
    assert all(r.data["MODSEQ"] >= 1 for r in untagged(resps, "FETCH"))
    resps, _ = client.ok("SEARCH MODSEQ 0")
    assert untagged(resps, "SEARCH")[0].data.modseq is not None
    resps, _ = client.ok("THREAD REFERENCES UTF-8 ALL")
    assert untagged(resps, "THREAD")
    resps, _ = client.ok("SORT (SUBJECT) UTF-8 ALL")
    assert untagged(resps, "SORT")[0].data.numbers == (1, 2)
    resps, moved = client.ok(b"UID MOVE 1 " + mailbox_arg(scratch + ".caf\u00e9"))
    copyuid = [r for r in untagged(resps, "OK") if r.code == "COPYUID"] or [moved]
    assert copyuid[0].code == "COPYUID"
    assert untagged(resps, "VANISHED")  # QRESYNC reports the move as VANISHED
    resps, _ = client.ok(b"UNSELECT")
    client.ok(b"DELETE " + mailbox_arg(scratch + ".caf\u00e9"))
    client.logout()
    _no_violations(client)


@dovecot_only
def test_bad_input_answers_validate(target: Target) -> None:
    transcript = Transcript()
    client = _connect(target, transcript, "dave", implicit=True)
    client.reader.command_sent("X1")
    client.send_raw(b"X1 FROBNICATE now\r\n")
    bad = client.read_response()
    assert isinstance(bad, Tagged) and bad.status == "BAD"
    _, done = client.run("SELECT mailspec-wire-does-not-exist")
    assert done.status == "NO"
    with pytest.raises(ImapUnexpectedResponse):
        client.ok("FETCH 1 (FLAGS)")  # no mailbox selected: BAD
    client.logout()
    _no_violations(client)
