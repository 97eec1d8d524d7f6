"""POP3 session throughput: the reference server against a local Dovecot, back to back.

Each of N client processes loops: connect, USER/PASS, STAT, UIDL, RETR of every message, QUIT,
and checks what it got (message count, sizes equal to the octets retrieved), so a fast but wrong
server does not score. Both servers get the same accounts and messages and the same generator.
Plain POP3 on loopback for both (Dovecot treats loopback as secure; the reference server is told
to allow plaintext), so the figure is about protocol handling, not TLS.

    python bench/pop3_sessions.py --seconds 10 --clients 10 [--json out.json]

Dovecot is started with .ci/dovecot/start.sh (Debian's dovecot, ports 11110...); the reference
server with `mailspec serve --config <generated>` in its own process. The generator's own CPU use
is printed so one can see it is not the bottleneck.
"""

from __future__ import annotations

import argparse
import json
import poplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    DOVECOT_DIR,
    Server,
    bench_users,
    machine_info,
    proc_cpu_seconds,
    run_pool,
    start_dovecot,
    start_reference,
    stop_dovecot,
    stop_reference,
    write_reference_config,
)

from mailspec.delivery import make_deliverer
from mailspec.targets import Account, Delivery, Endpoint, Target, TlsSettings


def make_messages(count: int) -> list[bytes]:
    """Messages of 1-16 KiB with some lines that need byte-stuffing."""
    out = []
    for i in range(count):
        body = b"".join(
            (b"." if j % 17 == 0 else b"") + b"line %d of message %d, lorem ipsum dolor sit amet\r\n" % (j, i)
            for j in range(20 + (i * 37) % 300)
        )
        out.append(b"From: bench@example.test\r\nTo: u@example.test\r\nSubject: bench %d\r\n\r\n" % i + body)
    return out


def client_loop(args: tuple[int, str, str, str, float, tuple[int, ...]]) -> tuple[int, int, int]:
    port, host, user, password, seconds, sizes = args
    expected, expected_octets = len(sizes), sum(sizes)
    sessions = messages = errors = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            p = poplib.POP3(host, port, timeout=10)
            p.user(user)
            p.pass_(password)
            count, octets = p.stat()
            uidls = p.uidl()[1]
            if count != expected or octets != expected_octets or len(uidls) != count:
                raise RuntimeError(f"{user}: maildrop is {count}/{octets}, expected {expected}/{expected_octets}")
            for n in range(1, count + 1):
                _, lines, _ = p.retr(n)
                # un-stuffed lines plus their CRLFs must give back the size STAT/LIST count
                got = sum(len(line) + 2 for line in lines)
                if got != sizes[n - 1]:
                    raise RuntimeError(f"{user}: message {n} is {got} octets, expected {sizes[n - 1]}")
                messages += 1
            p.quit()
            sessions += 1
        except (OSError, poplib.error_proto, RuntimeError) as exc:
            errors += 1
            print(f"{user}: {exc}", file=sys.stderr)
            time.sleep(0.05)
    return sessions, messages, errors


def run_load(port: int, users: list[tuple[str, str]], seconds: float, msgs: list[bytes]) -> dict[str, float]:
    sizes = tuple(len(m) for m in msgs)
    jobs = [(port, "127.0.0.1", u, pw, seconds, sizes) for u, pw in users]
    results, wall, gen_cpu = run_pool(client_loop, jobs)
    sessions = sum(r[0] for r in results)
    messages = sum(r[1] for r in results)
    return {
        "sessions": sessions, "messages": messages, "errors": sum(r[2] for r in results), "wall_s": wall,
        "sessions_per_s": sessions / wall, "messages_per_s": messages / wall,
        "generator_cpu_s": gen_cpu, "generator_cores": gen_cpu / wall,
    }


def start_pop3_reference(folder: Path, users: list[tuple[str, str]], msgs: list[bytes]) -> Server:
    cfg = write_reference_config(folder, users)
    eml_dir = folder / "eml"
    eml_dir.mkdir()
    for i, m in enumerate(msgs):
        (eml_dir / f"{i:04d}.eml").write_bytes(m)
    for u, _ in users:
        subprocess.run([sys.executable, "-m", "mailspec", "deliver", "--config", str(cfg), "--user", u,
                        *sorted(str(p) for p in eml_dir.iterdir())], check=True, capture_output=True)
    return start_reference(cfg)


def fill_dovecot(dovecot: Server, users: list[tuple[str, str]], msgs: list[bytes]) -> None:
    imap = Endpoint("127.0.0.1", dovecot.ports["imap"], "starttls")
    target = Target("bench-dovecot", endpoints={"imap": imap}, tls=TlsSettings(f"{DOVECOT_DIR}/ca.pem"),
                    delivery=Delivery("imap-append", imap))
    deliver = make_deliverer(target)
    for u, pw in users:
        for m in msgs:
            deliver(Account(u, pw, disposable=True), m)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="load duration per server")
    ap.add_argument("--clients", type=int, default=10, help="concurrent client processes (one account each)")
    ap.add_argument("--messages", type=int, default=10, help="messages per maildrop")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()

    users = bench_users("bench", args.clients)
    msgs = make_messages(args.messages)
    with tempfile.TemporaryDirectory(prefix="mailspec-bench-") as tmp:
        ref = start_pop3_reference(Path(tmp), users, msgs)
        try:
            cpu0 = proc_cpu_seconds(ref.pid)
            reference = run_load(ref.ports["pop3"], users, args.seconds, msgs)
            reference["server_cpu_s"] = proc_cpu_seconds(ref.pid) - cpu0
        finally:
            stop_reference(ref)
    dc = start_dovecot(users)
    try:
        fill_dovecot(dc, users, msgs)
        cpu0 = proc_cpu_seconds(dc.pid)
        dovecot = run_load(dc.ports["pop3"], users, args.seconds, msgs)
        dovecot["server_cpu_s"] = proc_cpu_seconds(dc.pid) - cpu0
    finally:
        stop_dovecot(users)

    ratio = reference["sessions_per_s"] / dovecot["sessions_per_s"] if dovecot["sessions_per_s"] else float("inf")
    out = {
        "machine": machine_info(),
        "clients": args.clients, "messages_per_maildrop": args.messages, "seconds": args.seconds,
        "reference": reference, "dovecot": dovecot, "sessions_ratio": ratio,
    }
    for name in ("reference", "dovecot"):
        r = out[name]
        print(f"{name:>10}: {r['sessions_per_s']:8.1f} sessions/s {r['messages_per_s']:9.1f} messages/s "
              f"errors {r['errors']}  server {r['server_cpu_s'] / r['wall_s']:.2f} cores  "
              f"generator {r['generator_cores']:.2f} cores")
    print(f"     ratio: reference/dovecot sessions/s = {ratio:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
