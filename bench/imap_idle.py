"""Thousands of IMAP IDLE sessions in one reference-server process: memory, and push latency.

The generator opens --sessions connections spread over --procs processes (one selector in each),
every one LOGIN, SELECT INBOX, IDLE. --watchers of them share one account and watch its INBOX; the rest
idle on other accounts (--per-account sessions each). Once all are idling the server's VmRSS is
read; then --rounds APPENDs go to the watched INBOX, --gap seconds apart, and each watcher notes
when its `* n EXISTS` arrives. Latency is that moment minus the moment just before the APPEND was
sent (CLOCK_MONOTONIC is one clock for all processes on Linux), so it includes the APPEND itself.

State is checked, not only timed: each watcher's EXISTS counts must only go up, never past the
number of APPENDs, and end at exactly that number (nothing lost, nothing doubled); a message counts
as arrived with the first EXISTS that includes it, so a server may announce two APPENDs with one
EXISTS (reported as "coalesced"). The other sessions must get no untagged data but keep-alive OKs,
and every IDLE must end with a tagged OK after DONE.

    python bench/imap_idle.py --sessions 5000 --watchers 1000 [--json out.json]
    python bench/imap_idle.py --server dovecot --sessions 100 --watchers 100   # for comparison

Dovecot runs one process per session (at most 1024 by default) and each watches its mailbox
with an inotify instance; past fs.inotify.max_user_instances (128 by default, shared by every
Dovecot on the machine) it falls back to checking every 30 s, so it is compared at 100 sessions.

The fd limit is raised (setrlimit) in the server process and in each generator process. Memory is
VmRSS/VmHWM of the server process, plus the summed PSS of its process tree (Dovecot runs one
process per session, so its master's RSS says nothing).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import selectors
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    machine_info,
    percentile,
    proc_memory_kib,
    raise_fd_limit,
    start_dovecot,
    start_reference,
    stop_dovecot,
    stop_reference,
    tree_cpu_seconds,
    tree_pss_kib,
    tune_dovecot,
    write_reference_config,
)
from imap_wire import BenchImap, bench_message

HOST = "127.0.0.1"


@dataclass
class IdleSession:
    user: str
    password: str
    watcher: bool
    exists_at_select: int = -1
    arrivals: list[tuple[int, float]] = field(default_factory=list)  # (EXISTS count, monotonic time)
    error: str = ""


def _lines_until(sock: socket.socket, buf: bytearray, prefix: bytes) -> list[bytes]:
    """Blocking: read lines up to and including the one starting with `prefix`."""
    lines = []
    while True:
        while (end := buf.find(b"\r\n")) < 0:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed")
            buf += data
        line = bytes(buf[:end + 2])
        del buf[:end + 2]
        lines.append(line)
        if line.startswith(prefix):
            return lines


@dataclass
class Watched:
    """A session's socket and unread input while the selector watches it."""

    session: IdleSession
    sock: socket.socket
    buf: bytearray
    logging_out: bool = False


class Fleet:
    """One generator process's sessions: set up one after another over blocking sockets (which
    also keeps the server's listen backlog from overflowing), then watched with one selector,
    which adds less delay to each push than an asyncio stream per session would."""

    def __init__(self, port: int, sessions: list[IdleSession]) -> None:
        self.port = port
        self.sessions = sessions
        self.live: dict[int, Watched] = {}

    def open(self, s: IdleSession) -> None:
        sock = socket.create_connection((HOST, self.port), timeout=120)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        try:
            _lines_until(sock, buf, b"* ")
            sock.sendall(b'a LOGIN "%s" "%s"\r\n' % (s.user.encode(), s.password.encode()))
            if not _lines_until(sock, buf, b"a ")[-1].startswith(b"a OK"):
                raise RuntimeError("LOGIN refused")
            sock.sendall(b"b SELECT INBOX\r\n")
            for line in _lines_until(sock, buf, b"b "):
                if line.rstrip().endswith(b" EXISTS"):
                    s.exists_at_select = int(line.split()[1])
            sock.sendall(b"c IDLE\r\n")
            _lines_until(sock, buf, b"+")
        except BaseException:
            sock.close()
            raise
        sock.setblocking(False)
        self.live[sock.fileno()] = Watched(s, sock, buf)

    def run(self, control: Connection) -> None:
        for s in self.sessions:
            try:
                self.open(s)
            except (OSError, RuntimeError, ValueError) as exc:
                s.error = f"{s.user}: setting up: {exc!r}"
        control.send(("ready", len(self.live)))
        sel = selectors.DefaultSelector()
        for w in self.live.values():
            sel.register(w.sock, selectors.EVENT_READ, w)
        sel.register(control, selectors.EVENT_READ, None)
        while self.live:
            for key, _ in sel.select():
                if key.data is None:  # the controller says stop: DONE ends every IDLE
                    control.recv()
                    sel.unregister(control)
                    for w in self.live.values():
                        w.sock.send(b"DONE\r\n")
                    continue
                w = key.data
                try:
                    data = w.sock.recv(65536)
                except BlockingIOError:
                    continue
                now = time.monotonic()
                try:
                    if not data:
                        raise ConnectionError("connection closed while idling")
                    w.buf += data
                    finished = self._lines(w, now)
                except (OSError, RuntimeError, ValueError) as exc:
                    w.session.error = f"{w.session.user}: {exc!r}"
                    finished = True
                if finished:
                    sel.unregister(w.sock)
                    w.sock.close()
                    del self.live[key.fd]

    @staticmethod
    def _lines(w: Watched, now: float) -> bool:
        """Handle the complete lines in w.buf; True once the session has logged out."""
        s = w.session
        while (end := w.buf.find(b"\r\n")) >= 0:
            line = bytes(w.buf[:end + 2])
            del w.buf[:end + 2]
            if w.logging_out:
                if line.startswith(b"d "):
                    return True
            elif line.startswith(b"c "):
                if not line.startswith(b"c OK"):
                    raise RuntimeError(f"IDLE ended with {line!r}")
                w.logging_out = True
                w.sock.send(b"d LOGOUT\r\n")
            elif s.watcher and line.endswith(b" EXISTS\r\n"):
                s.arrivals.append((int(line.split()[1]), now))
            elif not (s.watcher and line.endswith(b" RECENT\r\n")) and not line.startswith(b"* OK"):
                # (an untagged OK is a keep-alive, e.g. Dovecot's "* OK Still here")
                raise RuntimeError(f"unexpected while idling: {line!r}")
        return False


