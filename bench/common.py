"""What the benchmarks share: starting the two servers, CPU and memory figures, the process pool.

The reference server runs as `mailspec serve --config <generated>` in its own process; Dovecot is a
private instance from .ci/dovecot/start.sh in its own folder. Both listen on free loopback ports, so
a benchmark never disturbs the test instance (11110...) nor anything else running.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from reference_server.main import serving_ports  # noqa: E402
from reference_server.passwords import hash_password  # noqa: E402

DOVECOT_DIR = "/tmp/mailspec-bench-dovecot"
LISTENERS = ("pop3", "pop3s", "imap", "imaps")  # the order .ci/dovecot/start.sh reads its ports in

Users = Sequence[tuple[str, str]]
T = TypeVar("T")
R = TypeVar("R")


def bench_users(prefix: str, count: int) -> list[tuple[str, str]]:
    """(user, password) pairs; the password is "<user>-pass" as .ci/dovecot/start.sh sets it."""
    return [(f"{prefix}{i:02d}", f"{prefix}{i:02d}-pass") for i in range(count)]


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards `wanted` (up to the hard limit); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def proc_cpu_seconds(pid: int) -> float:
    """CPU of a process and of its children that it has reaped (Dovecot's master reaps its workers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def proc_memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in KiB, from /proc/<pid>/status."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def write_reference_config(folder: Path, users: Users, *, max_connections: int = 1000, extra: str = "") -> Path:
    """A `mailspec serve` config on free ports allowing plaintext logins; `extra` is appended TOML."""
    accounts = "".join(
        f'[[accounts]]\nuser = "{u}"\npassword_hash = "{hash_password(pw)}"\n\n' for u, pw in users
    )
    # Port 0: the server picks free ones and prints them, so a benchmark never collides with
    # whatever else runs on the machine.
    ports = "".join(f"{name}_port = 0\n" for name in LISTENERS)
    cfg = folder / "bench.toml"
    cfg.write_text(
        f'host = "127.0.0.1"\n{ports}store = "bench.sqlite"\nallow_plaintext_auth = true\n{extra}\n'
        f'[tls]\ncert = "auto"\nkey = "auto"\nca_out = "ca.pem"\n\n'
        f"[limits]\nmax_connections = {max_connections}\n\n{accounts}"
    )
    return cfg


@dataclass
class Server:
    """A server under test: the pid whose CPU and memory count, and its listeners' ports."""

    pid: int
    ports: dict[str, int]
    proc: subprocess.Popen[bytes] | None = None


def start_reference(cfg: Path, *, fd_limit: int | None = None) -> Server:
    """`mailspec serve --config cfg` in its own process (with RLIMIT_NOFILE raised when asked)."""
    def preexec() -> None:
        if fd_limit is not None:
            raise_fd_limit(fd_limit)

    log = cfg.parent / "serve.log"  # its log, for when it does not start
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "mailspec", "serve", "--config", str(cfg)],
                                env=dict(os.environ, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
                                stderr=err, preexec_fn=preexec)
    assert proc.stdout is not None
    ports = serving_ports(proc.stdout.readline())
    if ports is None:
        proc.kill()
        raise SystemExit(f"mailspec serve did not start (exit status {proc.wait()}):\n"
                         + log.read_text(errors="replace")[-3000:])
    return Server(proc.pid, ports, proc)


def stop_reference(server: Server) -> None:
    assert server.proc is not None
    server.proc.terminate()
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(5)


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (a server made of many processes, like Dovecot)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process tree: the live processes' own, plus what their reaped children used."""
    total = 0.0
    for p in process_tree(pid):
        try:
            total += proc_cpu_seconds(p)
        except OSError:
            continue  # ended meanwhile; its parent counts it once reaped
    return total


def tree_pss_kib(pid: int) -> tuple[int, int]:
    """(process count, summed Pss in KiB) of a process tree: a fair total for a server made of many
    processes sharing pages (Dovecot), where adding up RSS would count shared pages many times."""
    count = pss = 0
    for p in process_tree(pid):
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        count += 1
        pss += sum(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
    return count, pss


def free_ports(count: int) -> list[int]:
    """Loopback ports nothing listens on right now (bound and released together, so distinct)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def dovecot_env(users: Users, ports: dict[str, int] | None = None) -> dict[str, str]:
    env = dict(os.environ, MAILSPEC_DOVECOT_USERS=" ".join(u for u, _ in users), MAILSPEC_DOVECOT_DIR=DOVECOT_DIR)
    if ports:
        env["MAILSPEC_DOVECOT_PORTS"] = " ".join(str(ports[k]) for k in LISTENERS)
    return env


def start_dovecot(users: Users) -> Server:
    """The benchmark's private Dovecot (.ci/dovecot/start.sh) with these users, on free ports."""
    if shutil.which("dovecot") is None:
        raise SystemExit("dovecot is not installed (apt-get install dovecot-pop3d dovecot-imapd)")
    ports = dict(zip(LISTENERS, free_ports(len(LISTENERS)), strict=True))
    subprocess.run(["bash", str(ROOT / ".ci/dovecot/start.sh")], check=True, env=dovecot_env(users, ports),
                   stdout=subprocess.DEVNULL)
    return Server(int(Path(f"{DOVECOT_DIR}/run/master.pid").read_text().split()[0]), ports)


def tune_dovecot(settings: str) -> None:
    """Add settings to the running benchmark Dovecot's configuration and reload it."""
    conf = Path(DOVECOT_DIR) / "dovecot.conf"
    conf.write_text(conf.read_text() + settings)
    subprocess.run(["doveadm", "-c", str(conf), "reload"], check=True)
    time.sleep(1.0)  # the master restarts its services


def stop_dovecot(users: Users) -> None:
    subprocess.run(["bash", str(ROOT / ".ci/dovecot/stop.sh")], check=False, env=dovecot_env(users))


def run_pool(worker: Callable[[T], R], jobs: Sequence[T]) -> tuple[list[R], float, float]:
    """Run `worker` over `jobs` in one forked process each: (results, wall seconds, generator CPU seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    with mp.get_context("fork").Pool(len(jobs)) as pool:
        results = pool.map(worker, jobs)
    wall = time.monotonic() - start
    # The pool's workers are reaped when the with-block ends, so their CPU is in RUSAGE_CHILDREN now.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return results, wall, cpu


def machine_info() -> dict[str, Any]:
    dovecot = ""
    if shutil.which("dovecot"):
        dovecot = subprocess.run(["dovecot", "--version"], capture_output=True, text=True).stdout.strip()
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "dovecot": dovecot}


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]
