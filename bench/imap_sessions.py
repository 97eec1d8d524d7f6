"""IMAP throughput: the reference server against a local Dovecot, back to back, same generator.

Two loads, each with N client processes and one account per process:

  persistent  each client logs in once, SELECTs INBOX and loops over rounds of nine commands:
              UID FETCH of a 10-message window (FLAGS), UID FETCH (ENVELOPE), UID FETCH (BODY.PEEK[]),
              UID STORE +/-FLAGS (\\Flagged), APPEND, UID STORE +FLAGS.SILENT (\\Deleted) of a random
              message, EXPUNGE, STATUS Archive, LIST "" "*". Figure: commands/s.
  login       each client loops over whole sessions: connect, LOGIN, SELECT INBOX, UID FETCH 1:* (FLAGS),
              UID FETCH (ENVELOPE) of the newest message, LOGOUT. Figure: sessions/s.

Every client keeps a model of its mailbox (UID -> message, flags) and checks each answer against it:
EXISTS after APPEND, the APPENDUID, exactly one EXPUNGE with the right number, flags after STORE and
in FETCH, the bytes of BODY.PEEK[], the ENVELOPE subject, STATUS counts, the LIST size, and a full
UID/flags comparison at the start and the end; a wrong answer stops that client and is reported.
Plain IMAP on loopback for both (Dovecot treats loopback as secure; the reference server is told to
allow plaintext), so the figures are protocol and store work, not TLS.

    python bench/imap_sessions.py --seconds 10 --clients 10 [--load persistent|login|both] [--json out.json]
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    bench_users,
    machine_info,
    run_pool,
    start_dovecot,
    start_reference,
    stop_dovecot,
    stop_reference,
    tree_cpu_seconds,
    write_reference_config,
)
from imap_wire import BenchImap, Completion, ImapBenchError, bench_message

HOST = "127.0.0.1"
FOLDERS = ("Sent", "Drafts", "Trash", "Junk", "Archive")  # the reference server's special-use set
ARCHIVE_MESSAGES = 5
ROUND = 9  # commands per persistent round
_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
_STATUS_MESSAGES = re.compile(rb"MESSAGES (\d+)")


# -- setting up the same mailboxes on either server ---------------------------------------------------------

def seed_account(port: int, user: str, password: str, count: int) -> dict[int, int]:
    """Give the account the five folders, `count` messages in INBOX and a few in Archive: {uid: k}."""
    c = BenchImap(HOST, port)
    c.login(user, password)
    for name in FOLDERS:
        done = c.command(b'CREATE "%s"' % name.encode())
        if done.status != b"OK" and b"ALREADYEXISTS" not in done.text.upper():
            raise ImapBenchError(f"CREATE {name}: {done.text!r}")
    uids = {}
    for k in range(count):
        uids[c.check(b"APPEND INBOX", bench_message(k)).appenduid()[1]] = k
    for k in range(ARCHIVE_MESSAGES):
        c.check(b"APPEND Archive", bench_message(1000 + k))
    c.check(b"LOGOUT")
    c.close()
    return uids


def _flags(text: bytes) -> frozenset[bytes]:
    m = _FETCH_FLAGS.search(text)
    if m is None:
        raise ImapBenchError(f"no FLAGS in {text!r}")
    return frozenset(f for f in m[1].split() if f.lower() != b"\\recent")  # \Recent is per session


def _fetched(done: Completion) -> dict[int, bytes]:
    """{uid: response text} of the FETCH responses of a UID command."""
    out = {}
    for r in done.untagged:
        if b" FETCH " in r.text[:20]:
            m = _FETCH_UID.search(r.text)
            if m is None:
                raise ImapBenchError(f"FETCH response without UID: {r.text!r}")
            out[int(m[1])] = r.text
    return out


# -- the persistent load --------------------------------------------------------------------------------------

@dataclass
class MailboxModel:
    """What the client believes INBOX holds: sorted UIDs, which message each is, its flags."""

    uids: list[int]
    message: dict[int, int]
    flags: dict[int, frozenset[bytes]] = field(default_factory=dict)

    def msn(self, uid: int) -> int:
        return bisect.bisect_left(self.uids, uid) + 1

    def compare(self, c: BenchImap) -> None:
        got = _fetched(c.check(b"UID FETCH 1:* (FLAGS)"))
        if sorted(got) != self.uids:
            lost, extra = set(self.uids) - set(got), set(got) - set(self.uids)
            raise ImapBenchError(f"mailbox UIDs differ: lost {sorted(lost)[:10]}, unexpected {sorted(extra)[:10]}")
        for uid, text in got.items():
            if _flags(text) != self.flags.setdefault(uid, _flags(text)):
                raise ImapBenchError(f"UID {uid}: flags {_flags(text)} but expected {self.flags[uid]}")


def persistent_round(c: BenchImap, box: MailboxModel, rng: random.Random, next_k: int) -> None:
    n = len(box.uids)
    # FETCH FLAGS of a window of up to ten messages
    i = rng.randrange(n)
    window = box.uids[i:i + 10]
    got = _fetched(c.check(b"UID FETCH %d:%d (FLAGS)" % (window[0], window[-1])))
    if sorted(got) != window or any(_flags(got[u]) != box.flags[u] for u in window):
        raise ImapBenchError(f"FETCH FLAGS of {window[0]}:{window[-1]} does not match the model")
    # ENVELOPE and the whole message of random ones
    uid = rng.choice(box.uids)
    got = _fetched(c.check(b"UID FETCH %d (ENVELOPE)" % uid))
    if b'"bench %d"' % box.message[uid] not in got.get(uid, b""):
        raise ImapBenchError(f"ENVELOPE of UID {uid} lacks subject bench {box.message[uid]}")
    uid = rng.choice(box.uids)
    done = c.check(b"UID FETCH %d (BODY.PEEK[])" % uid)
    if len(done.untagged) != 1 or done.untagged[0].literals != [bench_message(box.message[uid])]:
        raise ImapBenchError(f"BODY.PEEK[] of UID {uid} is not message {box.message[uid]}")
    # STORE: toggle \Flagged
    uid = rng.choice(box.uids)
    sign = b"-" if b"\\Flagged" in box.flags[uid] else b"+"
    want = box.flags[uid] - {b"\\Flagged"} if sign == b"-" else box.flags[uid] | {b"\\Flagged"}
    got = _fetched(c.check(b"UID STORE %d %sFLAGS (\\Flagged)" % (uid, sign)))
    if uid not in got or _flags(got[uid]) != want:
        raise ImapBenchError(f"STORE {sign.decode()}FLAGS on UID {uid} answered {got.get(uid)!r}")
    box.flags[uid] = want
    # APPEND: the new UID is past every other one, and EXISTS says one more
    done = c.check(b"APPEND INBOX", bench_message(next_k))
    _, new_uid = done.appenduid()
    if new_uid <= box.uids[-1] or done.numbered(b"EXISTS") != [n + 1]:
        raise ImapBenchError(f"APPEND: UID {new_uid} after {box.uids[-1]}, EXISTS {done.numbered(b'EXISTS')} "
                             f"(expected {n + 1})")
    box.uids.append(new_uid)
    box.message[new_uid] = next_k
    box.flags[new_uid] = frozenset()
    # EXPUNGE one random message (not the one just added): exactly one EXPUNGE with its number
    uid = rng.choice(box.uids[:-1])
    c.check(b"UID STORE %d +FLAGS.SILENT (\\Deleted)" % uid)
    done = c.check(b"EXPUNGE")
    if done.numbered(b"EXPUNGE") != [box.msn(uid)]:
        raise ImapBenchError(f"EXPUNGE of UID {uid} (number {box.msn(uid)}) answered {done.numbered(b'EXPUNGE')}")
    box.uids.remove(uid)
    del box.message[uid], box.flags[uid]
    # STATUS of another mailbox, LIST of all
    done = c.check(b"STATUS Archive (MESSAGES UIDNEXT UNSEEN)")
    m = _STATUS_MESSAGES.search(done.untagged[0].text) if done.untagged else None
    if m is None or int(m[1]) != ARCHIVE_MESSAGES:
        raise ImapBenchError(f"STATUS Archive: {done.untagged}")
    done = c.check(b'LIST "" "*"')
    if len(done.untagged) != 1 + len(FOLDERS):
        raise ImapBenchError(f"LIST gave {len(done.untagged)} mailboxes, expected {1 + len(FOLDERS)}")


def persistent_client(job: tuple[int, str, str, float, dict[int, int], int]) -> dict[str, Any]:
    port, user, password, seconds, seeded, seed = job
    rng = random.Random(seed)
    box = MailboxModel(sorted(seeded), dict(seeded))
    commands, start, end, error = 0, time.monotonic(), time.monotonic(), ""
    try:
        c = BenchImap(HOST, port)
        c.login(user, password)
        if c.check(b"SELECT INBOX").numbered(b"EXISTS") != [len(box.uids)]:
            raise ImapBenchError("SELECT: EXISTS does not match the seeded mailbox")
        box.compare(c)
        next_k = 10_000
        start = time.monotonic()
        deadline = start + seconds
        while time.monotonic() < deadline:
            persistent_round(c, box, rng, next_k)
            next_k += 1
            commands += ROUND
        end = time.monotonic()
        box.compare(c)
        c.check(b"LOGOUT")
        c.close()
    except (OSError, ImapBenchError) as exc:
        end = time.monotonic()
        error = f"{user}: {exc}"
    return {"commands": commands, "start": start, "end": end, "error": error}


# -- the login-heavy load ----------------------------------------------------------------------------------------

def login_client(job: tuple[int, str, str, float, dict[int, int], int]) -> dict[str, Any]:
    port, user, password, seconds, seeded, _ = job
    uids = sorted(seeded)
    newest = b'"bench %d"' % seeded[uids[-1]]
    sessions, start, error = 0, time.monotonic(), ""
    deadline = start + seconds
    try:
        while time.monotonic() < deadline:
            c = BenchImap(HOST, port)
            c.login(user, password)
            if c.check(b"SELECT INBOX").numbered(b"EXISTS") != [len(uids)]:
                raise ImapBenchError("SELECT: EXISTS does not match the seeded mailbox")
            if sorted(_fetched(c.check(b"UID FETCH 1:* (FLAGS)"))) != uids:
                raise ImapBenchError("UID FETCH 1:* does not list the seeded UIDs")
            if newest not in _fetched(c.check(b"UID FETCH %d (ENVELOPE)" % uids[-1])).get(uids[-1], b""):
                raise ImapBenchError("ENVELOPE of the newest message has the wrong subject")
            c.check(b"LOGOUT")
            c.close()
            sessions += 1
    except (OSError, ImapBenchError) as exc:
        error = f"{user}: {exc}"
    return {"sessions": sessions, "start": start, "end": time.monotonic(), "error": error}


# -- running both servers ----------------------------------------------------------------------------------------

LOADS: dict[str, tuple[str, int, Callable[[Any], dict[str, Any]]]] = {
    # name: (account prefix, messages seeded per INBOX, client function)
    "persistent": ("imapp", 20, persistent_client),
    "login": ("imapl", 10, login_client),
}


def run_load(name: str, port: int, seeded: dict[str, dict[int, int]], users: list[tuple[str, str]],
             seconds: float, server_pid: int) -> dict[str, Any]:
    _, _, client = LOADS[name]
    jobs = [(port, u, pw, seconds, seeded[u], i) for i, (u, pw) in enumerate(users)]
    load_before = os.getloadavg()[0]  # the machine is shared: say how busy it was
    cpu0 = tree_cpu_seconds(server_pid)
    results, wall, gen_cpu = run_pool(client, jobs)
    server_cpu = tree_cpu_seconds(server_pid) - cpu0
    errors = [r["error"] for r in results if r["error"]]
    for e in errors:
        print(e, file=sys.stderr)
    span = max(r["end"] for r in results) - min(r["start"] for r in results)
    unit = "commands" if name == "persistent" else "sessions"
    count = sum(r[unit] for r in results)
    return {unit: count, f"{unit}_per_s": count / span, "load_s": span, "errors": len(errors),
            "error_texts": errors, "wall_s": wall, "server_cpu_s": server_cpu, "server_cores": server_cpu / wall,
            "generator_cpu_s": gen_cpu, "generator_cores": gen_cpu / wall, "loadavg_before": load_before}


def bench_server(port: int, server_pid: int, loads: list[str], accounts: dict[str, list[tuple[str, str]]],
                 seconds: float) -> dict[str, Any]:
    out = {}
    for name in loads:
        _, count, _ = LOADS[name]
        seeded = {u: seed_account(port, u, pw, count) for u, pw in accounts[name]}
        out[name] = run_load(name, port, seeded, accounts[name], seconds, server_pid)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="duration of each load on each server")
    ap.add_argument("--clients", type=int, default=10, help="concurrent client processes (one account each)")
    ap.add_argument("--load", choices=("persistent", "login", "both"), default="both")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="reference server IMAP processes ([imap] workers; default: one per core, as Dovecot "
                         "spreads its sessions over every core)")
    args = ap.parse_args()

    loads = ["persistent", "login"] if args.load == "both" else [args.load]
    accounts = {name: bench_users(LOADS[name][0], args.clients) for name in loads}
    every_user = [u for name in loads for u in accounts[name]]
    with tempfile.TemporaryDirectory(prefix="mailspec-bench-") as tmp:
        ref = start_reference(write_reference_config(Path(tmp), every_user,
                                                     extra=f"[imap]\nworkers = {args.workers}\n"))
        try:
            reference = bench_server(ref.ports["imap"], ref.pid, loads, accounts, args.seconds)
        finally:
            stop_reference(ref)
    dc = start_dovecot(every_user)
    try:
        dovecot = bench_server(dc.ports["imap"], dc.pid, loads, accounts, args.seconds)
    finally:
        stop_dovecot(every_user)

    out: dict[str, Any] = {"machine": machine_info(), "clients": args.clients, "seconds": args.seconds,
                           "reference_workers": args.workers,
                           "reference": reference, "dovecot": dovecot}
    for name in loads:
        unit = "commands" if name == "persistent" else "sessions"
        for server in ("reference", "dovecot"):
            r = out[server][name]
            print(f"{name:>10} {server:>9}: {r[f'{unit}_per_s']:8.1f} {unit}/s  errors {r['errors']}  "
                  f"server {r['server_cores']:.2f} cores  generator {r['generator_cores']:.2f} cores  "
                  f"(load average {r['loadavg_before']:.1f} before)")
        ref_rate, dc_rate = reference[name][f"{unit}_per_s"], dovecot[name][f"{unit}_per_s"]
        out[f"{name}_ratio"] = ratio = ref_rate / dc_rate if dc_rate else float("inf")
        print(f"{name:>10}     ratio: reference/dovecot {unit}/s = {ratio:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
