"""The clinic's listing commands (issue 12): ``--json`` on every listing, whom an
appointment is for only on explicit request (and audited), patient numbers checked
before anything is done, patient lists and blocks audited without numbers, and help
for every option."""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapter.bootstrap import bootstrap
from adapter.cli import build_parser, main
from adapter.config import load_config
from adapter.domain.codes import IdType
from adapter.domain.model import OSLO, Appointment, PatientText, Person, Wish, WishKind
from adapter.privacy import has_person_number
from adapter.runtime import Runtime
from adapter.service.views import PATIENTS_SHOWN
from adapter.store.records import AuditEntry
from adapter.tools.demo import prepare

ROOT = Path(__file__).resolve().parents[2]
FOLKE = Person("13116900216", IdType.FNR, "Folke", "Danser")
LILLE = Person("24081899068", IdType.FNR, "Lille", "Danser")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return prepare(tmp_path, ROOT / "config")


@pytest.fixture
def runtime(config_dir: Path) -> Iterator[Runtime]:
    """The clinic as the CLI opens it (the system clock), with slots to book."""
    made = bootstrap(config_dir, config=load_config(config_dir))
    today = made.clock().astimezone(OSLO).date()
    made.adapter.generate_slots(today, today + timedelta(days=12))
    yield made
    made.close()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _json(capsys: pytest.CaptureFixture[str], config_dir: Path, *argv: str) -> list[Any]:
    code, out, err = _run(capsys, *argv, "--json", "--config", str(config_dir))
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert isinstance(data, list)
    return data


def _audit(runtime: Runtime) -> list[AuditEntry]:
    with runtime.store.uow(read_only=True) as uow:
        return list(reversed(uow.audit.recent("ddfl", limit=1000)))


def _book(runtime: Runtime, patient: Person, offset: int = 0) -> Appointment:
    now = runtime.clock()
    with runtime.store.uow(read_only=True) as uow:
        slots = uow.slots.in_window(
            "ddfl", now + timedelta(days=1), now + timedelta(days=8), practitioner="benedikte"
        )
    return runtime.adapter.book(slots[offset].id, patient, actor="epj:resepsjon")


def _pending(runtime: Runtime, patient: Person) -> Appointment:
    """A reservation waiting for the clinic (as a manual policy leaves an RT)."""
    now = runtime.clock()
    with runtime.store.uow() as uow:
        slot = uow.slots.in_window(
            "ddfl", now + timedelta(days=2), now + timedelta(days=9), practitioner="benedikte"
        )[5]
        made = Appointment.request(
            id=str(uuid.uuid4()),
            slot=slot,
            patient=patient,
            now=now,
            text=PatientText(subject="Vondt i ryggen"),
            decision_deadline=now + timedelta(hours=24),
        )
        uow.appointments.add(made)
        uow.wishes.add(
            Wish(
                id=str(uuid.uuid4()),
                clinic="ddfl",
                practitioner="benedikte",
                kind=WishKind.NEW,
                patient=patient,
                created_at=now,
                text=PatientText(subject="Time neste uke"),
            )
        )
        uow.commit()
    return made


# -- whom an appointment is for ----------------------------------------------------------


