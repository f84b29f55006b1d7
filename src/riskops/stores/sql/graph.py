"""The entity graph's queries: folded upserts of nodes and edges, links, k-hop, sharing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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

_UPSERT_NODE = (
    "INSERT INTO entities (type, id, first_seen_us, last_seen_us, events) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (type, id) DO UPDATE SET "
    "first_seen_us = {least}(entities.first_seen_us, excluded.first_seen_us), "
    "last_seen_us = {greatest}(entities.last_seen_us, excluded.last_seen_us), "
    "events = entities.events + excluded.events"
)
_UPSERT_EDGE = (
    "INSERT INTO edges (src_type, src_id, dst_type, dst_id, first_seen_us, last_seen_us, "
    "count) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (src_type, src_id, dst_type, dst_id) DO UPDATE SET "
    "first_seen_us = {least}(edges.first_seen_us, excluded.first_seen_us), "
    "last_seen_us = {greatest}(edges.last_seen_us, excluded.last_seen_us), "
    "count = edges.count + excluded.count"
)


class SqlGraph:
    def __init__(self, conn: Connection, dialect: str) -> None:
        self._conn = conn
        self._dialect = dialect

    def record(self, nodes: Sequence[NodeTouch], edge_touches: Sequence[EdgeTouch]) -> None:
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
