"""Conformance suite: written from HITS 1216 (AMQP) and HITS 1217 (Digital Dialog), not
from the code. Every test cites the section it checks; see ``conftest.py`` for the harness."""
