"""The target model: which server is under test, where it listens, and with which accounts.

A target is read from a TOML file (see README.md, "Target files") or built in memory by the
embedded reference server. The suite only ever talks to a target through this model.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

TlsMode = Literal["none", "starttls", "implicit"]
TLS_MODES: tuple[str, ...] = ("none", "starttls", "implicit")
PROTOCOLS: tuple[str, ...] = ("pop3", "pop3s", "imap", "imaps", "smtp")
DELIVERY_METHODS: tuple[str, ...] = ("builtin", "imap-append", "smtp", "lmtp", "command")


class TargetError(ValueError):
    """The target file is not valid; the message names the file and the field."""


@dataclass(frozen=True)
class Endpoint:
    """One listener: host, port and how TLS is used on it."""

    host: str
    port: int
    tls: TlsMode = "none"


@dataclass(frozen=True)
class Account:
    """A login on the target. Only `disposable` accounts may be written to by destructive tests."""

    user: str
    password: str
    disposable: bool = False
    role: str = "user"  # user | admin | guest | anonymous


@dataclass(frozen=True)
class Delivery:
    """How the suite puts test messages into a maildrop (POP3 cannot add mail itself).

    method:
      builtin      the embedded reference server delivers in-process (set by the embedded target)
      imap-append  APPEND to INBOX over IMAP, logged in as the account (uses `endpoint`)
      smtp / lmtp  a message to `<user>@<domain>` through `endpoint`
      command      run `command` (a list; `{user}` is replaced) with the message on stdin
    """

    method: str = "imap-append"
    endpoint: Endpoint | None = None
    domain: str = "localhost"
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class TlsSettings:
    ca_file: str | None = None  # PEM bundle the suite trusts; None means the system store
    verify: bool = True
    server_name: str | None = None  # SNI / hostname to check; defaults to the endpoint host


@dataclass
class Target:
    name: str
    endpoints: dict[str, Endpoint] = field(default_factory=dict)  # keys from PROTOCOLS
    accounts: list[Account] = field(default_factory=list)
    tls: TlsSettings = field(default_factory=TlsSettings)
    delivery: Delivery = field(default_factory=Delivery)
    deviations: dict[str, str] = field(default_factory=dict)  # test id -> vendor's reason
    timeout: float = 10.0  # seconds for any single network read
    # Settings the server claims to have (autologout seconds, max connections, ...).
    settings: dict[str, Any] = field(default_factory=dict)
    source: str = "<memory>"

    def endpoint(self, protocol: str) -> Endpoint | None:
        return self.endpoints.get(protocol)

    def disposable_accounts(self) -> list[Account]:
        return [a for a in self.accounts if a.disposable and a.role == "user"]

    def accounts_with_role(self, role: str) -> list[Account]:
        return [a for a in self.accounts if a.role == role]


def _endpoint(data: dict[str, Any], where: str, default_tls: str = "none") -> Endpoint:
    try:
        host = str(data.get("host", "127.0.0.1"))
        port = int(data["port"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TargetError(f"{where}: needs an integer 'port'") from exc
    tls = str(data.get("tls", default_tls))
    if tls not in TLS_MODES:
        raise TargetError(f"{where}: tls must be one of {', '.join(TLS_MODES)}, not {tls!r}")
    return Endpoint(host=host, port=port, tls=tls)  # type: ignore[arg-type]


def parse_target(data: dict[str, Any], source: str = "<memory>") -> Target:
    """Build a Target from the parsed TOML mapping, with errors that name the field."""
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise TargetError(f"{source}: 'name' is required")
    endpoints: dict[str, Endpoint] = {}
    for proto in PROTOCOLS:
        if proto in data:
            default_tls = "implicit" if proto in ("pop3s", "imaps") else "none"
            endpoints[proto] = _endpoint(data[proto], f"{source} [{proto}]", default_tls)
    accounts = []
    for i, acc in enumerate(data.get("accounts", [])):
        try:
            accounts.append(
                Account(
                    user=str(acc["user"]),
                    password=str(acc["password"]),
                    disposable=bool(acc.get("disposable", False)),
                    role=str(acc.get("role", "user")),
                )
            )
        except KeyError as exc:
            raise TargetError(f"{source} [[accounts]] #{i + 1}: missing {exc.args[0]!r}") from exc
    tls_data = data.get("tls", {})
    ca_file = tls_data.get("ca_file")
    if ca_file and not Path(ca_file).is_absolute() and source != "<memory>":
        ca_file = str((Path(source).parent / ca_file).resolve())
    tls = TlsSettings(
        ca_file=ca_file, verify=bool(tls_data.get("verify", True)), server_name=tls_data.get("server_name")
    )
    dd = data.get("delivery", {"method": "imap-append"})
    method = str(dd.get("method", "imap-append"))
    if method not in DELIVERY_METHODS:
        raise TargetError(f"{source} [delivery]: method must be one of {', '.join(DELIVERY_METHODS)}")
    d_endpoint = None
    if "port" in dd:
        d_endpoint = _endpoint(dd, f"{source} [delivery]")
    elif method == "imap-append":
        d_endpoint = endpoints.get("imap") or endpoints.get("imaps")
    elif method == "smtp":
        d_endpoint = endpoints.get("smtp")
    if method in ("imap-append", "smtp", "lmtp") and d_endpoint is None:
        raise TargetError(f"{source} [delivery]: method {method!r} needs an endpoint (host/port)")
    command = tuple(str(c) for c in dd.get("command", ()))
    if method == "command" and not command:
        raise TargetError(f"{source} [delivery]: method 'command' needs 'command' (a list of words)")
    delivery = Delivery(
        method=method, endpoint=d_endpoint, domain=str(dd.get("domain", "localhost")), command=command
    )
    deviations = {str(k): str(v) for k, v in data.get("deviations", {}).items()}
    return Target(
        name=name,
        endpoints=endpoints,
        accounts=accounts,
        tls=tls,
        delivery=delivery,
        deviations=deviations,
        timeout=float(data.get("timeout", 10.0)),
        settings=dict(data.get("settings", {})),
        source=source,
    )


def load_target(path: str | Path) -> Target:
    """Read a target TOML file."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise TargetError(f"{p}: cannot read target file: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"{p}: not valid TOML: {exc}") from exc
    return parse_target(data, str(p))
