"""Benchmarks: the real bot process against the fakes of ``tests/fakes`` on 127.0.0.1."""
