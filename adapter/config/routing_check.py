"""Check the Adresseregister routing file that ``adapter.toml`` names.

Used by ``epj-adapter check-config`` after the clinic config loads: every HER-id
of the clinic and its practitioners, and Helsenorge's service, must be routable
(known, active, with queues, and with valid certificates when CMS is on). The
checks themselves live in :mod:`adapter.registry.check`; this module turns their
findings into :class:`ConfigIssue` lines with the routing file's line numbers.
"""

from __future__ import annotations

import os
from datetime import datetime

from adapter.config.issues import ConfigIssue, Severity
from adapter.config.loader import AdapterConfig
from adapter.config.locator import Locator


def check_routing_file(config: AdapterConfig, now: datetime) -> list[ConfigIssue]:
    """Routing problems of ``config`` at ``now`` (aware), as config issues."""
    from adapter.registry.check import routing_problems
    from adapter.registry.file import FileRegistry, RoutingFileError

    path = config.settings.routing_file
    try:
        name = os.path.relpath(path, config.path)
    except ValueError:  # another drive (Windows)
        name = str(path)
    if not path.is_file():
        return [
            ConfigIssue(
                "adapter.toml",
                0,
                "paths.routing",
                f"routing file not found: {name}",
                "create it (see the example config/routing.toml) or correct [paths] routing",
                Severity.WARNING,
            )
        ]
    try:
        registry = FileRegistry.load(path)
    except RoutingFileError as exc:
        return [
            ConfigIssue(name, 0, "", problem, "correct the routing file")
            for problem in exc.problems
        ]
    locator = Locator(path.read_text(encoding="utf-8"))
    ours = [config.clinic.her_id, *(p.her_id for p in config.practitioners if p.online_booking)]
    problems = routing_problems(
        registry,
        ours,
        now,
        counterparts=[config.settings.helsenorge.service_her_id],
        check_certificates=config.settings.cms.enabled,
    )
    return [
        ConfigIssue(
            name,
            locator.line_of(("parties", p.her_id)),
            f"parties.{p.her_id}",
            p.message,
            f"check HER-id {p.her_id} in the routing file and the Adresseregister",
            Severity.ERROR if p.is_error else Severity.WARNING,
        )
        for p in problems
    ]
