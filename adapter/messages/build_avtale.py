"""Messages the clinic starts: Avtale (guide 3.4.1, 3.6) and the KT request (3.10).

An Avtale tells helsenorge.no about an appointment made or changed through another
channel (phone, desk) or a no-show: a new conversation (new MsgId, no
ConversationRef), ``Ack V="J"`` (Helsenorge answers with an AppRec), the code (7602)
in Dialogmelding/Foresporsel/TypeForesp, the practitioner in RollerRelatertNotat and
the appointment as a vevent. One Avtale per change of an appointment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from adapter.domain.codes import Svar
from adapter.domain.errors import InvalidValue
from adapter.messages.build_envelope import (
    KT_CODE_LIST_OID,
    Built,
    Document,
    build_msghead,
    clinic_party,
    foresporsel,
    new_envelope,
)
from adapter.messages.codes import Foresporsel, MsgType, display
from adapter.messages.envelope import Party
from adapter.messages.xcal_out import (
    AppointmentDetails,
    EventStatus,
    appointment_event,
    icalendar,
)

#: Codes an Avtale may carry (guide 3.4.1).
AVTALE_CODES: Final = frozenset(
    {
        Svar.TIMERESERVASJON_BEKREFTET,
        Svar.ENDRING_BEKREFTET,
        Svar.AVBESTILLING_BEKREFTET,
        Svar.PASIENT_IKKE_MOTT,
        Svar.MELDING_OM_AVTALE,
    }
)

#: Processes an Avtale may be sent in: Avtaleutsending, or Timereservasjon 1.2.
AVTALE_PROCESSES: Final = frozenset({MsgType.AVTALEUTSENDING, MsgType.TIMERESERVASJON})

_STATUS: Final[dict[Svar, EventStatus | None]] = {
    Svar.TIMERESERVASJON_BEKREFTET: EventStatus.CONFIRMED,
    Svar.ENDRING_BEKREFTET: EventStatus.CONFIRMED,
    Svar.AVBESTILLING_BEKREFTET: EventStatus.CANCELLED,
    Svar.PASIENT_IKKE_MOTT: None,  # the code itself says it
    Svar.MELDING_OM_AVTALE: EventStatus.CONFIRMED,
}


def build_avtale(
    code: Svar,
    details: AppointmentDetails,
    *,
    receiver: Party,
    now: datetime,
    msg_type: MsgType = MsgType.AVTALEUTSENDING,
    msg_id: str | None = None,
) -> Built:
    """Avtale 05 / 07 / 08 / 11 / MOA about ``details.appointment``, sent unprompted.

    ``receiver`` is Helsenorge's party (two levels). The sender is the clinic with the
    appointment's practitioner on level 2; the patient is the appointment's, and must
    have a given and a family name besides the number (guide 2.3; else InvalidValue,
    as the project's profile requires). Guide 3.4.1: no EmneSporsmal or Sporsmal, so
    an Avtale carries no text of the clinic's.
    """
    if code not in AVTALE_CODES:
        raise InvalidValue(f"an Avtale carries 05, 07, 08, 11 or MOA, not {code.value}")
    if msg_type not in AVTALE_PROCESSES:
        raise InvalidValue(
            f"an Avtale is sent in Avtaleutsending or Timereservasjon, not {msg_type}"
        )
    envelope = new_envelope(
        msg_type=msg_type,
        sender=clinic_party(details.clinic, details.practitioner),
        receiver=receiver,
        now=now,
        patient=details.appointment.patient,
        ack_requested=True,
        msg_id=msg_id,
    )
    event = appointment_event(details, _STATUS[code])
    return build_msghead(
        envelope,
        [
            Document(
                foresporsel(code, practitioner=details.practitioner),
                content_description=display(code),
            ),
            Document(icalendar([event]), description="iCalendarBestillTime"),
        ],
    )


def build_kommunikasjonstest(
    *, sender: Party, receiver: Party, now: datetime, msg_id: str | None = None
) -> Built:
    """A KT request from the clinic to helsenorge.no: synchronous (``Ack V="N"``)."""
    envelope = new_envelope(
        msg_type=MsgType.TEST,
        sender=sender,
        receiver=receiver,
        now=now,
        ack_requested=False,
        msg_id=msg_id,
    )
    doc = Document(
        foresporsel(Foresporsel.KT, system=KT_CODE_LIST_OID),
        content_description="Kommunikasjonstest",
    )
    return build_msghead(envelope, [doc])
