"""check-config gives the exact file, line, key and message for each kind of broken config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from adapter.config import ConfigError, Severity, check_config, load_config
from tests.config.helpers import EXAMPLE, copy_example, edit, line_of


@dataclass(frozen=True)
class Case:
    """Break ``file`` by replacing ``old`` with ``new``; expect one issue at ``needle``'s line."""

    id: str
    file: str
    old: str
    new: str
    needle: str  # text on the line the issue must point at
    key: str
    message: str
    fix: str = ""
    severity: Severity = Severity.ERROR
    occurrence: int = 1  # which line with ``needle``


#: The [[rules]] header of the example's rule 'hastetimer'.
HASTETIMER_LINE = line_of(EXAMPLE, "rules.toml", 'name = "hastetimer"') - 1

CASES = [
    Case(
        "unknown-practitioner-in-rule",
        "rules.toml",
        'practitioners = ["arna"]',
        'practitioners = ["arne"]',
        'practitioners = ["arne"]',
        "rules[3].practitioners",
        "unknown practitioner 'arne'",
        "use one of arna, ingar, benedikte",
    ),
    Case(
        "unknown-appointment-type-in-template",
        "clinic.toml",
        'type = "video"',
        'type = "videotime"',
        'type = "videotime"',
        "templates[3].type",
        "unknown appointment type 'videotime'",
    ),
    Case(
        "unknown-appointment-type-in-rule",
        "rules.toml",
        'types = ["jordmor_forste"]',
        'types = ["jordmor_first"]',
        'types = ["jordmor_first"]',
        "rules[3].types",
        "unknown appointment type 'jordmor_first'",
    ),
    Case(
        "overlapping-templates",
        "clinic.toml",
        'weekdays = "wed"\nat = ["12:45", "13:00"]',
        'weekdays = "wed"\nat = ["13:00", "13:15"]',
        'hours = "13:15-14:15"',
        "templates[4].hours",
        "overlapping slots for 'benedikte' on wed: 13:15-13:45 (telefon) overlaps "
        "13:15-13:30 (hastetime, templates[2])",
    ),
    Case(
        "impossible-release-time-of-day",
        "rules.toml",
        'action = "urgent"\nrelease = "same day at 08:00"',
        'action = "urgent"\nrelease = "same day at 25:00"',
        'release = "same day at 25:00"',
        "rules[2].release",
        "impossible release time 'same day at 25:00': no time of day 25:00",
    ),
    Case(
        "negative-days-before",
        "rules.toml",
        'release = "2 working days before at 07:30"',
        'release = "-2 working days before at 07:30"',
        'release = "-2 working',
        "rules[1].release",
        "release time '-2 working days before at 07:30' has a negative number of days",
    ),
    Case(
        "release-after-slot-start",
        "rules.toml",
        'release = "2 working days before at 07:30"',
        'release = "0 days after at 07:30"',
        "0 days after",
        "rules[1].release",
        "release time '0 days after at 07:30' is after the slot starts",
    ),
    Case(
        "share-out-of-range",
        "rules.toml",
        'share = "30 %"',
        'share = "130 %"',
        'share = "130 %"',
        "rules[1].share",
        "share '130 %' is out of range",
        'write a percentage above 0 and at most 100, e.g. "30 %"',
    ),
    Case(
        "missing-her-id",
        "clinic.toml",
        'her_id = "8142522"\n',
        "",
        "[practitioners.arna]",
        "practitioners.arna.her_id",
        "missing HER-id of practitioner 'arna'",
    ),
    Case(
        "duplicate-her-id",
        "clinic.toml",
        'her_id = "8142522"',
        'her_id = "8142520"',
        'her_id = "8142520"',
        "practitioners.arna.her_id",
        "duplicate HER-id 8142520 (also [practitioners.benedikte.her_id])",
        occurrence=2,  # the first is Benedikte's
    ),
    Case(
        "vikar-without-stands-in-for",
        "clinic.toml",
        'stands_in_for = "benedikte"',
        "",
        'role = "vikar"',
        "practitioners.ingar.role",
        "vikar 'ingar' does not say whom they stand in for",
    ),
    Case(
        "stands-in-for-unknown",
        "clinic.toml",
        'stands_in_for = "benedikte"',
        'stands_in_for = "benedikt"',
        'stands_in_for = "benedikt"',
        "practitioners.ingar.stands_in_for",
        "unknown practitioner 'benedikt'",
        "use one of benedikte, arna",
    ),
    Case(
        "bad-duration",
        "clinic.toml",
        'duration = "30 min"\nlocation = "Telefontime"',
        'duration = "30 minz"\nlocation = "Telefontime"',
        '"30 minz"',
        "appointment_types.telefon.duration",
        "bad duration '30 minz'",
    ),
    Case(
        "bad-weekday",
        "clinic.toml",
        'weekdays = ["tue", "thu"]\nhours = "14:00-15:00"',
        'weekdays = ["tue", "thr"]\nhours = "14:00-15:00"',
        '"thr"',
        "templates[3].weekdays",
        "bad weekday 'thr' in list ['tue', 'thr']",
    ),
    Case(
        "unknown-key-did-you-mean",
        "rules.toml",
        'practitioners = ["benedikte"]\nhorizon',
        'practitioners = ["benedikte"]\nhorizn',
        "horizn",
        "rules[0].horizn",
        "unknown key 'horizn'",
        "did you mean 'horizon'?",
    ),
    Case(
        "wrong-type",
        "rules.toml",
        "max_future_online_per_patient = 2",
        'max_future_online_per_patient = "two"',
        "max_future_online_per_patient",
        "booking.max_future_online_per_patient",
        "wrong type: expected integer, got text 'two'",
    ),
    Case(
        "must-call-and-urgent-on-same-selector",
        "rules.toml",
        "[[policies]]",
        '[[rules]]\nname = "hast-ring"\ntypes = ["hastetime"]\n'
        'action = "must_call"\n\n[[policies]]',
        'action = "must_call"',
        "rules[4].action",
        "rule 'hast-ring' (must_call) conflicts with rule 'hastetimer' (urgent, line "
        f"{HASTETIMER_LINE}) on the same slots at the same level",
        occurrence=2,
    ),
    Case(
        "decision-deadline-on-auto-confirm",
        "rules.toml",
        'auto_confirm = false\ndecision_deadline = "24 h"',
        'auto_confirm = true\ndecision_deadline = "24 h"',
        'decision_deadline = "24 h"',
        "policies[0].decision_deadline",
        "decision deadline on an auto-confirmed policy",
    ),
    Case(
        "unknown-action",
        "rules.toml",
        'action = "must_call"',
        'action = "mustcall"',
        'action = "mustcall"',
        "rules[3].action",
        "unknown action 'mustcall'",
        "did you mean 'must_call'?",
    ),
    Case(
        "retention-below-seven-days",
        "adapter.toml",
        'processed_messages = "30 days"',
        'processed_messages = "2 days"',
        "processed_messages",
        "retention.processed_messages",
        "processed messages kept only 2 days; duplicates arriving later would be processed twice",
    ),
    Case(
        "manual-confirmation-without-deadline-is-a-warning",
        "rules.toml",
        'auto_confirm = false\ndecision_deadline = "24 h"',
        "auto_confirm = false",
        "auto_confirm = false",
        "policies[0].auto_confirm",
        "manual confirmation without a decision deadline: requests may wait for ever",
        severity=Severity.WARNING,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_config_gives_exact_issue(tmp_path: Path, case: Case) -> None:
    config = copy_example(tmp_path)
    edit(config, case.file, case.old, case.new)
    line = line_of(config, case.file, case.needle, case.occurrence)
    issues = check_config(config)
    assert [(i.file, i.line, i.key, i.message, i.severity) for i in issues] == [
        (case.file, line, case.key, case.message, case.severity)
    ]
    assert issues[0].fix
    if case.fix:
        assert issues[0].fix == case.fix


def test_issue_prints_file_line_key_message_and_fix(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(config, "clinic.toml", 'stands_in_for = "benedikte"', 'stands_in_for = "benedikt"')
    (issue,) = check_config(config)
    line = line_of(config, "clinic.toml", 'stands_in_for = "benedikt"')
    assert str(issue) == (
        f"clinic.toml:{line} [practitioners.ingar.stands_in_for] unknown practitioner 'benedikt'"
        " - fix: use one of benedikte, arna"
    )


def test_toml_syntax_error_reports_line_and_column(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(config, "rules.toml", 'horizon = "6 weeks"  ', 'horizon = "6 weeks  ')
    (issue,) = check_config(config)
    assert issue.file == "rules.toml"
    assert issue.line == line_of(config, "rules.toml", 'horizon = "6 weeks  ')
    assert issue.message.startswith("TOML syntax error: ")
    assert "at column" in issue.message


def test_missing_file_is_reported(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    (config / "rules.toml").unlink()
    (issue,) = check_config(config)
    assert (issue.file, issue.line, issue.message) == (
        "rules.toml",
        0,
        f"file not found in {config}",
    )


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(config, "clinic.toml", 'stands_in_for = "benedikte"', 'stands_in_for = "benedikt"')
    edit(
        config,
        "clinic.toml",
        'duration = "20 min"\nlocation = "Videotime"',
        'duration = "x"\nlocation = "Videotime"',
    )
    edit(config, "rules.toml", 'share = "30 %"', 'share = "0 %"')
    edit(config, "adapter.toml", 'kind = "directory"', 'kind = "pigeon"')
    keys = [i.key for i in check_config(config)]
    assert keys == [
        "practitioners.ingar.stands_in_for",
        "appointment_types.video.duration",
        "rules[1].share",
        "transport.kind",
    ]


def test_load_config_raises_with_every_error(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(config, "rules.toml", 'share = "30 %"', 'share = "0 %"')
    edit(config, "rules.toml", 'action = "must_call"', 'action = "mustcall"')
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert [i.key for i in caught.value.issues] == ["rules[1].share", "rules[3].action"]
    assert "2 error(s)" in str(caught.value)


def test_missing_config_directory(tmp_path: Path) -> None:
    (issue,) = check_config(tmp_path / "nowhere")
    assert issue.message == "config directory not found"


def test_vikar_template_without_away_periods_is_a_warning(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(
        config,
        "clinic.toml",
        "away = [\n    { from = 2026-11-16, to = 2026-11-20 },\n"
        "    { from = 2027-02-22, to = 2027-02-26 },\n]\n",
        "",
    )
    issues = check_config(config)
    assert {(i.key, i.severity) for i in issues} == {
        ("templates[5].only_when_away", Severity.WARNING),
        ("templates[6].only_when_away", Severity.WARNING),
    }
    assert issues[0].message == "'benedikte' has no away periods, so this template gives no slots"
    load_config(config)  # warnings do not stop loading


def test_vikar_standing_in_for_a_non_fastlege_is_a_warning(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(config, "clinic.toml", 'stands_in_for = "benedikte"', 'stands_in_for = "arna"')
    (issue,) = check_config(config)
    assert (issue.key, issue.severity, issue.message) == (
        "practitioners.ingar.stands_in_for",
        Severity.WARNING,
        "'ingar' stands in for 'arna', who is not a fastlege",
    )
