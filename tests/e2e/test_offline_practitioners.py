"""A clinic whose practitioners take no online bookings ("Fastlegen bruker ikke
Helsenorge"): HB finds nobody (21), HLT offers nothing (04), an RT is refused (26)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from adapter.domain.model import OSLO
from adapter.messages import build_requests as rq
from adapter.messages.codes import MsgType
from tests.e2e.conftest import Clinic

pytestmark = pytest.mark.e2e


def _offline(practitioners: tuple[str, ...]) -> Callable[[str], str]:
    def edit(text: str) -> str:
        for key in practitioners:
            header = f"[practitioners.{key}]\n"
            assert header in text
            text = text.replace(header, f"{header}online_booking = false\n")
        return text

    return edit


def test_nobody_online_gives_21_and_04(custom_clinic: Callable[..., Clinic]) -> None:
    clinic = custom_clinic(clinic=_offline(("benedikte", "ingar", "arna")))
    hb = clinic.sim.ask(
        rq.hent_behandlere(clinic.parties(), clinic.clock()), MsgType.BEHANDLEROVERSIKT
    )
    assert hb.code == "21"
    assert hb.practitioners == ()
    today = clinic.clock().astimezone(OSLO).date()
    hlt = rq.hent_ledige_timer(clinic.parties(), clinic.clock(), today, today + timedelta(days=6))
    reply = clinic.sim.ask(hlt, MsgType.TIMERESERVASJON)
    assert reply.code == "04"
    assert reply.events == ()
    assert (
        clinic.sim.ask(rq.kommunikasjonstest(clinic.parties(), clinic.clock()), MsgType.TEST).code
        == "RKT"
    )


def test_an_offline_practitioner_is_not_listed_and_not_bookable(
    custom_clinic: Callable[..., Clinic],
) -> None:
    clinic = custom_clinic(clinic=_offline(("arna",)))
    hb = clinic.sim.ask(
        rq.hent_behandlere(clinic.parties(), clinic.clock()), MsgType.BEHANDLEROVERSIKT
    )
    assert hb.code == "20"
    assert "8142522" not in hb.practitioners
    with clinic.runtime.store.uow() as uow:
        slots = uow.slots.in_window(
            "ddfl", clinic.clock(), clinic.clock() + timedelta(days=7), practitioner="arna"
        )
    checks = [s for s in slots if s.appointment_type == "svangerskapskontroll"]
    assert checks, "Arna's slots are still in the book"
    day = checks[0].local_start.date()
    hlt = rq.hent_ledige_timer(clinic.parties("arna"), clinic.clock(), day, day)
    assert clinic.sim.ask(hlt, MsgType.TIMERESERVASJON).code == "04"
    built = rq.reserver_time(clinic.parties("arna"), clinic.clock(), checks[0], "8142522")
    clinic.sim.send(built, MsgType.TIMERESERVASJON)
    assert clinic.sim.apprec_for(built.msg_id).code == "1"
    assert clinic.sim.answer_to(built.msg_id).code == "26"
    assert clinic.adapter.appointments(clinic.clock(), clinic.clock() + timedelta(days=14)) == []
