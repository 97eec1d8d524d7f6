"""`mailspec test` end to end against the embedded reference server: outcomes, reports, exit codes."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.suite_runs import run_mailspec_test


def test_full_pop3_suite_passes_on_the_reference_server_and_writes_reports(tmp_path: Path) -> None:
    run = run_mailspec_test(tmp_path, "--protocol", "pop3")
    assert run.exit_code == 0, run.output[-5000:]
    summary = run.summary
    assert summary["target"] == "mailspec-reference"
    assert summary["counts"]["failed"] == summary["counts"]["timeout"] == summary["counts"]["error"] == 0
    assert summary["counts"]["passed"] >= 60
    root = ET.parse(tmp_path / "junit.xml").getroot()
    cases = list(root.iter("testcase"))
    assert len(cases) == summary["total"]
    assert all(c.get("name", "").startswith("pop3/") for c in cases)
    assert all(c.find("properties") is not None for c in cases)


def test_a_run_that_executes_no_test_exits_2(tmp_path: Path) -> None:
    run = run_mailspec_test(tmp_path, "-k", "no_test_has_this_name")
    assert run.exit_code == 2, run.output


def test_failures_exit_1_and_name_id_section_requirement_and_transcript(tmp_path: Path) -> None:
    run = run_mailspec_test(tmp_path, "--fault", "pop3-rset-ignored", "-k", "rset")
    assert run.exit_code == 1, run.output
    failed = [t for t in run.results["tests"] if t["outcome"] == "failed"]
    assert [t["id"] for t in failed] == ["pop3/1939/5/rset-unmarks-deleted"]
    junit = ET.parse(tmp_path / "junit.xml").getroot()
    case = next(c for c in junit.iter("testcase") if c.get("name") == "pop3/1939/5/rset-unmarks-deleted")
    text = case.find("failure").text
    assert "RFC 1939 section 5" in text and "rfc-editor.org/rfc/rfc1939#section-5" in text
    assert "RFC1939-5-" in text
    assert "C: RSET" in case.find("system-out").text
    assert (tmp_path / "transcripts" / "pop3__1939__5__rset-unmarks-deleted.txt").exists()


def test_bad_target_file_and_unknown_fault_are_usage_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[pop3]\nport = "not a number"\n')
    for args in (["--target", str(bad)], ["--fault", "no-such-fault"], ["--protocol", "smtp"]):
        proc = subprocess.run([sys.executable, "-m", "mailspec", "test", *args], capture_output=True, text=True)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "error:" in proc.stderr


def test_known_deviation_does_not_fail_the_run(tmp_path: Path, embedded_target_file: Path) -> None:
    run = run_mailspec_test(tmp_path, "--target", str(embedded_target_file), "-k", "rset_unmarks")
    assert run.exit_code == 0, run.output
    assert run.ids_with("deviation") == {"pop3/1939/5/rset-unmarks-deleted"}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def embedded_target_file(tmp_path: Path) -> Iterator[Path]:
    """`mailspec serve` with a fault, as an external target whose file lists that failure as a deviation."""
    from reference_server.passwords import hash_password

    folder = tmp_path / "server"
    folder.mkdir()
    port, sport = _free_port(), _free_port()
    config = folder / "server.toml"
    config.write_text(
        f'host = "127.0.0.1"\npop3_port = {port}\npop3s_port = {sport}\nstore = "store.sqlite"\n'
        '[tls]\ncert = "auto"\nkey = "auto"\nca_out = "ca.pem"\n'
        + "".join(f'[[accounts]]\nuser = "{u}"\npassword_hash = "{hash_password(u + "-pw", n=2**10)}"\n'
                  for u in ("alice", "bob"))
    )
    proc = subprocess.Popen([sys.executable, "-m", "mailspec", "serve", "--config", str(config),
                             "--fault", "pop3-rset-ignored"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            if (folder / "ca.pem").exists():
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    pass
            time.sleep(0.05)
        target = tmp_path / "target.toml"
        target.write_text(
            f'name = "faulty"\n[pop3]\nport = {port}\ntls = "starttls"\n[pop3s]\nport = {sport}\n'
            f'[tls]\nca_file = "{folder / "ca.pem"}"\nserver_name = "localhost"\n'
            f'[delivery]\nmethod = "command"\ncommand = ["{sys.executable}", "-m", "mailspec", "deliver", '
            f'"--config", "{config}", "--user", "{{user}}", "-"]\n'
            + "".join(f'[[accounts]]\nuser = "{u}"\npassword = "{u}-pw"\ndisposable = true\n'
                      for u in ("alice", "bob"))
            + '[deviations]\n"pop3/1939/5/rset-unmarks-deleted" = "vendor: RSET is a no-op here (test)"\n'
        )
        yield target
    finally:
        proc.terminate()
        proc.wait(10)
