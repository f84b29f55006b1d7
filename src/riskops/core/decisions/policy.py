"""The risk policy: how much risk each market accepts, and what the score means for the outcome
(pure).

.. code-block:: yaml

    tolerance: {launch: 0.07, growth: 0.05, mature: 0.03}   # accepted loss rate per phase
    markets: {ID: launch, TH: growth, SG: mature}            # phase of each market
    default_phase: growth
    bands: {challenge: 1, review: 4, deny: 12}               # multiples of the tolerance
    cod_switch: true          # payment_method: a risky COD order is allowed, online payment only
    fail_mode: {default: open, payment_method: closed}
    calibrated:               # optional: thresholds set from labelled history
      payment_method:         # per checkpoint, then market
        TH: {challenge: 4.5, review: 18, deny: 54}

The decision score (0-100) reads as the estimated chance, in percent, that the event turns out
bad. A market with tolerance ``t`` challenges from ``100·t·bands.challenge`` on, reviews from
``100·t·bands.review`` and denies from ``100·t·bands.deny``: with the defaults, a market in
growth (5 %) challenges from 5, reviews from 20 and denies from 60; one at launch (7 %) only
from 7, 28 and 84. The outcome is the more severe of the rules' and the score's.

A checkpoint and market under ``calibrated`` use those thresholds instead (``riskops
calibrate`` writes them for its model's checkpoint: review from the cut that keeps the loss
rate within the tolerance on labelled history, challenge and deny at the bands' ratios to
review); every other checkpoint of that market, and every other market, keeps the bands. A
model scores one checkpoint, so its calibration says nothing about the others.

At the ``payment_method`` checkpoint with ``cod_switch``, an order paying cash on delivery whose
outcome would be review or deny is allowed instead, with ``require_online_payment``: the
platform keeps the sale and drops the risk of a refused parcel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from riskops.core.decisions.ruleset import OUTCOMES
from riskops.core.decisions.schema import CHECKPOINTS

PHASES = ("launch", "growth", "mature")
FAIL_MODES = ("open", "closed")
BANDS = ("challenge", "review", "deny")
KEYS = ("tolerance", "markets", "default_phase", "bands", "cod_switch", "fail_mode", "calibrated")


@dataclass(frozen=True, slots=True)
class Policy:
    tolerance: Mapping[str, float] = field(
        default_factory=lambda: {"launch": 0.07, "growth": 0.05, "mature": 0.03}
    )
    markets: Mapping[str, str] = field(default_factory=dict)
    default_phase: str = "growth"
    bands: Mapping[str, float] = field(
        default_factory=lambda: {"challenge": 1.0, "review": 4.0, "deny": 12.0}
    )
    cod_switch: bool = True
    fail_mode: Mapping[str, str] = field(default_factory=lambda: {"default": "open"})
    calibrated: Mapping[str, Mapping[str, Mapping[str, float]]] = field(default_factory=dict)
    """Per checkpoint, then market: the challenge / review / deny thresholds that replace the
    bands' at that checkpoint in that market."""

    def phase(self, market: str) -> str:
        return self.markets.get(market, self.default_phase)

    def thresholds(self, market: str, checkpoint: str | None = None) -> dict[str, float]:
        """Score from which each outcome applies in ``market`` at ``checkpoint``: the
        thresholds calibrated for both, else (also without a checkpoint) the bands times the
        tolerance of the market's phase."""
        calibrated = self.calibrated.get(checkpoint, {}).get(market) if checkpoint else None
        if calibrated is not None:
            return {band: float(calibrated[band]) for band in BANDS}
        t = self.tolerance[self.phase(market)] * 100
        return {band: round(t * k, 4) for band, k in self.bands.items()}

    def is_calibrated(self, market: str, checkpoint: str) -> bool:
        """Whether ``market`` has calibrated thresholds at ``checkpoint``."""
        return market in self.calibrated.get(checkpoint, {})

    def calibrated_markets(self) -> set[str]:
        """The markets with calibrated thresholds at some checkpoint."""
        return {market for markets in self.calibrated.values() for market in markets}

    def fail_mode_for(self, checkpoint: str) -> str:
        return self.fail_mode.get(checkpoint, self.fail_mode.get("default", "open"))


