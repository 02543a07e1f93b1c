"""The OpenAPI document describes exactly what /open/v5 and /sdk/v1 serve, and the API holds
up against it: schemathesis sends generated requests (bounded) and checks every response."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema

from crm import services
from crm.provisioning import channel_provision

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def schema(db: None) -> dict[str, Any]:
    response = Client().get("/open/v5/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def served_routes() -> dict[str, set[str]]:
    """Every API route Django serves, as an OpenAPI path template, with its view's methods."""
    routes: dict[str, set[str]] = {}

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + _template(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith(("/open/v5/", "/sdk/v1/")):
                view = getattr(pattern.callback, "view_class", None)
                if view is not None and "schema" not in route and "docs" not in route:
                    routes[route] = {m for m in METHODS if hasattr(view, m)}

    walk(get_resolver().url_patterns, "/")
    return routes


def _template(pattern: Any) -> str:
    """'users/<str:id>' or '^users/(?P<id>…)$' as the OpenAPI template 'users/{id}'."""
    text = str(pattern).lstrip("^").rstrip("$")
    out, i = [], 0
    while i < len(text):
        named = re.match(r"\(\?P<(\w+)>", text[i:])
        if not named:
            out.append(text[i])
            i += 1
            continue
        depth, j = 1, i + named.end()
        while depth:  # skip the group's body, nested parentheses included
            depth += {"(": 1, ")": -1}.get(text[j], 0) if text[j - 1] != "\\" else 0
            j += 1
        out.append("{" + named.group(1) + "}")
        i = j
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", "".join(out)).replace("\\", "")


@pytest.mark.django_db
def test_the_schema_is_valid_openapi_3(schema: dict[str, Any]) -> None:
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")


@pytest.mark.django_db
def test_every_served_route_and_method_is_documented_and_nothing_else(
    schema: dict[str, Any],
) -> None:
    documented = {
        path: {m for m in METHODS if m in operations}
        for path, operations in schema["paths"].items()
    }
    served = {path: methods for path, methods in served_routes().items() if methods}

    assert documented == served


@pytest.mark.django_db
def test_every_operation_documents_its_refusals(schema: dict[str, Any]) -> None:
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS or not path.startswith("/open/v5/"):
                continue
            codes = set(operation["responses"])
            assert {"401", "403", "429"} <= codes, f"{method.upper()} {path} documents {codes}"
            if "{" in path and method != "put":  # PUT by member id creates, never 404s
                assert "404" in codes, f"{method.upper()} {path} documents no 404"


@pytest.mark.django_db
def test_every_api_and_sdk_operation_documents_the_503_of_an_unreachable_database(
    schema: dict[str, Any],
) -> None:
    documented = 0
    for path, operations in schema["paths"].items():
        if not path.startswith(("/open/v5/", "/sdk/v1/")):
            continue
        for method, operation in operations.items():
            answer = operation["responses"]["503"]
            assert answer["headers"]["Retry-After"]["schema"] == {"type": "integer"}, path
            error = answer["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ApiError"}, f"{method} {path}"
            documented += 1
    assert documented >= 25


@pytest.mark.django_db
def test_the_docs_page_is_served(db: None) -> None:
    response = Client().get("/open/v5/docs/")

    assert response.status_code == 200
    assert b"swagger-ui" in response.content


@pytest.fixture
def credential_headers(transactional_db: None) -> dict[str, str]:
    channel = channel_provision(name="Fuzzed shop", plan="paid")
    issued = services.credential_create(
        channel=channel, role=services.role_get(channel=channel, name="owner")
    )
    return {"x-access-key": issued.credential.access_key, "x-access-secret": issued.secret}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_generated_requests_never_fail_and_always_match_the_schema(
    credential_headers: dict[str, str], settings: Any, live_server: Any
) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    settings.API_RATE_LIMIT = "1000000/60"
    settings.SDK_RATE_LIMIT_PER_ADDRESS = settings.SDK_RATE_LIMIT_PER_KEY = "1000000/60"
    api = schemathesis.openapi.from_url(f"{live_server.url}/open/v5/schema/?format=json")
    checks = [
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
        content_type_conformance,
    ]
    tried = 0
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=8,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            case.call_and_validate(
                base_url=live_server.url, headers=credential_headers, checks=checks
            )

        exercise()
        tried += 1
    assert tried >= 20


@pytest.mark.django_db
def test_the_reveal_and_the_audit_log_are_documented_with_their_answers(
    schema: dict[str, Any],
) -> None:
    reveal = schema["paths"]["/open/v5/users/{id}/reveal"]["post"]
    audit = schema["paths"]["/open/v5/audit-events"]["get"]

    assert sorted(reveal["responses"]) == sorted(
        ["200", "400", "401", "403", "404", "413", "415", "429", "503"]
    )
    assert sorted(audit["responses"]) == ["200", "400", "401", "403", "429", "503"]
    [action] = [p for p in audit["parameters"] if p["name"] == "action"]
    assert "user.block" in action["schema"]["enum"]
    events = schema["components"]["schemas"]["AuditEvent"]["properties"]
    assert sorted(events) == sorted(
        ["id", "action", "actor", "target", "keys", "address", "userAgent", "createdAt"]
    )
    masked = schema["components"]["schemas"]["UserObject"]["properties"]["masked"]
    assert '"********"' in masked["description"]
