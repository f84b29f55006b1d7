"""The risk policy's versions (stored like rulesets, under the name ``policy``): push, activate,
read, and the active policy every process uses, reloaded when another process activates a
version; and calibrated thresholds (per checkpoint and market) written as a new version of the
active policy. Every change is audited."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from riskops.core.decisions.policy import InvalidPolicy, Policy, dump_policy, load_policy
from riskops.core.decisions.schema import CHECKPOINTS
from riskops.core.events.envelope import to_us
from riskops.errors import Conflict, NotFound, Problem, ValidationFailed
from riskops.services.clock import Clock
from riskops.stores.base import Store
from riskops.stores.decision_base import AuditEntry, RulesetVersion, VersionExists

NAME = "policy"


def compile_policy(text: str) -> Policy:
    try:
        return load_policy(text)
    except InvalidPolicy as exc:
        raise ValidationFailed("invalid policy", [Problem(w, r) for w, r in exc.problems]) from None


class PolicyService:
    def __init__(
        self, store: Store, clock: Clock, reload_s: float = 1.0, default: Policy | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._reload_s = reload_s
        self._default = default or Policy()
        self._lock = threading.Lock()
        self._active: tuple[int | None, Policy] = (None, self._default)
        self._checked_at = float("-inf")

    def push(self, text: str, author: str, note: str = "") -> int:
        compile_policy(text)
        now = to_us(self._clock())
        with self._store.begin(write=True) as uow:
            try:
                version = uow.rulesets.add(NAME, text, author, note, now)
            except VersionExists as exc:
                raise Conflict(f"{exc}; push again") from None
            after = json.dumps({"version": version, "note": note})
            uow.audit.add(AuditEntry(now, author, "policy.push", NAME, None, after))
            uow.commit()
        return version

    def activate(self, version: int, by: str) -> int | None:
        now = to_us(self._clock())
        with self._store.begin(write=True) as uow:
            found = uow.rulesets.get(NAME, version)
            if found is None:
                raise NotFound(f"no version {version} of the policy")
            compile_policy(found.body)
            before = uow.rulesets.active(NAME)
            uow.rulesets.activate(NAME, version, by, now)
            uow.audit.add(
                AuditEntry(
                    now,
                    by,
                    "policy.activate",
                    NAME,
                    json.dumps({"version": before.version}) if before else None,
                    json.dumps({"version": version}),
                )
            )
            uow.commit()
        self._checked_at = float("-inf")
        return before.version if before else None

    def calibrate(
        self,
        checkpoint: str,
        thresholds: Mapping[str, Mapping[str, float]],
        author: str,
        note: str,
    ) -> tuple[int | None, int]:
        """Push the active policy (the defaults when none is) with ``thresholds`` as the
        calibrated thresholds of their markets at ``checkpoint`` - the other markets at
        ``checkpoint`` and every other checkpoint keep theirs - and activate it; returns the
        versions before and after. Both steps are audited; ``note`` says where the thresholds
        came from."""
        if checkpoint not in CHECKPOINTS:
            reason = f"not a checkpoint (use {', '.join(CHECKPOINTS)})"
            raise ValidationFailed("invalid calibration", [Problem("checkpoint", reason)])
        with self._store.begin() as uow:
            pointer = uow.rulesets.active(NAME)
            row = uow.rulesets.get(NAME, pointer.version) if pointer else None
        base = compile_policy(row.body) if row is not None else self._default
        calibrated = {cp: dict(markets) for cp, markets in base.calibrated.items()}
        calibrated[checkpoint] = {
            **calibrated.get(checkpoint, {}),
            **{market: dict(t) for market, t in thresholds.items()},
        }
        text = dump_policy(replace(base, calibrated=calibrated), header=note)
        version = self.push(text, author, note)
        before = self.activate(version, author)
        return before, version

    def get(self, version: int | None = None) -> RulesetVersion:
        with self._store.begin() as uow:
            if version is None:
                active = uow.rulesets.active(NAME)
                if active is None:
                    raise NotFound("no active policy: the defaults apply")
                version = active.version
            found = uow.rulesets.get(NAME, version)
        if found is None:
            raise NotFound(f"no version {version} of the policy")
        return found

    def active(self, monotonic: Callable[[], float] = time.monotonic) -> tuple[int | None, Policy]:
        """The active policy and its version (None: no policy pushed, the defaults apply)."""
        now = monotonic()
        if now - self._checked_at >= self._reload_s:
            with self._lock:
                if now - self._checked_at >= self._reload_s:
                    with self._store.begin() as uow:
                        pointer = uow.rulesets.active(NAME)
                        row = (
                            uow.rulesets.get(NAME, pointer.version)
                            if pointer and pointer.version != self._active[0]
                            else None
                        )
                    if pointer is None:
                        self._active = (None, self._default)
                    elif row is not None:
                        self._active = (row.version, compile_policy(row.body))
                    self._checked_at = now
        return self._active
