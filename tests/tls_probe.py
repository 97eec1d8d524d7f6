"""Probing the embedded server's TLS certificate from the project's tests."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable

from reference_server.embedded import EmbeddedServer


def verifies_for_wrong_name(faults: Iterable[str], endpoint: str) -> bool:
    """Whether the certificate the embedded server (with `faults`) presents on the implicit-TLS
    `endpoint` verifies for a name the server does not have."""
    with EmbeddedServer(sorted(faults)) as srv:
        target = srv.target
        ctx = ssl.create_default_context(cafile=target.tls.ca_file)
        with socket.create_connection(("127.0.0.1", target.endpoints[endpoint].port), timeout=5) as raw:
            try:
                ctx.wrap_socket(raw, server_hostname="wrong-name.invalid").close()
            except ssl.SSLCertVerificationError:
                return False
    return True
