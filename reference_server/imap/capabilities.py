"""Which IMAP capabilities the reference server has, and the CAPABILITY list for a session.

Every extension can be switched off in the config (``[imap] capabilities_off``); the session then
refuses its commands and syntax as if it did not exist. IMAP4rev1 and IMAP4rev2 are advertised
together (RFC 9051 §2.1 allows both); IMAP4rev2 behaviour starts only after ``ENABLE IMAP4rev2``.
"""

from __future__ import annotations

from dataclasses import dataclass

# In the order they are advertised. Pseudo-capabilities (STARTTLS, AUTH=PLAIN, LOGINDISABLED) depend
# on the connection's TLS state and are added by `capability_list`.
EXTENSIONS: tuple[str, ...] = (
    "IMAP4rev1", "IMAP4rev2", "LITERAL+", "LITERAL-", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE",
    "UNSELECT", "UIDPLUS", "MOVE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE",
    "CREATE-SPECIAL-USE", "ESEARCH", "SORT", "CONDSTORE", "QRESYNC", "QUOTA", "QUOTA=RES-STORAGE",
    "QUOTA=RES-MESSAGE", "MULTIAPPEND", "STATUS=SIZE",
)
# Still usable before login: RFC 3501 §6.1 commands, STARTTLS/AUTHENTICATE, and the extensions that
# work in the not-authenticated state.
PRE_AUTH: frozenset[str] = frozenset({"IMAP4rev1", "IMAP4rev2", "LITERAL+", "LITERAL-", "SASL-IR", "ID", "ENABLE"})
KNOWN_CAPABILITIES: frozenset[str] = frozenset(c.upper() for c in EXTENSIONS) | {"STARTTLS", "AUTH=PLAIN"}


@dataclass(frozen=True)
class CapabilitySet:
    """The capabilities switched on for a server (upper-case names)."""

    enabled: frozenset[str]

    @classmethod
    def from_config(cls, off: tuple[str, ...], literal: str) -> CapabilitySet:
        on = {c.upper() for c in EXTENSIONS} | {"STARTTLS", "AUTH=PLAIN"}
        on -= {c.upper() for c in off}
        # RFC 7888 §5: never both LITERAL+ and LITERAL-.
        on.discard("LITERAL-" if literal == "plus" else "LITERAL+")
        if "CONDSTORE" not in on:
            on.discard("QRESYNC")  # QRESYNC builds on CONDSTORE (RFC 7162 §3.2)
        if "QUOTA" not in on:
            on -= {"QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"}
        return cls(frozenset(on))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.upper() in self.enabled

    @property
    def literal_mode(self) -> str:
        """"plus", "minus" or "off" for the command reader."""
        return "plus" if "LITERAL+" in self.enabled else "minus" if "LITERAL-" in self.enabled else "off"

    def capability_list(self, *, authenticated: bool, tls_active: bool, plaintext_ok: bool) -> list[str]:
        """The atoms of a CAPABILITY response for a connection in this state."""
        out = [c for c in EXTENSIONS if c.upper() in self.enabled and (authenticated or c in PRE_AUTH)]
        if not authenticated:
            if not tls_active and "STARTTLS" in self.enabled:
                out.append("STARTTLS")
            if tls_active or plaintext_ok:
                if "AUTH=PLAIN" in self.enabled:
                    out.append("AUTH=PLAIN")
            else:
                out.append("LOGINDISABLED")  # RFC 3501 §6.2.3, RFC 9051 §6.2.3
        return out
