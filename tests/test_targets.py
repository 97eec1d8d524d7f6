"""Target files: a valid file loads; every mistake is reported naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailspec.targets import TargetError, load_target, parse_target

ROOT = Path(__file__).resolve().parent.parent


def test_dovecot_target_file_loads_with_endpoints_accounts_and_delivery() -> None:
    t = load_target(ROOT / "targets" / "dovecot.toml")
    assert t.endpoint("pop3").port == 11110 and t.endpoint("pop3").tls == "starttls"
    assert t.endpoint("pop3s").tls == "implicit"
    assert [a.user for a in t.disposable_accounts()] == ["alice", "bob", "carol", "dave", "erin", "frank"]
    assert t.accounts_with_role("admin")[0].user == "admin"
    assert t.delivery.method == "imap-append" and t.delivery.endpoint.port == 11143


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "'name' is required"),
        ({"name": "x", "pop3": {"host": "h"}}, "[pop3]: needs an integer 'port'"),
        ({"name": "x", "pop3": {"port": 1, "tls": "ssl"}}, "tls must be one of"),
        ({"name": "x", "accounts": [{"user": "a"}]}, "#1: missing 'password'"),
        ({"name": "x", "delivery": {"method": "carrier-pigeon"}}, "method must be one of"),
        ({"name": "x", "delivery": {"method": "imap-append"}}, "needs an endpoint"),
        ({"name": "x", "delivery": {"method": "command"}}, "needs 'command'"),
    ],
)
def test_target_errors_name_the_field(data: dict, message: str) -> None:
    with pytest.raises(TargetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_target(data, "t.toml")


def test_unreadable_and_invalid_toml_are_target_errors(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="cannot read"):
        load_target(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(TargetError, match="not valid TOML"):
        load_target(bad)


def test_relative_ca_file_is_resolved_against_the_target_file(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text('name = "x"\n[tls]\nca_file = "ca.pem"\n[delivery]\nmethod = "command"\ncommand = ["true"]\n')
    assert load_target(f).tls.ca_file == str(tmp_path / "ca.pem")
