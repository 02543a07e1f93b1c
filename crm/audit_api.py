"""GET /open/v5/audit-events: the channel's audit log (docs/api.md), for an owner's credential.

A record says who did what to which contact or keys, when and from where; never a value, never
a contact's name (crm.audit)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api import PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, epoch_ms, page_limit, query_check, refusals
from crm.api_auth import OpenApiView
from crm.audit_selectors import audit_events_page, audit_reader
from crm.errors import InvalidInput, Problem
from crm.models import ActorType, AuditAction, AuditEvent

TAGS = ["audit"]


class AuditActorSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=ActorType.values,
        help_text="manager, credential (an API credential), or system (work of the product's own).",
    )
    id = serializers.CharField(
        allow_null=True, help_text="The manager's or credential's id (kept once it is deleted)."
    )
    name = serializers.CharField(help_text="The actor's name as it was when it acted.")


class AuditTargetSerializer(serializers.Serializer):
    userId = serializers.CharField(
        required=False, help_text="The contact acted on (kept once it is deleted)."
    )


class AuditEventSerializer(serializers.Serializer):
    id = serializers.CharField()
    action = serializers.ChoiceField(choices=AuditAction.values)
    actor = AuditActorSerializer()
    target = AuditTargetSerializer()
    keys = serializers.ListField(
        child=serializers.CharField(), help_text="The keys acted on; never their values."
    )
    address = serializers.CharField(allow_null=True, help_text="The client's address.")
    userAgent = serializers.CharField(help_text="The client's user agent ('' when none).")
    createdAt = serializers.IntegerField(help_text="Epoch milliseconds.")


class AuditEventsPageSerializer(serializers.Serializer):
    auditEvents = AuditEventSerializer(many=True)
    next = serializers.CharField(
        allow_null=True, help_text="The cursor of the next page (?since=); null on the last."
    )


def audit_event_object(record: AuditEvent) -> dict[str, Any]:
    """RECORD as the API's audit event object."""
    target = {} if record.target_user_id is None else {"userId": str(record.target_user_id)}
    return {
        "id": str(record.pk),
        "action": record.action,
        "actor": {
            "type": record.actor_type,
            "id": None if record.actor_id is None else str(record.actor_id),
            "name": record.actor_name,
        },
        "target": target,
        "keys": list(record.keys),
        "address": record.address,
        "userAgent": record.user_agent,
        "createdAt": epoch_ms(record.created_at),
    }


def _action(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in AuditAction.values:
        allowed = ", ".join(AuditAction.values)
        message = f"action is one of {allowed}; received {raw[:40]!r}."
        raise InvalidInput([Problem("action", "invalid_choice", message)])
    return raw


PARAMETERS = [
    OpenApiParameter("action", str, enum=AuditAction.values, description="Only this action."),
    OpenApiParameter(
        "limit", int, description=f"1 to {PAGE_LIMIT_MAX}", default=PAGE_LIMIT_DEFAULT
    ),
    OpenApiParameter("since", str, description="The `next` cursor of the previous page."),
]


class AuditEventsView(OpenApiView):
    # An owner only (a role holding every permission): checked in the view, as no single
    # permission grants it.
    permissions_by_method = {"GET": None}

    @extend_schema(
        operation_id="audit_events_list",
        parameters=PARAMETERS,
        responses={200: AuditEventsPageSerializer, **refusals(400)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        """The channel's audit log, newest first; needs a role holding every permission."""
        if not audit_reader(self.viewer):
            raise PermissionDenied(
                "Only a role holding every permission (owner) reads the audit log."
            )
        query_check(request, ("action", "limit", "since"))
        params = request.query_params
        problems: list[Problem] = []
        action, limit = None, PAGE_LIMIT_DEFAULT
        try:
            action = _action(params.get("action"))
        except InvalidInput as refused:
            problems += refused.problems
        try:
            limit = page_limit(params.get("limit"))
        except InvalidInput as refused:
            problems += refused.problems
        if problems:
            raise InvalidInput(problems)
        page = audit_events_page(
            viewer=self.viewer, action=action, limit=limit, since=params.get("since") or None
        )
        return Response(
            {"auditEvents": [audit_event_object(e) for e in page.events], "next": page.next}
        )
