"""What the demo shows while it runs: decisions/s, the outcome mix, catches per attack, false
positives and the rules that fire most."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table


@dataclass
class LiveStats:
    attack_of: dict[tuple[str, str], str]
    docs: str
    started: float = field(default_factory=time.monotonic)
    decisions: int = 0
    events: int = 0
    errors: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    caught: Counter[str] = field(default_factory=Counter)
    attacked: Counter[str] = field(default_factory=Counter)
    false_positives: int = 0
    legit: int = 0

    def record(self, checkpoint: str, event: dict[str, Any], answer: dict[str, Any]) -> None:
        self.decisions += 1
        outcome = str(answer.get("outcome"))
        stopped = outcome != "allow" or "require_online_payment" in answer.get("actions", [])
        self.outcomes[f"{checkpoint}: {outcome}"] += 1
        for reason in answer.get("reasons", []):
            self.rules[f"{checkpoint}/{reason['rule_id']}"] += 1
        attack = self._attack(event)
        if attack is None:
            self.legit += 1
            self.false_positives += stopped and checkpoint != "payment_method"
            return
        self.attacked[attack] += 1
        self.caught[attack] += stopped

    def _attack(self, event: dict[str, Any]) -> str | None:
        """As ``riskops evaluate`` attributes them: the event, its order, a price claim's
        listing, and the account for sign-ups and refunds."""
        base_id = str(event["event_id"]).split("-r")[0]
        payload = event.get("payload") or {}
        keys = [("event", base_id), ("order", str(payload.get("order_id")))]
        if event["type"] == "listing.updated":
            keys.append(("listing", str(payload.get("listing_id"))))
        if event["type"] in ("user.registered", "refund.requested", "return.requested"):
            keys.append(("user", str(event.get("user_id"))))
        for key in keys:
            found = self.attack_of.get(key)
            if found is not None and found != "cod_refusal":
                return found
        return None

    def rate(self) -> float:
        return self.decisions / max(1e-9, time.monotonic() - self.started)

    def line(self) -> str:
        mix = ", ".join(f"{k} {v}" for k, v in self.outcomes.most_common(4))
        return f"{self.decisions:,} decisions ({self.rate():.0f}/s); {mix}"


def render(stats: LiveStats) -> Group:
    head = (
        f"[bold]{stats.decisions:,}[/] decisions ({stats.rate():.0f}/s) · "
        f"{stats.events:,} other events · {stats.errors} errors · API docs {stats.docs}"
    )
    attacks = Table(title="attacks caught")
    attacks.add_column("attack")
    attacks.add_column("caught", justify="right")
    for attack, n in sorted(stats.attacked.items()):
        attacks.add_row(attack, f"{stats.caught[attack]}/{n} ({stats.caught[attack] / n:.0%})")
    fp = stats.false_positives / stats.legit if stats.legit else 0.0
    attacks.add_row(
        "[dim]legitimate, stopped[/]", f"{stats.false_positives}/{stats.legit} ({fp:.1%})"
    )
    outcomes = Table(title="outcomes")
    outcomes.add_column("checkpoint: outcome")
    outcomes.add_column("n", justify="right")
    for name, n in sorted(stats.outcomes.items()):
        outcomes.add_row(name, f"{n:,}")
    rules = Table(title="top firing rules")
    rules.add_column("rule")
    rules.add_column("hits", justify="right")
    for name, n in stats.rules.most_common(8):
        rules.add_row(name, f"{n:,}")
    return Group(Panel(head, title="riskops demo"), attacks, outcomes, rules)
