"""The in-process reference server the suite uses by default (``--target builtin``).

It runs an asyncio loop in a daemon thread, on free loopback ports, with a throw-away store and TLS
material in a temporary folder, and describes itself as a `mailspec.targets.Target`.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from mailspec.faults import validate_faults
from mailspec.targets import Account, Delivery, Endpoint, Target, TlsSettings
from reference_server.config import AccountConfig, ServerConfig
from reference_server.imap.mailbox_commands import DEFAULT_SPECIAL_FOLDERS
from reference_server.passwords import hash_password
from reference_server.runtime import ReferenceServer

# Cheap scrypt parameters: these passwords are random and die with the server, and start-up must
# stay fast (the suite may start a server per fault).
_EMBEDDED_SCRYPT_N = 2**10
DISPOSABLE_USERS = ("alice", "bob", "carol", "dave")
APOP_USERS = ("alice", "bob")


class EmbeddedServer:
    """A reference server in a background thread; also a context manager."""

    def __init__(self, faults: Sequence[str] = (), *, settings: dict[str, Any] | None = None) -> None:
        validate_faults(tuple(faults))
        self.faults = frozenset(faults)
        self.overrides = dict(settings or {})
        self._target: Target | None = None
        self._server: ReferenceServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._dir: Path | None = None

    def start(self) -> Target:
        if self._target is not None:
            return self._target
        self._dir = Path(tempfile.mkdtemp(prefix="mailspec-ref-"))
        try:
            return self._start(self._dir)
        except BaseException:
            self.stop()
            raise

    def _start(self, folder: Path) -> Target:
        plain: list[Account] = [Account(u, secrets.token_urlsafe(12), disposable=True)
                                for u in DISPOSABLE_USERS]
        plain += [Account("admin", secrets.token_urlsafe(12), role="admin"),
                  Account("guest", secrets.token_urlsafe(12), role="guest")]
        accounts = tuple(
            AccountConfig(a.user, hash_password(a.password, n=_EMBEDDED_SCRYPT_N), a.role,
                          a.password if a.user in APOP_USERS else None)
            for a in plain)
        config = ServerConfig(host="127.0.0.1", pop3_port=0, pop3s_port=0, imap_port=0, imaps_port=0,
                              store=str(folder / "store.sqlite"), accounts=accounts).with_overrides(self.overrides)
        self._server = ReferenceServer(config, self.faults, tls_dir=folder / "tls")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mailspec-embedded", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._server.start(), self._loop).result(timeout=10)
        ports = self._server.ports
        endpoints = {"pop3": Endpoint("127.0.0.1", ports["pop3"], "starttls"),
                     "pop3s": Endpoint("127.0.0.1", ports["pop3s"], "implicit")}
        if "imap" in ports:
            endpoints["imap"] = Endpoint("127.0.0.1", ports["imap"], "starttls")
        if "imaps" in ports:
            endpoints["imaps"] = Endpoint("127.0.0.1", ports["imaps"], "implicit")
        imap = self._server.imap
        self._target = Target(
            name="mailspec-reference",
            endpoints=endpoints,
            accounts=plain,
            tls=TlsSettings(ca_file=self._server.ca_file, server_name="localhost"),
            delivery=Delivery(method="builtin"),
            settings={"autologout": config.idle_timeout, "max_connections": config.max_connections,
                      "max_line": config.max_line, "apop": True,
                      "allow_plaintext_auth": config.allow_plaintext_auth,
                      "imap_capabilities": sorted(imap.settings.capabilities.enabled),
                      "imap_autologout": config.imap_idle_timeout,
                      "imap_command_timeout": config.imap_command_timeout,
                      "imap_max_line": config.imap_max_line, "imap_max_literal": config.imap_max_literal,
                      "imap_max_append": config.imap_max_append, "imap_max_depth": config.imap_max_depth,
                      "imap_delimiter": imap.settings.delimiter,
                      "special_use": {use: name for name, use in DEFAULT_SPECIAL_FOLDERS}
                      if config.imap_special_use_folders else {},
                      "quota_storage_kib": config.quota_storage_kib, "quota_messages": config.quota_messages},
            source="<embedded>",
        )
        return self._target

    @property
    def target(self) -> Target:
        if self._target is None:
            raise RuntimeError("EmbeddedServer.start() has not been called")
        return self._target

    @property
    def store_path(self) -> str:
        assert self._server is not None
        return self._server.store.path

    def deliver(self, account: Account, message: bytes) -> None:
        """Put `message` into the account's INBOX directly through the store (safe from any thread)."""
        if self._server is None:
            raise RuntimeError("EmbeddedServer.start() has not been called")
        self._server.store.deliver(account.user, message)

    def stop(self) -> None:
        """Close listeners and open sessions, stop the loop thread, and remove the temporary folder."""
        loop, server = self._loop, self._server
        if loop is not None and server is not None and loop.is_running():
            with contextlib.suppress(Exception):  # tear down regardless
                asyncio.run_coroutine_threadsafe(server.close(), loop).result(timeout=5)
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=5)
            loop.close()
        if server is not None:
            server.store.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._loop = self._thread = self._server = self._target = None
        self._dir = None

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
