"""Structured technical logging (structlog) with privacy guards.

Technical logs carry ids only: MsgId, HER-ids, appointment ids. Names, fødselsnummer
and free text never belong here (patient-related events go to the audit table). As a
last line of defence, :func:`redact` masks any 11-digit number (fødselsnummer or
D-nummer shape) and drops values under keys that are known to hold personal data.

The adapter is a library first, so it configures no logging unless asked (the
convention of the standard library's ``logging`` and of structlog):

- **Nothing configured** (a vendor embedding :class:`~adapter.api.Adapter`): the
  adapter's events go, redacted, to the standard library logger of their name
  (``adapter.outbox``, ``adapter.pipeline``, ...) under ``adapter``, which has only a
  :class:`logging.NullHandler`. Nothing is written to stdout or stderr; a vendor who
  configures ``logging`` (``logging.basicConfig()``, a handler on ``"adapter"``) sees
  them there, as ``"outbox.send_failed msg_id=... attempts=2"``.
- **structlog configured** (by the vendor's own ``structlog.configure`` or by
  :func:`configure_logging`): the adapter's loggers follow that configuration, with
  :func:`redact` run before its last processor when the configuration lacks it.
- :func:`configure_logging` is the opt-in, and what the daemon and the CLI call:
  ``configure_logging(format="auto")`` writes JSON lines when the stream (stderr by
  default) is not a terminal (a service), and a readable console format in a terminal.

:func:`get_logger` gives the adapter's loggers; they read the configuration at each
call, so configuring logging after the adapter was imported takes effect at once.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import structlog

from adapter.privacy import mask_person_numbers

__all__ = [
    "FORBIDDEN_KEYS",
    "LIBRARY_LOGGER",
    "LogFormat",
    "configure",
    "configure_logging",
    "get_logger",
    "redact",
]

LogFormat = Literal["auto", "json", "console"]

#: The standard library logger every adapter logger sits under; a library default of a
#: :class:`logging.NullHandler` keeps it silent until someone configures logging.
LIBRARY_LOGGER = "adapter"

logging.getLogger(LIBRARY_LOGGER).addHandler(logging.NullHandler())

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


def configure_logging(
    fmt: LogFormat = "auto", level: str = "INFO", stream: TextIO | None = None
) -> None:
    """Send the adapter's logs (and the process's structlog and ``logging``) to ``stream``.

    The opt-in for a vendor who wants the adapter's own output, and what ``epj-adapter
    run`` and the other commands call. It configures structlog for the whole process
    (``structlog.configure``) and, unless the root logger has handlers already, the
    standard library's root logger at ``level`` or WARNING, whichever is higher
    (``logging.basicConfig``). A vendor with a logging setup of their own needs
    neither: the adapter's events follow it (see the module's documentation).

    Args:
        fmt: ``"json"`` (one object a line), ``"console"`` (readable) or ``"auto"``
            (console when ``stream`` is a terminal, else JSON).
        level: the lowest level written: ``debug``, ``info``, ``warning``, ``error``
            (any case; an unknown name means ``info``).
        stream: where to write; stderr when None.
    """
    out: TextIO = stream if stream is not None else sys.stderr
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
    root = logging.getLogger()
    if not root.handlers:
        # Records of other libraries (APScheduler, ...) in the same format: on a
        # non-terminal every line is JSON, not plain text between JSON lines.
        handler = logging.StreamHandler(out)
        handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processor=renderer,
                foreign_pre_chain=[
                    structlog.stdlib.add_logger_name,
                    structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    redact,
                    structlog.processors.format_exc_info,
                ],
            )
        )
        root.addHandler(handler)
        root.setLevel(max(numeric, logging.WARNING))


#: The former name of :func:`configure_logging` (the CLI, the demo and tests use it).
configure = configure_logging


def get_logger(name: str = LIBRARY_LOGGER) -> Any:
    """The adapter's logger called ``name`` (``adapter.<part>``): a structlog bound
    logger (``info``, ``warning``, ``bind``, ...) that writes nothing until logging is
    configured (see the module's documentation)."""
    return _AdapterLogger(name)


# -- the loggers ------------------------------------------------------------------------


_LOGFMT = structlog.processors.LogfmtRenderer(sort_keys=False)

_STANDARD_LEVELS = (
    logging.CRITICAL,
    logging.ERROR,
    logging.WARNING,
    logging.INFO,
    logging.DEBUG,
    logging.NOTSET,
)


def _stdlib_message(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> tuple[tuple[str], dict[str, Any]]:
    """The standard library call: the event then key=value as the record's message, and
    an exception for the handler to format (``log.exception``)."""
    exc_info = event_dict.pop("exc_info", None)
    event = str(event_dict.pop("event", ""))
    rest = _LOGFMT(_logger, _method, event_dict) if event_dict else ""
    return (f"{event} {rest}" if rest else event,), {"exc_info": exc_info or None}


def _standard_level(level: int) -> int:
    """The highest standard level at or below ``level`` (a custom level in between)."""
    return next(std for std in _STANDARD_LEVELS if level >= std)


#: What an event goes through on its way to the standard library (the handler adds the
#: time, level and logger name).
_LIBRARY_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    redact,
    _stdlib_message,
]


def _resolve(name: str) -> Any:
    """A bound logger for ``name`` under the configuration in force now."""
    if structlog.is_configured():
        processors = structlog.get_config()["processors"]
        if redact not in processors:
            processors = [*processors[:-1], redact, *processors[-1:]]
        return structlog.wrap_logger(
            None, processors=processors, logger_factory_args=(name,)
        ).bind()
    stdlib = logging.getLogger(name)
    return structlog.wrap_logger(
        stdlib,
        processors=_LIBRARY_PROCESSORS,
        wrapper_class=structlog.make_filtering_bound_logger(
            _standard_level(stdlib.getEffectiveLevel())
        ),
        context_class=dict,
        cache_logger_on_first_use=False,
    ).bind()


class _AdapterLogger:
    """A lazy logger: each call is made by a bound logger for the configuration in
    force at that moment (``bind`` and ``new`` fix it for the logger they return)."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"<adapter logger {self._name!r}>"

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return getattr(_resolve(self._name), attribute)
