"""The example configuration in config/ loads cleanly and says what the SPEC asks."""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path

from adapter.config import check_config, generate_slots, load_config
from adapter.domain.codes import Rolle, Timetype
from adapter.domain.rules import Action, Level
from tests.config.helpers import EXAMPLE, copy_example, edit


def test_example_config_has_no_issues() -> None:
    assert [str(i) for i in check_config(EXAMPLE)] == []


def test_example_clinic_and_practitioners() -> None:
    config = load_config(EXAMPLE)
    assert config.clinic.name == "DDFL Ehelse Interntest med Mock"
    assert str(config.clinic.address) == "Universitetsgaten 7, 0164 OSLO"
    assert config.clinic.phone == "11 22 33 44"
    roles = {p.key: p.role for p in config.practitioners}
    assert roles == {
        "benedikte": Rolle.FASTLEGE,
        "ingar": Rolle.VIKAR_FOR_FASTLEGE,
        "arna": Rolle.ANSVARLIG_JORDMOR,
    }
    assert config.practitioner("ingar").stands_in_for == "benedikte"
    assert config.practitioner("arna").open_to_unlisted
    her_ids = [config.clinic.her_id, *(p.her_id for p in config.practitioners)]
    assert len(set(her_ids)) == 4
    assert config.settings.helsenorge.her_id == "115851"
    assert config.settings.helsenorge.service_her_id == "8093248"


def test_example_appointment_types() -> None:
    config = load_config(EXAMPLE)
    assert config.appointment_type("oppmote").duration == timedelta(minutes=20)
    assert config.appointment_type("hastetime").category is Timetype.HASTETIME
    assert config.appointment_type("hastetime").duration == timedelta(minutes=15)
    video = config.appointment_type("video")
    assert video.category is Timetype.VIDEO
    assert "kamera" in video.description
    phone = config.appointment_type("telefon")
    assert (phone.location, phone.duration) == ("Telefontime", timedelta(minutes=30))


def test_example_rules_express_the_seven_habits() -> None:
    rules = load_config(EXAMPLE).rules
    by_name = {r.name: r for r in rules.release_rules}
    hold = by_name["benedikte-hold-back"]
    assert (hold.action, hold.share) == (Action.HOLD_BACK, 0.3)
    assert hold.release is not None
    assert hold.release.describe() == "2 working days before at 07:30"
    assert by_name["benedikte-horizon"].horizon == timedelta(weeks=6)
    assert by_name["benedikte-horizon"].min_lead == timedelta(hours=2)
    urgent = by_name["hastetimer"]
    assert urgent.action is Action.URGENT
    assert urgent.release is not None
    assert urgent.release.describe() == "same day at 08:00"
    must_call = by_name["jordmor-forste-ring"]
    assert must_call.action is Action.MUST_CALL
    assert must_call.selector.level is Level.APPOINTMENT_TYPE
    assert hold.source.file == "rules.toml"
    assert hold.source.line > 0
    (ingar,) = rules.policies
    assert ingar.policy.auto_confirm is False
    assert ingar.policy.decision_deadline == timedelta(hours=24)
    assert rules.default_policy.auto_confirm is True
    assert rules.max_future_online_per_patient == 2
    assert rules.cancellation.working_days_before == 1
    assert rules.cancellation.at == time(12, 0)
    assert rules.closed_on_public_holidays


def test_example_settings_defaults_and_paths() -> None:
    settings = load_config(EXAMPLE).settings
    state = EXAMPLE / "../var"
    assert settings.state_dir == state
    assert settings.database_url == f"sqlite:///{state / 'adapter.db'}"
    assert settings.routing_file == EXAMPLE / "routing.toml"
    assert settings.transport == "directory"
    assert settings.sync_ttl == timedelta(seconds=15)
    assert settings.processed_retention == timedelta(days=30)


