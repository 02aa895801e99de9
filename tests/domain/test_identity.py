"""Fødselsnummer, D-nummer and H-nummer, checked against the rules that define them.

Sources:

* Skatteetaten, "Fødselsnummer" and "D-nummer" (skatteetaten.no, Folkeregisteret):
  11 digits DDMMYY III K1 K2; a D-nummer adds 4 to the first digit; the individual
  number series 000-499 (1900-1999), 500-749 (1854-1899), 500-999 (2000-2039),
  900-999 (1940-1999); K1 and K2 modulus 11 with the weights 3 7 6 1 8 9 4 5 2 and
  5 4 3 2 7 6 5 4 3 2 (remainder 0 gives 0, a result of 10 means no such number).
* Direktoratet for e-helse, "Identifikatorer for personer" (HIS 1001): H-nummer adds
  4 to the third digit (month 41-52), otherwise built as a fødselsnummer.
* Skatteetaten, Tenor test data: synthetic persons have 80 added to the month.
* HITS 1217 §2.3: digital dialog supports only fødselsnummer and D-nummer.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from adapter.domain.codes import IdType
from adapter.domain.errors import DomainError, InvalidValue
from adapter.domain.identity import (
    DIALOG_ID_TYPES,
    PERSON_ID_TYPES,
    InvalidPersonId,
    Problem,
    birth_date,
    check_digits,
    is_synthetic,
    is_valid,
    kind_of,
    validate,
)

#: The guide's example patient (HITS 1217 §2.3, Line Danser) and a second official one.
OFFICIAL = ("13116900216", "15076500565")


def make(ddmmyy: str, individual: int = 0) -> str:
    """The first valid number from ``ddmmyy`` and ``individual`` upwards (some nine-digit
    starts have no check digits)."""
    for n in range(individual, 1000):
        k = check_digits(f"{ddmmyy}{n:03d}")
        if k is not None:
            return f"{ddmmyy}{n:03d}{k}"
    raise AssertionError(f"no valid number for {ddmmyy}")


def problem(
    ident: str, kind: IdType | None = None, *, allowed: Collection[IdType] = PERSON_ID_TYPES
) -> Problem:
    with pytest.raises(InvalidPersonId) as info:
        validate(ident, kind, allowed=allowed)
    if ident:
        assert ident not in str(info.value)
        assert ident not in info.value.reason
    return info.value.problem


@pytest.mark.parametrize("ident", OFFICIAL)
def test_the_official_examples_are_valid_fodselsnummer(ident: str) -> None:
    assert validate(ident) is IdType.FNR
    assert validate(ident, IdType.FNR, allowed=DIALOG_ID_TYPES) is IdType.FNR
    assert is_valid(ident)
    assert not is_synthetic(ident)


def test_check_digits_follow_the_weights_of_the_standard() -> None:
    # 131169 002: K1 = 11 - (3·1+7·3+6·1+1·1+8·6+9·9+4·0+5·0+2·2) mod 11 = 11 - 168 mod 11 = 1
    assert check_digits("131169002") == "16"
    assert check_digits("150765005") == "65"


def test_a_nine_digit_start_whose_first_check_digit_would_be_10_has_no_number() -> None:
    # Search one date's individual numbers for the starts whose K1 or K2 would be 10.
    starts = [f"010190{n:03d}" for n in range(1000)]
    none = [s for s in starts if check_digits(s) is None]
    assert none  # about 2 in 11 starts have no valid number
    for start in none[:20]:
        for k in range(100):
            assert problem(f"{start}{k:02d}") is Problem.CHECK_DIGITS


@pytest.mark.parametrize("ident", OFFICIAL)
@pytest.mark.parametrize("position", [9, 10])
def test_every_wrong_check_digit_is_refused(ident: str, position: int) -> None:
    for digit in "0123456789":
        if digit == ident[position]:
            continue
        wrong = ident[:position] + digit + ident[position + 1 :]
        assert problem(wrong) is Problem.CHECK_DIGITS
        assert not is_valid(wrong)


@pytest.mark.parametrize(
    "ident",
    ["1311690021X", "1311690021", "131169002160", "", "13 16900216", "１３１１６９００２１６"],
)
def test_letters_other_lengths_and_non_ascii_digits_are_not_numbers(ident: str) -> None:
    assert problem(ident) is Problem.SHAPE


@pytest.mark.parametrize(
    ("ddmmyy", "individual"),
    [
        ("000190", 0),  # day 0
        ("320190", 0),  # day 32
        ("310490", 0),  # 31 April
        ("300290", 0),  # 30 February
        ("010090", 0),  # month 0
        ("011390", 0),  # month 13
        ("012090", 0),  # month 20: no offset gives 20
        ("290201", 0),  # 29 February 1901
        ("290200", 0),  # 1900 (series 000-499) is not a leap year
        ("290297", 0),
        ("720190", 0),  # D-nummer day 32
        ("400190", 0),  # D-nummer day 0
        ("015390", 0),  # H-nummer month 13
        ("014090", 0),  # H-nummer month 0
        ("019390", 0),  # Tenor month 13
        ("018090", 0),  # Tenor month 0
        ("800190", 0),  # first digit 8: neither a day nor a D-nummer day
        ("414190", 0),  # D-nummer and H-nummer at once
    ],
)
def test_a_date_that_does_not_exist_is_refused(ddmmyy: str, individual: int) -> None:
    assert problem(make(ddmmyy, individual)) is Problem.DATE


def test_29_february_only_in_leap_years_by_the_century_of_the_series() -> None:
    assert validate(make("290296")) is IdType.FNR  # 1996
    assert validate(make("290200", 500)) is IdType.FNR  # series 500-999: 2000, a leap year
    assert birth_date(make("290200", 500)) == date(2000, 2, 29)
    assert problem(make("290200", 0)) is Problem.DATE  # series 000-499: 1900
    assert validate(make("690296")) is IdType.DNR
    assert validate(make("294296")) is IdType.HNR


@pytest.mark.parametrize(
    ("ddmmyy", "individual", "year"),
    [
        ("131169", 0, 1969),
        ("010199", 300, 1999),
        ("010160", 500, 1860),  # 500-749 with 54-99: 1854-1899
        ("010139", 500, 2039),  # 500-999 with 00-39: 2000-2039
        ("010140", 900, 1940),  # 900-999 with 40-99: 1940-1999
    ],
)
def test_the_century_comes_from_the_individual_number(
    ddmmyy: str, individual: int, year: int
) -> None:
    ident = make(ddmmyy, individual)
    born = birth_date(ident)
    assert born is not None
    assert born.year == year


def test_a_series_never_given_out_for_its_year_is_valid_without_a_birth_date() -> None:
    ident = make("010150", 800)  # 750-899 were never given to those born 1940-1999
    assert ident[6] in "8"
    assert validate(ident) is IdType.FNR
    assert birth_date(ident) is None


def test_d_nummer_adds_4_to_the_first_digit() -> None:
    d = make("531169")
    assert validate(d) is IdType.DNR
    assert validate(d, IdType.DNR, allowed=DIALOG_ID_TYPES) is IdType.DNR
    assert birth_date(d) == date(1969, 11, 13)
    assert validate(make("410169")) is IdType.DNR  # day 1
    assert validate(make("710169")) is IdType.DNR  # day 31


def test_a_number_typed_as_another_kind_is_refused() -> None:
    d = make("531169")
    assert problem(d, IdType.FNR) is Problem.TYPE
    assert problem(OFFICIAL[0], IdType.DNR) is Problem.TYPE
    assert problem(OFFICIAL[0], IdType.HPR) is Problem.TYPE
    with pytest.raises(InvalidPersonId, match=r"not a valid fødselsnummer \(it is a D-nummer\)"):
        validate(d, IdType.FNR)


def test_h_nummer_adds_4_to_the_third_digit_and_is_not_for_digital_dialog() -> None:
    h = make("135169")
    assert validate(h) is IdType.HNR
    assert kind_of(h) is IdType.HNR
    assert birth_date(h) == date(1969, 11, 13)
    assert validate(make("134169")) is IdType.HNR  # month 1
    assert validate(make("135269")) is IdType.HNR  # month 12
    assert problem(h, allowed=DIALOG_ID_TYPES) is Problem.NOT_ALLOWED
    with pytest.raises(InvalidPersonId, match="an H-nummer is not allowed here"):
        validate(h, allowed=DIALOG_ID_TYPES)
    assert problem(h, IdType.FNR, allowed=DIALOG_ID_TYPES) is Problem.TYPE


def test_tenor_synthetic_numbers_add_80_to_the_month_and_are_accepted() -> None:
    fnr = make("139169")
    dnr = make("539169")
    assert validate(fnr, IdType.FNR, allowed=DIALOG_ID_TYPES) is IdType.FNR
    assert validate(dnr, IdType.DNR, allowed=DIALOG_ID_TYPES) is IdType.DNR
    assert is_synthetic(fnr)
    assert is_synthetic(dnr)
    assert birth_date(fnr) == date(1969, 11, 13)
    assert validate(make("138169")) is IdType.FNR  # month 1
    assert validate(make("139269")) is IdType.FNR  # month 12


def test_the_error_is_a_typed_domain_value_error_that_never_holds_the_number() -> None:
    wrong = "13116900217"
    with pytest.raises(InvalidPersonId) as info:
        validate(wrong, IdType.FNR, allowed=DIALOG_ID_TYPES)
    exc = info.value
    assert isinstance(exc, ValueError)
    assert isinstance(exc, InvalidValue)
    assert isinstance(exc, DomainError)
    assert exc.problem is Problem.CHECK_DIGITS
    assert exc.reason == "not a valid fødselsnummer (check digits)"
    assert wrong not in repr(exc)
    assert "131169" not in str(exc)


def test_without_a_kind_the_reason_names_what_is_allowed() -> None:
    with pytest.raises(InvalidPersonId) as info:
        validate("13116900217", allowed=DIALOG_ID_TYPES)
    assert info.value.reason == "not a valid fødselsnummer/D-nummer (check digits)"


# -- properties -------------------------------------------------------------------------------

_offsets = st.sampled_from([(0, 0), (40, 0), (0, 40), (0, 80), (40, 80)])


@st.composite
def valid_numbers(draw: st.DrawFn) -> str:
    """A valid number of any kind: a real date, an individual number, its check digits."""
    born = draw(st.dates(min_value=date(1854, 1, 1), max_value=date(2039, 12, 31)))
    day_offset, month_offset = draw(_offsets)
    if born.year >= 2000:
        series = st.integers(500, 999)
    elif born.year < 1900:
        series = st.integers(500, 749)
    else:
        series = st.integers(0, 499)
    start = (
        f"{born.day + day_offset:02d}{born.month + month_offset:02d}"
        f"{born.year % 100:02d}{draw(series):03d}"
    )
    k = check_digits(start)
    assume(k is not None)  # about 2 in 11 starts have no valid number
    return start + str(k)


@given(valid_numbers())
def test_generated_numbers_are_valid_with_their_birth_date(ident: str) -> None:
    kind = validate(ident)
    assert kind in {IdType.FNR, IdType.DNR, IdType.HNR}
    assert (kind is IdType.DNR) == (ident[0] >= "4")
    assert (kind is IdType.HNR) == (ident[2] in "45")


@given(valid_numbers(), st.integers(0, 10), st.integers(1, 9))
def test_changing_any_single_digit_makes_a_valid_number_invalid(
    ident: str, position: int, delta: int
) -> None:
    # Every weight is non-zero modulo the prime 11, so one changed digit always changes
    # the check digit it is summed into (K1 for D1..I3 and K1 itself, K2 for K2).
    digit = (int(ident[position]) + delta) % 10
    changed = ident[:position] + str(digit) + ident[position + 1 :]
    assert not is_valid(changed)


@given(valid_numbers(), st.sampled_from([9, 10]), st.integers(1, 9))
def test_flipping_a_check_digit_always_invalidates(ident: str, position: int, delta: int) -> None:
    digit = (int(ident[position]) + delta) % 10
    changed = ident[:position] + str(digit) + ident[position + 1 :]
    with pytest.raises(InvalidPersonId) as info:
        validate(changed)
    assert info.value.problem is Problem.CHECK_DIGITS


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_any_eleven_digits_are_valid_exactly_when_date_and_check_digits_are(ident: str) -> None:
    if is_valid(ident):
        assert validate(ident) in {IdType.FNR, IdType.DNR, IdType.HNR}
        assert check_digits(ident[:9]) == ident[9:]
    else:
        assert problem(ident) in {Problem.DATE, Problem.CHECK_DIGITS}


def test_every_day_of_a_leap_year_is_a_valid_date() -> None:
    day = date(1996, 1, 1)
    while day < date(1997, 1, 1):
        ident = make(f"{day:%d%m%y}")
        assert birth_date(ident) == day
        day += timedelta(days=1)
