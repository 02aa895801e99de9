"""Clinic configuration: ``clinic.toml``, ``rules.toml`` and ``adapter.toml``.

>>> config = load_config(Path("config"))            # raises ConfigError
>>> for issue in check_config(Path("config")): print(issue)
>>> slots = generate_slots(config, date(2026, 11, 2), date(2026, 11, 6))
"""

from adapter.config.issues import ConfigError, ConfigIssue, Severity
from adapter.config.loader import AdapterConfig, check_config, generate_slots, load_config
from adapter.config.settings import (
    AmqpSettings,
    CmsSettings,
    HelsenorgeSettings,
    OutboxSettings,
    SchedulerSettings,
    Settings,
)
from adapter.config.slot_import import read_slots_csv, read_slots_ics
from adapter.config.templates import DateRange, Template

__all__ = [
    "AdapterConfig",
    "AmqpSettings",
    "CmsSettings",
    "ConfigError",
    "ConfigIssue",
    "DateRange",
    "HelsenorgeSettings",
    "OutboxSettings",
    "SchedulerSettings",
    "Settings",
    "Severity",
    "Template",
    "check_config",
    "generate_slots",
    "load_config",
    "read_slots_csv",
    "read_slots_ics",
]
