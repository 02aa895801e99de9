"""The preview shows held-back, urgent and must-call slots right around their release times."""

from __future__ import annotations

import io
import json
from datetime import date, datetime

import pytest
from rich.console import Console

from adapter.cli import main
from adapter.cli.config_cmds import parse_at
from adapter.config import AdapterConfig, load_config
from adapter.preview import LATER_HEADING, Preview, build_preview, preview_json, render_preview
from tests.config.helpers import EXAMPLE


@pytest.fixture(scope="module")
def config() -> AdapterConfig:
    return load_config(EXAMPLE)


def _preview(config: AdapterConfig, at: str, day: date, who: str = "benedikte") -> Preview:
    return build_preview(config, parse_at(at), practitioner=who, day=day)


def _labels(items: tuple[object, ...]) -> list[str]:
    return [getattr(i, "label", "") for i in items]


MONDAY_AFTER_AUTUMN = date(2026, 10, 26)  # first weekday in CET after 2026-10-25
MONDAY_AFTER_SPRING = date(2026, 3, 30)  # first weekday in CEST after 2026-03-29


@pytest.mark.parametrize(
    ("day", "release_before", "release_at", "offset"),
    [
        (MONDAY_AFTER_AUTUMN, "2026-10-22T07:29", "2026-10-22T07:30", "+02:00"),
        (MONDAY_AFTER_SPRING, "2026-03-26T07:29", "2026-03-26T07:30", "+01:00"),
    ],
)
def test_held_back_share_is_released_two_working_days_before_at_0730(
    config: AdapterConfig, day: date, release_before: str, release_at: str, offset: str
) -> None:
    before = _preview(config, release_before, day)
    ordinary_later = [p for p in before.later if p.slot.appointment_type == "oppmote"]
    ordinary_now = [p for p in before.bookable if p.slot.appointment_type == "oppmote"]
    total = len(ordinary_later) + len(ordinary_now)
    assert len(ordinary_later) == round(0.3 * total)
    assert {p.visibility.available_at for p in ordinary_later} == {
        datetime.fromisoformat(release_at + offset)
    }
    after = _preview(config, release_at, day)
    assert not [p for p in after.later if p.slot.appointment_type == "oppmote"]
    assert len([p for p in after.bookable if p.slot.appointment_type == "oppmote"]) == total


@pytest.mark.parametrize(
    ("day", "offset"), [(MONDAY_AFTER_AUTUMN, "+01:00"), (MONDAY_AFTER_SPRING, "+02:00")]
)
def test_urgent_slots_are_shown_held_back_until_0800_the_same_day(
    config: AdapterConfig, day: date, offset: str
) -> None:
    urgent = ["13:00 - 13:15 Hastetime", "13:15 - 13:30 Hastetime"]
    before = _preview(config, f"{day}T07:59", day)
    assert [p.label for p in before.later if p.slot.appointment_type == "hastetime"] == urgent
    eight = datetime.fromisoformat(f"{day}T08:00{offset}")
    assert {p.visibility.available_at for p in before.later} >= {eight}
    after = _preview(config, f"{day}T08:00", day)
    assert [p.label for p in after.bookable if p.slot.appointment_type == "hastetime"] == urgent
    assert not after.later
    # 30 minutes' lead time: 13:00 is gone at 12:31, 13:15 is still bookable.
    late = _preview(config, f"{day}T12:31", day)
    assert [p.label for p in late.bookable if p.slot.appointment_type == "hastetime"] == urgent[1:]


def test_at_with_offset_means_the_same_instant(config: AdapterConfig) -> None:
    local = _preview(config, "2026-10-26T07:59", MONDAY_AFTER_AUTUMN)
    utc = _preview(config, "2026-10-26T06:59:00+00:00", MONDAY_AFTER_AUTUMN)
    assert preview_json(local) == preview_json(utc)
    assert local.at.isoformat() == "2026-10-26T07:59:00+01:00"


