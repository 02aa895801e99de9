"""adapter.testing.clinic and reserve: the example clinic on in-memory parts, and a
reservation made as Helsenorge makes one, decided by the clinic's rules."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from adapter.bootstrap import bootstrap
from adapter.domain.codes import IdType
from adapter.domain.errors import NotFound
from adapter.domain.model import OSLO, AppointmentState, Person, Slot
from adapter.messages.codes import MsgType
from adapter.messages.read_replies import read_reply
from adapter.runtime import Runtime
from adapter.testing import (
    EXAMPLE_START,
    MemoryTransport,
    MovableClock,
    clinic,
    example_config,
    required_field_problems,
    reserve,
    wish,
)
from adapter.tools.demo import prepare

FOLKE = Person("13116900216", IdType.FNR, "Folke", "Danser")
KARI = Person("01019012057", IdType.FNR, "Kari", "Nordmann")
UNLISTED = Person("03037712085", IdType.FNR, "Ulla", "Utenliste")

#: Tuesday 09:00, the day after EXAMPLE_START: within every horizon and lead time.
TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=OSLO)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(EXAMPLE_START)


@pytest.fixture
def transport() -> MemoryTransport:
    return MemoryTransport()


@pytest.fixture
def runtime(tmp_path: Path, clock: MovableClock, transport: MemoryTransport) -> Iterator[Runtime]:
    """The example clinic with one slot each for Benedikte (auto-confirm) and Ingar (her
    vikar, manual confirmation), and Folke and Kari on Benedikte's list."""
    made = clinic(tmp_path, clock=clock, transport=transport)
    key = made.adapter.clinic.key
    end = TUESDAY_9 + timedelta(minutes=20)
    made.adapter.load_slots(
        [
            Slot("benedikte-1", key, "benedikte", "oppmote", TUESDAY_9, end),
            Slot("ingar-1", key, "ingar", "oppmote", TUESDAY_9, end),
        ]
    )
    made.adapter.set_patient_list("benedikte", [FOLKE.ident, KARI.ident])
    yield made
    made.close()


def test_clinic_is_the_example_clinic_on_the_memory_transport_and_the_clock_given(
    runtime: Runtime, clock: MovableClock, transport: MemoryTransport
) -> None:
    assert runtime.adapter.clinic.her_id == "8142519"
    assert runtime.transport is transport
    assert runtime.clock() == EXAMPLE_START
    clock.advance(timedelta(hours=1))
    assert runtime.adapter.now() == EXAMPLE_START + timedelta(hours=1)


def test_clinic_defaults_to_a_new_memory_transport_and_a_clock_at_the_example_start(
    tmp_path: Path,
) -> None:
    made = clinic(tmp_path)
    try:
        assert isinstance(made.transport, MemoryTransport)
        assert made.clock() == EXAMPLE_START
    finally:
        made.close()


