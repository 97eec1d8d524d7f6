"""mailspec: conformance suite, reference server and client simulator for POP3 and IMAP4."""

__version__ = "0.1.0"
