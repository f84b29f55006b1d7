"""The one error tree of riskops. Every error carries the HTTP status it maps to.

    RiskopsError (500)
    ├── ValidationFailed (422)   bad input; ``problems`` names each field and reason
    │   └── BadRequest (400)     the body itself is unreadable (not JSON, not UTF-8)
    ├── PayloadTooLarge (413)    body or batch over the configured limit
    ├── Unauthorized (401)       no key, or an unknown / revoked key
    ├── Forbidden (403)          the key lacks the scope
    ├── NotFound (404)
    ├── Conflict (409)
    └── Unavailable (503)        a dependency (database, Redis) cannot be reached

The API has one handler that renders any of these as
``{"error": {"code": ..., "message": ..., "problems": [...]}}``; the CLI prints the message
and exits with a non-zero code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where (a dotted field path) and why."""

    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


@dataclass
class RiskopsError(Exception):
    message: str
    problems: list[Problem] = field(default_factory=list)
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        details = "; ".join(f"{p.field}: {p.reason}" for p in self.problems)
        return f"{self.message} ({details})"

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.problems:
            body["problems"] = [p.as_dict() for p in self.problems]
        return {"error": body}


class ValidationFailed(RiskopsError):
    status = 422
    code = "validation_failed"


class BadRequest(ValidationFailed):
    status = 400
    code = "bad_request"


class PayloadTooLarge(RiskopsError):
    status = 413
    code = "payload_too_large"


class Unauthorized(RiskopsError):
    status = 401
    code = "unauthorized"


class Forbidden(RiskopsError):
    status = 403
    code = "forbidden"


class NotFound(RiskopsError):
    status = 404
    code = "not_found"


class Conflict(RiskopsError):
    status = 409
    code = "conflict"


class Unavailable(RiskopsError):
    status = 503
    code = "unavailable"
