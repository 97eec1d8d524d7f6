"""Syncing the store's write-ahead log, and the helper process that does it for group commit.

In WAL mode a commit is durable once its WAL frames are on disk; with synchronous=NORMAL SQLite
writes them at commit and syncs the WAL itself before each checkpoint, so one fdatasync of the WAL
makes every commit written before it durable, whichever connection or process wrote it.

Group commit (durability.py) runs that fdatasync in a process of its own, started with
`python -I -S <this file> <wal path>`: it reads one octet per request on stdin and answers one on
stdout, "k" once synced, "e" if the sync failed. A thread in the server process would need the
interpreter lock around each system call and so take it from the event loop several times per
flush (measured: about three futex waits per IMAP command under load); a process shares nothing.
This file imports only the standard library so that the helper starts in milliseconds.
"""

from __future__ import annotations

import os
import sys


def sync_wal(wal_path: str) -> None:
    """fdatasync the write-ahead log: every commit written to it before is durable."""
    try:
        # Opened per call, so the descriptor never outlives a WAL file SQLite has replaced.
        fd = os.open(wal_path, os.O_RDONLY)
    except FileNotFoundError:
        return  # nothing was ever written through the WAL
    try:
        os.fdatasync(fd)  # as SQLite itself syncs: the data and the size, not the timestamps
    finally:
        os.close(fd)


def serve(wal_path: str) -> None:
    """The helper's loop: one sync per octet read on stdin, one answer octet on stdout."""
    while os.read(0, 1):
        try:
            sync_wal(wal_path)
        except OSError:
            os.write(1, b"e")
        else:
            os.write(1, b"k")


if __name__ == "__main__":
    serve(sys.argv[1])
