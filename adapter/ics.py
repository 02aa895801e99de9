"""The "Legg i egen kalender" file: an appointment as an RFC 5545 iCalendar (.ics)."""

from __future__ import annotations

from datetime import UTC, datetime

from adapter.domain.model import Appointment, AppointmentType, Clinic, Practitioner


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 §3.1)."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    current = ""
    for ch in line:
        if len((current + ch).encode()) > (75 if not parts else 74):
            parts.append(current)
            current = ""
        current += ch
    parts.append(current)
    return "\r\n ".join(parts)


def appointment_ics(
    appointment: Appointment,
    practitioner: Practitioner,
    appointment_type: AppointmentType,
    clinic: Clinic,
    now: datetime,
) -> str:
    """A VCALENDAR with one VEVENT for the appointment (times in UTC)."""
    location = appointment_type.location or str(clinic.address)
    status = "CONFIRMED" if appointment.state.value == "confirmed" else "CANCELLED"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//epj-adapter//NO",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{appointment.id}",
        f"DTSTAMP:{_stamp(now)}",
        f"DTSTART:{_stamp(appointment.start)}",
        f"DTEND:{_stamp(appointment.end)}",
        f"SUMMARY:{_escape(f'{appointment_type.name} hos {practitioner.display_name}')}",
        f"LOCATION:{_escape(location)}",
        f"DESCRIPTION:{_escape(f'{clinic.name}, tlf. {clinic.phone}')}",
        f"STATUS:{status}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
