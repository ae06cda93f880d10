"""Benchmarks (``make bench``): speed and memory, reported in docs/benchmarks.md, never asserted in tests."""
