"""``tongdai acd simulate``: run a simulated day against the routing policies and print per-tier results.

By default both policies (strict priority and the project's aging policy) run on the same generated
calls, and the table shows them side by side per tier: service level against the tier's target, ASA,
abandonment and worst wait. Tier targets come from the ``acd:`` section of a config file when one is
given (``--config``), else from the defaults in :mod:`acd.policy`.

Examples::

    tongdai acd simulate                              # 8 h, 50 agents at 95 % offered load
    tongdai acd simulate --rate vip=60 --rate standard=900 --agents 60 --patience 240
    tongdai acd simulate --rate standard=400,600,900,900,600 --hours 2.5   # half-hourly profile
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

import yaml
from pydantic import ValidationError

from acd.policy import AcdPolicy, AcdPolicyConfig
from acd.routing_sim import MixSpec, compare_routing, format_routing
from acd.simulator import CallStream, Scenario, SimResult, generate_calls, simulate, staff

# Share of the offered load per tier when only --load is given (a hotline where most callers are
# standard subscribers).
DEFAULT_MIX: Mapping[str, float] = {"vip": 0.15, "gold": 0.25, "standard": 0.60}


def _parse_pairs(values: Sequence[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        tier, sep, rest = v.partition("=")
        if not sep or not tier or not rest:
            raise ValueError(f"{what} must look like TIER=VALUE, got {v!r}")
        out[tier.strip()] = rest.strip()
    return out


def _number(text: str, what: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a number") from None
    if math.isnan(x) or x < 0:
        raise ValueError(f"{what}: {text!r} must be a non-negative number")
    return x


def _rate(text: str, tier: str) -> float | tuple[float, ...]:
    parts = [_number(p, f"rate of {tier}") for p in text.split(",")]
    return parts[0] if len(parts) == 1 else tuple(parts)


def _patience(text: str, tier: str) -> float | None:
    if text.lower() in {"inf", "none", "never"}:
        return None
    p = _number(text, f"patience of {tier}")
    if p <= 0:
        raise ValueError(f"patience of {tier} must be positive (or 'inf')")
    return p


def build_scenario(
    *,
    tiers: Sequence[str],
    rates: Mapping[str, float | tuple[float, ...]],
    patience: Mapping[str, float | None],
    agents: int,
    hours: float,
    aht: float,
    service: str = "exponential",
    service_cv: float = 1.0,
    seed: int = 1,
    warmup_seconds: float = 0.0,
) -> Scenario:
    """One pool of ``agents`` serving every tier (one skill), with Poisson arrivals per tier."""
    order = [t for t in tiers if t in rates] + [t for t in rates if t not in tiers]
    streams = tuple(CallStream(t, rates[t], mean_patience=patience.get(t)) for t in order)
    if service not in ("exponential", "lognormal"):
        raise ValueError(f"unknown service distribution {service!r}")
    return Scenario(
        streams=streams,
        agents=staff(agents),
        hours=hours,
        aht=aht,
        service="lognormal" if service == "lognormal" else "exponential",
        service_cv=service_cv,
        seed=seed,
        warmup_seconds=warmup_seconds,
    )


def compare(scenario: Scenario, policies: Sequence[AcdPolicy]) -> list[SimResult]:
    """Run each policy on the very same calls (generated once)."""
    calls = generate_calls(scenario)
    return [simulate(scenario, p, calls) for p in policies]


def _fmt_wait(x: float) -> str:
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def format_comparison(results: Sequence[SimResult]) -> str:
    """A per-tier table, one column group per policy: SL (✓ when the target is met), ASA, abandon %,
    p95 and worst wait, in seconds."""
    if not results:
        return ""
    group = f"{'SL':>9} {'ASA':>6} {'aband':>6} {'p95':>6} {'worst':>6}"
    head1 = f"{'':<10} {'target':<13} {'offered':>7}" + "".join(
        f" │ {r.policy:^{len(group)}}" for r in results
    )
    head2 = f"{'tier':<10} {'':<13} {'':>7}" + f" │ {group}" * len(results)
    lines = [head1, head2, "─" * len(head2)]
    first = results[0]
    for name in [*first.tiers, "all"]:
        stats0 = first.overall if name == "all" else first.tiers[name]
        target = (
            "own targets" if name == "all" else f"{stats0.target_ratio:.0%} in {stats0.target_seconds:g} s"
        )
        row = f"{name:<10} {target:<13} {stats0.offered:>7}"
        for r in results:
            s = r.overall if name == "all" else r.tiers[name]
            if not s.offered:
                row += f" │ {'—':>8} {'—':>6} {'—':>6} {'—':>6} {'—':>6}"
                continue
            mark = " " if name == "all" else ("✓" if s.meets_target else "✗")
            row += (
                f" │ {s.service_level:>7.1%}{mark} {_fmt_wait(s.asa):>6} {s.abandon_rate:>6.1%}"
                f" {_fmt_wait(s.p95_wait):>6} {_fmt_wait(s.worst_wait):>6}"
            )
        lines.append(row)
    lines.append("occupancy  " + "   ".join(f"{r.policy}: {r.occupancy:.1%}" for r in results))
    return "\n".join(lines)


def load_policy_config(path: Path) -> AcdPolicyConfig:
    """The ``acd:`` section of a config.yaml (or a file holding only that section)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    section = data.get("acd", {}) if "acd" in data or "hotline" in data else data
    return AcdPolicyConfig.model_validate(section)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tongdai acd simulate",
        description="Simulate a day of calls and compare strict priority with the aging policy.",
    )
    p.add_argument("--hours", type=float, default=8.0, help="length of the day, hours (default 8)")
    p.add_argument("--agents", type=int, default=50, help="agents on shift all day (default 50)")
    p.add_argument("--aht", type=float, default=180.0, help="mean handling time, seconds (default 180)")
    p.add_argument(
        "--service", choices=("exponential", "lognormal"), default="exponential", help="service times"
    )
    p.add_argument("--service-cv", type=float, default=1.0, help="lognormal coefficient of variation")
    p.add_argument(
        "--load",
        type=float,
        default=0.95,
        help="offered load per agent when no --rate is given, split vip 15%% / gold 25%% / standard 60%%",
    )
    p.add_argument(
        "--rate",
        action="append",
        default=[],
        metavar="TIER=CALLS_PER_HOUR[,...]",
        help="arrival rate of a tier; several comma-separated values = one per half hour (repeatable)",
    )
    p.add_argument(
        "--patience",
        action="append",
        default=[],
        metavar="[TIER=]SECONDS|inf",
        help="mean (exponential) patience before hanging up; 'inf' = never (default inf)",
    )
    p.add_argument("--warmup", type=float, default=0.0, help="seconds at the start not counted")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--policy", choices=("strict", "aging", "both"), default="both")
    p.add_argument("--config", type=Path, help="config.yaml whose acd: section gives tiers and aging knobs")
    p.add_argument(
        "--routing",
        action="store_true",
        help="skills, VIP desk, sticky agent, overflow (acd/routing_sim.py): strict vs configured per tier",
    )
    return p