@dataclass(frozen=True, slots=True)
class Applied:
    outcome: str
    actions: list[str]
    phase: str
    thresholds: dict[str, float]
    note: str | None = None


def score_outcome(policy: Policy, market: str, score: int, checkpoint: str | None = None) -> str:
    """The outcome ``score`` alone gives in ``market`` at ``checkpoint`` (see
    :meth:`Policy.thresholds`: without a checkpoint, the bands')."""
    found = "allow"
    for band, at in policy.thresholds(market, checkpoint).items():
        if score >= at and OUTCOMES.index(band) > OUTCOMES.index(found):
            found = band
    return found


def apply_policy(
    policy: Policy,
    checkpoint: str,
    market: str,
    payment_method: str | None,
    rule_outcome: str,
    score: int,
    actions: list[str],
) -> Applied:
    """The final outcome and actions of a decision under ``policy``."""
    by_score = score_outcome(policy, market, score, checkpoint)
    outcome = max(rule_outcome, by_score, key=OUTCOMES.index)
    out_actions = list(actions)
    note = None
    if (
        checkpoint == "payment_method"
        and policy.cod_switch
        and payment_method == "cod"
        and outcome in ("review", "deny")
    ):
        note = f"cash on delivery switched to online payment (was {outcome})"
        outcome = "allow"
        out_actions = [a for a in out_actions if a not in ("block", "hold_for_review")]
        if "require_online_payment" not in out_actions:
            out_actions.insert(0, "require_online_payment")
    thresholds = policy.thresholds(market, checkpoint)
    return Applied(outcome, out_actions, policy.phase(market), thresholds, note)


class InvalidPolicy(ValueError):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{w}: {r}" for w, r in problems))
        self.problems = problems


