"""Statutory days off for any year, from the maintained ``holidays`` library.

Việt Nam's lunar holidays (Tết, the Hùng Kings' day) move every year, and the government adds
substitute days off; the library computes the lunar dates for any year (with Việt Nam's UTC+7 new
moons, which differ from China's in some years, e.g. Tết 2030 is 2 February) and carries the
substitutions it knows. Sites add their own closures and swaps on top, in config.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cache
from typing import Annotated

import holidays
from pydantic import AfterValidator


def supported_country(code: str) -> bool:
    return code in holidays.list_supported_countries()


def _known_country(v: str | None) -> str | None:
    if v is not None and not supported_country(v):
        raise ValueError(f"no public-holiday calendar for country {v!r} (an ISO code like 'VN')")
    return v


# A config field naming whose statutory days off apply (an ISO country code; None: no calendar).
HolidayCountry = Annotated[str | None, AfterValidator(_known_country)]


@cache
def statutory_days_off(country: str, year: int) -> Mapping[dt.date, str]:
    """The country's public holidays of ``year``, named in its language where the library has it."""
    cls = holidays.country_holidays(country, years=[])
    language = "vi" if "vi" in getattr(cls, "supported_languages", ()) else None
    return dict(holidays.country_holidays(country, years=year, language=language))
