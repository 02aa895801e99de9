"""The preview shows held-back, urgent and must-call slots right around their release times.

Here the store is empty: every slot comes from the opening-hours templates as the daemon
will store them (``from_templates``), read through the same service read as
HentLedigeTimer. ``tests/e2e/test_preview_is_hlt.py`` compares the preview with real HLT
answers on a store with bookings and imported slots.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from rich.console import Console

from adapter.bootstrap import bootstrap
from adapter.cli import main
from adapter.cli.config_cmds import parse_at, read_offers
from adapter.config import AdapterConfig, load_config
from adapter.preview import (
    LATER_HEADING,
    Preview,
    build_preview,
    preview_json,
    preview_window,
    render_preview,
)
from adapter.runtime import Runtime
from adapter.testing import MemoryTransport
from adapter.tools.demo import prepare
from tests.config.helpers import EXAMPLE


@dataclass(frozen=True)
class Previewer:
    """Builds previews as ``epj-adapter preview`` does, on one runtime."""

    config: AdapterConfig
    runtime: Runtime

    def __call__(
        self,
        at: str,
        day: date | None = None,
        who: str | None = "benedikte",
        month: tuple[int, int] | None = None,
    ) -> Preview:
        instant = parse_at(at)
        window = preview_window(instant, month=month, day=day)
        offers = read_offers(self.runtime, self.config, instant, window, who)
        return build_preview(self.config, instant, offers, window=window, practitioner=who)


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example configuration with its own (empty) database."""
    return prepare(tmp_path_factory.mktemp("preview"), EXAMPLE)


@pytest.fixture(scope="module")
def preview(config_dir: Path) -> Iterator[Previewer]:
    config = load_config(config_dir)
    runtime = bootstrap(config.path, config=config, transport=MemoryTransport())
    yield Previewer(config, runtime)
    runtime.close()


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
    preview: Previewer, day: date, release_before: str, release_at: str, offset: str
) -> None:
    before = preview(release_before, day)
    ordinary_later = [p for p in before.later if p.slot.appointment_type == "oppmote"]
    ordinary_now = [p for p in before.bookable if p.slot.appointment_type == "oppmote"]
    total = len(ordinary_later) + len(ordinary_now)
    assert len(ordinary_later) == round(0.3 * total)
    assert {p.visibility.available_at for p in ordinary_later} == {
        datetime.fromisoformat(release_at + offset)
    }
    after = preview(release_at, day)
    assert not [p for p in after.later if p.slot.appointment_type == "oppmote"]
    assert len([p for p in after.bookable if p.slot.appointment_type == "oppmote"]) == total


@pytest.mark.parametrize(
    ("day", "offset"), [(MONDAY_AFTER_AUTUMN, "+01:00"), (MONDAY_AFTER_SPRING, "+02:00")]
)
def test_urgent_slots_are_shown_held_back_until_0800_the_same_day(
    preview: Previewer, day: date, offset: str
) -> None:
    urgent = ["13:00 - 13:15 Hastetime", "13:15 - 13:30 Hastetime"]
    before = preview(f"{day}T07:59", day)
    assert [p.label for p in before.later if p.slot.appointment_type == "hastetime"] == urgent
    eight = datetime.fromisoformat(f"{day}T08:00{offset}")
    assert {p.visibility.available_at for p in before.later} >= {eight}
    after = preview(f"{day}T08:00", day)
    assert [p.label for p in after.bookable if p.slot.appointment_type == "hastetime"] == urgent
    assert not after.later
    # 30 minutes' lead time: 13:00 is gone at 12:31, 13:15 is still bookable.
    late = preview(f"{day}T12:31", day)
    assert [p.label for p in late.bookable if p.slot.appointment_type == "hastetime"] == urgent[1:]


def test_at_with_offset_means_the_same_instant(preview: Previewer) -> None:
    local = preview("2026-10-26T07:59", MONDAY_AFTER_AUTUMN)
    utc = preview("2026-10-26T06:59:00+00:00", MONDAY_AFTER_AUTUMN)
    assert preview_json(local) == preview_json(utc)
    assert local.at.isoformat() == "2026-10-26T07:59:00+01:00"


def test_ordinary_slots_close_two_hours_before_start(preview: Previewer) -> None:
    def starts(at: str) -> list[str]:
        shown = preview(at, date(2026, 11, 4))
        return [p.slot.local_start.strftime("%H:%M") for p in shown.bookable]

    assert min(starts("2026-11-04T09:59")) == "12:00"
    assert min(starts("2026-11-04T10:00")) == "12:20"


