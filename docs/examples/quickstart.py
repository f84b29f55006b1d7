"""The README quickstart in Python: send an event, resend it, read the user's profile.

    python docs/examples/quickstart.py http://127.0.0.1:8600 <api-key>
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import httpx


def main(base_url: str, key: str) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {key}"}
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    event = {
        "event_id": "quickstart-0001",
        "type": "order.placed",
        "occurred_at": now,
        "market": "ID",
        "user_id": "u-42",
        "device": {"user_agent": "Mozilla/5.0 (Linux; Android 14)", "model": "SM-A155F",
                   "os": "Android", "screen": "1080x2340", "timezone": "Asia/Jakarta"},
        "ip": "203.0.113.7",
        "payload": {
            "order_id": "o-9001",
            "currency": "IDR",
            "payment_method": "cod",
            "items": [{"sku": "sku-1", "merchant_id": "m-7", "price": 120000, "qty": 1}],
            "shipping_address": {"line1": "Jl. Sudirman No. 5", "city": "Jakarta",
                                 "country": "ID"},
        },
    }
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        first = client.post("/v1/events", json=event)
        print(first.status_code, first.json())  # 201 … "duplicate": false
        again = client.post("/v1/events", json=event)
        print(again.status_code, again.json())  # 200 … "duplicate": true
        profile = client.get("/v1/entities/user/u-42", params={"windows": "1h,24h"})
        profile.raise_for_status()
        body: dict[str, object] = profile.json()
        print(body["counters"])
        return body


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
