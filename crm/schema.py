"""OpenAPI descriptions of our authentication (drf-spectacular extensions)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class CredentialScheme(OpenApiAuthenticationExtension):
    """x-access-key + x-access-secret headers of an API credential."""

    target_class = "crm.api_auth.CredentialAuthentication"
    name = ["accessKey", "accessSecret"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {"type": "apiKey", "in": "header", "name": "x-access-key"},
            {"type": "apiKey", "in": "header", "name": "x-access-secret"},
        ]


class ManagerSessionScheme(OpenApiAuthenticationExtension):
    """A manager's browser session (cookie), the channel chosen with x-channel-id."""

    target_class = "crm.api_auth.ManagerSessionAuthentication"
    name = "managerSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
