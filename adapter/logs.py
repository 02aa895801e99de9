"""Structured technical logging (structlog) with privacy guards.

Technical logs carry ids only: MsgId, HER-ids, appointment ids. Names, fødselsnummer
and free text never belong here (patient-related events go to the audit table). As a
last line of defence, :func:`redact` masks any 11-digit number (fødselsnummer or
D-nummer shape) and drops values under keys that are known to hold personal data.

``configure(format="auto")`` writes JSON lines when stderr is not a terminal (a
service), and a readable console format in a terminal.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

from adapter.privacy import mask_person_numbers

LogFormat = Literal["auto", "json", "console"]

#: Keys whose values are personal data and must never be logged.
FORBIDDEN_KEYS = frozenset(
    {
        "fnr",
        "dnr",
        "ident",
        "patient",
        "name",
        "given_name",
        "family_name",
        "text",
        "subject",
        "sporsmal",
        "emne",
    }
)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_person_numbers(value)
    return value


def redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: drop personal-data keys, mask fødselsnummer-shaped numbers."""
    for key in list(event_dict):
        if key in FORBIDDEN_KEYS:
            event_dict[key] = "[redacted]"
        else:
            event_dict[key] = _mask(event_dict[key])
    return event_dict


def configure(fmt: LogFormat = "auto", level: str = "INFO", stream: Any = None) -> None:
    """Set up structlog (and stdlib logging) for the process."""
    out = stream if stream is not None else sys.stderr
    if fmt == "auto":
        fmt = "console" if getattr(out, "isatty", lambda: False)() else "json"
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=out, format="%(message)s")


def get_logger(name: str = "adapter") -> Any:
    """A bound structlog logger."""
    return structlog.get_logger(name)
