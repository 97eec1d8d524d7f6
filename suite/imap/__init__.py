"""The IMAP4 conformance tests (RFC 3501 / RFC 9051 and extensions); rules in README.md."""
