"""Fold the nodes and edges of many events into one touch per node / edge (count, first and
last seen), so a batch writes each graph row once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from riskops.core.entities.extract import Edge, Node

K = TypeVar("K")


def fold_touches(
    items: Iterable[tuple[int, Iterable[Node], Iterable[Edge]]],
) -> tuple[dict[Node, list[int]], dict[Edge, list[int]]]:
    """``items``: (occurred_at_us, nodes, edges) per event. Returns two maps from key to
    ``[first_us, last_us, count]``."""
    nodes: dict[Node, list[int]] = {}
    edges: dict[Edge, list[int]] = {}
    for at, event_nodes, event_edges in items:
        for n in event_nodes:
            _fold(nodes, n, at)
        for e in event_edges:
            _fold(edges, e, at)
    return nodes, edges


def _fold(into: dict[K, list[int]], key: K, at: int) -> None:
    acc = into.get(key)
    if acc is None:
        into[key] = [at, at, 1]
        return
    if at < acc[0]:
        acc[0] = at
    if at > acc[1]:
        acc[1] = at
    acc[2] += 1
