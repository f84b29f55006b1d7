"""Reading request bodies: the size limit (413) and JSON / UTF-8 errors (400) naming the
place."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from riskops.errors import BadRequest, PayloadTooLarge, Problem


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    too_large = [Problem("body", f"at most {limit} bytes per request; send smaller batches")]
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"body of {declared} bytes is over the limit of {limit} bytes", too_large
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over the limit of {limit} bytes", too_large)
        chunks.append(chunk)
    return b"".join(chunks)


def decode_json(body: bytes) -> Any:
    if not body.strip():
        raise BadRequest("empty body", [Problem("body", "expected a JSON object or array")])
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            "body is not valid UTF-8",
            [Problem("body", f"invalid UTF-8 byte at offset {exc.start}")],
        ) from None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(
            "body is not valid JSON",
            [Problem("body", f"{exc.msg} at line {exc.lineno} column {exc.colno}")],
        ) from None


async def read_text(request: Request, limit: int) -> str:
    """The body as UTF-8 text (e.g. a YAML ruleset); 400 naming the body when it is not."""
    body = await read_body(request, limit)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            "body is not UTF-8 text", [Problem("body", f"invalid UTF-8 byte at offset {exc.start}")]
        ) from None
