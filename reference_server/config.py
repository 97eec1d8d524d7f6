"""Reference-server configuration, read from a TOML file.

Format (every key optional except where noted; see ``example.toml``)::

    host = "127.0.0.1"            # listen address (loopback only in this project)
    pop3_port = 1110              # plain POP3, STLS offered; 0 = pick a free port; omit/-1 = off
    pop3s_port = 1995             # implicit-TLS POP3 (RFC 8314); 0 = free port; omit/-1 = off
    imap_port = 1143              # plain IMAP, STARTTLS offered; 0 = free port; omit/-1 = off
    imaps_port = 1993             # implicit-TLS IMAP (RFC 8314); 0 = free port; omit/-1 = off
    store = "mail.sqlite"         # SQLite store path, relative to the config file
    implementation = "mailspec-reference"
    allow_plaintext_auth = false  # USER/PASS and AUTH PLAIN before TLS (RFC 2595 §6, RFC 5034 §4)

    [tls]
    cert = "auto"                 # PEM certificate chain path, or "auto" (trustme, made at start-up)
    key = "auto"                  # PEM private key path, or "auto"
    ca_out = "ca.pem"             # with "auto": where the generated CA is written for clients

    [limits]
    max_line = 255                # command line octets incl. CRLF (RFC 2449 §4 minimum)
    max_connections = 100         # simultaneous connections; excess get -ERR [SYS/TEMP]
    idle_timeout = 600            # autologout seconds (RFC 1939 §3 wants >= 600; tests use less)
    login_delay = 0               # seconds, advertised as LOGIN-DELAY in CAPA
    expire = "NEVER"              # advertised as EXPIRE; "NEVER" or a number of days

    [imap]
    capabilities_off = []         # capabilities to switch off, e.g. ["QRESYNC", "IDLE", "LITERAL+"]
    literal = "plus"              # advertise "plus" (LITERAL+) or "minus" (LITERAL-, RFC 7888 §5)
    special_use_folders = true    # give each user Sent, Drafts, Trash, Junk and Archive (RFC 6154)
    max_line = 8192               # octets of one command line, literals not counted
    max_literal = 65536           # any literal except an APPEND message
    max_append = 52428800         # an APPEND message (also advertised as APPENDLIMIT-like TOOBIG)
    max_depth = 16                # nesting of parenthesised lists in a command
    command_timeout = 60          # seconds a started command may take to arrive completely
    idle_timeout = 1800           # IMAP autologout seconds (RFC 3501 §5.4 wants >= 30 minutes)
    quota_storage_kib = 0         # per-account storage limit (RFC 9208 STORAGE); 0 = none
    quota_messages = 0            # per-account message limit (RFC 9208 MESSAGE); 0 = none
    workers = 1                   # processes serving IMAP (`mailspec serve --config` only); the
                                  # first also serves POP3; each applies [limits] max_connections
                                  # to its own connections; see reference_server/workers.py

    [[accounts]]
    user = "alice"                # required
    password_hash = "$scrypt$..." # required; make one with `mailspec hash-password`
    role = "user"                 # user | admin | guest | anonymous (only user may use POP3)
    apop_secret = "..."           # optional; enables APOP for this account

Errors raise ``ConfigError`` naming the file and the field.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from reference_server.commit_marks import MAX_PROCESSES
from reference_server.passwords import check_hash_format, hash_password, verify_password

__all__ = ["ROLES", "AccountConfig", "ConfigError", "ServerConfig", "hash_password", "load_config",
           "parse_config", "verify_password"]

ROLES = ("user", "admin", "guest", "anonymous")


class ConfigError(ValueError):
    """The configuration is not valid; the message names the file and the field."""


@dataclass(frozen=True)
class AccountConfig:
    user: str
    password_hash: str
    role: str = "user"
    apop_secret: str | None = None


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    pop3_port: int | None = 1110
    pop3s_port: int | None = 1995
    store: str = "mail.sqlite"
    implementation: str = "mailspec-reference"
    allow_plaintext_auth: bool = False
    tls_cert: str = "auto"
    tls_key: str = "auto"
    tls_ca_out: str | None = None
    max_line: int = 255
    max_connections: int = 100
    idle_timeout: float = 600.0
    login_delay: int = 0
    expire: str = "NEVER"
    accounts: tuple[AccountConfig, ...] = field(default_factory=tuple)
    imap_port: int | None = 1143
    imaps_port: int | None = 1993
    imap_capabilities_off: tuple[str, ...] = ()
    imap_literal: str = "plus"
    imap_special_use_folders: bool = True
    imap_max_line: int = 8192
    imap_max_literal: int = 65536
    imap_max_append: int = 50 * 1024 * 1024
    imap_max_depth: int = 16
    imap_command_timeout: float = 60.0
    imap_idle_timeout: float = 1800.0
    quota_storage_kib: int = 0
    quota_messages: int = 0
    imap_workers: int = 1

    def with_overrides(self, overrides: dict[str, Any]) -> ServerConfig:
        """A copy with fields replaced (used by tests: ``{"idle_timeout": 2}``)."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown server setting(s): {', '.join(sorted(unknown))}")
        cfg = replace(self, **overrides)
        _check_values(cfg, "<settings>")
        return cfg

    def account(self, user: str) -> AccountConfig | None:
        for acc in self.accounts:
            if acc.user == user:
                return acc
        return None


