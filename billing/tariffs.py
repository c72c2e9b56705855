"""The ``billing:`` section of config.yaml: tariff plans, destination prefixes, billing blocks, time bands,
holidays and VAT, validated once at start-up so that rating never meets a bad tariff.

Conventions every tariff follows (they are also what a dispute explanation quotes):

* Money is VND. A rate is written in VND **per minute, before VAT**, with at most 3 decimals
  (``1090``, ``763.636``); internally it becomes an integer number of milli-VND per minute, so no float
  ever touches money (see :mod:`billing.rating` for the rounding rule).
* Billing blocks: a first block and then next blocks (Vietnamese carriers: 6 s then 1 s; Viettel's notice
  of 2025-02-05). A call is billed ``first`` seconds if it lasted at most ``first`` seconds, otherwise
  ``first + ceil((t - first) / next) * next``. The price of the billed seconds is ``rate × billed / 60``,
  so a premium 1900 number with ``first_seconds: 60, next_seconds: 60`` costs ``rate`` per started minute.
* Prefixes are written the way a customer dials them: ``096``, ``+8496``, ``8496``, ``0084 96``, ``028``,
  ``00`` (every international number), ``0086``, ``+86``, ``1800``, ``1900``. They are stored in one
  canonical key space: Vietnamese numbers as ``84`` + national significant number (``096`` → ``8496``,
  ``1800`` → ``841800``), foreign numbers as ``00`` + country code (``+86`` → ``0086``). The longest
  matching prefix wins, so ``028`` (local, Hồ Chí Minh City) can sit inside ``02`` (inter-province).
  Two prefixes that are equal after canonicalisation are an error, and so is a prefix nested inside
  another prefix of the same destination (it would change nothing).
* Quote prefixes and times in YAML: PyYAML reads ``032`` as the octal number 26, ``1800`` as a number
  and ``23:00`` as the base-60 number 1380. Such values are refused with a message saying so.
* Time bands and holidays are judged in Asia/Ho_Chi_Minh time (UTC+7, no daylight saving since 1975) at
  the moment the call was answered; a call is rated entirely in the band it started in. A band covers
  ``start`` **inclusive** to ``end`` **exclusive**; ``end`` earlier than ``start`` wraps past midnight
  (off-peak ``23:00``–``06:00`` covers 23:00:00 … 05:59:59). Time not covered by any band is ``peak``
  (100 %). On a holiday the whole local day may use ``holiday_percent``; discounts never stack: the
  lower percentage applies (on a tie the band is reported as ``holiday``).
"""

from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.holiday_calendar import HolidayCountry, statutory_days_off
from core.phone import tariff_prefix

__all__ = [
    "RESERVED_BANDS",
    "RESERVED_DESTINATIONS",
    "BillingConfig",
    "BlockRule",
    "Destination",
    "TariffPlan",
    "TimeBand",
    "default_plans",
]

ChargedParty = Literal["caller", "operator", "none"]

# Names the rater uses for lines that match no configured destination.
RESERVED_DESTINATIONS = frozenset({"inbound", "internal", "unmatched"})
RESERVED_BANDS = frozenset({"peak", "holiday"})

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_MMDD = re.compile(r"^(\d\d)-(\d\d)$")


def _reject_yaml_number(value: Any, what: str, example: str) -> Any:
    # bool is an int too; both mean the YAML author forgot quotes.
    if isinstance(value, int | float):
        raise ValueError(
            f"{what} must be a quoted string such as {example!r}; YAML read {value!r} as a number "
            "(PyYAML parses 032 as octal, 23:00 as base 60)"
        )
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BlockRule(_Model):
    """Billing blocks: ``first_seconds`` for any answered call, then blocks of ``next_seconds``."""

    first_seconds: int = Field(6, ge=1, le=3600)
    next_seconds: int = Field(1, ge=1, le=3600)


