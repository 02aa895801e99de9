"""What personal data looks like, for the guards that keep it out of logs and audit.

A fødselsnummer or D-nummer is 11 digits. Ids the adapter logs (UUIDs, HER-ids) can
hold long digit runs too, so a match must stand alone: not inside a word or a UUID
group (``...-a186-12345678901a``).
"""

from __future__ import annotations

import re
from typing import Final

#: An 11-digit run standing alone: the shape of a fødselsnummer or D-nummer.
PERSON_NUMBER: Final = re.compile(r"(?<![0-9A-Za-z])\d{11}(?![0-9A-Za-z])")

#: What :func:`mask_person_numbers` writes instead.
MASK: Final = "*" * 11


def has_person_number(text: str) -> bool:
    """True when ``text`` holds something shaped like a fødselsnummer."""
    return PERSON_NUMBER.search(text) is not None


def mask_person_numbers(text: str) -> str:
    """``text`` with every fødselsnummer-shaped number masked."""
    return PERSON_NUMBER.sub(MASK, text)