def test_generated_week_follows_the_templates() -> None:
    config = load_config(EXAMPLE)
    slots = generate_slots(config, date(2026, 11, 2), date(2026, 11, 6))
    wednesday = [
        (s.local_start.strftime("%H:%M"), s.appointment_type)
        for s in slots
        if s.local_start.date() == date(2026, 11, 4) and s.practitioner == "benedikte"
    ]
    assert ("13:15", "telefon") in wednesday
    assert ("13:45", "telefon") in wednesday
    assert ("13:00", "hastetime") in wednesday
    tuesday = {
        (s.local_start.strftime("%H:%M"), s.appointment_type)
        for s in slots
        if s.local_start.date() == date(2026, 11, 3) and s.practitioner == "benedikte"
    }
    assert {("13:00", "hastetime"), ("13:15", "hastetime")} <= tuesday
    assert {("14:00", "video"), ("14:20", "video"), ("14:40", "video")} <= tuesday
    assert ("08:00", "oppmote") in tuesday
    assert ("15:20", "oppmote") in tuesday
    assert not any(s.practitioner == "ingar" for s in slots)


def test_vikar_works_only_when_the_fastlege_is_away() -> None:
    config = load_config(EXAMPLE)
    slots = generate_slots(config, date(2026, 11, 16), date(2026, 11, 20))
    assert {s.practitioner for s in slots} == {"ingar", "arna"}


def test_regenerating_gives_the_same_ids() -> None:
    config = load_config(EXAMPLE)
    first = generate_slots(config, date(2026, 11, 2), date(2026, 11, 13))
    again = generate_slots(config, date(2026, 11, 9), date(2026, 11, 13))
    assert {s.id for s in again} <= {s.id for s in first}
    assert len({s.id for s in first}) == len(first)


def test_public_holidays_and_closures_have_no_slots() -> None:
    config = load_config(EXAMPLE)
    # 2026-05-14 is Kristi himmelfartsdag (Thursday); 2026-12-24 is an extra closure.
    assert generate_slots(config, date(2026, 5, 14), date(2026, 5, 14)) == []
    assert generate_slots(config, date(2026, 12, 24), date(2026, 12, 24)) == []
    assert generate_slots(config, date(2026, 5, 15), date(2026, 5, 15)) != []


def test_slots_on_dst_days_keep_wall_times() -> None:
    config = load_config(EXAMPLE)
    for day in (date(2026, 3, 30), date(2026, 10, 26)):
        slots = [s for s in generate_slots(config, day, day) if s.practitioner == "benedikte"]
        first = min(slots, key=lambda s: s.start)
        assert first.local_start.strftime("%H:%M") == "08:00"
        assert all(s.end - s.start in {timedelta(minutes=m) for m in (15, 20, 30)} for s in slots)
    march = generate_slots(config, date(2026, 3, 30), date(2026, 3, 30))
    assert min(s.start for s in march).utcoffset() is not None
    assert min(s.start for s in march).hour == 6  # 08:00 CEST = 06:00 UTC
    october = generate_slots(config, date(2026, 10, 26), date(2026, 10, 26))
    assert min(s.start for s in october).hour == 7  # 08:00 CET = 07:00 UTC


def test_template_dates_and_exceptions(tmp_path: Path) -> None:
    config_dir = copy_example(tmp_path)
    edit(
        config_dir,
        "clinic.toml",
        'weekdays = "wed"\nhours = "13:15-14:15"',
        'weekdays = "wed"\nhours = "13:15-14:15"\nfrom = 2026-11-04\n'
        "until = 2026-11-25\nexcept = [2026-11-11]",
    )
    config = load_config(config_dir)
    slots = generate_slots(config, date(2026, 10, 28), date(2026, 12, 2))
    phone_days = sorted({s.local_start.date() for s in slots if s.appointment_type == "telefon"})
    # 11 Nov is an exception; 18 Nov falls in the weeks Benedikte is away
    assert phone_days == [date(2026, 11, 4), date(2026, 11, 25)]
