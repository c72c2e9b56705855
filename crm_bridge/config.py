"""The ``crm:`` section of config.yaml: tier rules, care cards, loyalty ranks, cache and external CRM.

Every field has a default so ``CrmConfig()`` is valid; the defaults are VNPT's published customer-care
policy (thresholds in VND per month, before VAT). See :mod:`crm_bridge.tiering` for how they apply.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from core.customer_id import DEFAULT_PATTERN, CustomerIdFormat, KeypadPrefix
from crm_bridge.import_fields import ImportLimits

Tier = Literal["large", "sme", "other", "standard"]
CareCard = Literal["red", "yellow", "green", "none"]
TIERS: tuple[Tier, ...] = ("large", "sme", "other", "standard")
DEFAULT_CARE_CARDS: dict[Tier, CareCard] = {
    "large": "red",
    "sme": "yellow",
    "other": "green",
    "standard": "none",
}


class LoyaltyRank(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    min_points: int = Field(ge=0)


class TierRules(BaseModel):
    """Thresholds and window of the tier decision (VNPT defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # "Monthly" = the average over the last ``months`` complete calendar months before today; a month
    # without a bill counts as 0 (a customer who paid nothing that month earned nothing).
    months: int = Field(3, ge=1, le=24)
    large_min_vnd: int = Field(1_000_000, ge=0)
    sme_min_vnd: int = Field(400_000, ge=0)
    # "other": average per subscription per month, by service group, upper bound exclusive.
    fixed_like_min_vnd: int = Field(100_000, ge=0)  # fixed line, Gphone, internet
    postpaid_min_vnd: int = Field(200_000, ge=0)
    other_max_vnd: int = Field(400_000, ge=0)
    # Other carriers' VoIP prefixes billed on our lines; their revenue is not ours and is excluded.
    voip_prefixes: tuple[str, ...] = ("171", "177", "178", "179")
    care_cards: dict[Tier, CareCard] = Field(default_factory=lambda: dict(DEFAULT_CARE_CARDS))
    # Ranks by accrued points, lowest first; illustrative defaults, operators set their own programme.
    loyalty_ranks: tuple[LoyaltyRank, ...] = (
        LoyaltyRank(name="member", min_points=0),
        LoyaltyRank(name="silver", min_points=1_000),
        LoyaltyRank(name="titan", min_points=4_000),
        LoyaltyRank(name="gold", min_points=10_000),
        LoyaltyRank(name="diamond", min_points=20_000),
    )

    @model_validator(mode="after")
    def _consistent(self) -> TierRules:
        if not self.sme_min_vnd <= self.large_min_vnd:
            raise ValueError("sme_min_vnd must not exceed large_min_vnd")
        if max(self.fixed_like_min_vnd, self.postpaid_min_vnd) > self.other_max_vnd:
            raise ValueError("the 'other' bands must start below other_max_vnd")
        missing = set(TIERS) - set(self.care_cards)
        if missing:
            raise ValueError(f"care_cards lacks tiers: {sorted(missing)}")
        points = [r.min_points for r in self.loyalty_ranks]
        if points != sorted(points) or len(set(points)) != len(points):
            raise ValueError("loyalty_ranks must be listed by strictly increasing min_points")
        return self


class CacheConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    ttl_seconds: int = Field(300, ge=1)
    # Unknown callers are cached briefly so a storm from one number does not hit the database.
    negative_ttl_seconds: int = Field(30, ge=0)
    key_prefix: str = "tongdai:crm:"
    # Without Redis (one node) profiles are cached in process: short-lived, so changes made by other
    # processes (a CSV import) show within this time; bounded in size.
    memory_ttl_seconds: int = Field(60, ge=1, le=3600)
    memory_max_profiles: int = Field(50_000, ge=100)


class ExternalCrmConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    base_url: HttpUrl | None = None
    # Hard ceiling on how long a ringing call may wait for the external CRM.
    timeout_seconds: float = Field(0.3, gt=0, le=5)

    @model_validator(mode="after")
    def _url_when_enabled(self) -> ExternalCrmConfig:
        if self.enabled and self.base_url is None:
            raise ValueError("base_url is required when the external CRM is enabled")
        return self


class KeypadPrefixConfig(BaseModel):
    """One way a caller keys an ID: the letters ``prefix`` are implied, the digits keyed (``1#``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prefix: str = Field(pattern=r"^[A-Z]{1,8}$")
    digits: int = Field(ge=1, le=20)  # keys are zero-padded to this many digits


class CustomerIdConfig(BaseModel):
    """``crm.customer_id``: what customer IDs look like (see :mod:`core.customer_id`).

    ``pattern`` is a regular expression an ID must match in full, after upper-casing: the importer
    refuses others, desktop and API search treat text that matches it as an ID. ``keypad`` lists how a
    caller keys an ID on the phone: digits only, the prefix implied, each entry tried in order.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = DEFAULT_PATTERN
    keypad: tuple[KeypadPrefixConfig, ...] = (KeypadPrefixConfig(prefix="KH", digits=10),)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as err:
            raise ValueError(f"not a regular expression: {err}") from err
        return v

    @model_validator(mode="after")
    def _keypad_fits(self) -> CustomerIdConfig:
        self.format()  # raises ValueError when a keypad prefix makes IDs the pattern refuses
        return self

    def format(self) -> CustomerIdFormat:
        """The rule every package applies."""
        return CustomerIdFormat(self.pattern, tuple(KeypadPrefix(k.prefix, k.digits) for k in self.keypad))


class CsvImportConfig(BaseModel):
    """Bounds of ``tongdai crm import``: a file is read and checked whole before anything is written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # 1 GiB: millions of rows of a few hundred bytes; the rows are held in memory while checked.
    max_file_mb: int = Field(1024, ge=1, le=65536)
    # 16 KiB: a hundred times the longest address or number list a row holds.
    max_field_chars: int = Field(16_384, ge=256, le=10_000_000)

    def limits(self) -> ImportLimits:
        return ImportLimits(
            max_file_bytes=self.max_file_mb * 1024 * 1024, max_field_chars=self.max_field_chars
        )


class CrmConfig(BaseModel):
    """config.yaml section ``crm:``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tiers: TierRules = Field(default_factory=TierRules)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    external: ExternalCrmConfig = Field(default_factory=ExternalCrmConfig)
    recent_interactions: int = Field(5, ge=0, le=100)
    customer_id: CustomerIdConfig = Field(default_factory=CustomerIdConfig)
    csv_import: CsvImportConfig = Field(default_factory=CsvImportConfig)