class Destination(_Model):
    """One destination class of a tariff plan (local, a mobile network, toll-free, …)."""

    label: str = Field(min_length=1, max_length=80)
    prefixes: list[str] = Field(min_length=1)
    # VND per minute before VAT, at most 3 decimals.
    rate_per_minute: Decimal = Field(ge=0, le=10_000_000)
    # Overrides the plan's blocks (e.g. 1900 premium numbers billed per started minute).
    blocks: BlockRule | None = None
    # Who pays: the caller, the operator (toll-free 1800: the number's owner pays, the caller pays 0),
    # or nobody (emergency numbers).
    charged_party: ChargedParty = "caller"
    # Whether off-peak and holiday percentages apply to this destination.
    discounts: bool = True
    # Inbound calls to these numbers are rated too (1800/1900 hotlines); other inbound calls are free.
    inbound: bool = False

    @field_validator("prefixes", mode="before")
    @classmethod
    def _prefix_strings(cls, v: Any) -> Any:
        if isinstance(v, list):
            for p in v:
                _reject_yaml_number(p, "each prefix", "096")
        return v

    @field_validator("prefixes")
    @classmethod
    def _prefix_forms(cls, v: list[str]) -> list[str]:
        for p in v:
            tariff_prefix(p)
        return v

    @field_validator("rate_per_minute")
    @classmethod
    def _milli(cls, v: Decimal) -> Decimal:
        if (v * 1000) != (v * 1000).to_integral_value():
            raise ValueError(f"rate_per_minute {v} VND has more than 3 decimals")
        return v

    @model_validator(mode="after")
    def _nobody_pays_nothing(self) -> Destination:
        if self.charged_party == "none" and self.rate_per_minute != 0:
            raise ValueError(
                f"charged_party 'none' needs rate_per_minute 0 (got {self.rate_per_minute}): "
                "an amount must have a payer"
            )
        return self

    def rate_milli_per_minute(self) -> int:
        """The rate as an integer number of milli-VND per minute."""
        return int(self.rate_per_minute * 1000)


class TimeBand(_Model):
    """A daily window (local time) in which a percentage of the destination rate applies."""

    name: str
    start: time  # inclusive
    end: time  # exclusive; earlier than start wraps past midnight
    percent: int = Field(ge=0, le=1000)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("band names are lower-case letters, digits and '_' (max 32)")
        if v in RESERVED_BANDS:
            raise ValueError(f"band name {v!r} is reserved ({', '.join(sorted(RESERVED_BANDS))})")
        return v

    @field_validator("start", "end", mode="before")
    @classmethod
    def _quoted(cls, v: Any) -> Any:
        v = _reject_yaml_number(v, "band times", "23:00")
        if isinstance(v, str) and not re.fullmatch(r"\d\d:\d\d(:\d\d)?", v):
            raise ValueError(f"band time {v!r} must be 'HH:MM' or 'HH:MM:SS' (local time)")
        return v

    @field_validator("start", "end")
    @classmethod
    def _naive(cls, v: time) -> time:
        if v.tzinfo is not None or v.microsecond:
            raise ValueError("band times are whole seconds of Asia/Ho_Chi_Minh local time, no zone")
        return v

    @model_validator(mode="after")
    def _not_empty(self) -> TimeBand:
        if self.start == self.end:
            raise ValueError(
                f"time band {self.name!r}: start and end are both {self.start}; a band must not be empty"
            )
        return self

    def intervals(self) -> list[tuple[int, int]]:
        """Covered seconds of the day as half-open ``[a, b)`` intervals (two when wrapping)."""
        a = self.start.hour * 3600 + self.start.minute * 60 + self.start.second
        b = self.end.hour * 3600 + self.end.minute * 60 + self.end.second
        return [(a, b)] if a < b else [(a, 86400), (0, b)]


