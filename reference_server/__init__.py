"""The mailspec reference server: POP3 (and later IMAP4/SMTP) over one SQLite store."""