def test_ordinary_slots_close_two_hours_before_start(config: AdapterConfig) -> None:
    def starts(at: str) -> list[str]:
        preview = _preview(config, at, date(2026, 11, 4))
        return [p.slot.local_start.strftime("%H:%M") for p in preview.bookable]

    assert min(starts("2026-11-04T09:59")) == "12:00"
    assert min(starts("2026-11-04T10:00")) == "12:20"


def test_must_call_slots_are_marked(config: AdapterConfig) -> None:
    preview = _preview(config, "2026-11-03T07:00", date(2026, 11, 9), who="arna")
    assert _labels(preview.must_call) == [
        "09:00 - 10:00 Første svangerskapskonsultasjon",
        "10:00 - 11:00 Første svangerskapskonsultasjon",
        "11:00 - 12:00 Første svangerskapskonsultasjon",
    ]
    assert not preview.bookable
    out = io.StringIO()
    render_preview(preview, Console(file=out, width=200, soft_wrap=True))
    assert "Må bestilles på telefon 11 22 33 44" in out.getvalue()


def test_plain_rendering_shows_grid_day_list_and_later_slots(config: AdapterConfig) -> None:
    preview = _preview(config, "2026-11-03T07:29", date(2026, 11, 4))
    out = io.StringIO()
    render_preview(preview, Console(file=out, width=200, soft_wrap=True))
    text = out.getvalue()
    assert "\x1b[" not in text  # plain when not a terminal
    assert " Man   Tir   Ons   Tor   Fre   Lør   Søn" in text
    assert "November 2026" in text
    assert "Ledige timer ons. 4. nov." in text
    assert "  13:15 - 13:45 Telefontime (Benedikte Geiran)" in text
    assert LATER_HEADING in text
    assert (
        "12:45 - 13:00 Hastetime (Benedikte Geiran) - tilgjengelig fra ons. 4. nov. kl. 08:00"
        in text
    )
    assert "  4●" in text  # a day with bookable slots is marked


def test_vikar_is_shown_on_the_weeks_the_fastlege_is_away(config: AdapterConfig) -> None:
    preview = build_preview(config, parse_at("2026-11-10T09:00"), month=(2026, 11))
    days = {c.day: c for c in preview.days}
    away = build_preview(
        config, parse_at("2026-11-10T09:00"), practitioner="ingar", day=date(2026, 11, 17)
    )
    assert away.bookable
    assert {p.practitioner_name for p in away.bookable} == {"Ingar Vikersund"}
    assert days[date(2026, 11, 17)].bookable > 0


def test_json_shape(config: AdapterConfig, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "preview",
            "--config",
            str(EXAMPLE),
            "--at",
            "2026-10-26T07:59",
            "--day",
            "2026-10-26",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"version", "at", "clinic", "practitioner", "month", "days", "day"}
    assert data["version"] == 1
    assert data["month"] == "2026-10"
    assert len(data["days"]) == 31
    assert set(data["days"][0]) == {"date", "bookable", "later", "must_call"}
    assert set(data["day"]) == {"date", "bookable", "must_call", "later"}
    slot = next(s for s in data["day"]["later"] if s["type"] == "hastetime")
    assert set(slot) == {
        "id",
        "start",
        "end",
        "label",
        "practitioner",
        "practitioner_name",
        "type",
        "type_name",
        "category",
        "location",
        "visibility",
        "available_at",
    }
    assert slot["start"] == "2026-10-26T13:00:00+01:00"
    assert slot["available_at"] == "2026-10-26T08:00:00+01:00"
    assert slot["visibility"] == "held_back"
    assert slot["category"] == "Hastetime"


def test_preview_cli_text_and_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["preview", "--config", str(EXAMPLE), "--at", "2026-11-04T07:00"]
    assert main([*args, "--practitioner", "Benedikte", "--day", "2026-11-04"]) == 0
    assert "13:15 - 13:45 Telefontime" in capsys.readouterr().out
    assert main([*args, "--practitioner", "benedikt"]) == 2
    assert "unknown practitioner 'benedikt'" in capsys.readouterr().err
    assert main(["preview", "--config", str(EXAMPLE), "--at", "tomorrow"]) == 2
    assert "bad --at 'tomorrow'" in capsys.readouterr().err
