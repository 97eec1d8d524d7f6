"""Section faults: connection set-up (greeting, TLS certificates, response codes, capability lists)
(see mailspec/section_faults/__init__.py)."""

from __future__ import annotations

from mailspec.fault_model import Fault

FAULTS: tuple[Fault, ...] = (
    Fault("imap-implicit-tls-greeting-bye", "imap",
          "every connection to the implicit-TLS port is greeted with '* BYE [UNAVAILABLE] too many connections' "
          "(that listener's connection limit is taken as zero)",
          # every test that reads a greeting on that port
          ("imap/3501/7.1.1/greeting-ok-or-preauth", "imap/8314/3.2/implicit-tls-greeting",
           "imap/8314/3.2/implicit-tls-login", "imap/9051/6.2.1/starttls-bad-on-implicit-tls")),
    Fault("imap-tls-cert-any-name", "imap",
          "the IMAP listeners answer every SNI name with a certificate issued on the spot by the server's CA "
          "(on-demand issuance with no list of its own names), so a client checking another name is not warned",
          ("imap/8314/4.4/certificate-verifies-for-server-name",)),
    Fault("pop3-tls-cert-any-name", "pop3",
          "the POP3 listeners (STLS and implicit TLS) answer every SNI name with a certificate issued on the spot "
          "by the server's CA, so a client checking another name is not warned",
          ("pop3/8314/4/stls-handshake-verified", "pop3/8314/4.4/certificate-wrong-name-rejected")),
    Fault("pop3-unknown-user-code-unclosed", "pop3",
          "PASS for an unknown user answers '-ERR [AUTH invalid user name or password': the response code "
          "lacks its closing ']'",
          # every test that sends PASS for a user that does not exist
          ("pop3/2449/8/resp-code-syntax", "pop3/1939/7/unknown-user-login-err",
           "pop3/1939/4/failed-login-keeps-authorization")),
    Fault("imap-rev2-drops-imap4rev1", "imap",
          "after ENABLE IMAP4rev2, CAPABILITY no longer lists IMAP4rev1",
          ("imap/9051/6.3.1/enable-imap4rev2-keeps-capabilities",)),
)
