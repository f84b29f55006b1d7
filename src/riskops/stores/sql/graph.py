"""The entity graph's queries: folded upserts of nodes and edges, links, k-hop, sharing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from riskops.stores.base import (
    EdgeTouch,
    HopNode,
    Link,
    NodeInfo,
    NodeTouch,
)
from riskops.stores.sql.dialect import driver_sql
from riskops.stores.sql.tables import (
    edges,
    entities,
)

_NODE_CONFLICT = (
    " ON CONFLICT (type, id) DO UPDATE SET "
    "first_seen_us = {least}(entities.first_seen_us, excluded.first_seen_us), "
    "last_seen_us = {greatest}(entities.last_seen_us, excluded.last_seen_us), "
    "events = entities.events + excluded.events"
)
_EDGE_CONFLICT = (
    " ON CONFLICT (src_type, src_id, dst_type, dst_id) DO UPDATE SET "
    "first_seen_us = {least}(edges.first_seen_us, excluded.first_seen_us), "
    "last_seen_us = {greatest}(edges.last_seen_us, excluded.last_seen_us), "
    "count = edges.count + excluded.count"
)
_NODE_COLUMNS = "entities (type, id, first_seen_us, last_seen_us, events)"
_EDGE_COLUMNS = "edges (src_type, src_id, dst_type, dst_id, first_seen_us, last_seen_us, count)"
_UPSERT_NODE = f"INSERT INTO {_NODE_COLUMNS} VALUES (?, ?, ?, ?, ?){_NODE_CONFLICT}"  # noqa: S608
_UPSERT_EDGE = f"INSERT INTO {_EDGE_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?){_EDGE_CONFLICT}"  # noqa: S608
# PostgreSQL: the folded touches as one JSON array of rows (serialised in C), one statement per
# table (touches are folded per key: one statement may not update a row twice) - far cheaper
# than a statement per row.
_PG_UPSERT_NODES = (
    f"INSERT INTO {_NODE_COLUMNS} "  # noqa: S608 - constants only
    "SELECT r->>0, r->>1, (r->>2)::bigint, (r->>3)::bigint, (r->>4)::bigint "
    "FROM json_array_elements(%s::json) AS t(r)" + _NODE_CONFLICT
)
_PG_UPSERT_EDGES = (
    f"INSERT INTO {_EDGE_COLUMNS} "  # noqa: S608 - constants only
    "SELECT r->>0, r->>1, r->>2, r->>3, (r->>4)::bigint, (r->>5)::bigint, (r->>6)::bigint "
    "FROM json_array_elements(%s::json) AS t(r)" + _EDGE_CONFLICT
)


def _folded(rows: Sequence[tuple[Any, ...]], width: int) -> Sequence[tuple[Any, ...]]:
    """Touches of one key merged into one (earliest first seen, latest last seen, counts
    added): one statement may not update a row twice. Rows are ``(*key, first, last, n)``."""
    if len({r[:width] for r in rows}) == len(rows):
        return rows
    merged: dict[tuple[Any, ...], tuple[int, int, int]] = {}
    for r in rows:
        key, first, last, n = r[:width], r[width], r[width + 1], r[width + 2]
        had = merged.get(key)
        merged[key] = (
            (first, last, n) if had is None else (min(had[0], first), max(had[1], last), had[2] + n)
        )
    return [(*key, *agg) for key, agg in merged.items()]


class SqlGraph:
    def __init__(self, conn: Connection, dialect: str) -> None:
        self._conn = conn
        self._dialect = dialect

    def record(self, nodes: Sequence[NodeTouch], edge_touches: Sequence[EdgeTouch]) -> None:
        if self._dialect == "postgresql":
            for sql, rows, width in (
                (_PG_UPSERT_NODES, nodes, 2),
                (_PG_UPSERT_EDGES, edge_touches, 4),
            ):
                if rows:
                    sql = driver_sql(self._dialect, sql)
                    self._conn.exec_driver_sql(sql, (orjson.dumps(_folded(rows, width)).decode(),))
            return
        if nodes:
            self._conn.exec_driver_sql(
                driver_sql(self._dialect, _UPSERT_NODE),
                nodes,
            )
        if edge_touches:
            self._conn.exec_driver_sql(
                driver_sql(self._dialect, _UPSERT_EDGE),
                edge_touches,
            )

    def node(self, entity_type: str, entity_id: str) -> NodeInfo | None:
        row = self._conn.execute(
            sa.select(entities).where(entities.c.type == entity_type, entities.c.id == entity_id)
        ).first()
        return NodeInfo(*row) if row else None

    def _link_queries(
        self, entity_type: str, entity_id: str, since_us: int | None, types: Sequence[str] | None
    ) -> tuple[sa.Select[Any], sa.Select[Any]]:
        out_q = sa.select(
            edges.c.dst_type.label("type"),
            edges.c.dst_id.label("id"),
            sa.literal("out").label("direction"),
            edges.c.first_seen_us,
            edges.c.last_seen_us,
            edges.c.count,
        ).where(edges.c.src_type == entity_type, edges.c.src_id == entity_id)
        in_q = sa.select(
            edges.c.src_type.label("type"),
            edges.c.src_id.label("id"),
            sa.literal("in").label("direction"),
            edges.c.first_seen_us,
            edges.c.last_seen_us,
            edges.c.count,
        ).where(edges.c.dst_type == entity_type, edges.c.dst_id == entity_id)
        if since_us is not None:
            out_q = out_q.where(edges.c.last_seen_us >= since_us)
            in_q = in_q.where(edges.c.last_seen_us >= since_us)
        if types:
            out_q = out_q.where(edges.c.dst_type.in_(list(types)))
            in_q = in_q.where(edges.c.src_type.in_(list(types)))
        return out_q, in_q

    def links(
        self,
        entity_type: str,
        entity_id: str,
        *,
        limit: int = 100,
        since_us: int | None = None,
        types: Sequence[str] | None = None,
    ) -> list[Link]:
        out_q, in_q = self._link_queries(entity_type, entity_id, since_us, types)
        # Each side is limited on its own (index order) before the union, so a hub entity with
        # millions of edges costs no more than ``limit`` rows per side.
        out_q = out_q.order_by(edges.c.last_seen_us.desc()).limit(limit)
        in_q = in_q.order_by(edges.c.last_seen_us.desc()).limit(limit)
        rows = [Link(*r) for r in self._conn.execute(out_q)]
        rows += [Link(*r) for r in self._conn.execute(in_q)]
        rows.sort(key=lambda link: link.last_seen_us, reverse=True)
        return rows[:limit]

    def k_hop(
        self,
        entity_type: str,
        entity_id: str,
        *,
        k: int,
        per_node_limit: int = 50,
        max_nodes: int = 500,
        since_us: int | None = None,
    ) -> list[HopNode]:
        if not 1 <= k <= 3:
            raise ValueError("k must be between 1 and 3")
        if max_nodes < 1:
            return []
        start = (entity_type, entity_id)
        seen: set[tuple[str, str]] = {start}
        found: list[HopNode] = []
        frontier = [start]
        for depth in range(1, k + 1):
            next_frontier: list[tuple[str, str]] = []
            for node_type, node_id in frontier:
                for link in self.links(node_type, node_id, limit=per_node_limit, since_us=since_us):
                    key = (link.type, link.id)
                    if key in seen:
                        continue
                    seen.add(key)
                    found.append(HopNode(link.type, link.id, depth, node_type, node_id))
                    next_frontier.append(key)
                    if len(found) >= max_nodes:
                        return found
            frontier = next_frontier
        return found

    def users_sharing(self, entity_type: str, entity_id: str, *, since_us: int) -> int:
        q = sa.select(sa.func.count(sa.distinct(edges.c.src_id))).where(
            edges.c.dst_type == entity_type,
            edges.c.dst_id == entity_id,
            edges.c.src_type == "user",
            edges.c.last_seen_us >= since_us,
        )
        return int(self._conn.execute(q).scalar_one())
