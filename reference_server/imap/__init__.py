"""The reference IMAP4rev1/IMAP4rev2 server."""
