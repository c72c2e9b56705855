"""Vietnamese phone number normalisation to E.164 (``+84…``), the one key every lookup uses.

Numbers are strings from end to end: a leading ``0`` or ``+`` carries meaning and an integer would
silently drop it (a classic screen-pop bug). Accepted inputs:

* national form ``0912345678``, international ``+84912345678`` / ``0084912345678`` / ``84912345678``,
  bare national significant number ``912345678``; spaces, dots, dashes, slashes and brackets are ignored;
* fixed lines (Gphone included) with their area code, 11 digits with the trunk ``0``: ``024xxxxxxxx``
  (Hà Nội), ``028xxxxxxxx`` (TP HCM), ``02xx xxxxxxx`` elsewhere;
* 11-digit mobile numbers retired in 2018 (``01xx xxxxxxx``), mapped to their 10-digit successors
  (Viettel 016x→03x, MobiFone 012x→07x, VinaPhone 012x→08x, Vietnamobile 018x→05x, Gmobile 0199→059),
  so a customer's old number in a CRM export still finds them;
* numbers of other countries given with ``+`` or ``00`` are kept as E.164 unchanged.

The 2017 renumbering of fixed-line area codes is out of scope: old area codes are not translated.
"""

from __future__ import annotations

import re

from core.errors import TongdaiError

__all__ = ["OLD_MOBILE_PREFIXES", "InvalidNumber", "normalize_vn", "try_normalize_vn"]


class InvalidNumber(TongdaiError, ValueError):
    """The text is not a phone number we can place in E.164."""

    error_id = "crm.invalid_number"


# 2018 conversion of 11-digit mobile numbers: old 4-digit prefix (with trunk 0) → new 3-digit prefix.
# Source: MIC decision 798/QĐ-BTTTT (2018); the subscriber part (7 digits) is unchanged.
OLD_MOBILE_PREFIXES: dict[str, str] = {
    # Viettel
    "0162": "032",
    "0163": "033",
    "0164": "034",
    "0165": "035",
    "0166": "036",
    "0167": "037",
    "0168": "038",
    "0169": "039",
    # MobiFone
    "0120": "070",
    "0121": "079",
    "0122": "077",
    "0126": "076",
    "0128": "078",
    # VinaPhone
    "0123": "083",
    "0124": "084",
    "0125": "085",
    "0127": "081",
    "0129": "082",
    # Vietnamobile
    "0186": "056",
    "0188": "058",
    # Gmobile
    "0199": "059",
}

_SEPARATORS = re.compile(r"[\s.\-/()\u00a0]+")
_MOBILE_FIRST = frozenset("35789")  # 03x, 05x, 07x, 08x, 09x


def _national_to_e164(nsn: str, original: str) -> str:
    """Turn a national significant number (without trunk 0) into E.164, or raise."""
    if len(nsn) == 9 and nsn[0] in _MOBILE_FIRST:
        return "+84" + nsn
    if len(nsn) == 10 and nsn[0] == "2":
        # Fixed line: 2 + area code + subscriber number, 10 digits since the 2017 renumbering.
        return "+84" + nsn
    if len(nsn) == 10 and nsn[0] == "1":
        new = OLD_MOBILE_PREFIXES.get("0" + nsn[:3])
        if new is None:
            raise InvalidNumber(f"{original!r}: 11-digit mobile prefix 0{nsn[:3]} has no 2018 successor")
        return "+84" + new[1:] + nsn[3:]
    raise InvalidNumber(
        f"{original!r}: not a Vietnamese number (expected a 10-digit mobile like 0912345678 "
        f"or an 11-digit fixed line like 02438261234)"
    )


def normalize_vn(number: str) -> str:
    """Return ``number`` in E.164 (``+84912345678``); raise :class:`InvalidNumber` for anything else."""
    if not isinstance(number, str):
        # An int here means someone already lost the leading zero: refuse rather than guess.
        raise InvalidNumber(f"{number!r}: phone numbers must be given as text, not {type(number).__name__}")
    text = _SEPARATORS.sub("", number.strip())
    if not text:
        raise InvalidNumber("empty phone number")
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not digits.isascii() or not digits.isdigit():
        raise InvalidNumber(f"{number!r}: a phone number holds only digits, an optional leading +")
    if not plus and digits.startswith("00"):
        plus, digits = True, digits[2:]  # international call prefix 00 = '+'
    if plus:
        if digits.startswith("84"):
            return _national_to_e164(digits[2:], number)
        if digits.startswith("0"):
            raise InvalidNumber(f"{number!r}: a country code never starts with 0")
        if not 8 <= len(digits) <= 15:
            raise InvalidNumber(f"{number!r}: an E.164 number has 8 to 15 digits")
        return "+" + digits
    if digits.startswith("0"):
        return _national_to_e164(digits[1:], number)
    # No trunk 0 and no '+': either a bare NSN (9 or 10 digits) or 84 + NSN (11 or 12 digits).
    # 9-digit numbers starting with 84 are VinaPhone NSNs (084…), so the length decides.
    if digits.startswith("84") and len(digits) in (11, 12):
        return _national_to_e164(digits[2:], number)
    return _national_to_e164(digits, number)


def try_normalize_vn(number: str) -> str | None:
    """Like :func:`normalize_vn` but ``None`` for garbage (anonymous caller IDs, short codes)."""
    try:
        return normalize_vn(number)
    except InvalidNumber:
        return None
