"""Mistakes check-config used to let through (issue 12): each is now an issue with
file, line, key and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter.cli import EXIT_PROBLEMS, EXIT_USAGE, main
from adapter.config import ConfigError, ConfigIssue, Severity, check_config, load_config
from tests.config.helpers import EXAMPLE, copy_example, edit, line_of

URGENT_RELEASE = 'action = "urgent"\nrelease = "same day at 08:00"'


def _only(issues: list[ConfigIssue]) -> ConfigIssue:
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


# --- a release time after the slot starts ----------------------------------------------


def test_a_release_after_the_urgent_slots_start_is_an_error(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(config, "rules.toml", URGENT_RELEASE, 'action = "urgent"\nrelease = "same day at 18:00"')
    issue = _only(check_config(config))
    assert (issue.file, issue.line, issue.key, issue.severity) == (
        "rules.toml",
        line_of(config, "rules.toml", 'release = "same day at 18:00"'),
        "rules[2].release",
        Severity.ERROR,
    )
    assert issue.message == (
        "rule 'hastetimer' releases slots at or after they start (same day at 18:00; "
        "e.g. the hastetime slot of 'benedikte' at 13:00 on mon): they are never bookable, "
        'and patients would read "tilgjengelig fra kl. 18:00"'
    )
    assert "release before the slots start" in issue.fix


def test_preview_refuses_to_promise_a_release_after_the_slot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = copy_example(tmp_path)
    edit(config, "rules.toml", URGENT_RELEASE, 'action = "urgent"\nrelease = "same day at 18:00"')
    assert main(["preview", "--config", str(config), "--day", "2026-11-30"]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert "[rules[2].release] rule 'hastetimer' releases slots at or after" in captured.err
    assert "tilgjengelig fra kl. 18:00" not in captured.out


def test_a_late_default_urgent_release_points_at_the_default(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(config, "rules.toml", URGENT_RELEASE, 'action = "urgent"')
    edit(
        config,
        "rules.toml",
        'urgent_release = "same day at 08:00"',
        'urgent_release = "same day at 13:00"',
    )
    issue = _only(check_config(config))
    assert (issue.line, issue.key, issue.severity) == (
        line_of(config, "rules.toml", 'urgent_release = "same day at 13:00"'),
        "defaults.urgent_release",
        Severity.ERROR,
    )
    assert issue.message.startswith("urgent_release (used by rule 'hastetimer') releases slots")


def test_a_release_inside_the_lead_time_is_a_warning(tmp_path: Path) -> None:
    # 12:40 is before the 12:45 and 13:00 urgent slots, but after their 30-minute
    # lead-time cut-off: shown "tilgjengelig fra kl. 12:40", never bookable.
    config = copy_example(tmp_path)
    edit(config, "rules.toml", URGENT_RELEASE, 'action = "urgent"\nrelease = "same day at 12:40"')
    issue = _only(check_config(config))
    assert (issue.key, issue.severity) == ("rules[2].release", Severity.WARNING)
    assert "after their lead-time cut-off" in issue.message
    load_config(config)  # a warning does not stop the adapter


def test_a_share_rule_releasing_after_the_day_starts_is_an_error(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(
        config,
        "rules.toml",
        'release = "2 working days before at 07:30"',
        'release = "same day at 09:00"',
    )
    issue = _only(check_config(config))
    assert (issue.key, issue.severity) == ("rules[1].release", Severity.ERROR)
    assert "the oppmote slot of 'benedikte' at 08:" in issue.message


# --- two overlapping fill templates --------------------------------------------------------


def test_two_overlapping_fill_templates_are_an_error(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    video = 'weekdays = ["tue", "thu"]\nhours = "14:00-15:00"'
    edit(config, "clinic.toml", video, video + "\nfill = true")
    issue = _only(check_config(config))
    assert (issue.file, issue.line, issue.key) == (
        "clinic.toml",
        line_of(config, "clinic.toml", 'hours = "14:00-15:00"') + 1,
        "templates[3].fill",
    )
    assert issue.message == (
        "two fill templates overlap for 'benedikte' on tue, thu: 14:00-14:20 (video) "
        "overlaps 14:00-14:20 (oppmote, templates[0]); 3 of its 3 slots a day would "
        "silently be left out"
    )
    assert issue.fix.startswith("only the ordinary day has fill = true")


def test_fill_templates_of_different_practitioners_may_overlap() -> None:
    # Benedikte's and Ingar's ordinary days are both fill = true, at the same hours.
    assert [str(i) for i in check_config(EXAMPLE)] == []


# --- share ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "message", "fix"),
    [
        (
            "0.3",
            "share 0.3 is ambiguous (30 % or 0.3 %?): write it as a percentage",
            'write share = "30 %"',
        ),
        ("30", "share 30 is a bare number: write it as a percentage", 'write share = "30 %"'),
    ],
)
def test_a_bare_number_share_is_refused(
    tmp_path: Path, written: str, message: str, fix: str
) -> None:
    config = copy_example(tmp_path)
    edit(config, "rules.toml", 'share = "30 %"', f"share = {written}")
    issue = _only(check_config(config))
    assert (issue.line, issue.key, issue.message, issue.fix) == (
        line_of(config, "rules.toml", f"share = {written}"),
        "rules[1].share",
        message,
        fix,
    )


def test_a_percentage_share_without_a_space_is_read(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(config, "rules.toml", 'share = "30 %"', 'share = "30%"')
    assert check_config(config) == []


# --- identifiers ----------------------------------------------------------------------------


def test_an_integer_her_id_is_read_with_a_warning(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(config, "clinic.toml", 'her_id = "8142522"', "her_id = 8142522")
    issue = _only(check_config(config))
    assert (issue.line, issue.key, issue.severity, issue.fix) == (
        line_of(config, "clinic.toml", "her_id = 8142522"),
        "practitioners.arna.her_id",
        Severity.WARNING,
        'write it as text: her_id = "8142522"',
    )
    assert issue.message == (
        "HER-id 8142522 of practitioner 'arna' is written as a number; it is an identifier"
    )
    assert load_config(config).practitioner("arna").her_id == "8142522"


def test_an_integer_helsenorge_her_id_is_read_with_a_warning(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(config, "adapter.toml", 'her_id = "115851"', "her_id = 115851")
    issue = _only(check_config(config))
    assert (issue.file, issue.key, issue.severity) == (
        "adapter.toml",
        "helsenorge.her_id",
        Severity.WARNING,
    )
    assert load_config(config).settings.helsenorge.her_id == "115851"


def test_an_integer_hpr_number_is_read_with_a_warning(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(config, "clinic.toml", 'hpr_number = "9144891"', "hpr_number = 9144891")
    issue = _only(check_config(config))
    assert (issue.key, issue.severity) == ("practitioners.arna.hpr_number", Severity.WARNING)
    assert load_config(config).practitioner("arna").hpr_number == "9144891"


def test_a_duplicate_hpr_number_is_an_error(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(config, "clinic.toml", 'hpr_number = "9144891"', 'hpr_number = "9144890"')
    issue = _only(check_config(config))
    assert (issue.line, issue.key, issue.message, issue.severity) == (
        line_of(config, "clinic.toml", 'hpr_number = "9144890"', occurrence=2),
        "practitioners.arna.hpr_number",
        "duplicate HPR number 9144890 (also [practitioners.ingar.hpr_number])",
        Severity.ERROR,
    )
    assert issue.fix


# --- a rule that matches no slot ---------------------------------------------------------------


def test_a_rule_that_matches_no_template_slot_is_a_warning(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(config, "rules.toml", 'types = ["jordmor_forste"]', 'types = ["video"]')
    issue = _only(check_config(config))
    assert (issue.line, issue.key, issue.severity, issue.message) == (
        line_of(config, "rules.toml", 'name = "jordmor-forste-ring"') - 1,
        "rules[3]",
        Severity.WARNING,
        "rule 'jordmor-forste-ring' matches no slot the templates give",
    )
    assert "ignore this if those slots are imported" in issue.fix


def test_a_rule_outside_every_templates_hours_is_a_warning(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(
        config,
        "rules.toml",
        'types = ["jordmor_forste"]\naction',
        'types = ["jordmor_forste"]\nstart_between = "13:00-14:00"\naction',
    )
    issue = _only(check_config(config))
    assert (issue.key, issue.severity) == ("rules[3]", Severity.WARNING)


# --- a practitioner without a routing entry ---------------------------------------------------


def test_a_new_practitioner_without_a_routing_entry_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = copy_example(tmp_path)
    path = config / "clinic.toml"
    path.write_text(
        path.read_text(encoding="utf-8")
        + '\n[practitioners.ola]\nher_id = "8142530"\nhpr_number = "9144899"\n'
        + 'given_name = "Ola"\nrole = "fastlege"\n',
        encoding="utf-8",
    )
    assert main(["check-config", "--config", str(config)]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert (
        "routing.toml [parties.8142530] practitioner 'ola' (clinic.toml [practitioners.ola]): "
        "not in the routing" in out
    )
    assert 'add [parties.8142530] with parent = "8142519", kind = "person"' in out


def test_the_example_says_a_practitioner_needs_a_routing_entry() -> None:
    text = (EXAMPLE / "clinic.toml").read_text(encoding="utf-8")
    practitioners = text[text.index("# --- Practitioners") : text.index("\n[practitioners.")]
    assert "routing.toml" in practitioners
    assert "[parties.<her_id>]" in practitioners
    assert "Restart" in practitioners


def test_the_admin_readme_says_changes_need_a_restart() -> None:
    readme = (EXAMPLE.parent / "README.md").read_text(encoding="utf-8")
    admins = readme[
        readme.index("## For clinic admins: configuration") : readme.index("## For ops")
    ]
    assert "Changes take effect at a restart" in admins
    assert "routing.toml" in admins


def test_load_config_refuses_what_check_config_calls_an_error(tmp_path: Path) -> None:
    config = copy_example(tmp_path)
    edit(config, "rules.toml", 'share = "30 %"', "share = 0.3")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert [i.key for i in caught.value.issues if i.is_error] == ["rules[1].share"]
