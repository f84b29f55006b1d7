"""Ruleset versions: push (validate, store the next immutable version), pull, activate (or roll
back to any version), and the compiled active rulesets every API process uses, reloaded when
another process activates a version (hot reload without restart). Every change is audited."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from riskops.core.decisions.ruleset import InvalidRuleset, Ruleset, load_ruleset
from riskops.core.decisions.schema import CHECKPOINTS
from riskops.core.events.envelope import to_us
from riskops.errors import Conflict, NotFound, Problem, ValidationFailed
from riskops.services.clock import Clock
from riskops.stores.base import Store
from riskops.stores.decision_base import AuditEntry, RulesetVersion, VersionExists


@dataclass(frozen=True, slots=True)
class Pushed:
    checkpoint: str
    version: int
    rules: int


def check_checkpoint(checkpoint: str) -> None:
    if checkpoint not in CHECKPOINTS:
        known = ", ".join(CHECKPOINTS)
        raise NotFound(f"no checkpoint {checkpoint!r}; the checkpoints are {known}")


def compile_ruleset(text: str, checkpoint: str | None = None) -> Ruleset:
    try:
        ruleset = load_ruleset(text)
    except InvalidRuleset as exc:
        problems = [
            Problem(p.where, p.reason if p.line is None else f"line {p.line}: {p.reason}")
            for p in exc.problems
        ]
        raise ValidationFailed("invalid ruleset", problems) from None
    if checkpoint is not None and ruleset.checkpoint != checkpoint:
        raise ValidationFailed(
            "ruleset is for another checkpoint",
            [Problem("checkpoint", f"the file says {ruleset.checkpoint!r}, not {checkpoint!r}")],
        )
    return ruleset


class RulesService:
    def __init__(self, store: Store, clock: Clock, reload_s: float = 1.0) -> None:
        self._store = store
        self._clock = clock
        self._reload_s = reload_s
        self._lock = threading.Lock()
        self._active: dict[str, tuple[int, Ruleset]] = {}
        self._checked_at = float("-inf")
        self._compiled: dict[tuple[str, int], Ruleset] = {}

    def push(self, text: str, author: str, note: str = "", checkpoint: str | None = None) -> Pushed:
        """Validate and store as the checkpoint's next version (not yet active)."""
        ruleset = compile_ruleset(text, checkpoint)
        now = to_us(self._clock())
        with self._store.begin(write=True) as uow:
            try:
                version = uow.rulesets.add(ruleset.checkpoint, text, author, note, now)
            except VersionExists as exc:
                raise Conflict(f"{exc}; push again") from None
            uow.audit.add(
                AuditEntry(
                    now,
                    author,
                    "ruleset.push",
                    f"ruleset:{ruleset.checkpoint}",
                    None,
                    json.dumps({"version": version, "note": note, "rules": len(ruleset.rules)}),
                )
            )
            uow.commit()
        return Pushed(ruleset.checkpoint, version, len(ruleset.rules))

    def versions(self, checkpoint: str) -> tuple[list[RulesetVersion], int | None]:
        """Every version (oldest first) and the active one's number."""
        check_checkpoint(checkpoint)
        with self._store.begin() as uow:
            active = uow.rulesets.active(checkpoint)
            return uow.rulesets.versions(checkpoint), active.version if active else None

    def get(self, checkpoint: str, version: int | None = None) -> RulesetVersion:
        """One version (default: the active one)."""
        check_checkpoint(checkpoint)
        with self._store.begin() as uow:
            if version is None:
                active = uow.rulesets.active(checkpoint)
                if active is None:
                    raise NotFound(f"no active ruleset for {checkpoint}")
                version = active.version
            found = uow.rulesets.get(checkpoint, version)
        if found is None:
            raise NotFound(f"no version {version} of the {checkpoint} ruleset")
        return found

    def compiled(self, checkpoint: str, version: int) -> Ruleset:
        """A stored version, compiled (versions are immutable, so this is cached)."""
        key = (checkpoint, version)
        found = self._compiled.get(key)
        if found is None:
            found = compile_ruleset(self.get(checkpoint, version).body, checkpoint)
            if len(self._compiled) >= 64:
                self._compiled.clear()
            self._compiled[key] = found
        return found

    def activate(self, checkpoint: str, version: int, by: str) -> int | None:
        """Make ``version`` the active one (a rollback when it is older); returns the version
        that was active before."""
        check_checkpoint(checkpoint)
        now = to_us(self._clock())
        with self._store.begin(write=True) as uow:
            found = uow.rulesets.get(checkpoint, version)
            if found is None:
                raise NotFound(f"no version {version} of the {checkpoint} ruleset")
            compile_ruleset(found.body, checkpoint)  # still valid against today's schema
            before = uow.rulesets.active(checkpoint)
            uow.rulesets.activate(checkpoint, version, by, now)
            uow.audit.add(
                AuditEntry(
                    now,
                    by,
                    "ruleset.activate",
                    f"ruleset:{checkpoint}",
                    json.dumps({"version": before.version}) if before else None,
                    json.dumps({"version": version}),
                )
            )
            uow.commit()
        self._checked_at = float("-inf")  # this process sees it at once
        return before.version if before else None

    def active(
        self, checkpoint: str, monotonic: Callable[[], float] = time.monotonic
    ) -> tuple[int, Ruleset] | None:
        """The compiled active ruleset of ``checkpoint`` and its version. The active versions
        are re-read at most every ``reload_s`` seconds, so a version activated by another
        process (or the CLI) is live here within that time; only changed ones recompile."""
        now = monotonic()
        if now - self._checked_at >= self._reload_s:
            with self._lock:
                if now - self._checked_at >= self._reload_s:
                    self._reload()
                    self._checked_at = now
        return self._active.get(checkpoint)

    def _reload(self) -> None:
        with self._store.begin() as uow:
            # the same tables hold the policy's versions: only checkpoints are rulesets
            pointers = [p for p in uow.rulesets.active_all() if p.checkpoint in CHECKPOINTS]
            wanted = {
                p.checkpoint: p.version
                for p in pointers
                if self._active.get(p.checkpoint, (None,))[0] != p.version
            }
            bodies = {c: uow.rulesets.get(c, v) for c, v in wanted.items()}
        fresh = dict(self._active)
        for checkpoint, row in bodies.items():
            if row is not None:
                fresh[checkpoint] = (row.version, compile_ruleset(row.body, checkpoint))
        for gone in set(fresh) - {p.checkpoint for p in pointers}:
            del fresh[gone]
        self._active = fresh
