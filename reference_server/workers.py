"""Several processes serving IMAP from one store (`[imap] workers = N` in the config).

One asyncio process uses one core. With N workers, `mailspec serve --config` binds the IMAP listeners,
builds the server, then forks N-1 processes that accept on the same listening sockets: the kernel
hands each new connection to whichever process accepts first, so a busy process takes fewer. The
first process also serves POP3, so the POP3 maildrop lock (an in-process table) stays in one place.

The processes share the SQLite store: WAL lets readers run beside a writer, writers queue on
`BEGIN IMMEDIATE`, each process's caches are checked against the store's change count
(store_version.py), which every commit moves, and the ledger of commit_marks.py, shared by the
processes, says whose commits are on disk yet. What does not cross a process boundary by itself is the
news that a mailbox changed, which IDLE sessions need pushed at once (RFC 2177). So every pair of
processes is joined by a socket pair, and after its group commit has made a change durable
(durability.py) a process tells the others which mailbox ids changed; each then pushes to its own
sessions of those mailboxes exactly as for a change made in-process. A notice is four octets per
mailbox, sent once per batch of changes.

Workers end with the first process: on SIGTERM/SIGINT it stops them, and each worker also watches a
pipe that only the first process holds open, so even `kill -9` of the first process ends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterable

from reference_server.config import ServerConfig

log = logging.getLogger("mailspec.server")
_ID = struct.Struct(">I")


class PeerLink:
    """Mailbox-change notices to and from the other worker processes of one server."""

    def __init__(self, sockets: list[socket.socket]) -> None:
        self._sockets = sockets
        self._transports: list[asyncio.Transport] = []

    async def start(self, on_notice: Callable[[int], None]) -> None:
        """Begin reading notices; `on_notice(mailbox_id)` runs in the loop for each one."""
        loop = asyncio.get_running_loop()
        for sock in self._sockets:
            sock.setblocking(False)
            transport, _ = await loop.connect_accepted_socket(lambda: _NoticeReader(on_notice), sock=sock)
            self._transports.append(transport)

    def tell(self, mailbox_ids: Iterable[int]) -> None:
        """Tell every other process that these mailboxes changed (and the change is durable)."""
        payload = b"".join(_ID.pack(m) for m in mailbox_ids)
        if payload:
            for transport in self._transports:
                if not transport.is_closing():
                    transport.write(payload)

    def close(self) -> None:
        for transport in self._transports:
            transport.close()
        self._transports.clear()


class _NoticeReader(asyncio.Protocol):
    def __init__(self, on_notice: Callable[[int], None]) -> None:
        self._on_notice = on_notice
        self._pending = b""

    def data_received(self, data: bytes) -> None:
        data = self._pending + data
        whole = len(data) - len(data) % _ID.size
        self._pending = data[whole:]
        for (mailbox_id,) in _ID.iter_unpack(data[:whole]):
            self._on_notice(mailbox_id)


def bind_listeners(config: ServerConfig, tls: bool) -> dict[str, socket.socket]:
    """The IMAP listening sockets of the config, bound now so that every worker can accept on them."""
    out: dict[str, socket.socket] = {}
    for name, port in (("imap", config.imap_port), ("imaps", config.imaps_port if tls else None)):
        if port is not None:
            family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
            out[name] = socket.create_server((config.host, port), family=family, backlog=1024)
    return out


def peer_mesh(n: int) -> list[list[socket.socket]]:
    """For each of n processes, its ends of one socket pair to every other process."""
    ends: list[list[socket.socket]] = [[] for _ in range(n)]
    for i, j in itertools.combinations(range(n), 2):
        a, b = socket.socketpair()
        ends[i].append(a)
        ends[j].append(b)
    return ends


def fork_workers(count: int, run_worker: Callable[[int, int], None]) -> tuple[list[int], int]:
    """Fork `count` workers; worker k (1..count) runs `run_worker(k, parent_alive_fd)` then exits.

    Returns the worker pids and the write end of the parent-alive pipe, which the caller keeps open
    for as long as it serves (its end, at exit or by kill, ends the workers)."""
    alive_r, alive_w = os.pipe()
    pids = []
    for k in range(1, count + 1):
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker
            status = 0
            try:
                os.close(alive_w)
                run_worker(k, alive_r)
            except BaseException:
                log.exception("IMAP worker %d failed", k)
                status = 1
            finally:
                logging.shutdown()
                os._exit(status)
        pids.append(pid)
    os.close(alive_r)
    return pids, alive_w


def stop_workers(pids: list[int], timeout: float = 5.0) -> None:
    """SIGTERM each worker and reap it (SIGKILL after `timeout`)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(pid, os.WNOHANG)[0] == 0:
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.02)
