"""Shared fixtures of the project's own tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reference_server.embedded import EmbeddedServer
from tests.test_imap_server import Harness

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    """The sans-I/O IMAP harness of tests/test_imap_server.py over a fresh store."""
    harness = Harness(tmp_path)
    yield harness
    harness.store.close()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Path]:
    """A private Dovecot on loopback (.ci/dovecot/start.sh); yields targets/dovecot.toml.

    Its ports are fixed by the target file, so every test using it carries
    `pytest.mark.xdist_group("dovecot")` and runs in one pytest-xdist worker (--dist loadgroup).
    """
    if shutil.which("dovecot") is None:
        pytest.fail("Dovecot is not installed: run `bash .ci/test` (it installs Debian's dovecot)")
    if _dovecot_running():  # a developer's instance: use it and leave it running
        yield ROOT / "targets" / "dovecot.toml"
        return
    subprocess.run(["bash", str(ROOT / ".ci/dovecot/start.sh")], check=True)
    try:
        yield ROOT / "targets" / "dovecot.toml"
    finally:
        subprocess.run(["bash", str(ROOT / ".ci/dovecot/stop.sh")], check=False)


def _dovecot_running() -> bool:
    pid_file = Path("/tmp/mailspec-dovecot/run/master.pid")
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (OSError, ValueError):
        return False
    return True


@pytest.fixture
def embedded() -> Iterator[EmbeddedServer]:
    """A fresh reference server (in-process, free loopback ports) for one test."""
    with EmbeddedServer() as server:
        server.start()
        yield server
