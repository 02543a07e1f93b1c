"""A small client for /sdk/v1 over Django's test client (real HTTP handling, real database)."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


class Sdk:
    def __init__(self, plugin_key: str, address: str = "203.0.113.7") -> None:
        self.plugin_key = plugin_key
        self.client = Client(REMOTE_ADDR=address)
        self.token: str | None = None
        self.veil_id: str | None = None

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.post(
            f"/sdk/v1/{path}", json.dumps(body), content_type="application/json", headers=headers
        )

    def boot(self, **fields: Any) -> Any:
        body = {"pluginKey": self.plugin_key, **fields}
        if self.veil_id and "veilId" not in fields:
            body["veilId"] = self.veil_id
        body.setdefault("device", {"platform": "web", "userAgent": WINDOWS_CHROME})
        response = self.post("boot", body)
        if response.status_code == 200:
            self.token = response.json()["sessionToken"]
            self.veil_id = response.json()["veilId"] or self.veil_id
        return response

    def call(self, path: str, body: Any) -> Any:
        return self.post(path, body, **{"x-session-token": self.token or ""})
