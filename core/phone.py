"""Phone numbers, one home for every rule: the E.164 key, the national form, dialling and tariff forms.

Numbers are strings from end to end: a leading ``0`` or ``+`` carries meaning and an integer would
silently drop it (a classic screen-pop bug). The forms, and who uses which:

* **E.164** ``+84912345678`` (:func:`to_e164`, :func:`try_e164`): the canonical key. The CRM stores
  and looks numbers up by it; the call carries it (``Call.caller_e164``, ``AgiRequest.caller``),
  normalised once where the number enters (AMI ``Newchannel``, the FastAGI header).
* **national** ``0912345678`` (:func:`national`, :func:`caller_national`): what Vietnamese callers
  and agents read and key, the IVR's blocklist entries, the digits an agent's phone dials
  (:func:`dial_digits`).
* **tariff key** ``84912345678`` / ``008613…`` (:func:`tariff_key`, :func:`tariff_prefix`): rating's
  prefix space, where home numbers are ``84`` + national significant number and foreign ones ``00`` +
  country code, so the longest-prefix match tells abroad from home by prefix alone.

Strict E.164 accepts: national form ``0912345678``, international ``+84912345678`` / ``0084912345678`` /
``84912345678``, the bare national significant number ``912345678``; separators (spaces, dots, dashes,
slashes, brackets) are ignored; fixed lines (Gphone included) with their area code, 11 digits with the
trunk ``0`` (``024xxxxxxxx`` Hà Nội, ``028xxxxxxxx`` TP HCM); 11-digit mobile numbers retired in 2018
(``01xx xxxxxxx``) mapped to their 10-digit successors, so a customer's old number in a CRM export still
finds them; numbers of other countries given with ``+`` or ``00`` are kept unchanged. The 2017
renumbering of fixed-line area codes is out of scope: old area codes are not translated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import TongdaiError

__all__ = [
    "ANONYMOUS",
    "OLD_MOBILE_PREFIXES",
    "CallerNumber",
    "InvalidNumber",
    "caller_national",
    "caller_number",
    "dial_digits",
    "national",
    "strip_separators",
    "tariff_key",
    "tariff_prefix",
    "to_e164",
    "try_e164",
]


class InvalidNumber(TongdaiError, ValueError):
    """The text is not a phone number we can place in E.164."""

    error_id = "crm.invalid_number"  # kept from its first home: clients may match on it


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

# What a caller-ID field holds when there is no number (Asterisk and carriers spell it many ways).
ANONYMOUS = frozenset(
    {"", "anonymous", "unknown", "<unknown>", "restricted", "private", "unavailable", "withheld"}
)

COUNTRY_CODE = "84"
_SEPARATORS = re.compile(r"[\s.\-/()\u00a0]+")
_MOBILE_FIRST = frozenset("35789")  # 03x, 05x, 07x, 08x, 09x
_CALLER = re.compile(r"\+?[0-9]{3,15}")


def strip_separators(text: str) -> str:
    """``text`` without the separators people write inside numbers (space . - / ( ) and NBSP)."""
    return _SEPARATORS.sub("", text.strip())


# --- E.164 --------------------------------------------------------------------------------------------


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


def _international_to_e164(digits: str, original: str) -> str:
    """E.164 of the digits after ``+`` or ``00``."""
    if digits.startswith("84"):
        return _national_to_e164(digits[2:], original)
    if digits.startswith("0"):
        raise InvalidNumber(f"{original!r}: a country code never starts with 0")
    if not 8 <= len(digits) <= 15:
        raise InvalidNumber(f"{original!r}: an E.164 number has 8 to 15 digits")
    return "+" + digits


def to_e164(number: str) -> str:
    """Return ``number`` in E.164 (``+84912345678``); raise :class:`InvalidNumber` for anything else."""
    if not isinstance(number, str):
        # An int here means someone already lost the leading zero: refuse rather than guess.
        raise InvalidNumber(f"{number!r}: phone numbers must be given as text, not {type(number).__name__}")
    text = strip_separators(number)
    if not text:
        raise InvalidNumber("empty phone number")
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not digits.isascii() or not digits.isdigit():
        raise InvalidNumber(f"{number!r}: a phone number holds only digits, an optional leading +")
    if plus:
        return _international_to_e164(digits, number)
    if digits.startswith("00"):  # international call prefix 00 = '+'
        return _international_to_e164(digits[2:], number)
    if digits.startswith("0"):
        return _national_to_e164(digits[1:], number)
    # No trunk 0 and no '+': either a bare NSN (9 or 10 digits) or 84 + NSN (11 or 12 digits).
    # 9-digit numbers starting with 84 are VinaPhone NSNs (084…), so the length decides.
    if digits.startswith("84") and len(digits) in (11, 12):
        return _national_to_e164(digits[2:], number)
    return _national_to_e164(digits, number)


def try_e164(number: str | None) -> str | None:
    """Like :func:`to_e164` but ``None`` for garbage (anonymous caller IDs, short codes)."""
    if number is None:
        return None
    try:
        return to_e164(number)
    except InvalidNumber:
        return None


# --- national and dialling forms -----------------------------------------------------------------------


def national(e164: str) -> str:
    """The national form of an E.164 number (``+84912345678`` → ``0912345678``); others unchanged."""
    return "0" + e164[3:] if e164.startswith("+84") else e164


def carrier_national(number: str) -> str:
    """Any carrier form of a number in national form: ``+84912…``/``0084912…``/``84912…`` → ``0912…``.

    Carriers send the same number as E.164, E.164 without ``+`` or national. Service numbers (``1800…``,
    ``1900…``, short codes) have no trunk 0 nationally: ``+8418001090`` → ``18001090``. A number already
    national stays as it is; a foreign E.164 number becomes its international dialling form
    (``+1202…`` → ``001202…``). Lenient: a trunk's calls, not a customer lookup (see :func:`to_e164`).
    """
    n = strip_separators(number)
    if n.startswith("+" + COUNTRY_CODE):
        rest = n[1 + len(COUNTRY_CODE) :]
    elif n.startswith("00" + COUNTRY_CODE):
        rest = n[2 + len(COUNTRY_CODE) :]
    elif n.startswith("+"):
        return "00" + n[1:]
    elif n.startswith(COUNTRY_CODE) and len(n) >= len(COUNTRY_CODE) + 8:
        rest = n[len(COUNTRY_CODE) :]
    else:
        return n
    return rest if rest.startswith("1") else "0" + rest


def dial_digits(number: str) -> str:
    """A Vietnamese number as the digits an agent's phone dials (``0912345678``), or raise."""
    e164 = to_e164(number)
    if not e164.startswith("+84"):
        raise InvalidNumber(f"{number!r}: not a Vietnamese number, not dialled from the desktop")
    return national(e164)


