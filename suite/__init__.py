"""The mailspec conformance suite (a pytest package; run with `-p mailspec.plugin`)."""
