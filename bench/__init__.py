"""Benchmarks of the adapter (issue 6): ``make bench`` / ``python -m bench [--quick]``.

Not part of the test suite. See ``bench/README.md`` for the method, the latest
numbers and which targets they meet.
"""
