"""POP3 conformance tests: RFC 1939, 2449, 2595 (STLS), 5034 (SASL), 8314 (implicit TLS)."""