def caller_national(raw: str | None) -> str | None:
    """A caller-ID number in national form (``+84912345678`` → ``0912345678``), or None if unusable.

    Lenient on purpose, unlike :func:`to_e164`: short codes and foreign numbers stay as they came, for
    the IVR's blocklist and read-back. Caller ID reaches us unfiltered from the network: anything that
    is not 3-15 digits (after separators are dropped) is treated as no number at all, never passed on.
    """
    if raw is None:
        return None
    s = strip_separators(raw)
    if s.lower() in ANONYMOUS or not _CALLER.fullmatch(s):
        return None
    if s.startswith("+84"):
        return "0" + s[3:]
    if s.startswith("0084"):
        return "0" + s[4:]
    if s.startswith("84") and len(s) == 11:  # 84 + a 9-digit national number, the + lost on the way
        return "0" + s[2:]
    return s


@dataclass(frozen=True, slots=True)
class CallerNumber:
    """A caller's number normalised once at the edge, in both forms the rest of the call uses."""

    national: str | None  # lenient (:func:`caller_national`): blocklists, read-back, the IVR machine
    e164: str | None  # strict (:func:`to_e164`): every customer lookup


def caller_number(raw: str | None) -> CallerNumber:
    """Both forms of a raw caller-ID number (either may be None: anonymous, short code, garbage)."""
    nat = caller_national(raw)
    return CallerNumber(nat, try_e164(nat) if nat is not None else None)


