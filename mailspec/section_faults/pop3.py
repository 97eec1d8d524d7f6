"""Section faults: the POP3 server (see mailspec/section_faults/__init__.py)."""

from __future__ import annotations

from mailspec.fault_model import Fault

FAULTS: tuple[Fault, ...] = (
    Fault("pop3-timestamp-control-char", "pop3",
          "the greeting's APOP timestamp separates its parts with a DEL control character, so it is not msg-id shaped",
          ("pop3/2449/3/greeting-syntax",)),
    Fault("pop3-login-delay-only-after-login", "pop3",
          "CAPA announces LOGIN-DELAY only in the TRANSACTION state, not before login",
          ("pop3/2449/6.5/login-delay-announced-before-login",)),
    Fault("pop3-expire-only-after-login", "pop3",
          "CAPA announces EXPIRE only in the TRANSACTION state, not before login",
          ("pop3/2449/6.7/expire-announced-before-login",)),
    Fault("pop3-sasl-plain-offered-without-tls", "pop3",
          "CAPA offers SASL PLAIN before TLS although AUTH PLAIN is then refused",
          ("pop3/2595/6/plain-not-offered-without-tls",)),
    Fault("pop3-sasl-dropped-after-auth", "pop3",
          "after a login by AUTH, CAPA no longer lists the SASL capability",
          ("pop3/5034/3/sasl-still-advertised-after-login",)),
    Fault("pop3-auth-mechanism-case-sensitive", "pop3",
          "AUTH matches the SASL mechanism name case-sensitively ('plain' is unsupported)",
          ("pop3/5034/5/auth-mechanism-case-insensitive",)),
    Fault("pop3-implicit-tls-not-trusted", "pop3",
          "sessions on the implicit-TLS port are not marked encrypted, so clear-text rules refuse USER/PASS and AUTH",
          ("pop3/8314/3.1/implicit-tls-login",)),
)
