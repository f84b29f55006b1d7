"""The audit log: who changed what, when, with the before and after."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from riskops.api.deps import require, runtime
from riskops.api.errors import json_response
from riskops.services.runtime import Runtime
from riskops.stores.base import ApiKeyRow

router = APIRouter(tags=["audit"])


@router.get("/v1/audit", summary="Recent audit entries, newest first")
def get_audit(
    subject: str | None = Query(None, description="e.g. ruleset:order, list:blocked_devices"),
    limit: int = Query(100, ge=1, le=1000),
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("admin")),
) -> Response:
    return json_response({"entries": rt.audit.recent(limit, subject)})
