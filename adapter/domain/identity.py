"""Norwegian person numbers: fødselsnummer, D-nummer and H-nummer. Pure: no I/O.

Every number is 11 digits, ``DDMMYY III K1 K2``: a birth date, a three-digit
individual number and two modulus-11 check digits (Skatteetaten, "Fødselsnummer";
Direktoratet for e-helse, "Identifikatorer for personer", HIS 1001, which also defines
H-nummer):

* **fødselsnummer** (8116 ``FNR``): the date as written, day 01-31, month 01-12;
* **D-nummer** (8116 ``DNR``): the first digit plus 4, so the day is 41-71;
* **H-nummer** (8116 ``HNR``, hjelpenummer): the third digit plus 4, so the month is
  41-52. Given by a health institution to a patient whose fødselsnummer is not
  known, and meant to stay inside it.

After removing the offset the ``DDMMYY`` part must be a date that exists (day within
its month, 29 February only in a leap year). The century follows from the individual
number (Skatteetaten's series: 000-499 1900-1999, 500-749 1854-1899, 500-999
2000-2039, 900-999 1940-1999), which decides whether ``290200`` is a date; a series
that was never given out for its year is not refused, only left without a birth date
(:func:`birth_date` returns None).

The check digits, with the weights of the standard::

    K1 = 11 - (3·D1 + 7·D2 + 6·M1 + 1·M2 + 8·Å1 + 9·Å2 + 4·I1 + 5·I2 + 2·I3) mod 11
    K2 = 11 - (5·D1 + 4·D2 + 3·M1 + 2·M2 + 7·Å1 + 6·Å2 + 5·I1 + 4·I2 + 3·I3 + 2·K1) mod 11

where 11 becomes 0 and 10 means no number has those nine first digits. (Skatteetaten
has announced a relaxed first check digit for numbers given out from 2032; that is
not implemented.)

**Synthetic numbers.** Helsenorge's test environment sends synthetic persons from
Tenor (Skatteetaten's test data): a fødselsnummer or D-nummer with 80 added to the
month (81-92), and valid check digits. They are accepted as what they otherwise are
(an FNR or a DNR) so that the adapter can be tested against Helsenorge; no real
person has such a number, so accepting them cannot confuse two patients.
:func:`is_synthetic` tells them apart. NAV's older synthetic numbers add 40 to the
month and so look exactly like H-nummer; they are read as H-nummer.

**Digital dialog.** HITS 1217 §2.3 allows only fødselsnummer and D-nummer for the
patient (an H-nummer is internal and names nobody on helsenorge.no), so the entry
points of the adapter check with ``allowed=DIALOG_ID_TYPES``.

**Privacy.** :class:`InvalidPersonId` says what is wrong, never the number: its text
goes into AppRecs, CLI output and logs.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection
from datetime import date
from enum import StrEnum
from typing import Final

from adapter.domain.codes import IdType
from adapter.domain.errors import InvalidValue

#: Weights of the first and the second check digit.
WEIGHTS_K1: Final = (3, 7, 6, 1, 8, 9, 4, 5, 2)
WEIGHTS_K2: Final = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)

#: The person id types this module knows.
PERSON_ID_TYPES: Final = frozenset({IdType.FNR, IdType.DNR, IdType.HNR})
#: What digital dialog allows for a patient or a representative (HITS 1217 §2.3).
DIALOG_ID_TYPES: Final = frozenset({IdType.FNR, IdType.DNR})

_NAMES: Final = {IdType.FNR: "fødselsnummer", IdType.DNR: "D-nummer", IdType.HNR: "H-nummer"}

#: Offsets added to the day (D-nummer) and the month (H-nummer, Tenor).
D_OFFSET: Final = 40
H_OFFSET: Final = 40
TENOR_OFFSET: Final = 80


class Problem(StrEnum):
    """What is wrong with a person number (safe to show: never the number)."""

    SHAPE = "not 11 digits"
    DATE = "no such date"
    CHECK_DIGITS = "check digits"
    TYPE = "the number is of another kind"
    NOT_ALLOWED = "not allowed here"


class InvalidPersonId(InvalidValue, ValueError):
    """A fødselsnummer, D-nummer or H-nummer that breaks the rules of its kind.

    ``problem`` is the :class:`Problem`; ``reason`` one line such as ``"not a valid
    fødselsnummer/D-nummer (check digits)"``. Neither holds the number.
    """

    def __init__(self, problem: Problem, reason: str) -> None:
        super().__init__(reason)
        self.problem = problem
        self.reason = reason


def describe(kinds: Collection[IdType]) -> str:
    """``"fødselsnummer/D-nummer"`` for FNR and DNR (in 8116 order)."""
    return "/".join(_NAMES[k] for k in (IdType.FNR, IdType.DNR, IdType.HNR) if k in kinds)


def check_digits(first_nine: str) -> str | None:
    """K1 K2 for the first nine digits, or None when no valid number starts so."""
    if len(first_nine) != 9 or not _digits(first_nine):
        raise ValueError("check_digits needs exactly nine digits")
    digits = [int(c) for c in first_nine]
    k1 = _mod11(digits, WEIGHTS_K1)
    if k1 is None:
        return None
    k2 = _mod11([*digits, k1], WEIGHTS_K2)
    if k2 is None:
        return None
    return f"{k1}{k2}"


def kind_of(ident: str) -> IdType:
    """The kind of a valid person number (FNR, DNR or HNR); :class:`InvalidPersonId` if
    it is not valid as any of them."""
    return validate(ident)


def validate(
    ident: str,
    kind: IdType | None = None,
    *,
    allowed: Collection[IdType] = PERSON_ID_TYPES,
) -> IdType:
    """Check ``ident`` and return its kind.

    ``kind``, when given, is what the number is said to be (a TypeId): a D-nummer
    typed FNR is refused. ``allowed`` is what the caller takes. Raises
    :class:`InvalidPersonId`.
    """
    expected = {kind} if kind is not None else set(allowed)
    what = describe(expected & PERSON_ID_TYPES) or describe(allowed) or "person number"

    def invalid(problem: Problem, detail: str = "") -> InvalidPersonId:
        return InvalidPersonId(problem, f"not a valid {what} ({detail or problem.value})")

    if kind is not None and kind not in PERSON_ID_TYPES:
        raise invalid(Problem.TYPE, f"{kind.value} is not a person number")
    if len(ident) != 11 or not _digits(ident):
        raise invalid(Problem.SHAPE)
    found = _shape_kind(ident)
    if found is None:
        raise invalid(Problem.DATE)
    if _date_parts(ident) is None:
        raise invalid(Problem.DATE)
    if check_digits(ident[:9]) != ident[9:]:
        raise invalid(Problem.CHECK_DIGITS)
    if kind is not None and found is not kind:
        raise invalid(Problem.TYPE, f"it is {_a(found)}")
    if found not in allowed:
        raise InvalidPersonId(
            Problem.NOT_ALLOWED,
            f"{_a(found)} is not allowed here, only {describe(allowed)}",
        )
    return found


def is_valid(ident: str, kind: IdType | None = None) -> bool:
    """True when ``ident`` is a valid FNR, DNR or HNR (of ``kind``, if given)."""
    try:
        validate(ident, kind)
    except InvalidPersonId:
        return False
    return True


def is_synthetic(ident: str) -> bool:
    """True for a Tenor synthetic number (month + 80). Does not check validity."""
    return len(ident) == 11 and _digits(ident) and ident[2] in "89"


def birth_date(ident: str) -> date | None:
    """The birth date a valid number encodes, when its series gives the century."""
    parts = _date_parts(ident) if len(ident) == 11 and _digits(ident) else None
    if parts is None:
        return None
    day, month, year, known = parts
    return date(year, month, day) if known else None


# -- helpers --------------------------------------------------------------------------------


def _a(kind: IdType) -> str:
    return ("an " if kind is IdType.HNR else "a ") + _NAMES[kind]


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _mod11(digits: list[int], weights: tuple[int, ...]) -> int | None:
    rest = 11 - sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
    if rest == 11:
        return 0
    return None if rest == 10 else rest


def _shape_kind(ident: str) -> IdType | None:
    """FNR, DNR or HNR from where the offsets are; None when the digits fit none."""
    d1, m1 = int(ident[0]), int(ident[2])
    d_number = d1 >= 4
    if d1 > 7:
        return None
    if m1 in (4, 5):
        return None if d_number else IdType.HNR
    if m1 in (0, 1, 8, 9):
        return IdType.DNR if d_number else IdType.FNR
    return None


def _date_parts(ident: str) -> tuple[int, int, int, bool] | None:
    """(day, month, year, century known) with the offsets removed; None if no date."""
    day = int(ident[0:2])
    month = int(ident[2:4])
    yy = int(ident[4:6])
    if day > D_OFFSET:
        day -= D_OFFSET
    if month > TENOR_OFFSET:
        month -= TENOR_OFFSET
    elif month > H_OFFSET:
        month -= H_OFFSET
    if not 1 <= month <= 12 or day < 1:
        return None
    century = _century(int(ident[6:9]), yy)
    year = (century if century is not None else 1900) + yy
    if day > calendar.monthrange(year, month)[1]:
        return None
    return day, month, year, century is not None


def _century(individual: int, yy: int) -> int | None:
    """The century of the series (Skatteetaten), or None when it was never given out."""
    if individual <= 499:
        return 1900
    if yy <= 39:
        return 2000
    if individual >= 900:
        return 1900
    if individual <= 749 and yy >= 54:
        return 1800
    return None