def test_must_call_slots_are_marked(preview: Previewer) -> None:
    shown = preview("2026-11-03T07:00", date(2026, 11, 9), who="arna")
    assert _labels(shown.must_call) == [
        "09:00 - 10:00 Første svangerskapskonsultasjon",
        "10:00 - 11:00 Første svangerskapskonsultasjon",
        "11:00 - 12:00 Første svangerskapskonsultasjon",
    ]
    assert not shown.bookable
    out = io.StringIO()
    render_preview(shown, Console(file=out, width=200, soft_wrap=True))
    assert "Må bestilles på telefon 11 22 33 44" in out.getvalue()


def test_plain_rendering_shows_grid_day_list_and_later_slots(preview: Previewer) -> None:
    shown = preview("2026-11-03T07:29", date(2026, 11, 4))
    out = io.StringIO()
    render_preview(shown, Console(file=out, width=200, soft_wrap=True))
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


def test_vikar_is_shown_on_the_weeks_the_fastlege_is_away(preview: Previewer) -> None:
    month = preview("2026-11-10T09:00", who=None, month=(2026, 11))
    days = {c.day: c for c in month.days}
    away = preview("2026-11-10T09:00", date(2026, 11, 17), who="ingar")
    assert away.bookable
    assert {p.practitioner_name for p in away.bookable} == {"Ingar Vikersund"}
    assert days[date(2026, 11, 17)].bookable > 0


def test_the_fastleges_preview_offers_her_vikar_as_hlt_addressed_to_her_does(
    preview: Previewer,
) -> None:
    """HLT to Benedikte offers the slots of Ingar, who stands in for her: so does her
    preview (it used to show only her own slots, none in the week she is away)."""
    away = preview("2026-11-10T09:00", date(2026, 11, 17), who="benedikte")
    assert away.bookable
    assert {p.slot.practitioner for p in away.bookable} == {"ingar"}


def test_a_preview_of_an_empty_store_counts_the_templates_slots_not_stored_yet(
    preview: Previewer,
) -> None:
    shown = preview("2026-11-03T07:29", date(2026, 11, 4))
    listed = sum(c.bookable + c.later + c.must_call for c in shown.days)
    assert shown.from_templates == listed > 0
    out = io.StringIO()
    render_preview(shown, Console(file=out, width=200, soft_wrap=True))
    assert f"{listed} av timene i november kommer fra åpningstidene" in out.getvalue()


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["preview", *argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, dict)
    return data


def test_json_shape(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _cli_json(
        capsys, "--config", str(config_dir), "--at", "2026-10-26T07:59", "--day", "2026-10-26"
    )
    assert set(data) == {
        "version",
        "at",
        "clinic",
        "practitioner",
        "month",
        "days",
        "day",
        "from_templates",
    }
    assert data["version"] == 1
    assert data["month"] == "2026-10"
    days = data["days"]
    assert isinstance(days, list)
    assert len(days) == 31
    assert set(days[0]) == {"date", "bookable", "later", "must_call"}
    day = data["day"]
    assert isinstance(day, dict)
    assert set(day) == {"date", "bookable", "must_call", "later"}
    slot = next(s for s in day["later"] if s["type"] == "hastetime")
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


def test_preview_cli_text_and_bad_input(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["preview", "--config", str(config_dir), "--at", "2026-11-04T07:00"]
    assert main([*args, "--practitioner", "Benedikte", "--day", "2026-11-04"]) == 0
    assert "13:15 - 13:45 Telefontime" in capsys.readouterr().out
    assert main([*args, "--practitioner", "benedikt"]) == 2
    assert "unknown practitioner 'benedikt'" in capsys.readouterr().err
    assert main(["preview", "--config", str(config_dir), "--at", "tomorrow"]) == 2
    assert "bad --at 'tomorrow'" in capsys.readouterr().err


def test_preview_reads_the_database_it_is_given(
    config_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--database URL``: the store to preview, as for ``slots import``."""
    csv = tmp_path / "lordag.csv"
    csv.write_text(
        "practitioner,type,start,end,id\narna,svangerskapskontroll,2026-11-07T10:00,,\n",
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'other.db'}"
    c = str(config_dir)
    assert main(["slots", "import", str(csv), "--config", c, "--database", url]) == 0
    capsys.readouterr()
    at = ["--at", "2026-11-03T07:00", "--day", "2026-11-07", "--practitioner", "arna"]
    there = _cli_json(capsys, "--config", c, *at, "--database", url)
    here = _cli_json(capsys, "--config", c, *at)
    there_day, here_day = there["day"], here["day"]
    assert isinstance(there_day, dict)
    assert isinstance(here_day, dict)
    assert [s["label"] for s in there_day["bookable"]] == ["10:00 - 10:30 Svangerskapskontroll"]
    assert here_day["bookable"] == []