# --- tariff forms (rating) ----------------------------------------------------------------------------


def tariff_key(dialled: str, home_area_code: str = "") -> str:
    """The dialled string in rating's canonical form, or ``""`` when it is not a number.

    ``0xx…`` → ``84xx…``; ``+84…``/``0084…``/``84…`` (11+ digits) → ``84…`` (a trunk 0 after 84 is
    dropped); ``+cc…``/``00cc…`` → ``00cc…``; service and short numbers ``1800…``, ``1900…``, ``113``
    → ``841800…``; 7-8 digits without an area code → local number of ``home_area_code``.
    Separators are ignored. On rating's hot path: plain digits skip every regex.
    """
    s = dialled
    if not (s.isdigit() and s.isascii()):
        s = strip_separators(s)
        if s[:1] == "+":
            return _tariff_international(s[1:])
        if not (s.isdigit() and s.isascii()):
            return ""
    return _tariff_digits(s, home_area_code)


def _tariff_international(s: str) -> str:
    """:func:`tariff_key` of the digits after a ``+``."""
    if not (s.isdigit() and s.isascii()):
        return ""
    if s[:2] == "84":
        return "84" + s[3:] if s[2:3] == "0" else s
    return "00" + s


def _tariff_digits(s: str, home_area_code: str) -> str:
    """:func:`tariff_key` of plain ASCII digits (national, ``00`` international, service, local)."""
    c = s[0]
    if c == "0":
        if s[1:2] == "0":
            if s[2:4] == "84":
                return "84" + s[5:] if s[4:5] == "0" else s[2:]
            return s
        return "84" + s[1:]
    if c == "1":
        return "84" + s
    n = len(s)
    if s[:2] == "84" and n >= 11:
        return "84" + s[3:] if s[2:3] == "0" else s
    if home_area_code and 7 <= n <= 8:
        return "84" + home_area_code + s
    return ""


def tariff_prefix(raw: str) -> str:
    """Map a prefix as dialled (``096``, ``+8496``, ``0086``, ``1800``) to :func:`tariff_key`'s space.

    Vietnamese ranges become ``84`` + national significant number, foreign ones ``00`` + country code.
    Raises ``ValueError`` with a hint when the form is not recognised.
    """
    s = strip_separators(raw)
    if s.startswith("+"):
        rest, intl = s[1:], True
    elif s.startswith("00"):
        rest, intl = s[2:], True
    elif s.startswith("0"):
        rest, intl = "84" + s[1:], False
    elif s.startswith("1"):
        rest, intl = "84" + s, False  # national service numbers: 1800, 1900, 113…
    elif s.startswith("84"):
        rest, intl = s, False
    else:
        raise ValueError(
            f"prefix {raw!r} is not in a dialled form: write e.g. '096', '+8496', '8496', '028', "
            "'00' (all international), '0086', '1800', '1900'"
        )
    if rest and not (rest.isascii() and rest.isdigit()):
        raise ValueError(f"prefix {raw!r} must contain only digits (after an optional '+')")
    if rest.startswith("84"):
        # A trunk 0 written after the country code ("+84 (0) 96") is not part of the number.
        return "84" + rest[3:] if rest[2:3] == "0" else rest
    if not intl:  # pragma: no cover - every national form starts with 84 by construction
        raise ValueError(f"prefix {raw!r} is not recognised")
    return "00" + rest