def load_policy(text: str) -> Policy:
    """A policy from YAML (InvalidPolicy naming every problem); omitted keys take defaults."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise InvalidPolicy([("file", "not valid YAML")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidPolicy([("file", "a mapping of policy settings")])
    problems: list[tuple[str, str]] = []
    base = Policy()
    problems += [(str(k), "unknown key") for k in data if k not in KEYS]
    tolerance = _mapping(data, "tolerance", base.tolerance, problems)
    for phase, value in tolerance.items():
        if phase not in PHASES:
            problems.append((f"tolerance.{phase}", f"phases are {', '.join(PHASES)}"))
        elif not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value < 1:
            problems.append((f"tolerance.{phase}", "a rate between 0 and 1, e.g. 0.05"))
    tolerance = {**base.tolerance, **tolerance}
    markets = _mapping(data, "markets", {}, problems)
    for market, phase in markets.items():
        if not (isinstance(market, str) and len(market) == 2 and market.isupper()):
            problems.append((f"markets.{market}", "a two-letter country code, e.g. ID"))
        if phase not in PHASES:
            problems.append((f"markets.{market}", f"phases are {', '.join(PHASES)}"))
    default_phase = data.get("default_phase", base.default_phase)
    if default_phase not in PHASES:
        problems.append(("default_phase", f"phases are {', '.join(PHASES)}"))
    bands = {**base.bands, **_mapping(data, "bands", {}, problems)}
    if set(bands) != {"challenge", "review", "deny"} or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in bands.values()
    ):
        problems.append(("bands", "challenge, review and deny: positive multiples"))
    elif not bands["challenge"] <= bands["review"] <= bands["deny"]:
        problems.append(("bands", "challenge <= review <= deny"))
    cod_switch = data.get("cod_switch", base.cod_switch)
    if not isinstance(cod_switch, bool):
        problems.append(("cod_switch", "true or false"))
    fail_mode = {**base.fail_mode, **_mapping(data, "fail_mode", {}, problems)}
    for where, mode in fail_mode.items():
        if where != "default" and where not in CHECKPOINTS:
            problems.append((f"fail_mode.{where}", "default or a checkpoint"))
        if mode not in FAIL_MODES:
            problems.append((f"fail_mode.{where}", "open or closed"))
    calibrated = _calibrated(_mapping(data, "calibrated", {}, problems), problems)
    if problems:
        raise InvalidPolicy(problems)
    return Policy(tolerance, markets, default_phase, bands, cod_switch, fail_mode, calibrated)


def dump_policy(policy: Policy, header: str = "") -> str:
    """The policy as YAML that :func:`load_policy` reads back to an equal policy; ``header``
    becomes comment lines on top."""
    data: dict[str, Any] = {
        "tolerance": dict(policy.tolerance),
        "markets": dict(policy.markets),
        "default_phase": policy.default_phase,
        "bands": dict(policy.bands),
        "cod_switch": policy.cod_switch,
        "fail_mode": dict(policy.fail_mode),
    }
    if policy.calibrated:
        data["calibrated"] = {
            checkpoint: {
                market: {band: markets[market][band] for band in BANDS}
                for market in sorted(markets)
            }
            for checkpoint, markets in sorted(policy.calibrated.items(), key=_checkpoint_order)
        }
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _checkpoint_order(item: tuple[str, Any]) -> tuple[int, str]:
    names = list(CHECKPOINTS)
    return (names.index(item[0]) if item[0] in names else len(names), item[0])


def _calibrated(
    found: Mapping[Any, Any], problems: list[tuple[str, str]]
) -> dict[str, dict[str, dict[str, float]]]:
    """``calibrated``: checkpoint → market → thresholds; each problem named by its key path."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for checkpoint, markets in found.items():
        where = f"calibrated.{checkpoint}"
        if checkpoint not in CHECKPOINTS:
            problems.append((where, _not_a_checkpoint(checkpoint)))
        elif not isinstance(markets, Mapping):
            problems.append((where, "a mapping of markets to their thresholds"))
        else:
            out[checkpoint] = {}
            for market, thresholds in markets.items():
                found_thresholds = _market_thresholds(f"{where}.{market}", market, thresholds)
                if isinstance(found_thresholds, list):
                    problems += found_thresholds
                else:
                    out[checkpoint][market] = found_thresholds
    return out


def _not_a_checkpoint(key: Any) -> str:
    reason = f"not a checkpoint (use {', '.join(CHECKPOINTS)})"
    if isinstance(key, str) and len(key) == 2 and key.isupper():
        # the shape before thresholds were per checkpoint: calibrated.<market>
        reason += f"; thresholds are keyed by checkpoint, then market: calibrated.order.{key}"
    return reason


def _market_thresholds(
    where: str, market: Any, thresholds: Any
) -> dict[str, float] | list[tuple[str, str]]:
    """One market's calibrated thresholds, or the problems with them."""
    if not (isinstance(market, str) and len(market) == 2 and market.isupper()):
        return [(where, "a two-letter country code, e.g. ID")]
    if not isinstance(thresholds, Mapping):
        return [(where, "a mapping of challenge, review and deny (scores)")]
    problems = [
        (f"{where}.{key}", "unknown key (challenge, review and deny)")
        for key in thresholds
        if key not in BANDS
    ]
    for band in BANDS:
        value = thresholds.get(band)
        if band not in thresholds:
            problems.append((f"{where}.{band}", "missing: a score above 0, at most 100"))
        elif not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 100:
            problems.append((f"{where}.{band}", "a score above 0, at most 100"))
    if problems:
        return problems
    values = [float(thresholds[band]) for band in BANDS]
    if not values[0] <= values[1] <= values[2]:
        return [(where, "challenge <= review <= deny")]
    return dict(zip(BANDS, values, strict=True))


def _mapping(
    data: Mapping[str, Any], key: str, default: Mapping[str, Any], problems: list[tuple[str, str]]
) -> dict[str, Any]:
    value = data.get(key, default)
    if not isinstance(value, Mapping):
        problems.append((key, "a mapping"))
        return dict(default)
    return dict(value)
