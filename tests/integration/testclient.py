"""FastAPI's TestClient, imported once for every API test.

starlette's TestClient prefers the ``httpx2`` package and warns when it falls back to ``httpx``
(which it still supports, and which the dev extra installs). Only that warning is silenced, and
only for this import; every other warning stays an error.
"""

from __future__ import annotations

import warnings

from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

__all__ = ["TestClient"]
