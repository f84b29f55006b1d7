"""One contract suite for the SQL stores (event log, entity graph, API keys, lists, cursors),
run on SQLite and on the real PostgreSQL. Every test runs on both backends.

The semantics under test are those written in :mod:`riskops.stores.base`. Timestamps are plain
integers (microseconds); their absolute values do not matter here, only their order.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from riskops.stores.base import (
    ApiKeyRow,
    EdgeTouch,
    HopNode,
    Link,
    ListEntry,
    NewEvent,
    NodeInfo,
    NodeTouch,
    StoredEvent,
    UnitOfWork,
)
from riskops.stores.sql.engine import SqlStore
from riskops.stores.sql.migrate import upgrade

# How long a test gives a *wrongly* non-blocking backend to run ahead. A correct backend passes
# whatever this value is; it only has to be long enough for a broken one to be caught.
RUN_AHEAD_S = 0.3


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[SqlStore]:
    url_fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(url_fixture)
    sql_store = SqlStore(url)
    upgrade(sql_store.engine)
    try:
        yield sql_store
    finally:
        sql_store.close()


def ev(event_id: str, body: str | None = None, at_us: int = 1_000) -> NewEvent:
    return NewEvent(
        event_id=event_id,
        type="order.placed",
        schema_version=1,
        occurred_at_us=at_us,
        received_at_us=at_us + 7,
        market="ID",
        user_id="u-1",
        device_fp="dev-1",
        ip="203.0.113.7",
        body=body if body is not None else f'{{"event_id":"{event_id}"}}',
    )


def run_threads(*targets: Callable[[], None]) -> list[BaseException]:
    """Start every target in its own thread, wait for all, return what they raised."""
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # reported to the test, not to the thread hook
                errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a worker thread hung"
    return errors


def in_thread(target: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # reported to the test, not to the thread hook
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


# --- event log ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppendCase:
    name: str
    batches: list[list[tuple[str, str]]]  # (event_id, body) per event, per append call
    new: list[list[str]]  # ids each call must report as new
    bodies: dict[str, str]  # what the log holds at the end (first occurrence wins)


APPEND_CASES = [
    AppendCase(
        "fresh batch",
        [[("a", "a1"), ("b", "b1"), ("c", "c1")]],
        [["a", "b", "c"]],
        {"a": "a1", "b": "b1", "c": "c1"},
    ),
    AppendCase("empty batch", [[]], [[]], {}),
    AppendCase(
        "repeats across calls",
        [[("a", "a1"), ("b", "b1")], [("b", "b2"), ("c", "c2")], [("a", "a3")]],
        [["a", "b"], ["c"], []],
        {"a": "a1", "b": "b1", "c": "c2"},
    ),
    AppendCase(
        "repeats inside one batch: first wins",
        [[("a", "a1"), ("b", "b1"), ("a", "a2"), ("c", "c1"), ("b", "b2")]],
        [["a", "b", "c"]],
        {"a": "a1", "b": "b1", "c": "c1"},
    ),
    AppendCase(
        "repeats inside and across batches",
        [[("a", "a1")], [("a", "a2"), ("b", "b2"), ("b", "b3"), ("a", "a4"), ("c", "c2")]],
        [["a"], ["b", "c"]],
        {"a": "a1", "b": "b2", "c": "c2"},
    ),
    AppendCase(
        "a batch of only known ids",
        [[("a", "a1"), ("b", "b1")], [("b", "b2"), ("a", "a2"), ("b", "b3")]],
        [["a", "b"], []],
        {"a": "a1", "b": "b1"},
    ),
]


@pytest.mark.parametrize("commit_each", [False, True], ids=["one transaction", "commit each"])
@pytest.mark.parametrize("case", APPEND_CASES, ids=lambda c: c.name)
def test_append_inserts_new_ids_once_in_increasing_seq(
    store: SqlStore, case: AppendCase, commit_each: bool
) -> None:
    returned: list[dict[str, int]] = []
    with store.begin(write=True) as uow:
        for batch in case.batches:
            got = uow.events.append([ev(event_id, body) for event_id, body in batch])
            returned.append(got)
            if commit_each:
                uow.commit()
        uow.commit()

    assert [sorted(got) for got in returned] == [sorted(ids) for ids in case.new]
    # seq strictly increases in append order: first occurrences, call after call
    in_order = [
        got[event_id] for got, ids in zip(returned, case.new, strict=True) for event_id in ids
    ]
    assert in_order == sorted(in_order)
    assert len(set(in_order)) == len(in_order)
    with store.begin() as uow:
        assert uow.events.count() == len(case.bodies)
        assert uow.events.last_seq() == max(in_order, default=0)
        for got in returned:
            for event_id, seq in got.items():
                stored = uow.events.get(event_id)
                assert stored is not None
                assert stored.seq == seq
                assert stored.body == case.bodies[event_id]


def test_stored_event_round_trips_its_fields(store: SqlStore) -> None:
    new = ev("e-1", body='{"k":"v","n":1}', at_us=1_700_000_000_123_456)
    with store.begin(write=True) as uow:
        seq = uow.events.append([new])["e-1"]
        uow.commit()
    expected = StoredEvent(
        seq=seq,
        event_id="e-1",
        type="order.placed",
        occurred_at_us=1_700_000_000_123_456,
        received_at_us=1_700_000_000_123_463,
        body='{"k":"v","n":1}',
    )
    with store.begin() as uow:
        assert uow.events.get("e-1") == expected
        assert uow.events.read_after(0, 10) == [expected]


def test_empty_log(store: SqlStore) -> None:
    with store.begin() as uow:
        assert uow.events.last_seq() == 0
        assert uow.events.count() == 0
        assert uow.events.get("nope") is None
        assert uow.events.read_after(0, 10) == []
        assert uow.events.seqs(["nope"]) == {}


# (read after the seq of event number `after` (-1: from the start), limit) -> event numbers
READ_AFTER_CASES = [
    (-1, 10, [0, 1, 2, 3, 4]),
    (-1, 5, [0, 1, 2, 3, 4]),
    (-1, 2, [0, 1]),
    (-1, 0, []),
    (1, 2, [2, 3]),
    (2, 1, [3]),
    (3, 10, [4]),
    (4, 10, []),
]


@pytest.mark.parametrize(("after", "limit", "expected"), READ_AFTER_CASES)
def test_read_after_is_in_seq_order_and_limited(
    store: SqlStore, after: int, limit: int, expected: list[int]
) -> None:
    ids = [f"e-{n}" for n in range(5)]
    with store.begin(write=True) as uow:
        for event_id in ids:  # one call each, so every event has its own append
            uow.events.append([ev(event_id)])
        uow.commit()
    with store.begin() as uow:
        seq_of = uow.events.seqs(ids)
        start = 0 if after < 0 else seq_of[ids[after]]
        got = uow.events.read_after(start, limit)
    assert [e.event_id for e in got] == [ids[n] for n in expected]
    assert [e.seq for e in got] == [seq_of[ids[n]] for n in expected]


def test_last_seq_count_get_and_seqs(store: SqlStore) -> None:
    with store.begin(write=True) as uow:
        first = uow.events.append([ev("e-1"), ev("e-2")])
        second = uow.events.append([ev("e-3"), ev("e-1")])
        uow.commit()
    seq_of = first | second
    with store.begin() as uow:
        assert uow.events.last_seq() == seq_of["e-3"] == max(seq_of.values())
        assert uow.events.count() == 3
        stored = uow.events.get("e-2")
        assert stored is not None
        assert (stored.event_id, stored.seq) == ("e-2", seq_of["e-2"])
        assert uow.events.get("e-4") is None
        assert uow.events.seqs(["e-3", "missing", "e-1", "e-3"]) == {
            "e-3": seq_of["e-3"],
            "e-1": seq_of["e-1"],
        }
        assert uow.events.seqs([]) == {}


def test_seqs_of_more_ids_than_one_query_chunk(store: SqlStore) -> None:
    present = [f"e-{n}" for n in range(0, 1_300, 2)]
    with store.begin(write=True) as uow:
        appended = uow.events.append([ev(event_id) for event_id in present])
        uow.commit()
    asked = [f"e-{n}" for n in range(1_300)]
    with store.begin() as uow:
        assert uow.events.seqs(asked) == appended
    assert len(appended) == 650


def test_nothing_is_visible_after_a_rollback(store: SqlStore) -> None:
    with store.begin(write=True) as uow:
        assert uow.events.append([ev("e-1"), ev("e-2")]).keys() == {"e-1", "e-2"}
        uow.graph.record([("user", "u-1", 1, 2, 1)], [("user", "u-1", "device", "d-1", 1, 2, 1)])
        uow.keys.add(ApiKeyRow("k-1", "ops", "h" * 64, ("read",), 1, None))
        uow.lists.put(ListEntry("fraud", "user", "u-1", "block", "r", "s", 1, None))
        uow.cursors.set("graph", 5)
        # leave the block without commit

    def fail_before_commit() -> None:
        with store.begin(write=True) as uow:
            uow.events.append([ev("e-3")])
            raise RuntimeError("the boundary fails before commit")

    with pytest.raises(RuntimeError, match="before commit"):
        fail_before_commit()

    with store.begin() as uow:
        assert uow.events.count() == 0
        assert uow.events.last_seq() == 0
        assert uow.events.get("e-1") is None
        assert uow.graph.node("user", "u-1") is None
        assert uow.graph.links("user", "u-1") == []
        assert uow.keys.all() == []
        assert uow.lists.memberships("user", "u-1", 0) == []
        assert uow.cursors.get("graph") == 0
    # the rolled-back ids are new again
    with store.begin(write=True) as uow:
        assert uow.events.append([ev("e-1"), ev("e-3")]).keys() == {"e-1", "e-3"}
        uow.commit()


def test_an_open_append_is_not_visible_to_other_transactions(store: SqlStore) -> None:
    with store.begin(write=True) as writer:
        writer.events.append([ev("e-1")])
        with store.begin() as reader:
            assert reader.events.count() == 0
            assert reader.events.get("e-1") is None
        writer.commit()
    with store.begin() as reader:
        assert reader.events.count() == 1


def test_committed_appends_survive_reopening(store: SqlStore) -> None:
    with store.begin(write=True) as uow:
        seqs = uow.events.append([ev("e-1"), ev("e-2")])
        uow.commit()
    store.close()
    reopened = SqlStore(store.url)
    try:
        with reopened.begin(write=True) as uow:
            assert uow.events.seqs(["e-1", "e-2"]) == seqs
            assert uow.events.append([ev("e-2"), ev("e-3")]).keys() == {"e-3"}
            uow.commit()
        with reopened.begin() as uow:
            assert uow.events.count() == 3
    finally:
        reopened.close()


def test_an_appender_waits_for_an_open_append(store: SqlStore) -> None:
    """seq order is commit order: while one append is uncommitted, a second appender cannot
    commit a later event under it - else a reader could see seq n and later find seq < n."""
    second: dict[str, int] = {}

    def append_second() -> None:
        with store.begin(write=True) as uow:
            second.update(uow.events.append([ev("second")]))
            uow.commit()

    with store.begin(write=True) as uow:
        first = uow.events.append([ev("first")])
        thread, errors = in_thread(append_second)
        thread.join(timeout=RUN_AHEAD_S)  # a backend that does not serialise would commit now
        with store.begin() as reader:
            seen = reader.events.last_seq()
        uow.commit()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert errors == []
    assert seen == 0
    assert second["second"] > first["first"]
    with store.begin() as reader:
        assert [e.event_id for e in reader.events.read_after(seen, 10)] == ["first", "second"]


def test_concurrent_writers_with_overlapping_ids(store: SqlStore) -> None:
    shared = [f"s-{n}" for n in range(30)]
    own_a = [f"a-{n}" for n in range(30)]
    own_b = [f"b-{n}" for n in range(30)]
    # each writer mixes its own ids with the shared ones, the two in opposite orders
    plan_a = [x for pair in zip(own_a, shared, strict=True) for x in pair]
    plan_b = [x for pair in zip(own_b, reversed(shared), strict=True) for x in pair]
    distinct = set(plan_a) | set(plan_b)

    order_lock = threading.Lock()
    in_commit_order: list[dict[str, int]] = []  # recorded while holding the append lock
    returned: dict[str, list[dict[str, int]]] = {"a": [], "b": []}
    start = threading.Barrier(3)
    writers_done = threading.Event()
    reads: list[list[int]] = []

    def writer(name: str, plan: Sequence[str]) -> Callable[[], None]:
        def run() -> None:
            start.wait()
            for i in range(0, len(plan), 3):
                with store.begin(write=True) as uow:
                    got = uow.events.append([ev(event_id) for event_id in plan[i : i + 3]])
                    # Between append and commit this writer holds the append lock, so the order
                    # of these records is the commit order.
                    with order_lock:
                        in_commit_order.append(got)
                    time.sleep(0.001)  # widen the window a broken backend would show
                    uow.commit()
                returned[name].append(got)

        return run

    def reader() -> None:
        start.wait()
        while True:
            done = writers_done.is_set()
            with store.begin() as uow:
                reads.append([e.seq for e in uow.events.read_after(0, 10_000)])
            if done:
                return

    def writers() -> None:
        try:
            assert run_threads(writer("a", plan_a), writer("b", plan_b)) == []
        finally:
            writers_done.set()

    assert run_threads(writers, reader) == []

    # every id inserted once, by exactly one of the writers
    all_returned = [got for batches in returned.values() for got in batches]
    assert sum(len(got) for got in all_returned) == len(distinct)
    merged = {k: v for got in all_returned for k, v in got.items()}
    assert merged.keys() == distinct
    with store.begin() as uow:
        assert uow.events.count() == len(distinct)
        assert uow.events.seqs(sorted(distinct)) == merged
    # seq order == commit order
    flat = [seq for got in in_commit_order for seq in sorted(got.values())]
    assert flat == sorted(flat)
    assert len(set(flat)) == len(flat)
    # a reader that saw seq n never later finds a new event with a smaller seq
    assert len(reads) >= 2
    seen: set[int] = set()
    for snapshot in reads:
        assert snapshot == sorted(snapshot)
        assert seen <= set(snapshot), "a committed event disappeared"
        fresh = set(snapshot) - seen
        if seen and fresh:
            assert min(fresh) > max(seen), f"late event below seq {max(seen)}: {sorted(fresh)}"
        seen |= set(snapshot)
    assert seen == set(merged.values())


# --- entity graph ------------------------------------------------------------------------------

NODE_TOUCHES: list[NodeTouch] = [
    ("user", "u-7", 200, 300, 2),
    ("user", "u-7", 100, 150, 1),
    ("user", "u-7", 250, 400, 3),
    ("user", "u-7", 120, 120, 1),
]
EDGE_TOUCHES: list[EdgeTouch] = [
    ("user", "u-7", "device", "d-7", 200, 300, 2),
    ("user", "u-7", "device", "d-7", 100, 150, 1),
    ("user", "u-7", "device", "d-7", 250, 400, 3),
    ("user", "u-7", "device", "d-7", 120, 120, 1),
]


def _record_all(store: SqlStore, nodes: list[NodeTouch], edges: list[EdgeTouch], how: str) -> None:
    if how == "one call":
        with store.begin(write=True) as uow:
            uow.graph.record(nodes, edges)
            uow.commit()
    elif how == "one call per touch":
        with store.begin(write=True) as uow:
            for node, edge in zip(nodes, edges, strict=True):
                uow.graph.record([node], [edge])
            uow.commit()
    else:  # one transaction per touch
        for node, edge in zip(nodes, edges, strict=True):
            with store.begin(write=True) as uow:
                uow.graph.record([node], [edge])
                uow.commit()


@pytest.mark.parametrize("how", ["one call", "one call per touch", "one transaction per touch"])
def test_record_folds_touches_in_any_order(store: SqlStore, how: str) -> None:
    for n, order in enumerate(itertools.permutations(range(len(NODE_TOUCHES)))):
        user, device = f"u-{n}", f"d-{n}"
        nodes: list[NodeTouch] = [("user", user, *NODE_TOUCHES[i][2:]) for i in order]
        edges: list[EdgeTouch] = [
            ("user", user, "device", device, *EDGE_TOUCHES[i][4:]) for i in order
        ]
        _record_all(store, nodes, edges, how)
    with store.begin() as uow:
        for n in range(len(list(itertools.permutations(range(len(NODE_TOUCHES)))))):
            user, device = f"u-{n}", f"d-{n}"
            assert uow.graph.node("user", user) == NodeInfo("user", user, 100, 400, 7)
            assert uow.graph.links("user", user) == [Link("device", device, "out", 100, 400, 7)]
            assert uow.graph.links("device", device) == [Link("user", user, "in", 100, 400, 7)]


def test_node_of_an_unknown_entity_is_none(store: SqlStore) -> None:
    with store.begin(write=True) as uow:
        uow.graph.record([("user", "u-1", 1, 2, 1)], [])
        uow.commit()
    with store.begin() as uow:
        assert uow.graph.node("user", "u-1") == NodeInfo("user", "u-1", 1, 2, 1)
        assert uow.graph.node("user", "u-2") is None
        assert uow.graph.node("device", "u-1") is None
        assert uow.graph.links("user", "u-2") == []


# A small hand-built graph (src -> dst, last_seen). No two edges share a last_seen, so "most
# recent first" is a total order.
#
#   u1 -> d1 <- u2 -> a1 <- u3 -> c1 <- u5          u9 -> d9 (apart)
#   u1 -> i1 <- u4;  u3 -> i1;  d1 -> i1
EDGES: dict[tuple[str, str, str, str], int] = {
    ("user", "u1", "device", "d1"): 1_000,
    ("user", "u2", "device", "d1"): 2_000,
    ("user", "u1", "ip", "i1"): 500,
    ("user", "u4", "ip", "i1"): 600,
    ("user", "u2", "address", "a1"): 3_000,
    ("user", "u3", "address", "a1"): 4_000,
    ("user", "u3", "card", "c1"): 5_000,
    ("user", "u3", "ip", "i1"): 700,
    ("user", "u5", "card", "c1"): 5_500,
    ("device", "d1", "ip", "i1"): 800,
    ("user", "u9", "device", "d9"): 900,
}
TYPE_OF = {
    **{f"u{n}": "user" for n in range(10)},
    "d1": "device",
    "d9": "device",
    "i1": "ip",
    "a1": "address",
    "c1": "card",
}


def edge_stats(last: int) -> tuple[int, int, int]:
    """(first_seen, last_seen, count) of the edge last seen at ``last``."""
    return last - 50, last, last // 100


@pytest.fixture
def graph_store(store: SqlStore) -> SqlStore:
    nodes: dict[tuple[str, str], NodeTouch] = {}
    edges: list[EdgeTouch] = []
    for (src_type, src_id, dst_type, dst_id), last in EDGES.items():
        first, last, count = edge_stats(last)
        edges.append((src_type, src_id, dst_type, dst_id, first, last, count))
        for key in ((src_type, src_id), (dst_type, dst_id)):
            nodes[key] = (*key, first, last, 1)
    with store.begin(write=True) as uow:
        uow.graph.record(list(nodes.values()), edges)
        uow.commit()
    return store


def link(other: str, direction: str, last: int) -> Link:
    return Link(TYPE_OF[other], other, direction, *edge_stats(last))


D1_IN_U2 = link("u2", "in", 2_000)
D1_IN_U1 = link("u1", "in", 1_000)
D1_OUT_I1 = link("i1", "out", 800)

LINKS_CASES = [
    ("d1", {}, [D1_IN_U2, D1_IN_U1, D1_OUT_I1]),
    ("d1", {"limit": 3}, [D1_IN_U2, D1_IN_U1, D1_OUT_I1]),
    ("d1", {"limit": 2}, [D1_IN_U2, D1_IN_U1]),
    ("d1", {"limit": 1}, [D1_IN_U2]),
    ("d1", {"since_us": 800}, [D1_IN_U2, D1_IN_U1, D1_OUT_I1]),
    ("d1", {"since_us": 801}, [D1_IN_U2, D1_IN_U1]),
    ("d1", {"since_us": 1_001}, [D1_IN_U2]),
    ("d1", {"since_us": 2_001}, []),
    ("d1", {"types": ["ip"]}, [D1_OUT_I1]),
    ("d1", {"types": ["user"]}, [D1_IN_U2, D1_IN_U1]),
    ("d1", {"types": ["user", "ip"]}, [D1_IN_U2, D1_IN_U1, D1_OUT_I1]),
    ("d1", {"types": ["card"]}, []),
    ("d1", {"types": ["user"], "since_us": 1_001}, [D1_IN_U2]),
    ("d1", {"types": ["user", "ip"], "limit": 2, "since_us": 900}, [D1_IN_U2, D1_IN_U1]),
    (
        "i1",
        {},
        [
            link("d1", "in", 800),
            link("u3", "in", 700),
            link("u4", "in", 600),
            link("u1", "in", 500),
        ],
    ),
    (
        "u3",
        {},
        [link("c1", "out", 5_000), link("a1", "out", 4_000), link("i1", "out", 700)],
    ),
    (
        "u3",
        {"limit": 2, "types": ["ip", "card"]},
        [link("c1", "out", 5_000), link("i1", "out", 700)],
    ),
    ("u8", {}, []),
]


@pytest.mark.parametrize(("entity", "kwargs", "expected"), LINKS_CASES)
def test_links_both_directions_most_recent_first(
    graph_store: SqlStore, entity: str, kwargs: dict[str, Any], expected: list[Link]
) -> None:
    with graph_store.begin() as uow:
        assert uow.graph.links(TYPE_OF[entity], entity, **kwargs) == expected


ALL_FROM_U1 = {"d1": 1, "i1": 1, "u2": 2, "u3": 2, "u4": 2, "a1": 3, "c1": 3}
K_HOP_CASES = [
    ("k=1", {"k": 1}, {"d1": 1, "i1": 1}),
    ("k=2", {"k": 2}, {"d1": 1, "i1": 1, "u2": 2, "u3": 2, "u4": 2}),
    # a1 is two hops from both u2 and u3: listed once; u5 would be depth 4
    ("k=3", {"k": 3}, ALL_FROM_U1),
    # each node's most recent link only: u1 -> d1 -> u2 -> a1
    ("per_node_limit=1", {"k": 3, "per_node_limit": 1}, {"d1": 1, "u2": 2, "a1": 3}),
    # u1 -> i1 (500) is too old: i1 is reached through d1 (800), one hop further
    (
        "since_us=600",
        {"k": 3, "since_us": 600},
        {"d1": 1, "u2": 2, "i1": 2, "a1": 3, "u3": 3, "u4": 3},
    ),
    ("since_us=601", {"k": 3, "since_us": 601}, {"d1": 1, "u2": 2, "i1": 2, "a1": 3, "u3": 3}),
    ("since_us after everything", {"k": 3, "since_us": 10_000}, {}),
]


def adjacent(a: tuple[str, str], b: tuple[str, str], since_us: int = 0) -> bool:
    keys = ((a[0], a[1], b[0], b[1]), (b[0], b[1], a[0], a[1]))
    return any(EDGES.get(key, -1) >= since_us for key in keys)


def check_bfs(start: str, hops: list[HopNode], since_us: int = 0) -> dict[str, int]:
    """The shape every k_hop answer must have; returns {id: depth}."""
    depth_of = {h.id: h.depth for h in hops}
    assert len(depth_of) == len(hops), "a node is listed twice"
    assert start not in depth_of, "the start node is listed"
    assert [h.depth for h in hops] == sorted(h.depth for h in hops), "not breadth-first"
    for h in hops:
        assert h.type == TYPE_OF[h.id]
        parent_depth = 0 if h.via_id == start else depth_of.get(h.via_id)
        assert parent_depth == h.depth - 1, f"{h} reached via a node not one hop nearer"
        assert h.via_type == TYPE_OF[h.via_id]
        assert adjacent((h.via_type, h.via_id), (h.type, h.id), since_us), f"{h}: no such edge"
    return depth_of


@pytest.mark.parametrize(
    ("kwargs", "expected"), [c[1:] for c in K_HOP_CASES], ids=[c[0] for c in K_HOP_CASES]
)
def test_k_hop_is_breadth_first_without_the_start(
    graph_store: SqlStore, kwargs: dict[str, int], expected: dict[str, int]
) -> None:
    with graph_store.begin() as uow:
        hops = uow.graph.k_hop("user", "u1", **kwargs)
    assert check_bfs("u1", hops, kwargs.get("since_us", 0)) == expected


def test_k_hop_names_the_node_it_came_through(graph_store: SqlStore) -> None:
    with graph_store.begin() as uow:
        hops = uow.graph.k_hop("user", "u1", k=2)
    via = {h.id: (h.via_type, h.via_id) for h in hops}
    assert via == {
        "d1": ("user", "u1"),
        "i1": ("user", "u1"),
        "u2": ("device", "d1"),
        "u3": ("ip", "i1"),
        "u4": ("ip", "i1"),
    }


@pytest.mark.parametrize("max_nodes", [0, 1, 2, 3, 6, 7, 50])
def test_k_hop_truncates_at_max_nodes_keeping_the_nearest(
    graph_store: SqlStore, max_nodes: int
) -> None:
    with graph_store.begin() as uow:
        hops = uow.graph.k_hop("user", "u1", k=3, max_nodes=max_nodes)
    depth_of = check_bfs("u1", hops)
    assert len(hops) == min(max_nodes, len(ALL_FROM_U1))
    assert all(ALL_FROM_U1[node] == depth for node, depth in depth_of.items())
    assert [h.depth for h in hops] == sorted(ALL_FROM_U1.values())[: len(hops)]


@pytest.mark.parametrize(
    ("entity_type", "entity_id", "expected"),
    [
        ("user", "u9", {"d9": 1}),
        ("device", "d9", {"u9": 1}),
        ("user", "nobody", {}),
        ("device", "u1", {}),  # the id exists, but not with this type
    ],
)
def test_k_hop_from_an_isolated_or_unknown_start(
    graph_store: SqlStore, entity_type: str, entity_id: str, expected: dict[str, int]
) -> None:
    with graph_store.begin() as uow:
        hops = uow.graph.k_hop(entity_type, entity_id, k=3)
    assert {h.id: h.depth for h in hops} == expected


@pytest.mark.parametrize("k", [-1, 0, 4, 10])
def test_k_hop_rejects_k_outside_1_to_3(graph_store: SqlStore, k: int) -> None:
    with graph_store.begin() as uow, pytest.raises(ValueError, match="k"):
        uow.graph.k_hop("user", "u1", k=k)


USERS_SHARING_CASES = [
    ("device", "d1", 0, 2),
    ("device", "d1", 1_000, 2),  # last_seen == since counts
    ("device", "d1", 1_001, 1),
    ("device", "d1", 2_001, 0),
    ("ip", "i1", 0, 3),  # d1 -> i1 is not a user
    ("ip", "i1", 600, 2),
    ("card", "c1", 5_000, 2),
    ("card", "c1", 5_001, 1),
    ("user", "u1", 0, 0),  # users link out, nobody links to them
    ("device", "nowhere", 0, 0),
]


@pytest.mark.parametrize(("entity_type", "entity_id", "since_us", "expected"), USERS_SHARING_CASES)
def test_users_sharing_counts_distinct_users_in_the_window(
    graph_store: SqlStore, entity_type: str, entity_id: str, since_us: int, expected: int
) -> None:
    with graph_store.begin() as uow:
        assert uow.graph.users_sharing(entity_type, entity_id, since_us=since_us) == expected


def test_users_sharing_counts_a_user_once(store: SqlStore) -> None:
    with store.begin(write=True) as uow:
        for _ in range(3):
            uow.graph.record([], [("user", "u-1", "device", "d-1", 10, 20, 1)])
        uow.graph.record([], [("user", "u-2", "device", "d-1", 10, 20, 1)])
        uow.commit()
    with store.begin() as uow:
        assert uow.graph.users_sharing("device", "d-1", since_us=0) == 2


# --- API keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scopes",
    [("ingest",), ("ingest", "decide", "admin"), ()],
    ids=["one scope", "several scopes", "no scope"],
)
def test_api_key_round_trips(store: SqlStore, scopes: tuple[str, ...]) -> None:
    row = ApiKeyRow("k-1", "checkout service", "ab" * 32, scopes, 1_000, None)
    with store.begin(write=True) as uow:
        uow.keys.add(row)
        uow.commit()
    with store.begin() as uow:
        assert uow.keys.get("k-1") == row
        assert uow.keys.all() == [row]


def test_api_keys_all_get_and_revoke(store: SqlStore) -> None:
    rows = [
        ApiKeyRow("k-2", "second", "2" * 64, ("decide",), 2_000, None),
        ApiKeyRow("k-1", "first", "1" * 64, ("ingest", "decide"), 1_000, None),
        ApiKeyRow("k-3", "third", "3" * 64, ("admin",), 3_000, 3_500),
    ]
    with store.begin(write=True) as uow:
        for row in rows:
            uow.keys.add(row)
        uow.commit()
    with store.begin(write=True) as uow:
        assert [r.key_id for r in uow.keys.all()] == ["k-1", "k-2", "k-3"]  # oldest first
        assert uow.keys.get("nope") is None
        assert uow.keys.revoke("k-1", 5_000) is True
        assert uow.keys.revoke("k-1", 6_000) is False  # already revoked: kept as it was
        assert uow.keys.revoke("k-3", 6_000) is False
        assert uow.keys.revoke("nope", 6_000) is False
        uow.commit()
    with store.begin() as uow:
        assert uow.keys.get("k-1") == ApiKeyRow(
            "k-1", "first", "1" * 64, ("ingest", "decide"), 1_000, 5_000
        )
        assert uow.keys.get("k-2") == rows[0]
        assert uow.keys.get("k-3") == rows[2]


# --- lists -------------------------------------------------------------------------------------


def entry(
    list_name: str,
    entity_id: str = "u-1",
    *,
    entity_type: str = "user",
    kind: str = "block",
    expires_at_us: int | None = None,
    reason: str = "chargebacks",
) -> ListEntry:
    return ListEntry(
        list_name, entity_type, entity_id, kind, reason, "analyst", 1_000, expires_at_us
    )


def test_list_put_upserts_and_remove(store: SqlStore) -> None:
    with store.begin(write=True) as uow:
        uow.lists.put(entry("fraud"))
        uow.lists.put(entry("fraud", kind="watch", reason="second look", expires_at_us=9_000))
        uow.commit()
    with store.begin(write=True) as uow:
        assert uow.lists.memberships("user", "u-1", 2_000) == [
            entry("fraud", kind="watch", reason="second look", expires_at_us=9_000)
        ]
        assert uow.lists.remove("fraud", "user", "u-1") is True
        assert uow.lists.remove("fraud", "user", "u-1") is False
        assert uow.lists.remove("other", "user", "u-1") is False
        assert uow.lists.memberships("user", "u-1", 2_000) == []
        uow.commit()
    with store.begin() as uow:
        assert uow.lists.memberships("user", "u-1", 2_000) == []


MEMBERSHIP_ENTRIES = [
    entry("forever"),
    entry("until-5000", expires_at_us=5_000),
    entry("until-3000", kind="watch", expires_at_us=3_000),
    entry("vip", kind="allow", expires_at_us=10_000),
    entry("forever", "u-2"),  # another user
    entry("forever", "u-1", entity_type="device"),  # same id, another type
]


@pytest.mark.parametrize(
    ("at_us", "expected"),
    [
        (1_000, {"forever", "until-5000", "until-3000", "vip"}),
        (2_999, {"forever", "until-5000", "until-3000", "vip"}),
        (3_001, {"forever", "until-5000", "vip"}),
        (4_999, {"forever", "until-5000", "vip"}),
        (5_001, {"forever", "vip"}),
        (20_000, {"forever"}),
    ],
)
def test_memberships_leave_out_expired_entries_and_other_entities(
    store: SqlStore, at_us: int, expected: set[str]
) -> None:
    with store.begin(write=True) as uow:
        for e in MEMBERSHIP_ENTRIES:
            uow.lists.put(e)
        uow.commit()
    with store.begin() as uow:
        got = uow.lists.memberships("user", "u-1", at_us)
    assert {e.list_name for e in got} == expected
    assert len(got) == len(expected)
    assert all(e in MEMBERSHIP_ENTRIES for e in got)


def test_an_expired_entry_can_be_put_again(store: SqlStore) -> None:
    with store.begin(write=True) as uow:
        uow.lists.put(entry("fraud", expires_at_us=2_000))
        assert uow.lists.memberships("user", "u-1", 3_000) == []
        uow.lists.put(entry("fraud", expires_at_us=9_000))
        assert uow.lists.memberships("user", "u-1", 3_000) == [entry("fraud", expires_at_us=9_000)]
        uow.commit()


# --- cursors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("for_update", [False, True], ids=["plain", "for update"])
def test_cursor_get_and_set(store: SqlStore, for_update: bool) -> None:
    with store.begin(write=True) as uow:
        assert uow.cursors.get("graph", for_update=for_update) == 0
        uow.cursors.set("graph", 10)
        assert uow.cursors.get("graph", for_update=for_update) == 10
        uow.cursors.set("graph", 25)
        uow.cursors.set("other", 3)
        uow.commit()
    with store.begin(write=True) as uow:
        assert uow.cursors.get("graph", for_update=for_update) == 25
        assert uow.cursors.get("other", for_update=for_update) == 3
        assert uow.cursors.get("unknown", for_update=for_update) == 0
        uow.cursors.set("graph", 7)  # a plain write; moving back is the caller's decision
        uow.commit()
    with store.begin() as uow:
        assert uow.cursors.get("graph") == 7


def test_cursor_advance_is_a_compare_and_set(store: SqlStore) -> None:
    with store.begin(write=True) as uow:
        assert not uow.cursors.advance("graph", 5, 9)  # a missing cursor is at 0
        assert uow.cursors.get("graph") == 0
        assert uow.cursors.advance("graph", 0, 9)  # creates it
        assert not uow.cursors.advance("graph", 0, 12)
        assert not uow.cursors.advance("graph", 8, 12)
        assert uow.cursors.advance("graph", 9, 12)
        uow.commit()
    with store.begin(write=True) as uow:
        assert uow.cursors.get("graph") == 12
        assert uow.cursors.advance("graph", 12, 12)  # no move, but it is where expected
        uow.commit()


def test_cursor_advance_past_log_needs_every_earlier_event_applied(store: SqlStore) -> None:
    with store.begin(write=True) as uow:
        first = uow.events.append([ev("a"), ev("b")])
        # no cursor yet and events before the batch: not caught up
        assert not uow.cursors.advance_past_log("graph", first["b"], first["b"])
        assert uow.cursors.advance_past_log("graph", first["a"], first["b"])  # creates it
        uow.commit()
    with store.begin(write=True) as uow:
        later = uow.events.append([ev("c"), ev("d")])
        assert not uow.cursors.advance_past_log("graph", later["d"], later["d"])  # c missed
        assert uow.cursors.advance_past_log("graph", later["c"], later["d"])
        uow.commit()
    with store.begin() as uow:
        assert uow.cursors.get("graph") == later["d"]


@pytest.mark.parametrize("existing", [False, True], ids=["new cursor", "existing cursor"])
def test_cursor_for_update_serialises_projectors(store: SqlStore, existing: bool) -> None:
    """Two projectors each read the cursor for update and move it on: the second waits for
    the first, so no step is lost (5 + 10, never just 10)."""
    if existing:
        with store.begin(write=True) as uow:
            uow.cursors.set("graph", 0)
            uow.commit()

    def advance(uow: UnitOfWork, by: int) -> None:
        uow.cursors.set("graph", uow.cursors.get("graph", for_update=True) + by)

    def second() -> None:
        with store.begin(write=True) as uow:
            advance(uow, 10)
            uow.commit()

    with store.begin(write=True) as uow:
        current = uow.cursors.get("graph", for_update=True)
        thread, errors = in_thread(second)
        thread.join(timeout=RUN_AHEAD_S)  # a projector that does not wait would run now
        uow.cursors.set("graph", current + 5)
        uow.commit()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert errors == []
    with store.begin() as uow:
        assert uow.cursors.get("graph") == 15


@pytest.mark.parametrize("size", [150, 1200], ids=["small-batch", "bulk-batch"])
def test_a_big_batch_keeps_order_and_first_occurrence(store: SqlStore, size: int) -> None:
    # large batches take the bulk path on PostgreSQL (COPY into a staging table); the
    # semantics must be the same as row by row
    with store.begin(write=True) as uow:
        uow.events.append([ev("old-1", "first"), ev("old-2", "first")])
        uow.commit()
    ids = [f"b-{i:05d}" for i in range(size)]
    batch = [ev(i, "first") for i in ids]
    batch.insert(size // 2, ev("old-1", "again"))  # already logged
    batch.insert(size // 3, ev(ids[10], "again"))  # repeated later in the batch
    batch.append(ev(ids[0], "again"))
    with store.begin(write=True) as uow:
        got = uow.events.append(batch)
        uow.commit()
    assert sorted(got) == ids
    assert [got[i] for i in ids] == sorted(got.values())  # seq follows batch order
    with store.begin() as uow:
        assert uow.events.count() == size + 2
        for event_id in (ids[0], ids[10], "old-1"):
            stored = uow.events.get(event_id)
            assert stored is not None
            assert stored.body == "first"
