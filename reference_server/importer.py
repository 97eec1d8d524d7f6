"""Import existing mail into an account: single .eml files, mbox files and Maildir folders."""

from __future__ import annotations

import mailbox
from collections.abc import Iterable, Iterator
from pathlib import Path

from reference_server.store import Store


def _mbox_messages(path: Path) -> Iterator[bytes]:
    box = mailbox.mbox(str(path), create=False)
    try:
        for key in box.iterkeys():
            yield box.get_bytes(key)
    finally:
        box.close()


def _maildir_messages(path: Path) -> Iterator[bytes]:
    box = mailbox.Maildir(str(path), factory=None, create=False)
    # Maildir keys carry no order; sort by the delivery-time prefix of the file name.
    for key in sorted(box.iterkeys()):
        yield box.get_bytes(key)


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(5) == b"From "


def messages_in(path: str | Path) -> Iterator[bytes]:
    """Every message found at `path`: a Maildir (folder with cur/new/tmp), an mbox file, or one .eml."""
    p = Path(path)
    if p.is_dir():
        if not (p / "cur").is_dir() and not (p / "new").is_dir():
            raise ValueError(f"{p}: a folder must be a Maildir (with cur/ and new/)")
        yield from _maildir_messages(p)
    elif _is_mbox(p):
        yield from _mbox_messages(p)
    else:
        yield p.read_bytes()


def import_paths(store: Store, user: str, paths: Iterable[str | Path], mailbox_name: str = "INBOX") -> list[int]:
    """Deliver every message under `paths` to `user`; returns the new UIDs in order."""
    return [store.deliver(user, raw, mailbox_name) for p in paths for raw in messages_in(p)]
