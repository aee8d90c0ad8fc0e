"""Reproducible measurements (run as modules), not timed tests."""
