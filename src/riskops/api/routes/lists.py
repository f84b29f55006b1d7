"""Block / allow / watch lists."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from riskops.api.body import decode_json, read_body
from riskops.api.deps import require, runtime
from riskops.api.errors import json_response
from riskops.core.state.windows import parse_window
from riskops.errors import Problem, ValidationFailed
from riskops.services.lists import list_entry_dict
from riskops.services.runtime import Runtime
from riskops.stores.base import ApiKeyRow

router = APIRouter(prefix="/v1/lists", tags=["lists"])


def _ttl(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return parse_window(value) if value[-1:] in "smhd" else int(value)
        except ValueError as exc:
            raise ValidationFailed("invalid ttl", [Problem("ttl", str(exc))]) from None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValidationFailed("invalid ttl", [Problem("ttl", "seconds, or e.g. '30d'")])


@router.put(
    "/{list_name}/{entity_type}/{entity_id:path}",
    summary="Put an entity on a list",
    description='Body: `{"kind": "block" | "allow" | "watch", "reason": "...", "source": "...", '
    '"ttl": "30d" | seconds | null}`. Replaces an existing entry; audited.',
)
async def put_entry(
    list_name: str,
    entity_type: str,
    entity_id: str,
    request: Request,
    rt: Runtime = Depends(runtime),
    key: ApiKeyRow = Depends(require("admin")),
) -> Response:
    body = decode_json(await read_body(request, rt.settings.max_body_bytes))
    if not isinstance(body, dict):
        raise ValidationFailed("invalid body", [Problem("body", "expected a JSON object")])
    entry = rt.lists.put(
        list_name,
        entity_type,
        entity_id,
        kind=str(body.get("kind", "")),
        reason=str(body.get("reason", "")),
        source=str(body.get("source", key.name)),
        actor=key.name,
        ttl_s=_ttl(body.get("ttl")),
    )
    return json_response(list_entry_dict(entry))


@router.delete("/{list_name}/{entity_type}/{entity_id:path}", summary="Take an entity off a list")
def delete_entry(
    list_name: str,
    entity_type: str,
    entity_id: str,
    rt: Runtime = Depends(runtime),
    key: ApiKeyRow = Depends(require("admin")),
) -> Response:
    rt.lists.remove(list_name, entity_type, entity_id, actor=key.name)
    return Response(status_code=204)


@router.get("/{list_name}", summary="The entries of a list")
def get_list(
    list_name: str,
    include_expired: bool = False,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    entries = rt.lists.entries(list_name, include_expired=include_expired)
    return json_response({"list": list_name, "entries": [list_entry_dict(e) for e in entries]})
