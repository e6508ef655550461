"""Benchmarks and the extraction evaluation harness (run as scripts; importable as ``bench.*``)."""
