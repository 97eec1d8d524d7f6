"""Putting test messages into a target's maildrop, by the method its target file declares."""

from __future__ import annotations

import smtplib
import ssl
import subprocess
from collections.abc import Callable

from mailspec.targets import Account, Target

Deliver = Callable[[Account, bytes], None]


class DeliveryError(RuntimeError):
    """The target did not accept a test message; the suite cannot set up the test."""


def tls_context(target: Target) -> ssl.SSLContext:
    """The client TLS context the whole suite uses for this target."""
    ctx = ssl.create_default_context(cafile=target.tls.ca_file)
    if not target.tls.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _imap_append(target: Target, account: Account, message: bytes) -> None:
    from imapclient import IMAPClient
    from imapclient.exceptions import IMAPClientError

    ep = target.delivery.endpoint
    assert ep is not None
    try:
        with IMAPClient(
            ep.host, port=ep.port, ssl=ep.tls == "implicit", ssl_context=tls_context(target),
            timeout=target.timeout,
        ) as client:
            if ep.tls == "starttls":
                client.starttls(tls_context(target))
            client.login(account.user, account.password)
            client.append("INBOX", message)
    except (OSError, IMAPClientError) as exc:
        raise DeliveryError(f"IMAP APPEND to {ep.host}:{ep.port} as {account.user} failed: {exc}") from exc


def _smtp(target: Target, account: Account, message: bytes, lmtp: bool) -> None:
    ep = target.delivery.endpoint
    assert ep is not None
    rcpt = account.user if "@" in account.user else f"{account.user}@{target.delivery.domain}"
    try:
        if lmtp:
            conn: smtplib.SMTP = smtplib.LMTP(ep.host, ep.port)
        elif ep.tls == "implicit":
            conn = smtplib.SMTP_SSL(ep.host, ep.port, context=tls_context(target), timeout=target.timeout)
        else:
            conn = smtplib.SMTP(ep.host, ep.port, timeout=target.timeout)
        with conn:
            if ep.tls == "starttls":
                conn.starttls(context=tls_context(target))
            conn.sendmail(f"mailspec@{target.delivery.domain}", [rcpt], message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{'LMTP' if lmtp else 'SMTP'} delivery to {rcpt} failed: {exc}") from exc


def _command(target: Target, account: Account, message: bytes) -> None:
    argv = [w.replace("{user}", account.user) for w in target.delivery.command]
    proc = subprocess.run(argv, input=message, capture_output=True, timeout=target.timeout, check=False)
    if proc.returncode != 0:
        raise DeliveryError(
            f"delivery command {argv} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}"
        )


def make_deliverer(target: Target, builtin: Deliver | None = None) -> Deliver:
    """A function that delivers one message (bytes, CRLF line ends) into the account's INBOX."""
    method = target.delivery.method
    if method == "builtin":
        if builtin is None:
            raise DeliveryError("delivery method 'builtin' only works with the embedded reference server")
        return builtin
    if method == "imap-append":
        return lambda acc, msg: _imap_append(target, acc, msg)
    if method in ("smtp", "lmtp"):
        return lambda acc, msg: _smtp(target, acc, msg, lmtp=method == "lmtp")
    if method == "command":
        return lambda acc, msg: _command(target, acc, msg)
    raise DeliveryError(f"unknown delivery method {method!r}")