def main(
    argv: list[str] | None = None,
    *,
    policy_config: AcdPolicyConfig | None = None,
    out: TextIO | None = None,
) -> int:
    """Entry point of ``tongdai acd simulate``; returns the process exit status.

    ``policy_config`` lets the caller pass an already loaded ``acd:`` section (``--config`` wins)."""
    stdout = out if out is not None else sys.stdout
    args = _parser().parse_args(argv)
    try:
        cfg = load_policy_config(args.config) if args.config else (policy_config or AcdPolicyConfig())
        tiers = [t.name for t in cfg.tiers]
        if args.agents < 1 or not args.hours > 0 or not args.aht > 0 or not args.load >= 0:
            raise ValueError("--agents, --hours and --aht must be positive, --load non-negative")
        if args.rate:
            rates = {t: _rate(v, t) for t, v in _parse_pairs(args.rate, "--rate").items()}
        else:
            per_hour = args.load * args.agents * 3600.0 / args.aht
            mix = {t: DEFAULT_MIX[t] for t in tiers if t in DEFAULT_MIX} or {tiers[-1]: 1.0}
            total = sum(mix.values())
            rates = {t: per_hour * share / total for t, share in mix.items()}
        patience: dict[str, float | None] = dict.fromkeys([*tiers, *rates])
        for item in args.patience:
            if "=" in item:
                patience.update({t: _patience(v, t) for t, v in _parse_pairs([item], "--patience").items()})
            else:
                patience = dict.fromkeys(patience, _patience(item, "all tiers"))
        scenario = build_scenario(
            tiers=tiers,
            rates=rates,
            patience=patience,
            agents=args.agents,
            hours=args.hours,
            aht=args.aht,
            service=args.service,
            service_cv=args.service_cv,
            seed=args.seed,
            warmup_seconds=args.warmup,
        )
    except (ValueError, OSError, yaml.YAMLError, ValidationError) as err:
        print(f"tongdai acd simulate: {err}", file=sys.stderr)
        return 2
    if args.routing:
        spec = MixSpec(
            agents=args.agents, occupancy=args.load, hours=args.hours, aht=args.aht, seed=args.seed
        )
        print(format_routing(compare_routing(spec, cfg.to_strict(), cfg.to_policy())), file=stdout)
        return 0
    policies: list[AcdPolicy] = []
    if args.policy in ("strict", "both"):
        policies.append(cfg.to_strict())
    if args.policy in ("aging", "both"):
        policies.append(cfg.to_policy())
    results = compare(scenario, policies)
    calls = results[0].overall.offered
    print(
        f"{args.hours:g} h, {args.agents} agents, AHT {args.aht:g} s ({args.service}), "
        f"{calls} calls, seed {args.seed}; SL = answered within target ÷ offered; waits in seconds",
        file=stdout,
    )
    print(format_comparison(results), file=stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