def generator_process(port: int, sessions: list[IdleSession], control: Connection) -> None:
    raise_fd_limit(len(sessions) + 256)
    Fleet(port, sessions).run(control)
    control.send(("result", [(s.exists_at_select, s.arrivals, s.error) for s in sessions]))


# -- the controller -------------------------------------------------------------------------------------------

def plan(sessions: int, watchers: int, per_account: int) -> tuple[list[tuple[str, str]], list[IdleSession]]:
    """Accounts, and the sessions: `watchers` on account "watch", the rest `per_account` to an account."""
    others = sessions - watchers
    users = [("watch", "watch-pass")] + [(f"idle{i:03d}", f"idle{i:03d}-pass")
                                         for i in range(-(-others // per_account))]
    fleet = [IdleSession("watch", "watch-pass", True) for _ in range(watchers)]
    fleet += [IdleSession(*users[1 + i // per_account], False) for i in range(others)]
    return users, fleet


def measure(port: int, server_pid: int, fleet: list[IdleSession], procs: int, rounds: int,
            gap: float) -> dict[str, Any]:
    load_before = os.getloadavg()[0]  # the machine is shared: say how busy it was
    appender = BenchImap(HOST, port)
    appender.login("watch", "watch-pass")
    chunks = [fleet[i::procs] for i in range(procs)]
    ctx = mp.get_context("fork")
    pipes, workers = [], []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    for chunk in chunks:
        parent, child = ctx.Pipe()
        w = ctx.Process(target=generator_process, args=(port, chunk, child))
        w.start()
        pipes.append(parent)
        workers.append(w)
    idling = 0
    for p in pipes:
        if not p.poll(600):
            raise SystemExit("the generator did not get its sessions idling within 10 minutes")
        idling += p.recv()[1]
    ramp_s = time.monotonic() - t0
    time.sleep(1.0)  # let the server settle before reading its memory
    mem_idle = proc_memory_kib(server_pid)
    processes, pss_idle = tree_pss_kib(server_pid)
    cpu0 = tree_cpu_seconds(server_pid)
    sends, oks = [], []
    for k in range(rounds):
        sends.append(time.monotonic())
        appender.check(b"APPEND INBOX", bench_message(k))
        oks.append(time.monotonic())
        time.sleep(gap)
    time.sleep(1.0)  # stragglers (Dovecot announces a change up to about half a second late)
    rounds_cpu = tree_cpu_seconds(server_pid) - cpu0
    rounds_wall = time.monotonic() - sends[0]
    for p in pipes:
        p.send("stop")
    results = []
    for p, chunk in zip(pipes, chunks, strict=True):
        if not p.poll(300):
            raise SystemExit("the generator did not finish its sessions")
        results += list(zip(chunk, p.recv()[1], strict=True))
    for w in workers:
        w.join(30)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    gen_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    wall = time.monotonic() - t0
    mem_end = proc_memory_kib(server_pid)
    appender.check(b"LOGOUT")
    appender.close()

    errors, latencies, lost, duplicated, coalesced = [], [], 0, 0, 0
    for s, (exists0, arrivals, error) in results:
        if error:
            errors.append(error)
            continue
        if not s.watcher:
            continue
        # EXISTS tells the count, so one EXISTS may cover two APPENDs (legal; counted as coalesced).
        # A count that repeats or goes back, or a final count short of every APPEND, is an error.
        counts = [n for n, _ in arrivals]
        final = exists0 + rounds
        if counts != sorted(set(counts)) or any(n > final for n in counts):
            duplicated += len(counts) - len(set(counts))
            errors.append(f"watcher saw EXISTS {counts[:8]}... (SELECT said {exists0})")
        if not counts or counts[-1] < final:
            lost += final - (counts[-1] if counts else exists0)
            errors.append(f"watcher's last EXISTS is {counts[-1] if counts else None}, expected {final}")
        coalesced += rounds - len(set(counts))
        for k in range(1, rounds + 1):  # message k arrived with the first EXISTS that counts it
            at = next((t for n, t in arrivals if n >= exists0 + k), None)
            if at is not None:
                latencies.append(at - sends[k - 1])
    return {
        "sessions_idling": idling, "ramp_s": ramp_s, "rounds": rounds, "gap_s": gap,
        "server_rss_mib_idling": mem_idle["VmRSS"] / 1024, "server_rss_mib_end": mem_end["VmRSS"] / 1024,
        "server_hwm_mib": mem_end["VmHWM"] / 1024,
        "server_processes": processes, "server_pss_mib_idling": pss_idle / 1024,
        "pushes": len(latencies), "pushes_expected": sum(s.watcher for s in fleet) * rounds,
        "lost": lost, "duplicated": duplicated, "coalesced": coalesced, "errors": len(errors),
        "error_texts": errors[:20],
        "latency_ms": {f"p{p}": percentile(latencies, p) * 1000 for p in (50, 90, 99)}
        | {"max": max(latencies, default=0) * 1000},
        "append_ms": {"p50": percentile([o - s for s, o in zip(sends, oks, strict=True)], 50) * 1000,
                      "max": max(o - s for s, o in zip(sends, oks, strict=True)) * 1000},
        "server_cores_during_rounds": rounds_cpu / rounds_wall,
        "generator_cpu_s": gen_cpu, "generator_cores": gen_cpu / wall, "loadavg_before": load_before,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", choices=("reference", "dovecot"), default="reference")
    ap.add_argument("--sessions", type=int, default=5000, help="IDLE sessions in all")
    ap.add_argument("--watchers", type=int, default=1000, help="of them, how many watch the APPENDed mailbox")
    ap.add_argument("--per-account", type=int, default=100, help="sessions per account for the others")
    ap.add_argument("--procs", type=int, default=4, help="generator processes")
    ap.add_argument("--rounds", type=int, default=20, help="APPENDs to the watched mailbox")
    ap.add_argument("--gap", type=float, default=0.3, help="seconds between APPENDs")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    if not 0 < args.watchers <= args.sessions:
        ap.error("--watchers must be between 1 and --sessions")

    users, fleet = plan(args.sessions, args.watchers, args.per_account)
    if args.server == "reference":
        with tempfile.TemporaryDirectory(prefix="mailspec-bench-") as tmp:
            cfg = write_reference_config(Path(tmp), users, max_connections=args.sessions + 100,
                                         extra="[imap]\nspecial_use_folders = false\n")
            ref = start_reference(cfg, fd_limit=args.sessions * 2 + 1000)
            try:
                figures = measure(ref.ports["imap"], ref.pid, fleet, args.procs, args.rounds, args.gap)
            finally:
                stop_reference(ref)
    else:
        dc = start_dovecot(users)
        try:
            # Dovecot allows 10 IMAP connections per user and IP by default.
            tune_dovecot("protocol imap {\n  mail_max_userip_connections = 100000\n}\n")
            figures = measure(dc.ports["imap"], dc.pid, fleet, args.procs, args.rounds, args.gap)
        finally:
            stop_dovecot(users)
    out = {"machine": machine_info(), "server": args.server, "sessions": args.sessions, "watchers": args.watchers,
           **figures}
    for e in figures["error_texts"]:
        print(e, file=sys.stderr)
    lat = figures["latency_ms"]
    print(f"{args.server}: {figures['sessions_idling']} sessions idling (ramp {figures['ramp_s']:.1f} s), "
          f"server RSS {figures['server_rss_mib_idling']:.1f} MiB idling, peak {figures['server_hwm_mib']:.1f} MiB; "
          f"{figures['server_processes']} process(es), PSS {figures['server_pss_mib_idling']:.1f} MiB in all")
    print(f"  {figures['pushes']}/{figures['pushes_expected']} messages announced, lost {figures['lost']}, "
          f"duplicated {figures['duplicated']}, coalesced {figures['coalesced']}, errors {figures['errors']}")
    print(f"  push latency ms: p50 {lat['p50']:.1f}  p90 {lat['p90']:.1f}  p99 {lat['p99']:.1f}  "
          f"max {lat['max']:.1f}   APPEND p50 {figures['append_ms']['p50']:.1f} ms")
    print(f"  server {figures['server_cores_during_rounds']:.2f} cores during the rounds, "
          f"generator {figures['generator_cores']:.2f} cores (load average {figures['loadavg_before']:.1f} before)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
