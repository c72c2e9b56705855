"""Rating engine: one call in, one :class:`RatedLine` out, with the arithmetic that produced it.

Pure and synchronous (no I/O): a :class:`Rater` is built once from :class:`~billing.tariffs.BillingConfig`
and rates any number of calls; re-rating a period after a tariff fix is the same call with a new Rater.

Rules, in the order they are applied:

1. **Plan.** ``call.account`` (or, when empty, the caller for outbound/internal calls and the dialled
   number for inbound calls) is looked up in ``billing.accounts``; otherwise ``default_plan``.
2. **Destination.** The dialled number is normalised (:func:`core.phone.tariff_key`) and the longest matching
   prefix of the plan wins. Outbound calls are rated by that destination. Inbound calls are rated only
   when the destination says ``inbound: true`` (toll-free 1800, premium 1900); any other inbound call
   and every internal call is a free line (destination ``inbound`` / ``internal``, charged to nobody).
   An answered outbound call to a number no prefix covers raises :class:`UnratableCall` rather than
   being billed 0 in silence; an unanswered one becomes a free ``unmatched`` line.
3. **Billed seconds.** ``t`` is the exact answered duration (``CDR(billsec,f)`` or timestamps, never
   the truncated ``billsec``), taken at microsecond resolution (Asterisk's own precision; finer digits
   are float noise, e.g. ``7.000000000001`` from subtracting timestamps must not bill an extra second).
   ``billed = 0`` if unanswered or ``t == 0``; ``first`` if ``t <= first``; otherwise
   ``first + ceil((t - first) / next) * next``. With 6 s + 1 s: 1 s → 6, 6 s → 6, 6.0001 s → 7, 61.2 s → 62.
4. **Band.** The band of the answer instant in Asia/Ho_Chi_Minh (UTC+7): a configured time band or
   ``peak`` (100 %); on a holiday the lower of that band's and the holiday percentage applies.
5. **Money, integers only.** Rates are integer milli-VND per minute (``R``), percentages integers (``P``).
   ``amount = round_half_up(billed × R × P / 6,000,000)`` VND (60 s × 1000 milli × 100 %), then
   ``vat = round_half_up(amount × VAT_bp / 10,000)`` and ``total = amount + vat``. Each line is rounded to
   whole VND on its own, so a statement is exactly the sum of its lines.

A :class:`RatedLine` keeps the :class:`CallToRate` it came from, so re-rating a period after a tariff
fix is ``Rater(new_config).rate_many(line.call for line in old_lines)``.

Speed (``bench/bench_rating.py``): prefixes are precompiled into a dict of 4-digit stems (one probe for
most numbers, longest-match fallback otherwise), the band of every second of the day into a 86,400-byte
table, holidays into a set of local day numbers; starts in ``VN_TZ`` or UTC (any ``datetime.timezone``)
are read field by field instead of through ``timestamp()``; lines are small tuples sharing their
:class:`Tariff`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, NamedTuple

from core.errors import TongdaiError
from core.phone import tariff_key, tariff_prefix
from core.vietnam import VN_OFFSET_SECONDS, VN_TZ

if TYPE_CHECKING:
    from billing.tariffs import BillingConfig, Destination, TariffPlan

__all__ = [
    "CallToRate",
    "Direction",
    "RatedLine",
    "Rater",
    "Tariff",
    "UnratableCall",
]

Direction = Literal["inbound", "outbound", "internal"]
_DIRECTIONS = frozenset({"inbound", "outbound", "internal"})

# Việt Nam has kept UTC+7 without daylight saving since 1975, so a fixed offset is exact for every CDR
# and lets the hot path turn a timestamp into a local second-of-day with integer arithmetic.
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

# amount = round_half_up(billed_s × milli-VND/min × percent / _DEN): 60 s/min × 1000 milli × 100 %.
_DEN = 60 * 1000 * 100


class UnratableCall(TongdaiError):
    """An answered call that no tariff covers (unknown prefix, undiallable number)."""

    error_id = "billing.unratable"

    def __init__(self, call_id: str, reason: str) -> None:
        super().__init__(f"call {call_id}: {reason}")
        self.call_id = call_id
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CallToRate:
    """What rating needs to know about one call (built by CDR ingestion).

    ``callee`` is the number as the customer dialled it (``0912345678``, ``18001090``, ``+84…``,
    ``0084…``, ``00…``). ``start`` is the tz-aware answer instant (the start of billed time; for an
    unanswered call, its start). ``answered_seconds`` is the exact answered duration in seconds.
    ``account`` is the billing account when ingestion knows it (see the module docstring for the default).
    """

    call_id: str
    direction: Direction
    caller: str
    callee: str
    start: datetime
    answered_seconds: float
    answered: bool
    account: str = ""

    def __post_init__(self) -> None:
        if self.direction not in _DIRECTIONS:
            raise ValueError(f"call {self.call_id}: direction {self.direction!r} is not one of {_DIRECTIONS}")
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError(f"call {self.call_id}: start {self.start} must be timezone-aware")
        if not (self.answered_seconds >= 0 and math.isfinite(self.answered_seconds)):
            raise ValueError(f"call {self.call_id}: answered_seconds {self.answered_seconds!r} is not >= 0")


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def _fmt_seconds(us: int) -> str:
    whole, frac = divmod(us, 1_000_000)
    return f"{whole}.{frac:06d}".rstrip("0").rstrip(".") if frac else str(whole)


def _fmt_milli(value: Decimal) -> str:
    """Milli-VND as VND: '1,090' or '763.636'."""
    vnd = (value / 1000).quantize(Decimal("0.001"))
    text = f"{vnd:,.3f}".rstrip("0").rstrip(".")
    return text


_new_line = tuple.__new__
_STEM = 4


@dataclass(frozen=True, slots=True)
class Tariff:
    """One destination of one plan, compiled for rating; every rated line points at the one it used.

    Shared by all lines of that destination (lines stay small: cheaper to build and to collect).
    ``rate_milli_per_minute`` is the base rate before any band percentage.
    """

    plan_id: str
    destination: str  # destination class key, or inbound / internal / unmatched
    label: str
    prefix: str  # canonical matched prefix; "" for the synthetic free lines
    charged_party: str  # caller | operator | none (when something is billed)
    rate_milli_per_minute: int
    first_block_seconds: int
    next_block_seconds: int
    vat_basis_points: int
    inbound: bool
    # Hot-path constants, per band index of the plan (peak, configured bands…, holiday).
    percents: tuple[int, ...]
    eff2: tuple[int, ...] = field(init=False, repr=False, compare=False)
    first_us: int = field(init=False, repr=False, compare=False)
    next_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # 2 × R × P per band: amount = (billed × eff2 + _DEN) // (2 × _DEN) is round-half-up.
        object.__setattr__(self, "eff2", tuple(2 * self.rate_milli_per_minute * p for p in self.percents))
        object.__setattr__(self, "first_us", self.first_block_seconds * 1_000_000)
        object.__setattr__(self, "next_us", self.next_block_seconds * 1_000_000)


class RatedLine(NamedTuple):
    """One rated call with everything needed to explain its price.

    A NamedTuple of few fields (the call and the tariff are shared references) because building and
    garbage-collecting lines is most of rating's cost. Money is integer VND.
    """

    call: CallToRate
    account: str  # billing account: call.account, else the caller (outbound) or dialled number (inbound)
    number: str  # callee in canonical form: 84… (Việt Nam) or 00… (abroad); "" if not a number
    tariff: Tariff
    charged_party: str  # caller | operator | none ("none" whenever nothing is billed)
    band: str  # peak, holiday or a configured band name
    band_percent: int  # percentage of the base rate applied (100 when the destination has no discounts)
    holiday: bool
    exact_us: int  # exact answered duration in microseconds
    billed_seconds: int
    blocks: int  # blocks billed, the first one included (0 when nothing is billed)
    amount: int  # VND before VAT
    vat: int
    total: int

    # Flat read access for exports and explanations.
    @property
    def call_id(self) -> str:
        return self.call.call_id

    @property
    def direction(self) -> str:
        return self.call.direction

    @property
    def caller(self) -> str:
        return self.call.caller

    @property
    def callee(self) -> str:
        return self.call.callee

    @property
    def start(self) -> datetime:
        return self.call.start

    @property
    def answered(self) -> bool:
        return self.call.answered

    @property
    def plan_id(self) -> str:
        return self.tariff.plan_id

    @property
    def destination(self) -> str:
        return self.tariff.destination

    @property
    def destination_label(self) -> str:
        return self.tariff.label

    @property
    def prefix(self) -> str:
        return self.tariff.prefix

    @property
    def rate_milli_per_minute(self) -> int:
        return self.tariff.rate_milli_per_minute

    @property
    def first_block_seconds(self) -> int:
        return self.tariff.first_block_seconds

    @property
    def next_block_seconds(self) -> int:
        return self.tariff.next_block_seconds

    @property
    def vat_basis_points(self) -> int:
        return self.tariff.vat_basis_points

    @property
    def exact_seconds(self) -> float:
        return self.exact_us / 1_000_000

    @property
    def local_start(self) -> datetime:
        """The start in Asia/Ho_Chi_Minh time."""
        return self.call.start.astimezone(VN_TZ)

    def explanation(self) -> str:
        """One line a support agent can read to a customer who disputes the charge."""
        when = self.local_start.strftime("%Y-%m-%d %H:%M:%S")
        head = f"call {self.call_id} {when} to {self.callee}: "
        if self.destination in ("inbound", "internal"):
            return head + f"{self.destination} call, {_fmt_seconds(self.exact_us)} s, not charged"
        where = f"{self.destination_label} (prefix {self.prefix})" if self.prefix else self.destination_label
        if self.billed_seconds == 0:
            why = "0 s answered" if self.answered else "unanswered"
            return head + f"{why} → 0 s billed; {where}; nothing charged"
        first, nxt = self.first_block_seconds, self.next_block_seconds
        t = _fmt_seconds(self.exact_us)
        if self.blocks == 1:
            blocks = f"{t} s → first block {first} s"
        else:
            blocks = f"{t} s → {first} s + {self.blocks - 1} × {nxt} s = {self.billed_seconds} s"
        base = Decimal(self.rate_milli_per_minute)
        band = self.band
        if self.holiday and band != "holiday":
            band += " (holiday)"
        if self.band_percent == 100:
            price = f"{band} {_fmt_milli(base)} VND/min"
        else:
            eff = base * self.band_percent / 100
            price = f"{band} {self.band_percent}% of {_fmt_milli(base)} = {_fmt_milli(eff)} VND/min"
        exact = base * self.band_percent * self.billed_seconds / _DEN
        vat_pct = Decimal(self.vat_basis_points) / 100
        payer = {
            "caller": "charged to the caller",
            "operator": "charged to the operator (the caller pays 0)",
            "none": "charged to nobody",
        }[self.charged_party]
        return (
            head
            + f"{blocks}; {where} {price} × {self.billed_seconds}/60 min = "
            + f"{exact.quantize(Decimal('0.001')).normalize():,f} → {_fmt_int(self.amount)} VND "
            + f"+ VAT {vat_pct.normalize():f}% {_fmt_int(self.vat)} = {_fmt_int(self.total)} VND, {payer}"
        )


class _Plan:
    """A tariff plan compiled for the hot path."""

    __slots__ = (
        "band_names",
        "band_of_sec",
        "holiday_map",
        "inbound",
        "internal",
        "lengths",
        "plan_id",
        "stem",
        "table",
        "unmatched",
    )

    def __init__(self, plan_id: str, plan: TariffPlan, vat_bp: int) -> None:
        self.plan_id = plan_id
        # Band 0 is peak, 1..n the configured bands, n+1 holiday.
        names = ["peak", *(b.name for b in plan.time_bands), "holiday"]
        pcts = (100, *(b.percent for b in plan.time_bands), plan.holiday_percent)
        holiday = len(names) - 1
        self.band_names = tuple(names)
        second_band = bytearray(86400)
        for i, b in enumerate(plan.time_bands, start=1):
            for a, z in b.intervals():
                second_band[a:z] = bytes([i]) * (z - a)
        # One byte per second of the day: the band lookup is a single index, no datetime work.
        self.band_of_sec = bytes(second_band)
        # On a holiday the lower percentage wins; a tie is reported as the holiday.
        self.holiday_map = tuple(holiday if pcts[holiday] <= pcts[i] else i for i in range(len(names)))

        def entry(name: str, dest: Destination | None, prefix: str) -> Tariff:
            if dest is None:  # a synthetic free line
                label = "no tariff for this number" if name == "unmatched" else f"{name} call"
                return Tariff(
                    plan_id, name, label, "", "none", 0, plan.blocks.first_seconds,
                    plan.blocks.next_seconds, vat_bp, False, tuple(100 for _ in pcts),
                )  # fmt: skip
            blocks = dest.blocks or plan.blocks
            return Tariff(
                plan_id, name, dest.label, prefix, dest.charged_party, dest.rate_milli_per_minute(),
                blocks.first_seconds, blocks.next_seconds, vat_bp, dest.inbound,
                pcts if dest.discounts else tuple(100 for _ in pcts),
            )  # fmt: skip

        self.table: dict[str, Tariff] = {}
        for name, dest in plan.destinations.items():
            for raw in dest.prefixes:
                key = tariff_prefix(raw)
                self.table[key] = entry(name, dest, key)
        # Longest first, for the general lookup: one dict probe per distinct prefix length.
        self.lengths = tuple(sorted({len(k) for k in self.table}, reverse=True))
        # Fast path: every 4-digit stem whose longest match is already decided (no configured prefix is
        # longer than 4 digits under it) maps straight to its entry, so most numbers need one probe.
        self.stem: dict[str, Tariff] = {}
        longer = {k[:_STEM] for k in self.table if len(k) > _STEM}
        for i in range(10**_STEM):
            stem = f"{i:0{_STEM}d}"
            if stem in longer:
                continue
            for n in range(_STEM, 0, -1):
                hit = self.table.get(stem[:n])
                if hit is not None:
                    self.stem[stem] = hit
                    break
        self.inbound = entry("inbound", None, "")
        self.internal = entry("internal", None, "")
        self.unmatched = entry("unmatched", None, "")


class Rater:
    """Rates calls against a :class:`~billing.tariffs.BillingConfig`; build once, reuse (thread-safe)."""

    __slots__ = ("_accounts", "_default", "_holidays", "_home", "_plans", "_shifts", "_vat2", "_vat_bp")

    def __init__(self, config: BillingConfig) -> None:
        self._plans = {pid: _Plan(pid, plan, config.vat_basis_points()) for pid, plan in config.plans.items()}
        self._default = self._plans[config.default_plan]
        self._accounts = {acct: self._plans[pid] for acct, pid in config.accounts.items()}
        self._holidays = frozenset(d.toordinal() - _EPOCH_ORDINAL for d in config.holiday_dates())
        self._home = config.home_area_code
        self._vat_bp = config.vat_basis_points()
        self._vat2 = 2 * self._vat_bp
        # Fixed-offset zone → seconds to add to (ordinal × 86400 + wall-clock seconds) to get UTC+7 epoch
        # seconds. Reading the fields is ~3× cheaper than datetime.timestamp(); only zones whose offset
        # can never change (datetime.timezone) are cached, anything else takes timestamp().
        self._shifts: dict[object, int] = {}
        for tz in (VN_TZ, UTC):
            self._shifts[tz] = self._shift_of(tz)

    @staticmethod
    def _shift_of(tz: timezone) -> int:
        offset = tz.utcoffset(None)
        return VN_OFFSET_SECONDS - int(offset.total_seconds()) - _EPOCH_ORDINAL * 86400

    def _local_seconds(self, start: datetime) -> int:
        """Epoch seconds shifted to UTC+7 (floor), for starts whose zone is not cached yet."""
        tz = start.tzinfo
        if type(tz) is timezone and len(self._shifts) < 64:
            self._shifts[tz] = self._shift_of(tz)
        return math.floor(start.timestamp()) + VN_OFFSET_SECONDS

    def rate(self, call: CallToRate) -> RatedLine:
        """Rate one call. Raises :class:`UnratableCall` for an answered outbound call with no tariff."""
        direction = call.direction
        callee = call.callee
        account = call.account or (callee if direction == "inbound" else call.caller)
        plan = self._accounts.get(account, self._default) if self._accounts else self._default
        # Inline fast path of tariff_key for the commonest form, national "0xx…" digits.
        if callee.isdigit() and callee.isascii() and callee[0] == "0" and callee[1:2] != "0":
            number = "84" + callee[1:]
        else:
            number = tariff_key(callee, self._home)
        entry = plan.stem.get(number[:4])
        if entry is None and number:
            get = plan.table.get
            for n in plan.lengths:
                entry = get(number[:n])
                if entry is not None:
                    break
        answered = call.answered
        us = round(call.answered_seconds * 1_000_000) if answered else 0
        if direction == "outbound":
            if entry is None:
                if us > 0:
                    why = f"no tariff for {callee!r}" if number else f"{callee!r} is not a number"
                    raise UnratableCall(call.call_id, f"{why} in plan {plan.plan_id!r}")
                entry = plan.unmatched
        elif direction == "inbound":
            if entry is None or not entry.inbound:
                entry = plan.inbound
        else:
            entry = plan.internal

        # Synthetic free lines (inbound, internal, unmatched) have no prefix and bill nothing.
        if us > 0 and entry.prefix:
            first_us = entry.first_us
            if us <= first_us:
                billed = entry.first_block_seconds
                blocks = 1
            else:
                nxt = entry.next_us
                extra = (us - first_us + nxt - 1) // nxt
                billed = entry.first_block_seconds + extra * entry.next_block_seconds
                blocks = extra + 1
        else:
            billed = blocks = 0

        # Local (UTC+7) epoch second → day number and second of day, integer work only.
        start = call.start
        shift = self._shifts.get(start.tzinfo)
        if shift is None:
            local = self._local_seconds(start)
        else:
            local = start.toordinal() * 86400 + start.hour * 3600 + start.minute * 60 + start.second + shift
        day = local // 86400
        band = plan.band_of_sec[local - day * 86400]
        holiday = day in self._holidays
        if holiday:
            band = plan.holiday_map[band]

        amount = (billed * entry.eff2[band] + _DEN) // (2 * _DEN)
        vat = (amount * self._vat2 + 10000) // 20000
        # tuple.__new__ skips NamedTuple's generated __new__ (a third of the cost of building a line).
        line: RatedLine = _new_line(RatedLine, (
            call, account, number, entry, entry.charged_party if billed else "none",
            plan.band_names[band], entry.percents[band], holiday,
            us, billed, blocks, amount, vat, amount + vat,
        ))  # fmt: skip
        return line

    def rate_many(
        self,
        calls: Iterable[CallToRate],
        rejects: list[tuple[CallToRate, UnratableCall]] | None = None,
    ) -> list[RatedLine]:
        """Rate many calls in order. Without ``rejects`` the first unratable call raises; with it,
        unratable calls are appended there (with the reason) and the rest are still rated."""
        rate = self.rate
        if rejects is None:
            return [rate(c) for c in calls]
        out: list[RatedLine] = []
        append = out.append
        for c in calls:
            try:
                append(rate(c))
            except UnratableCall as err:
                rejects.append((c, err))
        return out
