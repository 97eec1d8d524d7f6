"""A stand-in for the fsync helper of group commit (`GroupCommit.helper`), for tests: it syncs the
WAL as reference_server/wal_sync.py does, but only after a delay, and notes in a log file the
CLOCK_MONOTONIC time at which each sync ended (the clock is the same in every process).

    python slow_wal_sync.py <log file> <delay in seconds> <wal path>
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reference_server.wal_sync import sync_wal


def main(log: str, delay: float, wal: str) -> None:
    while os.read(0, 1):
        time.sleep(delay)
        sync_wal(wal)
        with open(log, "a") as out:
            out.write(f"{time.monotonic()}\n")
        os.write(1, b"k")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3])