def test_clinic_takes_a_configuration_folder_of_your_own(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    shutil.copytree(example_config(), mine)
    clinic_toml = mine / "clinic.toml"
    text = clinic_toml.read_text(encoding="utf-8")
    assert text.count('name = "DDFL Ehelse Interntest med Mock"') == 1
    clinic_toml.write_text(
        text.replace('name = "DDFL Ehelse Interntest med Mock"', 'name = "Legekontoret"'),
        encoding="utf-8",
    )
    made = clinic(tmp_path / "state", config_dir=mine)
    try:
        assert made.adapter.clinic.name == "Legekontoret"
    finally:
        made.close()


def test_a_reservation_with_an_auto_confirming_practitioner_is_confirmed_with_05(
    runtime: Runtime,
) -> None:
    made = reserve(runtime, "benedikte-1", FOLKE)
    assert made.apprec is not None
    assert (made.apprec.code, made.apprec.apprec_errors) == ("1", ())
    assert made.code == "05"
    assert made.appointment is not None
    assert made.appointment.state is AppointmentState.CONFIRMED
    assert made.appointment.slot_id == "benedikte-1"
    assert made.appointment.patient.ident == FOLKE.ident
    assert runtime.adapter.pending_reservations() == []


def test_a_reservation_with_a_manually_confirming_vikar_waits_then_gets_10(
    runtime: Runtime, transport: MemoryTransport
) -> None:
    made = reserve(runtime, "ingar-1", FOLKE)
    assert made.apprec is not None
    assert made.apprec.code == "1"
    assert made.answer is None  # the clinic decides (rules.toml: ingar-manuell)
    assert made.code is None
    assert made.appointment is not None
    assert made.appointment.state is AppointmentState.REQUESTED
    assert [a.id for a in runtime.adapter.pending_reservations()] == [made.appointment.id]

    runtime.adapter.confirm(made.appointment.id)
    answers = [read_reply(m.body) for m in transport.sent["8093248_async"]]
    assert [a.code for a in answers if a.ref_to_parent == made.msg_id] == ["10"]


def test_a_pending_reservation_past_its_deadline_gets_06_from_the_deadline_job(
    runtime: Runtime, clock: MovableClock, transport: MemoryTransport
) -> None:
    made = reserve(runtime, "ingar-1", FOLKE)
    assert made.appointment is not None
    clock.advance(timedelta(hours=25))  # decision_deadline = "24 h"
    assert runtime.expire_reservations(clock()) == 1
    runtime.dispatch_outbox()
    answers = [read_reply(m.body) for m in transport.sent["8093248_async"]]
    assert [a.code for a in answers if a.ref_to_parent == made.msg_id] == ["06"]
    expired = runtime.adapter.appointment(made.appointment.id)
    assert expired is not None
    assert expired.state is AppointmentState.REJECTED


def test_a_patient_not_on_the_list_gets_30_and_no_appointment(runtime: Runtime) -> None:
    made = reserve(runtime, "benedikte-1", UNLISTED)
    assert made.code == "30"
    assert made.appointment is None
    assert runtime.adapter.appointments(TUESDAY_9, TUESDAY_9 + timedelta(hours=1)) == []


def test_a_slot_already_reserved_gets_06_and_keeps_the_first_appointment(
    runtime: Runtime,
) -> None:
    first = reserve(runtime, "benedikte-1", FOLKE)
    second = reserve(runtime, "benedikte-1", KARI)
    assert second.code == "06"
    assert second.appointment is None
    assert first.appointment is not None
    booked = runtime.adapter.appointments(TUESDAY_9, TUESDAY_9 + timedelta(hours=1))
    assert [a.id for a in booked] == [first.appointment.id]


def test_the_reservation_is_sent_as_helsenorge_sends_it(
    runtime: Runtime, transport: MemoryTransport
) -> None:
    made = reserve(runtime, "benedikte-1", FOLKE, subject="Vondt i halsen")
    [sent] = transport.sent["8142519_async"]
    assert required_field_problems(sent) == []
    assert sent.subject == MsgType.TIMERESERVASJON.value
    assert sent.reply_to == "8093248_async"
    assert sent.prop("fromHerId") == "8093248"
    assert made.msg_id.encode() in sent.body


def test_reserve_takes_the_slot_value_as_well_as_its_id(runtime: Runtime) -> None:
    end = TUESDAY_9 + timedelta(minutes=20)
    slot = Slot("benedikte-1", runtime.adapter.clinic.key, "benedikte", "oppmote", TUESDAY_9, end)
    assert reserve(runtime, slot, FOLKE).code == "05"


def test_reserve_of_an_unknown_slot_id_raises_not_found(runtime: Runtime) -> None:
    with pytest.raises(NotFound, match="no slot nowhere"):
        reserve(runtime, "nowhere", FOLKE)


def test_reserve_refuses_a_patient_without_names_before_sending(
    runtime: Runtime, transport: MemoryTransport
) -> None:
    with pytest.raises(ValueError, match="given and a family name"):
        reserve(runtime, "benedikte-1", Person(FOLKE.ident, IdType.FNR))
    assert transport.sent["8142519_async"] == []


def test_reserve_needs_a_runtime_on_a_memory_transport(tmp_path: Path) -> None:
    on_disk = bootstrap(prepare(tmp_path, example_config()), clock=MovableClock(EXAMPLE_START))
    try:
        with pytest.raises(TypeError, match="MemoryTransport"):
            reserve(on_disk, "benedikte-1", FOLKE)
    finally:
        on_disk.close()


def test_a_wish_is_sent_as_helsenorge_sends_it_and_left_open_for_the_clinic(
    runtime: Runtime, transport: MemoryTransport
) -> None:
    sent = wish(runtime, FOLKE, practitioner="benedikte", subject="Kontroll", text="Neste uke?")
    [message] = transport.sent["8142519_async"]
    assert required_field_problems(message) == []
    assert message.subject == MsgType.TIMEONSKE.value
    assert sent.msg_id.encode() in message.body
    assert sent.apprec is not None
    assert sent.apprec.code == "1"
    assert sent.wish is not None
    assert sent.wish.practitioner == "benedikte"
    assert sent.wish.text.subject == "Kontroll"
    assert runtime.adapter.open_wishes() == [sent.wish]


def test_wish_refuses_a_patient_without_names_before_sending(
    runtime: Runtime, transport: MemoryTransport
) -> None:
    with pytest.raises(ValueError, match="given and a family name"):
        wish(runtime, Person(FOLKE.ident, IdType.FNR), practitioner="benedikte")
    assert transport.sent["8142519_async"] == []
