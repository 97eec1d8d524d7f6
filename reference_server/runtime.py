"""Assembles a running reference server from a `ServerConfig`: store, accounts, TLS, listeners."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from reference_server.accounts import AccountDirectory
from reference_server.config import ConfigError, ServerConfig
from reference_server.durability import GroupCommit
from reference_server.imap.mailbox_commands import DEFAULT_SPECIAL_FOLDERS
from reference_server.imap.server import ImapServer
from reference_server.pop3.server import Pop3Server
from reference_server.store import Store
from reference_server.tlsmaterial import any_name_context, server_context, write_auto_material

log = logging.getLogger("mailspec.server")


class ReferenceServer:
    """Everything one server process runs. Create in any thread; `start()`/`close()` in the loop."""

    def __init__(self, config: ServerConfig, faults: frozenset[str] = frozenset(),
                 tls_dir: Path | None = None) -> None:
        self.config = config
        self.store = Store(config.store)
        self.store.sync_accounts((a.user, a.role) for a in config.accounts)
        self.store.quota_storage_kib = config.quota_storage_kib or None
        self.store.quota_messages = config.quota_messages or None
        if config.imap_special_use_folders:
            for acc in config.accounts:
                if acc.role == "user":
                    self.store.provision_special_use(acc.user, DEFAULT_SPECIAL_FOLDERS)
        self.directory = AccountDirectory(config)
        self.ca_file: str | None = None
        if config.tls_cert == "auto":
            folder = tls_dir or Path(config.store).resolve().parent / "tls"
            ca, cert, key = write_auto_material(folder)
            self.ca_file = str(ca)
            if config.tls_ca_out:
                shutil.copyfile(ca, config.tls_ca_out)
                self.ca_file = config.tls_ca_out
        else:
            cert, key = Path(config.tls_cert), Path(config.tls_key)
        try:
            ctx = server_context(cert, key)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load TLS certificate {cert} / key {key}: {exc}") from exc
        # FAULT hooks: a protocol's listeners mint a certificate for whatever name a client asks for.
        pop3_ctx = any_name_context(cert, key) if "pop3-tls-cert-any-name" in faults else ctx
        imap_ctx = any_name_context(cert, key) if "imap-tls-cert-any-name" in faults else ctx
        self.pop3 = Pop3Server(config, self.store, self.directory, pop3_ctx, faults)
        self.imap = ImapServer(config, self.store, self.directory, imap_ctx, faults)
        self.serve_pop3 = True  # False in the extra IMAP worker processes (workers.py)
        self.group_commit: GroupCommit | None = None

    @property
    def ports(self) -> dict[str, int]:
        return {**self.pop3.ports, **self.imap.ports}

    async def start(self) -> None:
        # The loop thread's commits share their fsyncs from here on (durability.py).
        self.store.defer_fsync()
        self.group_commit = group = GroupCommit(self.store)
        self.pop3.group_commit = self.imap.group_commit = group
        if self.serve_pop3:
            await self.pop3.start()
        await self.imap.start()

    async def close(self) -> None:
        await self.imap.close()
        if self.serve_pop3:
            await self.pop3.close()
        if self.group_commit is not None:
            self.group_commit.close()