def default_plans() -> dict[str, TariffPlan]:
    """A realistic standard plan for an operator whose home area is Hồ Chí Minh City (028)."""

    def d(label: str, prefixes: list[str], rate: str, **kw: Any) -> Destination:
        return Destination(label=label, prefixes=prefixes, rate_per_minute=Decimal(rate), **kw)

    destinations = {
        "local": d("Local fixed line (HCMC 028)", ["028"], "200"),
        "inter_province": d("Inter-province fixed line", ["02"], "818"),
        "viettel": d(
            "Viettel mobile",
            ["086", "096", "097", "098", "032", "033", "034", "035", "036", "037", "038", "039"],
            "1090",
        ),
        "vinaphone": d("Vinaphone mobile", ["088", "091", "094", "081", "082", "083", "084", "085"], "1090"),
        "mobifone": d("MobiFone mobile", ["089", "090", "093", "070", "076", "077", "078", "079"], "1090"),
        "vietnamobile": d("Vietnamobile mobile", ["092", "056", "058"], "1090"),
        "gmobile": d("Gmobile mobile", ["099", "059"], "1090"),
        "international": d("International", ["00"], "6000", discounts=False),
        "intl_us_canada": d("International USA/Canada", ["001"], "3900", discounts=False),
        "intl_china": d("International China", ["0086"], "3900", discounts=False),
        "intl_japan_korea": d("International Japan/Korea", ["0081", "0082"], "4500", discounts=False),
        "tollfree": d(
            "Toll-free 1800",
            ["1800"],
            "1000",
            charged_party="operator",
            discounts=False,
            inbound=True,
        ),
        "premium": d(
            "Premium 1900",
            ["1900"],
            "2000",
            blocks=BlockRule(first_seconds=60, next_seconds=60),
            discounts=False,
            inbound=True,
        ),
        "emergency": d(
            "Emergency (112-115)", ["112", "113", "114", "115"], "0", charged_party="none", discounts=False
        ),
    }
    offpeak = TimeBand(name="offpeak", start=time(23, 0), end=time(6, 0), percent=70)
    return {
        "standard": TariffPlan(
            label="Standard", destinations=destinations, time_bands=[offpeak], holiday_percent=70
        )
    }


