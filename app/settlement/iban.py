"""International Bank Account Numbers (ISO 13616): the shape and the mod-97 check digits."""

from __future__ import annotations

import re

_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def normalized(value: str) -> str:
    """The IBAN as banks store it: upper case, without the spaces of its printed form."""
    return value.replace(" ", "").upper()


def iban_valid(value: str) -> bool:
    """True when ``value`` (normalized) has an IBAN's shape and its check digits are right:
    the country and check digits moved to the end, letters as 10..35, the number mod 97 is 1."""
    if not _SHAPE.match(value):
        return False
    moved = value[4:] + value[:4]
    digits = "".join(str(int(char, 36)) for char in moved)
    return int(digits) % 97 == 1
