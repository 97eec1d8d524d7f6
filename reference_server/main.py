"""Entry points behind `mailspec serve`, `mailspec deliver` and `mailspec passwd`."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import getpass
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from mailspec.faults import validate_faults
from reference_server.config import ServerConfig, load_config
from reference_server.importer import import_paths
from reference_server.passwords import hash_password
from reference_server.runtime import ReferenceServer
from reference_server.store import Store
from reference_server.workers import PeerLink, bind_listeners, fork_workers, peer_mesh, stop_workers

log = logging.getLogger("mailspec.server")
DEFAULT_PORTS = {"pop3_port": 1110, "pop3s_port": 1995, "imap_port": 1143, "imaps_port": 1993}


async def _serve_until_stopped(server: ReferenceServer, on_started: object = None,
                               stop_fd: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM, or until `stop_fd` (a pipe's read end) sees its writer go away."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if stop_fd is not None:
        loop.add_reader(stop_fd, lambda: (loop.remove_reader(stop_fd), stop.set()))
    await server.start()
    if callable(on_started):
        on_started()
    try:
        await stop.wait()
    finally:
        await server.close()


def serve(config_path: str | None, faults: Sequence[str]) -> None:
    """Run the reference server until Ctrl-C or SIGTERM.

    Without a configuration it serves the embedded defaults (random passwords, a temporary store)
    on ports 1110 (POP3 + STLS), 1995 (POP3S), 1143 (IMAP + STARTTLS) and 1993 (IMAPS), and prints
    the accounts and the CA file.
    """
    validate_faults(tuple(faults))
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if config_path is None:
        from reference_server.embedded import EmbeddedServer

        emb = EmbeddedServer(faults, settings=DEFAULT_PORTS)
        target = emb.start()
        labels = {"pop3": "POP3 (STLS)", "pop3s": "POP3S", "imap": "IMAP (STARTTLS)", "imaps": "IMAPS"}
        for name, ep in target.endpoints.items():
            print(f"{labels.get(name, name):<16} 127.0.0.1:{ep.port}")
        print(f"CA    {target.tls.ca_file}")
        for acc in target.accounts:
            print(f"user {acc.user:<6} password {acc.password}  role {acc.role}")
        stopped = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopped.set())
        try:
            while not stopped.wait(0.5):
                pass
        finally:
            emb.stop()
        return
    config = load_config(config_path)
    server = ReferenceServer(config, frozenset(faults))

    def started() -> None:
        print(f"{SERVING}{server.ports} from {config.store}; CA file: {server.ca_file or config.tls_cert}",
              flush=True)

    if config.imap_workers > 1:
        _serve_in_workers(server, started)
        return
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_until_stopped(server, started))


SERVING = "serving "  # how the line `mailspec serve --config` prints once it listens begins


def serving_ports(line: bytes) -> dict[str, int] | None:
    """The ports named in that line ("serving {'pop3': 40123, ...} from <store>; ..."), else None."""
    text = line.decode(errors="replace")
    if not text.startswith(SERVING):
        return None
    return ast.literal_eval(text.split(" from ")[0][len(SERVING):])  # type: ignore[no-any-return]


def _serve_in_workers(server: ReferenceServer, started: Callable[[], None]) -> None:
    """Serve IMAP from `[imap] workers` processes sharing the listeners and the store (workers.py)."""
    config = server.config
    server.imap.listen_sockets = bind_listeners(config, server.imap.ssl_context is not None)
    mesh = peer_mesh(config.imap_workers)
    server.store.close()  # no SQLite connection may cross a fork; each process opens its own
    server.store.marks.count = config.imap_workers  # the commit ledger is shared (commit_marks.py)

    def keep_only(k: int) -> None:
        for i, ends in enumerate(mesh):
            if i != k:
                for sock in ends:
                    sock.close()
        server.imap.peers = PeerLink(mesh[k])

    def run_worker(k: int, alive_fd: int) -> None:
        keep_only(k)
        server.store.marks.me = k
        server.serve_pop3 = False
        asyncio.run(_serve_until_stopped(server, stop_fd=alive_fd))

    pids, alive_w = fork_workers(config.imap_workers - 1, run_worker)
    keep_only(0)
    log.info("IMAP served by %d processes: %d (with POP3) and %s", config.imap_workers, os.getpid(), pids)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve_until_stopped(server, started))
    finally:
        stop_workers(pids)
        os.close(alive_w)


def deliver_files(config_path: str | None, user: str, paths: Sequence[str]) -> None:
    """Import .eml files, mbox files or Maildirs into `user`'s INBOX in the configured store."""
    config = load_config(config_path) if config_path else ServerConfig()
    store = Store(config.store)
    if config.account(user) is None and user not in store.users():
        raise SystemExit(f"no account {user!r} in {config_path or 'the default store'}")
    store.sync_accounts([(a.user, a.role) for a in config.accounts])
    if list(paths) == ["-"]:  # one message on stdin, so a target's delivery command can pipe into us
        uids = [store.deliver(user, sys.stdin.buffer.read())]
    else:
        uids = import_paths(store, user, [Path(p) for p in paths])
    store.close()
    print(f"delivered {len(uids)} message(s) to {user}")


def hash_password_cli() -> None:
    """Read a password (prompted twice on a terminal, else one line of stdin) and print its hash."""
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise SystemExit("passwords differ")
    else:
        first = sys.stdin.readline().rstrip("\r\n")
    if not first:
        raise SystemExit("empty password")
    print(hash_password(first))