def test_appointments_list_shows_whom_only_with_show_patient_and_audits_each_such_listing(
    runtime: Runtime, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = str(config_dir)
    made = [_book(runtime, FOLKE), _book(runtime, LILLE, 1)]
    code, out, _ = _run(capsys, "appointments", "list", "--config", c)
    assert code == 0
    assert FOLKE.ident not in out
    assert "Folke" not in out
    assert "131169*****" in out
    assert not [e for e in _audit(runtime) if e.action == PATIENTS_SHOWN]

    code, out, _ = _run(capsys, "appointments", "list", "--show-patient", "--config", c)
    assert code == 0
    assert f"{FOLKE.ident} Folke Danser" in out
    assert f"{LILLE.ident} Lille Danser" in out
    shown = [e for e in _audit(runtime) if e.action == PATIENTS_SHOWN]
    assert len(shown) == 1
    assert shown[0].actor == "cli"
    assert shown[0].detail == {"count": 2, "appointments": [a.id for a in made]}

    rows = _json(capsys, config_dir, "appointments", "list", "--show-patient")
    assert [(r["id"], r["patient"], r["patient_name"]) for r in rows] == [
        (made[0].id, FOLKE.ident, "Folke Danser"),
        (made[1].id, LILLE.ident, "Lille Danser"),
    ]
    assert len([e for e in _audit(runtime) if e.action == PATIENTS_SHOWN]) == 2
    for entry in _audit(runtime):
        assert not has_person_number(json.dumps(entry.detail)), entry


def test_appointments_list_json_masks_the_patient(
    runtime: Runtime, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = _book(runtime, FOLKE)
    rows = _json(capsys, config_dir, "appointments", "list")
    assert rows == [
        {
            "id": made.id,
            "start": made.start.astimezone(OSLO).isoformat(),
            "end": made.end.astimezone(OSLO).isoformat(),
            "practitioner": "benedikte",
            "type": made.appointment_type,
            "slot": made.slot_id,
            "state": "confirmed",
            "channel": made.channel.value,
            "patient": "131169*****",
            "decision_deadline": None,
            "subject": "",
        }
    ]
    assert not [e for e in _audit(runtime) if e.action == PATIENTS_SHOWN]


# -- --json on every listing -----------------------------------------------------------------


def test_every_listing_command_answers_json(
    runtime: Runtime, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _json(capsys, config_dir, "reservations", "list") == []
    assert _json(capsys, config_dir, "wishes", "list") == []
    pending = _pending(runtime, FOLKE)
    runtime.adapter.set_patient_list("benedikte", [FOLKE.ident, LILLE.ident])

    (reservation,) = _json(capsys, config_dir, "reservations", "list")
    assert reservation["id"] == pending.id
    assert reservation["state"] == "requested"
    assert reservation["patient"] == "131169*****"
    assert reservation["subject"] == "Vondt i ryggen"
    assert reservation["decision_deadline"] is not None

    (wish,) = _json(capsys, config_dir, "wishes", "list")
    assert (wish["kind"], wish["patient"], wish["subject"]) == (
        "OT",
        "131169*****",
        "Time neste uke",
    )

    lists = _json(capsys, config_dir, "patients", "list")
    assert {r["practitioner"]: (r["list_of"], r["patients"]) for r in lists} == {
        "arna": ("arna", 0),
        "benedikte": ("benedikte", 2),
        "ingar": ("benedikte", 2),  # a vikar books the fastlege's list
    }

    _book(runtime, LILLE)
    events = _json(capsys, config_dir, "events")
    code, lines, _ = _run(capsys, "events", "--config", str(config_dir))
    assert code == 0
    assert events == [json.loads(line) for line in lines.splitlines()]
    assert [e["kind"] for e in events] == ["appointment.booked"]
    for out in (json.dumps(events), json.dumps(lists)):
        assert not has_person_number(out)


# -- patient numbers, lists and blocks ---------------------------------------------------------


@pytest.mark.parametrize("command", ["block", "unblock"])
@pytest.mark.parametrize(
    ("given", "reason"),
    [("hello", "not 11 digits"), ("13116900217", "check digits")],
)
def test_a_block_of_something_not_a_person_number_is_one_clear_line_and_exit_2(
    runtime: Runtime,
    config_dir: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    given: str,
    reason: str,
) -> None:
    """``patients block hello`` is a usage error (exit 2, as README's exit codes say),
    one line naming the argument, never the number; nothing is blocked or audited."""
    before = _audit(runtime)
    code, out, err = _run(capsys, "patients", command, given, "--config", str(config_dir))
    assert (code, out) == (2, "")
    assert err == f"epj-adapter: FNR: not a valid fødselsnummer/D-nummer ({reason})\n"
    assert given not in err
    assert _audit(runtime) == before
    with runtime.store.uow(read_only=True) as uow:
        assert not uow.patients.is_blocked("ddfl", given)


def test_patient_list_imports_blocks_and_unblocks_are_audited_with_counts_only(
    runtime: Runtime, config_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    c = str(config_dir)
    listing = tmp_path / "liste.txt"
    listing.write_text(f"{FOLKE.ident}\n{LILLE.ident}\n{LILLE.ident}\n", encoding="utf-8")
    code, out, _ = _run(capsys, "patients", "import-list", "benedikte", str(listing), "--config", c)
    assert (code, out) == (0, "benedikte: 2 patients on the list\n")
    listing.write_text(f"{FOLKE.ident}\n", encoding="utf-8")
    assert _run(capsys, "patients", "import-list", "benedikte", str(listing), "--config", c)[0] == 0
    reason = "truet personalet"
    assert _run(capsys, "patients", "block", FOLKE.ident, "--reason", reason, "--config", c)[0] == 0
    assert _run(capsys, "patients", "unblock", FOLKE.ident, "--config", c)[0] == 0
    assert _run(capsys, "patients", "unblock", FOLKE.ident, "--config", c)[0] == 0

    entries = [e for e in _audit(runtime) if e.action.startswith("patient")]
    assert [(e.actor, e.action, e.detail) for e in entries] == [
        (
            "cli",
            "patients.list_set",
            {"practitioner": "benedikte", "count": 2, "added": 2, "removed": 0},
        ),
        (
            "cli",
            "patients.list_set",
            {"practitioner": "benedikte", "count": 1, "added": 0, "removed": 1},
        ),
        ("cli", "patient.blocked", {"count": 1, "already_blocked": False, "reason_given": True}),
        ("cli", "patient.unblocked", {"count": 1}),
        ("cli", "patient.unblocked", {"count": 0}),  # there was no block left to lift
    ]
    for entry in entries:
        text = json.dumps(entry.detail, ensure_ascii=False)
        assert not has_person_number(text)
        assert reason not in text


def test_the_api_audits_list_changes_and_blocks_as_the_epj_by_default(runtime: Runtime) -> None:
    runtime.adapter.set_patient_list("benedikte", [FOLKE.ident])
    runtime.adapter.block_patient(FOLKE.ident, "misbruk")
    runtime.adapter.block_patient(FOLKE.ident, actor="epj:lege")
    entries = [e for e in _audit(runtime) if e.action.startswith("patient")]
    assert [(e.actor, e.action, e.detail.get("already_blocked")) for e in entries] == [
        ("epj", "patients.list_set", None),
        ("epj", "patient.blocked", False),
        ("epj:lege", "patient.blocked", True),
    ]


# -- help --------------------------------------------------------------------------------------

#: Options another change owns (the ``--note`` change to confirm, reject and answer).
NOT_YET: set[tuple[str, ...]] = set()


def _options(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*path, name))
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            yield path, action


def test_every_option_of_every_command_has_help() -> None:
    missing = []
    for path, action in _options(build_parser()):
        name = action.option_strings[0] if action.option_strings else action.dest
        if not action.help and (*path, name) not in NOT_YET:
            missing.append(" ".join((*path, name)))
    assert not missing, missing


@pytest.mark.parametrize(
    "command",
    [
        ("reservations", "list"),
        ("wishes", "list"),
        ("appointments", "list"),
        ("patients", "list"),
        ("events",),
        ("preview",),
        ("status",),
    ],
)
def test_every_listing_command_takes_json(command: tuple[str, ...]) -> None:
    options = {
        o for path, a in _options(build_parser()) if path == command for o in a.option_strings
    }
    assert "--json" in options
