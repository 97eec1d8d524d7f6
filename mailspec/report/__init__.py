"""Reports written from a run's results.json: JUnit XML, summary.json and per-test transcripts."""