def _get(data: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str, default: Any) -> Any:
    if key not in data:
        return default
    value = data[key]
    # bool is an int subclass; a port of `true` is a mistake worth naming.
    if isinstance(value, bool) and bool not in (typ if isinstance(typ, tuple) else (typ,)):
        raise ConfigError(f"{where}: {key!r} has the wrong type (bool)")
    if not isinstance(value, typ):
        raise ConfigError(f"{where}: {key!r} has the wrong type ({type(value).__name__})")
    return value


def _port(value: int | None, key: str, where: str) -> int | None:
    if value is None or value == -1:
        return None
    if not 0 <= value <= 65535:
        raise ConfigError(f"{where}: {key!r} must be 0..65535 (0 = any free port) or -1 (off)")
    return value


def _check_values(cfg: ServerConfig, where: str) -> None:
    if cfg.max_line < 3:
        raise ConfigError(f"{where}: max_line must be at least 3")
    if cfg.max_connections < 1:
        raise ConfigError(f"{where}: max_connections must be at least 1")
    if cfg.idle_timeout <= 0:
        raise ConfigError(f"{where}: idle_timeout must be positive")
    if cfg.login_delay < 0:
        raise ConfigError(f"{where}: login_delay must not be negative")
    if cfg.expire != "NEVER" and not (cfg.expire.isdigit()):
        raise ConfigError(f"{where}: expire must be 'NEVER' or a number of days")
    if cfg.imap_literal not in ("plus", "minus"):
        raise ConfigError(f"{where}: [imap] literal must be 'plus' or 'minus'")
    if cfg.imap_max_line < 1024:
        raise ConfigError(f"{where}: [imap] max_line must be at least 1024")
    for name in ("imap_max_literal", "imap_max_append", "imap_max_depth"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"{where}: [imap] {name[5:]} must be at least 1")
    if cfg.imap_command_timeout <= 0 or cfg.imap_idle_timeout <= 0:
        raise ConfigError(f"{where}: [imap] command_timeout and idle_timeout must be positive")
    if not 1 <= cfg.imap_workers <= MAX_PROCESSES:
        raise ConfigError(f"{where}: [imap] workers must be between 1 and {MAX_PROCESSES}")
    if cfg.quota_storage_kib < 0 or cfg.quota_messages < 0:
        raise ConfigError(f"{where}: [imap] quota limits must not be negative")
    from reference_server.imap.capabilities import KNOWN_CAPABILITIES  # here: imap imports config
    unknown_caps = set(cfg.imap_capabilities_off) - KNOWN_CAPABILITIES
    if unknown_caps:
        raise ConfigError(f"{where}: [imap] capabilities_off: unknown {', '.join(sorted(unknown_caps))}")
    if (cfg.tls_cert == "auto") != (cfg.tls_key == "auto"):
        raise ConfigError(f"{where}: [tls] cert and key must both be 'auto' or both be paths")


