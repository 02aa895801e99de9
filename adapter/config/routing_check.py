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
from pathlib import Path

from adapter.config.issues import ConfigError, ConfigIssue, Severity
from adapter.config.loader import AdapterConfig, check_config, load_config
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
    owners = {config.clinic.her_id: "the clinic (clinic.toml [clinic])"}
    owners.update(
        (p.her_id, f"practitioner '{p.key}' (clinic.toml [practitioners.{p.key}])")
        for p in config.practitioners
    )
    practitioners = {p.her_id for p in config.practitioners}
    issues = []
    for p in problems:
        message = p.message
        fix = f"check HER-id {p.her_id} in the routing file and the Adresseregister"
        if p.her_id in owners:
            message = f"{owners[p.her_id]}: {message}"
        if p.her_id in practitioners and locator.line_of(("parties", p.her_id)) == 0:
            fix = (
                f'add [parties.{p.her_id}] with parent = "{config.clinic.her_id}", '
                f'kind = "person" and its [parties.{p.her_id}.processes] as the '
                "Adresseregister has them (copy another practitioner's): "
                "every practitioner in clinic.toml needs an entry in the routing"
            )
        issues.append(
            ConfigIssue(
                name,
                locator.line_of(("parties", p.her_id)),
                f"parties.{p.her_id}",
                message,
                fix,
                Severity.ERROR if p.is_error else Severity.WARNING,
            )
        )
    return issues


def check_all(directory: Path, now: datetime) -> list[ConfigIssue]:
    """What ``epj-adapter check-config`` reports for ``directory``: every issue of its
    files, then, when they hold no error, the routing file's at ``now`` (certificates,
    queues); the admin page shows the same list."""
    issues = check_config(directory)
    if not any(i.is_error for i in issues):
        try:
            issues += check_routing_file(load_config(directory), now)
        except ConfigError as exc:
            issues += exc.issues
    return issues
