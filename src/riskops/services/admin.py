"""Administrative use cases for the CLI: migrations, key service without a full runtime."""

from __future__ import annotations

from riskops.config import Settings
from riskops.core.decisions.policy import Policy
from riskops.services.audit import AuditService
from riskops.services.clock import system_clock
from riskops.services.keys import KeyService
from riskops.services.lists import ListsService
from riskops.services.policy import PolicyService
from riskops.services.rules import RulesService
from riskops.stores.factory import open_store, schema_revisions, upgrade_schema


def migrate(settings: Settings) -> tuple[str | None, str]:
    """Upgrade to the newest schema; returns (revision before, revision now)."""
    store = open_store(settings.resolved_database_url())
    try:
        store.ping()
        before, _ = schema_revisions(store)
        upgrade_schema(store)
        _, after = schema_revisions(store)
        return before, after or ""
    finally:
        store.close()


def key_service(settings: Settings) -> KeyService:
    store = open_store(settings.resolved_database_url())
    store.ping()
    if settings.auto_migrate:
        upgrade_schema(store)
    return KeyService(store, system_clock, settings.key_cache_s)


def rules_service(settings: Settings) -> RulesService:
    store = open_store(settings.resolved_database_url())
    store.ping()
    if settings.auto_migrate:
        upgrade_schema(store)
    return RulesService(store, system_clock, settings.rules_reload_s)


def lists_service(settings: Settings) -> ListsService:
    store = open_store(settings.resolved_database_url())
    store.ping()
    if settings.auto_migrate:
        upgrade_schema(store)
    return ListsService(store, system_clock)


def audit_service(settings: Settings) -> AuditService:
    store = open_store(settings.resolved_database_url())
    store.ping()
    if settings.auto_migrate:
        upgrade_schema(store)
    return AuditService(store)


def policy_service(settings: Settings) -> PolicyService:
    store = open_store(settings.resolved_database_url())
    store.ping()
    if settings.auto_migrate:
        upgrade_schema(store)
    default = Policy(fail_mode={"default": settings.decision_fail_mode})
    return PolicyService(store, system_clock, settings.rules_reload_s, default)
