"""Test helpers shipped for vendors (and used by our own tests), as structlog ships
``structlog.testing``:

- :class:`MemoryTransport` and :class:`MovableClock`: fakes for unit tests;
- :func:`make_test_pki`: a throw-away CA with signing and encryption certificates per
  party, for CMS tests (no key material is ever committed);
- :func:`capture_logs`: the adapter's log events as dicts, to assert on them (and
  logging left as it was: silent, unless someone configured it);
- :func:`clinic`: a clinic's whole adapter (the example clinic of ``config/`` by
  default) bootstrapped on a :class:`MemoryTransport` and a :class:`MovableClock`,
  :func:`reserve`: a ReserverTime as Helsenorge sends it, processed, with the
  AppRec, the answer and the appointment it made (a :class:`Reservation`), and
  :func:`wish`: an OT the same way (a :class:`SentWish`);
- :func:`helsenorge_message` / :func:`helsenorge_properties`: a message as a conformant
  Helsenorge sends it (every field HITS 1216 §2.1.2 marks R, no cpaId), and
  :func:`with_properties` to break exactly one; :func:`required_field_problems` checks
  any message (yours, the adapter's) for those fields;
- ``adapter.testing.postgres``: a throwaway PostgreSQL server on 127.0.0.1
  (``throwaway_postgres()``), for repository tests against the real database;
- :class:`~adapter.tools.simulator.HelsenorgeSimulator` (in ``adapter.tools.simulator``): plays
  Helsenorge against a running adapter over the directory transport, or over any
  transport (AMQP) with Helsenorge's own CMS keys.
"""

from __future__ import annotations

from adapter.testing.capture import capture_logs
from adapter.testing.clinics import (
    EXAMPLE_START,
    Reservation,
    SentWish,
    clinic,
    example_config,
    reserve,
    wish,
)
from adapter.testing.fakes import MemoryDelivery, MemoryTransport, MovableClock
from adapter.testing.helsenorge import (
    HELSENORGE_HER_ID,
    helsenorge_message,
    helsenorge_properties,
    required_field_problems,
    with_properties,
)
from adapter.testing.pki import (
    DEFAULT_PARTIES,
    KeyPurpose,
    TestCredential,
    TestParty,
    TestPki,
    envelope_for_tests,
    key_usage_for,
    make_test_pki,
)

__all__ = [
    "DEFAULT_PARTIES",
    "EXAMPLE_START",
    "HELSENORGE_HER_ID",
    "KeyPurpose",
    "MemoryDelivery",
    "MemoryTransport",
    "MovableClock",
    "Reservation",
    "SentWish",
    "TestCredential",
    "TestParty",
    "TestPki",
    "capture_logs",
    "clinic",
    "envelope_for_tests",
    "example_config",
    "helsenorge_message",
    "helsenorge_properties",
    "key_usage_for",
    "make_test_pki",
    "required_field_problems",
    "reserve",
    "wish",
    "with_properties",
]
