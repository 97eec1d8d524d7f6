"""Sans-I/O protocol code: bytes in, validated events out; no sockets here."""
