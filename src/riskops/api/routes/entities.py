"""Entity profiles and the graph around an entity."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from riskops.api.deps import require, runtime
from riskops.api.errors import json_response
from riskops.core.state.windows import parse_window
from riskops.errors import Problem, ValidationFailed
from riskops.services.runtime import Runtime
from riskops.stores.base import ApiKeyRow

router = APIRouter(prefix="/v1/entities", tags=["entities"])


@router.get(
    "/{entity_type}/{entity_id:path}/graph",
    summary="k-hop neighbourhood (k ≤ 3) with limits",
)
def get_graph(
    entity_type: str,
    entity_id: str,
    k: int = Query(2, ge=1, le=3),
    per_node: int = Query(50, ge=1, le=500),
    max_nodes: int = Query(500, ge=1, le=5000),
    within: str | None = Query(None, description="only edges seen within, e.g. 30d"),
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    try:
        within_s = parse_window(within) if within else None
    except ValueError as exc:
        raise ValidationFailed("invalid within", [Problem("within", str(exc))]) from None
    return json_response(
        rt.profiles.neighbourhood(
            entity_type,
            entity_id,
            k=k,
            per_node_limit=per_node,
            max_nodes=max_nodes,
            within=within_s,
        )
    )


@router.get(
    "/{entity_type}/{entity_id:path}",
    summary="What we know about an entity",
    description=(
        "First / last seen, sliding-window counters per metric, linked entities, users "
        "sharing it (devices, addresses, instruments, ...) and list memberships. For address, "
        "email, phone and instrument, pass either the riskops hash id or the raw value: it is "
        "normalised and hashed with the deployment key."
    ),
)
def get_entity(
    entity_type: str,
    entity_id: str,
    windows: str | None = Query(None, description="e.g. 1h,24h,30d (60 s to 90 days)"),
    as_of: datetime | None = Query(None, description="window end (RFC 3339); default now"),
    links: int = Query(50, ge=0, le=1000, description="most linked entities to return"),
    market: str | None = Query(
        None,
        pattern="^[A-Za-z]{2}$",
        description="for a national phone number: the market it belongs to (e.g. ID)",
    ),
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    if as_of is not None and as_of.tzinfo is None:
        raise ValidationFailed("invalid as_of", [Problem("as_of", "must carry a time zone")])
    profile = rt.profiles.profile(
        entity_type,
        entity_id,
        windows=rt.profiles.parse_windows(windows),
        as_of=as_of,
        link_limit=links,
        market=market.upper() if market else None,
    )
    return json_response(profile)
