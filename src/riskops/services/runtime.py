"""The composition root: builds stores and services from :class:`Settings`, once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from riskops.config import Settings
from riskops.core.decisions.policy import Policy
from riskops.core.events import ParseLimits
from riskops.services.analytics.service import AnalyticsService
from riskops.services.audit import AuditService
from riskops.services.backtest import BacktestService
from riskops.services.clock import Clock, system_clock
from riskops.services.decisions import DecisionService
from riskops.services.graph_projector import GraphProjector
from riskops.services.ingest import IngestService
from riskops.services.keys import KeyService
from riskops.services.lists import ListsCache, ListsService
from riskops.services.model_serving import ModelServing
from riskops.services.policy import PolicyService
from riskops.services.profiles import ProfileService
from riskops.services.projector import StateProjector
from riskops.services.rules import RulesService
from riskops.services.standing import StandingCache
from riskops.stores.base import OnlineState
from riskops.stores.factory import open_state, open_store, upgrade_schema
from riskops.stores.sql.engine import SqlStore


@dataclass
class Runtime:
    settings: Settings
    store: SqlStore
    state: OnlineState
    projector: StateProjector
    graph: GraphProjector
    ingest: IngestService
    keys: KeyService
    profiles: ProfileService
    rules: RulesService
    lists: ListsService
    decisions: DecisionService
    backtests: BacktestService
    policy: PolicyService
    audit: AuditService
    analytics: AnalyticsService
    clock: Clock = field(default=system_clock)

    def close(self) -> None:
        self.analytics.close()
        self.state.close()
        self.store.close()


def build_runtime(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    with_state: bool = True,
    migrate: bool | None = None,
) -> Runtime:
    """``with_state=False`` gives a lightweight runtime for CLI commands that only write the
    log (the server's state tails the log and picks those events up)."""
    store = open_store(settings.resolved_database_url())
    if settings.auto_migrate if migrate is None else migrate:
        upgrade_schema(store)
    secret = settings.resolved_secret()
    state = open_state(settings) if with_state else open_state(settings, memory_only=True)
    projector = StateProjector(store, state, secret)
    graph = GraphProjector(store, secret)
    limits = ParseLimits(
        max_future_skew=timedelta(seconds=settings.max_future_skew_s),
        max_age=timedelta(days=settings.max_event_age_days),
    )
    ingest = IngestService(
        store, secret, clock, limits, graph=graph, state=projector if with_state else None
    )
    rules = RulesService(store, clock, settings.rules_reload_s)
    lists_cache = ListsCache(store, settings.rules_reload_s)
    policy = PolicyService(
        store,
        clock,
        settings.rules_reload_s,
        Policy(fail_mode={"default": settings.decision_fail_mode}),
    )
    models = ModelServing(settings.data_dir, settings.rules_reload_s)
    return Runtime(
        settings=settings,
        store=store,
        state=state,
        projector=projector,
        ingest=ingest,
        graph=graph,
        keys=KeyService(store, clock, settings.key_cache_s),
        profiles=ProfileService(store, state, secret, clock),
        rules=rules,
        lists=ListsService(store, clock),
        decisions=DecisionService(
            store,
            state,
            ingest,
            rules,
            lists_cache,
            clock,
            policy,
            models,
            StandingCache(settings.data_dir, settings.rules_reload_s),
        ),
        backtests=BacktestService(store, secret, rules, lists_cache, policy, models),
        audit=AuditService(store),
        analytics=AnalyticsService(store, secret, clock),
        policy=policy,
        clock=clock,
    )
