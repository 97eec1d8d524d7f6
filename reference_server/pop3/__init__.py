"""POP3 for the reference server: a sans-I/O session (`session`) and its asyncio driver (`server`)."""
