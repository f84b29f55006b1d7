"""The reference for bench_decide: a bare FastAPI endpoint on the same path, server and
event loop as riskops (uvicorn, uvloop, httptools), that reads and parses the same JSON body
and answers a small JSON object - no auth, no validation, no state, no storage. What riskops
adds on top of this is the cost of deciding."""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

app = FastAPI()


@app.post("/v1/decisions/{checkpoint}")
async def decide(checkpoint: str, request: Request) -> Response:
    event = orjson.loads(await request.body())
    body = {"checkpoint": checkpoint, "event_id": event.get("event_id"), "outcome": "allow"}
    return Response(orjson.dumps(body), media_type="application/json")