class TariffPlan(_Model):
    """A complete tariff: destinations by prefix, billing blocks, time bands and the holiday rate."""

    label: str = Field(min_length=1, max_length=80)
    blocks: BlockRule = BlockRule()
    destinations: dict[str, Destination] = Field(min_length=1)
    time_bands: list[TimeBand] = []
    holiday_percent: int = Field(100, ge=0, le=1000)

    @model_validator(mode="after")
    def _consistent(self) -> TariffPlan:
        problems: list[str] = []
        owner: dict[str, tuple[str, str]] = {}  # canonical prefix → (destination, as written)
        for name, dest in self.destinations.items():
            if not _NAME.match(name):
                problems.append(f"destinations.{name}: names are lower-case letters, digits and '_' (max 32)")
            if name in RESERVED_DESTINATIONS:
                problems.append(f"destinations.{name}: the name {name!r} is reserved for unrated lines")
            for raw in dest.prefixes:
                key = tariff_prefix(raw)
                if key in owner:
                    other, other_raw = owner[key]
                    problems.append(
                        f"destinations.{name}.prefixes: {raw!r} duplicates {other_raw!r} of "
                        f"destinations.{other} (both are {key})"
                    )
                else:
                    owner[key] = (name, raw)
        # A prefix nested in another prefix of the same destination changes nothing: almost surely a typo.
        for key, (name, raw) in owner.items():
            for cut in range(1, len(key)):
                parent = owner.get(key[:cut])
                if parent is not None and parent[0] == name:
                    problems.append(
                        f"destinations.{name}.prefixes: {raw!r} is already covered by {parent[1]!r} "
                        "of the same destination"
                    )
                    break
        seen: dict[str, int] = {}
        for i, band in enumerate(self.time_bands):
            if band.name in seen:
                problems.append(f"time_bands.{i}.name: {band.name!r} is already time_bands.{seen[band.name]}")
            seen.setdefault(band.name, i)
            for j in range(i):
                prev = self.time_bands[j]
                if any(a < d and c < b for a, b in band.intervals() for c, d in prev.intervals()):
                    problems.append(
                        f"time_bands.{i}: {band.name!r} ({band.start}-{band.end}) overlaps "
                        f"time_bands.{j} {prev.name!r} ({prev.start}-{prev.end})"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class BillingConfig(_Model):
    """The ``billing:`` section of config.yaml. ``BillingConfig()`` is a valid Vietnamese default."""

    currency: Literal["VND"] = "VND"
    # VAT on telecom services: 10 % (at most 4 decimals, e.g. 0.08).
    vat_rate: Decimal = Field(Decimal("0.10"), ge=0, le=1)
    # Area code of the operator's own fixed lines, without the trunk 0 ("28" HCMC, "24" Hà Nội,
    # "236" Đà Nẵng); a 7-8 digit number dialled without an area code is a local number of this area.
    home_area_code: str = "28"
    default_plan: str = "standard"
    plans: dict[str, TariffPlan] = Field(default_factory=default_plans, min_length=1)
    # Billing account (or caller number) → plan id; anything else uses default_plan.
    accounts: dict[str, str] = {}
    # Whose statutory days off get the holiday rate (ISO code; null: only the dates below). Computed
    # for any year by the `holidays` library, lunar Tết and the Hùng Kings' day included.
    country: HolidayCountry = "VN"
    # Extra holiday-rate days: a tariff's own promotions, a day off the library does not know yet.
    holidays: list[date] = []
    # Extra days on the same date every year, "MM-DD".
    recurring_holidays: list[str] = []
    # Statutory days off billed at the normal rate anyway.
    working_days: list[date] = []

    @field_validator("vat_rate")
    @classmethod
    def _vat(cls, v: Decimal) -> Decimal:
        if (v * 10000) != (v * 10000).to_integral_value():
            raise ValueError(f"vat_rate {v} has more than 4 decimals (write 0.10 for 10 %)")
        return v

    @field_validator("home_area_code", mode="before")
    @classmethod
    def _area_quoted(cls, v: Any) -> Any:
        return _reject_yaml_number(v, "home_area_code", "28")

    @field_validator("home_area_code")
    @classmethod
    def _area(cls, v: str) -> str:
        if not re.fullmatch(r"2\d{1,2}", v):
            raise ValueError(f"home_area_code {v!r} must be an area code without the trunk 0: '28', '236'")
        return v

    @field_validator("recurring_holidays")
    @classmethod
    def _mmdd(cls, v: list[str]) -> list[str]:
        for i, s in enumerate(v):
            m = _MMDD.match(s)
            try:
                if m is None:
                    raise ValueError
                date(2024, int(m[1]), int(m[2]))  # a leap year, so 02-29 is accepted
            except ValueError:
                raise ValueError(f"recurring_holidays.{i}: {s!r} is not a 'MM-DD' day") from None
        return v

    @model_validator(mode="after")
    def _references(self) -> BillingConfig:
        problems: list[str] = []
        if self.default_plan not in self.plans:
            problems.append(f"default_plan: {self.default_plan!r} is not a plan in 'plans'")
        for account, plan in self.accounts.items():
            if plan not in self.plans:
                problems.append(f"accounts.{account}: {plan!r} is not a plan in 'plans'")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def vat_basis_points(self) -> int:
        """VAT rate in hundredths of a percent (10 % → 1000)."""
        return int(self.vat_rate * 10000)

    def holiday_dates(self, first_year: int = 2000, last_year: int = 2100) -> set[date]:
        """Every holiday-rate day in the given years: the country's statutory days off, ``holidays``
        and ``recurring_holidays``, less ``working_days``."""
        out = set(self.holidays)
        if self.country is not None:
            for year in range(first_year, last_year + 1):
                out.update(statutory_days_off(self.country, year))
        for s in self.recurring_holidays:
            month, day = int(s[:2]), int(s[3:])
            for year in range(first_year, last_year + 1):
                try:
                    out.add(date(year, month, day))
                except ValueError:  # 02-29 outside leap years
                    continue
        return out - set(self.working_days)
