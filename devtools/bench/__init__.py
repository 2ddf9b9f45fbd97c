"""Benchmarks that print figures (`scripts/bench-*`)."""
