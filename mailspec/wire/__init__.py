"""Blocking-socket wire clients that record every byte (transcripts) and validate responses."""
