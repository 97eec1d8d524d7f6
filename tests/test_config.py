"""Server configuration parsing and password hashing."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference_server.config import ConfigError, ServerConfig, load_config, parse_config
from reference_server.passwords import hash_password, verify_password

EXAMPLE = Path(__file__).resolve().parent.parent / "reference_server" / "example.toml"
H = hash_password("pw", n=2**4)


def test_example_file_loads() -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.pop3_port == 1110 and cfg.pop3s_port == 1995
    assert cfg.max_line == 255 and cfg.idle_timeout == 600 and cfg.expire == "NEVER"
    assert cfg.allow_plaintext_auth is False
    assert {a.user: a.role for a in cfg.accounts} == {"alice": "user", "bob": "user", "admin": "admin"}
    assert cfg.account("alice") and cfg.account("alice").apop_secret == "secret"  # type: ignore[union-attr]
    assert verify_password("alice", "secret", cfg.accounts[0].password_hash)


def test_defaults_and_relative_store(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text('store = "x.sqlite"\n[limits]\nidle_timeout = 2\n')
    cfg = load_config(p)
    assert cfg.store == str(tmp_path / "x.sqlite")
    assert cfg.idle_timeout == 2.0 and cfg.max_connections == 100 and cfg.login_delay == 0


@pytest.mark.parametrize(("data", "needle"), [
    ({"pop3_port": "110"}, "pop3_port"),
    ({"pop3_port": 70000}, "pop3_port"),
    ({"limits": {"max_line": 1}}, "max_line"),
    ({"limits": {"idle_timeout": 0}}, "idle_timeout"),
    ({"limits": {"max_connections": True}}, "max_connections"),
    ({"limits": {"expire": "soon"}}, "expire"),
    ({"tls": {"cert": "a.pem"}}, "cert and key"),
    ({"colour": "red"}, "unknown key"),
    ({"accounts": [{"user": "a"}]}, "password_hash"),
    ({"accounts": [{"user": "a", "password_hash": "plain"}]}, "scrypt"),
    ({"accounts": [{"user": "a", "password_hash": H, "role": "root"}]}, "role"),
    ({"accounts": [{"user": "a b", "password_hash": H}]}, "user"),
    ({"accounts": [{"user": "a", "password_hash": H}, {"user": "a", "password_hash": H}]}, "unique"),
])
def test_errors_name_the_field(data: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        parse_config(data, "srv.toml")


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("host = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_overrides() -> None:
    cfg = ServerConfig().with_overrides({"idle_timeout": 2, "max_connections": 3})
    assert (cfg.idle_timeout, cfg.max_connections) == (2, 3)
    with pytest.raises(ConfigError, match="unknown server setting"):
        ServerConfig().with_overrides({"nope": 1})
    with pytest.raises(ConfigError, match="max_line"):
        ServerConfig().with_overrides({"max_line": 0})


def test_hash_and_verify() -> None:
    h = hash_password("s3cret word", n=2**4)
    assert h.startswith("$scrypt$n=16,r=8,p=1$")
    assert verify_password("u", "s3cret word", h)
    assert verify_password("u", "s3cret word", h)  # cached path
    assert not verify_password("u", "wrong", h)
    assert not verify_password("u", "s3cret word", "$scrypt$garbage")
    assert hash_password("x", n=2**4) != hash_password("x", n=2**4)  # salted
