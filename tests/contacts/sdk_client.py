"""A small client for /sdk/v1 over Django's test client (real HTTP handling, real database)."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from contacts.services.boot import member_hash
from crm.models import Channel

WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


class Sdk:
    """A website's snippet. Given a CHANNEL, it signs the member ids it boots with as the site's
    server would (memberHash); given a bare plugin key, it sends none (an unverified boot)."""

    def __init__(self, channel: Channel | str, address: str = "203.0.113.7") -> None:
        if isinstance(channel, Channel):
            self.plugin_key: str = channel.plugin_key
            self.secret: str | None = channel.member_hash_secret
        else:
            self.plugin_key, self.secret = channel, None
        self.client = Client(REMOTE_ADDR=address)
        self.token: str | None = None
        self.veil_id: str | None = None

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.post(
            f"/sdk/v1/{path}", json.dumps(body), content_type="application/json", headers=headers
        )

    def boot(self, **fields: Any) -> Any:
        body = {"pluginKey": self.plugin_key, **fields}
        if self.secret and fields.get("memberId") and "memberHash" not in fields:
            body["memberHash"] = member_hash(secret=self.secret, member_id=fields["memberId"])
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
