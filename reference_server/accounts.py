"""Who may log in, and who holds which maildrop: shared by every protocol server of one process."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass

from reference_server.config import AccountConfig, ServerConfig
from reference_server.passwords import verify_password


@dataclass(frozen=True)
class AuthResult:
    """Outcome of a credential check. `account` is set only when the credentials are right."""

    account: AccountConfig | None
    reason: str = ""


class AccountDirectory:
    """Credential checks against the configured accounts, plus per-account maildrop locks."""

    def __init__(self, config: ServerConfig) -> None:
        self._accounts = {a.user: a for a in config.accounts}
        self._order = [a.user for a in config.accounts]
        self._locks: set[str] = set()
        self._last_login: dict[str, float] = {}
        self._mutex = threading.Lock()

    def get(self, user: str) -> AccountConfig | None:
        return self._accounts.get(user)

    def first_user_account(self, password: str) -> AccountConfig | None:
        """The first role=user account whose password matches, else the first role=user account.

        Only the ``pop3-pass-without-user`` fault uses this.
        """
        users = [self._accounts[u] for u in self._order if self._accounts[u].role == "user"]
        for acc in users:
            if verify_password(acc.user, password, acc.password_hash):
                return acc
        return users[0] if users else None

    def check_password(self, user: str, password: str) -> AuthResult:
        acc = self._accounts.get(user)
        if acc is None or not verify_password(user, password, acc.password_hash):
            return AuthResult(None, "invalid user name or password")
        return AuthResult(acc)

    def check_apop(self, user: str, timestamp: str, digest: str) -> AuthResult:
        acc = self._accounts.get(user)
        if acc is None or acc.apop_secret is None:
            return AuthResult(None, "APOP is not enabled for this user, or the user is unknown")
        want = hashlib.md5((timestamp + acc.apop_secret).encode("utf-8")).hexdigest()
        if not hmac.compare_digest(want, digest.lower()):
            return AuthResult(None, "invalid user name or digest")
        return AuthResult(acc)

    def try_lock(self, user: str) -> bool:
        """Take the exclusive maildrop lock for `user`; False if another session holds it."""
        with self._mutex:
            if user in self._locks:
                return False
            self._locks.add(user)
            return True

    def unlock(self, user: str) -> None:
        with self._mutex:
            self._locks.discard(user)

    def seconds_until_login_allowed(self, user: str, delay: int) -> float:
        """For LOGIN-DELAY: how long `user` must still wait (0 when allowed); records this login."""
        now = time.monotonic()
        with self._mutex:
            last = self._last_login.get(user)
            if delay > 0 and last is not None and now - last < delay:
                return delay - (now - last)
            self._last_login[user] = now
            return 0.0
