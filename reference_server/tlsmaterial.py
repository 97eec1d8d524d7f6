"""TLS material for the reference server: configured PEM files, or a trustme CA made on demand.

Generating an RSA key takes a noticeable fraction of a second, so the automatic CA and its leaf
certificate (for ``localhost`` and ``127.0.0.1``) are made once per process and cached.
"""

from __future__ import annotations

import functools
import ssl
from pathlib import Path

import trustme


@functools.cache
def _auto_ca() -> trustme.CA:
    return trustme.CA(organization_name="mailspec reference server test CA")


@functools.cache
def _auto_material() -> tuple[bytes, bytes, bytes]:
    """(CA PEM, certificate chain PEM, private key PEM), generated once per process."""
    ca = _auto_ca()
    # A common name too: some clients (fetchmail) insist on one besides the subjectAltName.
    leaf = ca.issue_cert("localhost", "127.0.0.1", common_name="localhost")
    chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
    return ca.cert_pem.bytes(), chain, leaf.private_key_pem.bytes()


def write_auto_material(folder: Path) -> tuple[Path, Path, Path]:
    """Write the cached CA, chain and key into `folder`; returns (ca, cert, key) paths."""
    ca_pem, chain, key = _auto_material()
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    for p, data in zip(paths, (ca_pem, chain, key), strict=True):
        p.write_bytes(data)
    paths[2].chmod(0o600)
    return paths


def auto_ca_pem() -> bytes:
    return _auto_material()[0]


def _server_base() -> ssl.SSLContext:
    """A server-side context without a certificate: TLS 1.2 or later (RFC 8314 §4.1 wants current TLS)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def server_context(cert: str | Path, key: str | Path) -> ssl.SSLContext:
    """A server-side context serving the given chain."""
    ctx = _server_base()
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def any_name_context(cert: str | Path, key: str | Path) -> ssl.SSLContext:
    """For the *-tls-cert-any-name faults: a server context that answers every SNI name with a leaf
    certificate the automatic CA issues on the spot (on-demand issuance with no list of allowed names)."""
    ctx = server_context(cert, key)

    @functools.cache
    def context_for(name: str) -> ssl.SSLContext:
        leaf = _auto_ca().issue_cert(name, common_name=name)
        named = _server_base()
        leaf.configure_cert(named)
        return named

    def pick(conn: ssl.SSLObject | ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
        if name:
            conn.context = context_for(name)

    ctx.sni_callback = pick
    return ctx
