"""One decision's model part: the champion's score (``model.score`` for the rules, and a
floor under the decision score), the challenger's score in shadow, what went wrong, and the
explanation of a non-allow decision."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from riskops.core.decisions.schema import MODEL_SCORE
from riskops.services.model_serving import Score, Served, Slot

TOP_FEATURES = 5


@dataclass(slots=True)
class ModelPart:
    champion: Score | None = None
    challenger: Score | None = None
    error: str | None = None
    served: Served | None = None

    @property
    def whole_score(self) -> int:
        """The champion's score rounded half up to a whole percent (0 without one), as the
        backtest's SQL rounds it."""
        return 0 if self.champion is None else math.floor(self.champion.score + 0.5)

    @property
    def fields(self) -> tuple[str, ...]:
        return (MODEL_SCORE,) if self.champion is not None or self.error is not None else ()

    @property
    def version_label(self) -> str | None:
        return None if self.champion is None else f"{self.champion.model}:{self.champion.version}"

    def as_dict(self) -> dict[str, Any]:
        if self.champion is None:
            return {"score": None, "error": self.error}
        c = self.champion
        return {
            "name": c.model,
            "version": c.version,
            "score": c.score,
            "probability": round(c.probability, 6),
        }

    def challenger_dict(self) -> dict[str, Any] | None:
        """The challenger's shadow score, as stored with the decision."""
        if self.challenger is None:
            return None
        c = self.challenger
        return {"name": c.model, "version": c.version, "score": c.score}

    def contributions(self, fields: Mapping[str, object]) -> list[dict[str, Any]]:
        if self.served is None:
            return []
        return [
            {"feature": c.feature, "value": c.value, "contribution": c.contribution}
            for c in self.served.contributions(fields, TOP_FEATURES)
        ]


def score_models(slot: Slot | None, fields: dict[str, Any]) -> ModelPart:
    """Score the slot's champion (and challenger) on ``fields`` and put ``model.score`` in
    them (None when the champion is unavailable: a rule reading it then fails, and the fail
    mode applies). A scoring error never escapes: it is the part's ``error``."""
    if slot is None:
        return ModelPart()
    part = ModelPart(error=slot.error)
    if slot.champion is not None:
        try:
            part.champion = slot.champion.score(fields)
            part.served = slot.champion
        except Exception as exc:  # a broken model must not fail the request
            part.error = f"{slot.spec.name} {slot.champion.version} failed to score: {exc}"
    if slot.challenger is not None:
        with contextlib.suppress(Exception):  # a shadow model never affects the decision
            part.challenger = slot.challenger.score(fields)
    fields[MODEL_SCORE] = None if part.champion is None else part.champion.score
    return part


def model_reason(part: ModelPart, contributions: list[dict[str, Any]]) -> dict[str, Any]:
    """The reason entry of a model score past the policy's thresholds: its text in English
    and Chinese, and the values of its top contributing features."""
    assert part.champion is not None
    c = part.champion
    top = ", ".join(x["feature"] for x in contributions[:3] if x["contribution"] > 0)
    en = f"Model {c.model} {c.version}: {c.score:.1f} % likely bad"
    zh = f"模型 {c.model} {c.version}：风险概率 {c.score:.1f}%"
    if top:
        en += f" (mostly {top})"
        zh += f"（主要因素：{top}）"
    return {
        "rule_id": MODEL_SCORE,
        "text": {"en": en, "zh": zh},
        "values": {x["feature"]: x["value"] for x in contributions},
    }
