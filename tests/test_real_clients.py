"""Real POP3 clients against the reference server: curl (list, retrieve) and fetchmail (keep / delete).

They are independent implementations, so they check the server's framing, byte-stuffing, STLS and
deletion semantics from the outside.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mailspec.targets import Account, Target
from reference_server.embedded import EmbeddedServer

MESSAGES = (
    b"From: a@example.test\r\nSubject: one\r\n\r\nfirst body\r\n.line that starts with a dot\r\n",
    b"From: b@example.test\r\nSubject: two\r\n\r\nsecond body\r\n",
)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `bash .ci/test` (it installs it from Debian)")
    return path


def _account(target: Target) -> Account:
    return target.disposable_accounts()[0]


def _curl(target: Target, url_path: str, *, implicit: bool = False) -> str:
    acc = _account(target)
    ep = target.endpoint("pop3s" if implicit else "pop3")
    scheme = "pop3s" if implicit else "pop3"
    argv = [_tool("curl"), "-sS", "--max-time", "10", "--cacert", target.tls.ca_file,
            "--resolve", f"localhost:{ep.port}:127.0.0.1", "-u", f"{acc.user}:{acc.password}",
            f"{scheme}://localhost:{ep.port}/{url_path}"]
    if not implicit:
        argv.insert(2, "--ssl-reqd")  # STLS, and fail rather than fall back to plaintext
    return subprocess.run(argv, capture_output=True, check=True, timeout=20).stdout.decode()


def _fill(server: EmbeddedServer) -> None:
    for m in MESSAGES:
        server.deliver(_account(server.target), m)


def test_curl_lists_with_sizes_equal_to_the_octets_it_retrieves(embedded: EmbeddedServer) -> None:
    _fill(embedded)
    listing = _curl(embedded.target, "")
    assert listing.splitlines() == [f"1 {len(MESSAGES[0])}", f"2 {len(MESSAGES[1])}"]
    body = _curl(embedded.target, "1")
    # curl removes the stuffing dot: what arrives is the stored message byte for byte
    assert body.encode() == MESSAGES[0]


def test_curl_retrieves_over_implicit_tls(embedded: EmbeddedServer) -> None:
    _fill(embedded)
    assert _curl(embedded.target, "2", implicit=True).encode() == MESSAGES[1]


def _fetchmail(server: EmbeddedServer, tmp_path: Path, keep: bool) -> bytes:
    target = server.target
    acc = _account(target)
    out = tmp_path / "out.mbox"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        "set no bouncemail\nset no syslog\n"
        f"poll localhost via 127.0.0.1 service {target.endpoint('pop3').port} protocol pop3 timeout 10:\n"
        f'  user "{acc.user}" there with password "{acc.password}" is "root" here\n'
        f'  sslproto "TLS1.2+" sslcertck sslcertfile "{target.tls.ca_file}" sslcommonname "localhost"\n'
        f"  {'keep' if keep else 'no keep'}\n"
        f"  mda \"/bin/sh -c 'cat >> {out}'\"\n"
    )
    rc.chmod(0o600)
    proc = subprocess.run(
        [_tool("fetchmail"), "-f", str(rc), "--pidfile", str(tmp_path / "pid")],
        capture_output=True, timeout=30, check=False, env=dict(os.environ, HOME=str(tmp_path)),
    )
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    return out.read_bytes()


@pytest.mark.parametrize("keep", [True, False], ids=["keep", "delete"])
def test_fetchmail_downloads_and_deletes_unless_keep(embedded: EmbeddedServer, tmp_path: Path, keep: bool) -> None:
    _fill(embedded)
    mbox = _fetchmail(embedded, tmp_path, keep)
    assert b"\n.line that starts with a dot\n" in mbox.replace(b"\r\n", b"\n")
    assert mbox.count(b"Subject: ") == 2
    remaining = [line for line in _curl(embedded.target, "").splitlines() if line]
    assert len(remaining) == (2 if keep else 0)