def parse_config(data: dict[str, Any], source: str = "<memory>") -> ServerConfig:
    """Build a ServerConfig from a parsed TOML mapping; relative paths are taken from `source`'s folder."""
    base = Path(source).parent if source != "<memory>" else Path.cwd()

    def path(p: str | None) -> str | None:
        if p is None or p == "auto":
            return p
        return str(p) if Path(p).is_absolute() else str((base / p).resolve())

    known_top = {"host", "pop3_port", "pop3s_port", "imap_port", "imaps_port", "store", "implementation",
                 "allow_plaintext_auth", "tls", "limits", "imap", "accounts"}
    unknown = set(data) - known_top
    if unknown:
        raise ConfigError(f"{source}: unknown key(s): {', '.join(sorted(unknown))}")
    tls = _get(data, "tls", dict, source, {})
    imap = _get(data, "imap", dict, source, {})
    iw = f"{source} [imap]"
    known_imap = {"capabilities_off", "literal", "special_use_folders", "max_line", "max_literal", "max_append",
                  "max_depth", "command_timeout", "idle_timeout", "quota_storage_kib", "quota_messages",
                  "workers"}
    if set(imap) - known_imap:
        raise ConfigError(f"{iw}: unknown key(s): {', '.join(sorted(set(imap) - known_imap))}")
    caps_off = _get(imap, "capabilities_off", list, iw, [])
    if not all(isinstance(c, str) for c in caps_off):
        raise ConfigError(f"{iw}: 'capabilities_off' must be a list of strings")
    limits = _get(data, "limits", dict, source, {})
    tw, lw = f"{source} [tls]", f"{source} [limits]"
    expire = _get(limits, "expire", (str, int), lw, "NEVER")
    accounts = []
    seen: set[str] = set()
    for i, acc in enumerate(_get(data, "accounts", list, source, [])):
        aw = f"{source} [[accounts]] #{i + 1}"
        if not isinstance(acc, dict):
            raise ConfigError(f"{aw}: must be a table")
        for req in ("user", "password_hash"):
            if req not in acc:
                raise ConfigError(f"{aw}: missing {req!r}")
        user = _get(acc, "user", str, aw, "")
        if not user or any(c.isspace() for c in user) or user in seen:
            raise ConfigError(f"{aw}: 'user' must be non-empty, without spaces, and unique")
        seen.add(user)
        pw_hash = _get(acc, "password_hash", str, aw, "")
        try:
            check_hash_format(pw_hash)
        except ValueError as exc:
            raise ConfigError(f"{aw}: {exc}") from exc
        role = _get(acc, "role", str, aw, "user")
        if role not in ROLES:
            raise ConfigError(f"{aw}: role must be one of {', '.join(ROLES)}, not {role!r}")
        accounts.append(AccountConfig(user, pw_hash, role, _get(acc, "apop_secret", str, aw, None)))
    cfg = ServerConfig(
        host=_get(data, "host", str, source, "127.0.0.1"),
        pop3_port=_port(_get(data, "pop3_port", int, source, 1110), "pop3_port", source),
        pop3s_port=_port(_get(data, "pop3s_port", int, source, 1995), "pop3s_port", source),
        store=path(_get(data, "store", str, source, "mail.sqlite")) or "mail.sqlite",
        implementation=_get(data, "implementation", str, source, "mailspec-reference"),
        allow_plaintext_auth=_get(data, "allow_plaintext_auth", bool, source, False),
        tls_cert=path(_get(tls, "cert", str, tw, "auto")) or "auto",
        tls_key=path(_get(tls, "key", str, tw, "auto")) or "auto",
        tls_ca_out=path(_get(tls, "ca_out", str, tw, None)),
        max_line=_get(limits, "max_line", int, lw, 255),
        max_connections=_get(limits, "max_connections", int, lw, 100),
        idle_timeout=float(_get(limits, "idle_timeout", (int, float), lw, 600)),
        login_delay=_get(limits, "login_delay", int, lw, 0),
        expire=str(expire),
        accounts=tuple(accounts),
        imap_port=_port(_get(data, "imap_port", int, source, 1143), "imap_port", source),
        imaps_port=_port(_get(data, "imaps_port", int, source, 1993), "imaps_port", source),
        imap_capabilities_off=tuple(c.upper() for c in caps_off),
        imap_literal=_get(imap, "literal", str, iw, "plus"),
        imap_special_use_folders=_get(imap, "special_use_folders", bool, iw, True),
        imap_max_line=_get(imap, "max_line", int, iw, 8192),
        imap_max_literal=_get(imap, "max_literal", int, iw, 65536),
        imap_max_append=_get(imap, "max_append", int, iw, 50 * 1024 * 1024),
        imap_max_depth=_get(imap, "max_depth", int, iw, 16),
        imap_command_timeout=float(_get(imap, "command_timeout", (int, float), iw, 60)),
        imap_idle_timeout=float(_get(imap, "idle_timeout", (int, float), iw, 1800)),
        quota_storage_kib=_get(imap, "quota_storage_kib", int, iw, 0),
        quota_messages=_get(imap, "quota_messages", int, iw, 0),
        imap_workers=_get(imap, "workers", int, iw, 1),
    )
    _check_values(cfg, source)
    return cfg


def load_config(path: str | Path) -> ServerConfig:
    """Read a server configuration TOML file."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config file: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from exc
    return parse_config(data, str(p))
