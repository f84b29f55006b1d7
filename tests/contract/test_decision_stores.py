"""One contract suite for the decision side's SQL stores (ruleset versions, decisions, audit
log, list lookups by name), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from riskops.stores.base import ListEntry
from riskops.stores.decision_base import AuditEntry, DecisionRow
from riskops.stores.sql.engine import SqlStore
from riskops.stores.sql.migrate import upgrade


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[SqlStore]:
    url_fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    s = SqlStore(request.getfixturevalue(url_fixture))
    upgrade(s.engine)
    yield s
    s.close()


def test_ruleset_versions_are_numbered_immutable_and_one_is_active(store: SqlStore) -> None:
    with store.begin(write=True) as uow:
        assert uow.rulesets.active("order") is None
        assert uow.rulesets.add("order", "rules: v1", "ana", "first", 10) == 1
        assert uow.rulesets.add("order", "rules: v2", "bo", "", 20) == 2
        assert uow.rulesets.add("login", "rules: l1", "ana", "", 30) == 1
        uow.rulesets.activate("order", 2, "ana", 40)
        uow.commit()
    with store.begin(write=True) as uow:
        assert [v.version for v in uow.rulesets.versions("order")] == [1, 2]
        got = uow.rulesets.get("order", 1)
        assert got is not None
        assert (got.body, got.author, got.note, got.created_at_us) == (
            "rules: v1",
            "ana",
            "first",
            10,
        )
        assert uow.rulesets.get("order", 3) is None
        active = uow.rulesets.active("order")
        assert active is not None
        assert (active.version, active.activated_by, active.activated_at_us) == (2, "ana", 40)
        uow.rulesets.activate("order", 1, "bo", 50)  # a rollback
        uow.commit()
    with store.begin() as uow:
        assert [(a.checkpoint, a.version) for a in uow.rulesets.active_all()] == [("order", 1)]


def test_decisions_are_stored_and_read_back(store: SqlStore) -> None:
    row = DecisionRow("dec-1", "order", "evt-1", "review", 55, 100, '{"trace": {}}')
    with store.begin(write=True) as uow:
        uow.decisions.add(row)
        uow.commit()
    with store.begin() as uow:
        assert uow.decisions.get("dec-1") == row
        assert uow.decisions.get("dec-2") is None
    many = [DecisionRow(f"dec-{k}", "login", f"evt-{k}", "allow", k, 200 + k, "{}") for k in (3, 4)]
    with store.begin(write=True) as uow:
        uow.decisions.add_many(many)
        uow.decisions.add_many([])
        uow.commit()
    with store.begin() as uow:
        assert [uow.decisions.get(r.decision_id) for r in many] == many


def test_audit_log_is_append_only_newest_first(store: SqlStore) -> None:
    with store.begin(write=True) as uow:
        first = uow.audit.add(AuditEntry(10, "ana", "ruleset.push", "ruleset:order", None, "v1"))
        second = uow.audit.add(AuditEntry(20, "bo", "list.put", "list:blocked", None, "{}"))
        uow.commit()
    assert second > first
    with store.begin() as uow:
        assert [e.action for e in uow.audit.recent()] == ["list.put", "ruleset.push"]
        only = uow.audit.recent(subject="ruleset:order")
        assert only == [AuditEntry(10, "ana", "ruleset.push", "ruleset:order", None, "v1", first)]


def test_list_lookup_by_name_and_id_honours_expiry(store: SqlStore) -> None:
    with store.begin(write=True) as uow:
        uow.lists.put(ListEntry("blocked_devices", "device", "fp-1", "block", "r", "s", 1, None))
        uow.lists.put(ListEntry("watch", "user", "u-1", "watch", "r", "s", 1, 500))
        uow.commit()
    with store.begin() as uow:
        assert uow.lists.contains("blocked_devices", "fp-1", 100)
        assert not uow.lists.contains("blocked_devices", "fp-2", 100)
        assert uow.lists.contains("watch", "u-1", 499)
        assert not uow.lists.contains("watch", "u-1", 500)


def test_every_list_change_moves_the_version(store: SqlStore) -> None:
    entry = ListEntry("blocked", "device", "fp-1", "block", "r", "s", 1, None)
    with store.begin(write=True) as uow:
        assert uow.lists.version() == 0
        uow.lists.put(entry)
        uow.lists.put(ListEntry("vip", "user", "u-1", "allow", "r", "s", 1, None))
        uow.commit()
    with store.begin(write=True) as uow:
        assert uow.lists.version() == 2
        assert [e.list_name for e in uow.lists.all()] == ["blocked", "vip"]
        assert not uow.lists.remove("blocked", "device", "fp-2")  # nothing removed: no move
        assert uow.lists.version() == 2
        assert uow.lists.remove("blocked", "device", "fp-1")
        uow.commit()
    with store.begin() as uow:
        assert uow.lists.version() == 3
        assert [e.list_name for e in uow.lists.all()] == ["vip"]


def test_the_lists_cache_sees_a_change_after_its_reload_interval(store: SqlStore) -> None:
    from riskops.services.lists import ListsCache

    clock = iter([0.0, 0.5, 1.5]).__next__
    cache = ListsCache(store, reload_s=1.0)
    cache.refresh(clock)  # t=0: loads (empty)
    with store.begin(write=True) as uow:
        uow.lists.put(ListEntry("blocked", "device", "fp-1", "block", "r", "s", 1, 100))
        uow.commit()
    cache.refresh(clock)  # t=0.5: not yet
    assert not cache.contains("blocked", "fp-1", 50)
    cache.refresh(clock)  # t=1.5: reloaded
    assert cache.contains("blocked", "fp-1", 50)
    assert not cache.contains("blocked", "fp-1", 100)  # expired
    assert [e.kind for e in cache.memberships("device", "fp-1", 50)] == ["block"]


def test_the_first_decision_on_an_event_is_found_per_checkpoint(store: SqlStore) -> None:
    with store.begin(write=True) as uow:
        uow.decisions.add(DecisionRow("d2", "order", "e1", "allow", 0, 20, "{}"))
        uow.decisions.add(DecisionRow("d1", "order", "e1", "deny", 90, 10, "{}"))
        uow.decisions.add(DecisionRow("d3", "login", "e1", "allow", 0, 5, "{}"))
        uow.commit()
    with store.begin() as uow:
        found = uow.decisions.for_event("order", "e1")
        assert found is not None
        assert found.decision_id == "d1"
        assert uow.decisions.for_event("order", "e2") is None
