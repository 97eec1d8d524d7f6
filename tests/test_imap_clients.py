"""Real IMAP clients against the reference server: imapclient, imaplib, curl and mbsync.

They are independent implementations of the client side, so they check the server's framing,
literals, STARTTLS, UIDPLUS/MOVE/IDLE and synchronisation semantics from the outside.
"""

from __future__ import annotations

import imaplib
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient

from mailspec.targets import Account
from reference_server.embedded import EmbeddedServer

MSG = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: hello\r\n\r\nbody line\r\n"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `bash .ci/test` (it installs it from Debian)")
    return path


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as srv:
        yield srv


def _ctx(server: EmbeddedServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=server.target.tls.ca_file)


def _account(server: EmbeddedServer, i: int) -> Account:
    return server.target.disposable_accounts()[i]


def test_imapclient_session(server: EmbeddedServer) -> None:
    acc = _account(server, 0)
    port = server.target.endpoints["imap"].port
    with IMAPClient("localhost", port=port, ssl=False) as c:
        c.starttls(_ctx(server))
        c.login(acc.user, acc.password)
        assert {b"\\Sent"} <= {f for flags, _, _ in c.list_folders() for f in flags}
        assert c.find_special_folder(b"\\Trash") == "Trash"
        c.create_folder("Work")
        uid = int(c.append("INBOX", MSG, flags=[b"\\Flagged"]).split(b"]")[0].split()[-1])
        c.select_folder("INBOX")
        data = c.fetch([uid], ["ENVELOPE", "BODY.PEEK[]", "FLAGS", "RFC822.SIZE"])[uid]
        assert data[b"BODY[]"] == MSG and data[b"RFC822.SIZE"] == len(MSG)
        assert data[b"ENVELOPE"].subject == b"hello" and b"\\Flagged" in data[b"FLAGS"]
        assert c.search(["SUBJECT", "hello"]) == [uid]
        c.add_flags([uid], [b"\\Seen"])
        assert b"\\Seen" in c.get_flags([uid])[uid]
        c.copy([uid], "Work")
        c.move([uid], "Archive")
        assert c.search("ALL") == []
        c.select_folder("Archive")
        c.idle()
        threading.Timer(0.1, server.deliver, args=(acc, MSG)).start()  # goes to INBOX, not pushed here
        c.idle_check(timeout=0.5)
        c.idle_done()
        c.select_folder("INBOX")
        c.idle()
        server.deliver(acc, MSG)
        events = c.idle_check(timeout=2)
        c.idle_done()
        assert any(e[1] == b"EXISTS" for e in events)
        assert c.folder_status("Work", ["MESSAGES"])[b"MESSAGES"] == 1


def test_imaplib_session(server: EmbeddedServer) -> None:
    acc = _account(server, 1)
    m = imaplib.IMAP4("localhost", server.target.endpoints["imap"].port)
    m.starttls(ssl_context=_ctx(server))
    m.login(acc.user, acc.password)
    assert m.append("INBOX", "(\\Seen)", None, MSG)[0] == "OK"
    assert m.select("INBOX") == ("OK", [b"1"])
    typ, data = m.fetch("1", "(RFC822)")
    assert typ == "OK" and data[0][1] == MSG  # type: ignore[index]
    assert m.search(None, "SEEN") == ("OK", [b"1"])
    assert m.store("1", "+FLAGS", "(\\Deleted)")[0] == "OK"
    assert m.expunge() == ("OK", [b"1"])
    m.logout()


def _curl(server: EmbeddedServer, acc: Account, path: str) -> str:
    port = server.target.endpoints["imap"].port
    argv = [_tool("curl"), "-sS", "--ssl-reqd", "--max-time", "10", "--cacert", server.target.tls.ca_file,
            "--resolve", f"localhost:{port}:127.0.0.1", "-u", f"{acc.user}:{acc.password}",
            f"imap://localhost:{port}/{path}"]
    return subprocess.run(argv, capture_output=True, check=True, timeout=20).stdout.decode()


def test_curl_list_and_fetch(server: EmbeddedServer) -> None:
    acc = _account(server, 2)
    server.deliver(acc, MSG)
    listing = _curl(server, acc, "")
    assert '"/" INBOX' in listing and "\\Sent" in listing
    assert _curl(server, acc, "INBOX;UID=1").encode() == MSG


def _mbsync(config: Path) -> None:
    run = subprocess.run([_tool("mbsync"), "-c", str(config), "-a"], capture_output=True, timeout=60, check=False)
    assert run.returncode == 0, run.stdout.decode() + run.stderr.decode()


def test_mbsync_two_way(server: EmbeddedServer, tmp_path: Path) -> None:
    acc = _account(server, 3)
    store = server._server.store  # type: ignore[union-attr]
    store.deliver(acc.user, MSG)
    store.deliver(acc.user, MSG.replace(b"hello", b"second"), mailbox="Archive")
    local = tmp_path / "mail"
    local.mkdir()
    config = tmp_path / "mbsyncrc"
    port = server.target.endpoints["imap"].port
    config.write_text(f"""IMAPAccount ref
Host localhost
Port {port}
User {acc.user}
Pass {acc.password}
SSLType STARTTLS
CertificateFile {server.target.tls.ca_file}

IMAPStore remote
Account ref

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns INBOX Archive Work
Create Both
Sync All
Expunge Both
SyncState *
""")
    _mbsync(config)
    got = list((local / "INBOX" / "cur").iterdir()) + list((local / "INBOX" / "new").iterdir())
    assert len(got) == 1 and list((local / "Archive").rglob("*,U=*"))
    # Local changes: a new message in a new folder, and \Seen + \Flagged on the INBOX message.
    work = local / "Work"
    for sub in ("cur", "new", "tmp"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    (work / "new" / "1.local").write_bytes(MSG.replace(b"hello", b"from local"))
    msg = got[0]
    msg.rename(local / "INBOX" / "cur" / (msg.name.split(":2,")[0] + ":2,FS"))
    # A remote change: a new message.
    store.deliver(acc.user, MSG.replace(b"hello", b"remote new"))
    _mbsync(config)
    assert [m for m in store.list_messages(acc.user, "Work")]
    flags = store.flags(acc.user, 1)
    assert "\\Seen" in flags and "\\Flagged" in flags
    inbox = list((local / "INBOX").rglob("*,U=*"))
    assert len(inbox) == 2
