"""GET /open/v5/users, POST /open/v5/users/search and the segments (docs/api.md)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from contacts.listing import ContactPage, contact_list_page
from contacts.representation import segment_object, user_object
from contacts.selectors.segments import segment_get, segment_list
from contacts.services import segments
from crm.api import StrictSerializer, page_limit, query_check, refusals
from crm.api_auth import OpenApiView
from crm.json_input import json_input_decode
from crm.permissions import Permission
from masking.policy import MaskingPolicy, policy_for

LIST_PARAMETERS = [
    OpenApiParameter(
        "query",
        str,
        description="Quick search over name, mobile number and email. A field masked for the "
        "role (no sensitive_view) is found by its whole value only (a whole email, a whole "
        "number in any form); part of one matches nothing.",
    ),
    OpenApiParameter(
        "filter",
        str,
        description="A filter tree as JSON: and/or groups of {key, operator, values} conditions. "
        "A key masked for the role takes only eq and in, on whole values (400 masked_key).",
    ),
    OpenApiParameter(
        "sort",
        str,
        description="lastSeenAt, -lastSeenAt (default), createdAt, "
        "updatedAt, name, sessionsCount, profile.<indexed key>; '-' descends. Not a key "
        "masked for the role (400 masked_key).",
    ),
    OpenApiParameter("limit", int, description="1-500, default 25."),
    OpenApiParameter("since", str, description="The `next` cursor of the previous page."),
]


class CountSerializer(serializers.Serializer):
    value = serializers.IntegerField()
    exact = serializers.BooleanField()


class UserListSerializer(serializers.Serializer):
    users = serializers.ListField(child=serializers.DictField())
    next = serializers.CharField(allow_null=True)
    count = CountSerializer()


class SearchRequestSerializer(StrictSerializer):
    filter = serializers.JSONField(required=False, allow_null=True)
    query = serializers.CharField(required=False, allow_blank=True, max_length=100)
    sort = serializers.CharField(required=False, allow_blank=True)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500)
    since = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class SegmentSerializer(StrictSerializer):
    id = serializers.CharField(read_only=True)
    name = serializers.CharField(max_length=100)
    filter = serializers.JSONField(
        help_text="The filter tree. Values of conditions on keys masked for the role are shown "
        "masked; the stored filter is unchanged."
    )
    createdAt = serializers.IntegerField(read_only=True)
    updatedAt = serializers.IntegerField(read_only=True)


class SegmentEnvelope(serializers.Serializer):
    segment = SegmentSerializer()


class SegmentListEnvelope(serializers.Serializer):
    segments = SegmentSerializer(many=True)


def page_body(page: ContactPage, policy: MaskingPolicy) -> dict[str, Any]:
    return {
        "users": [user_object(contact, policy=policy) for contact in page.contacts],
        "next": page.next,
        "count": {"value": page.count.value, "exact": page.count.exact},
    }


def filter_from_query(raw: str | None) -> Any:
    """?filter=, read as JSON bodies are."""
    return json_input_decode(raw, key="filter") if raw else None


class UserListView(OpenApiView):
    """GET /open/v5/users: the channel's contacts, filtered, searched, sorted, paged."""

    permissions_by_method = {"GET": Permission.CONTACTS_VIEW}

    @extend_schema(
        parameters=LIST_PARAMETERS,
        responses={200: UserListSerializer, **refusals(400)},
        operation_id="users_list",
        tags=["users"],
    )
    def get(self, request: Request) -> Response:
        query_check(request, ("query", "filter", "sort", "limit", "since"))
        params = request.query_params
        page = contact_list_page(
            viewer=self.viewer,
            filter=filter_from_query(params.get("filter")),
            query=params.get("query", ""),
            sort=params.get("sort"),
            limit=page_limit(params.get("limit")),
            since=params.get("since"),
        )
        return Response(page_body(page, policy_for(self.viewer)))


class UserSearchView(OpenApiView):
    """POST /open/v5/users/search: the same list with the filter in the body."""

    permissions_by_method = {"POST": Permission.CONTACTS_VIEW}

    @extend_schema(
        request=SearchRequestSerializer,
        responses={200: UserListSerializer, **refusals(400)},
        operation_id="users_search",
        tags=["users"],
    )
    def post(self, request: Request) -> Response:
        body = SearchRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        page = contact_list_page(
            viewer=self.viewer,
            filter=data.get("filter"),
            query=data.get("query", ""),
            sort=data.get("sort") or None,
            limit=data.get("limit", 25),
            since=data.get("since") or None,
        )
        return Response(page_body(page, policy_for(self.viewer)))


class SegmentListView(OpenApiView):
    permissions_by_method = {"GET": Permission.CONTACTS_VIEW, "POST": Permission.CONTACTS_EDIT}

    @extend_schema(
        responses={200: SegmentListEnvelope, **refusals()},
        operation_id="segments_list",
        tags=["segments"],
    )
    def get(self, request: Request) -> Response:
        found = segment_list(viewer=self.viewer)
        return Response(
            {"segments": [segment_object(s, policy=policy_for(self.viewer)) for s in found]}
        )

    @extend_schema(
        request=SegmentSerializer,
        responses={201: SegmentEnvelope, **refusals(400, 409)},
        operation_id="segments_create",
        tags=["segments"],
    )
    def post(self, request: Request) -> Response:
        body = SegmentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        created = segments.segment_create(
            viewer=self.viewer,
            name=body.validated_data["name"],
            filter=body.validated_data["filter"],
        )
        return Response(
            {"segment": segment_object(created, policy=policy_for(self.viewer))}, status=201
        )


class SegmentDetailView(OpenApiView):
    permissions_by_method = {
        "GET": Permission.CONTACTS_VIEW,
        "PATCH": Permission.CONTACTS_EDIT,
        "DELETE": Permission.CONTACTS_EDIT,
    }

    @extend_schema(
        responses={200: SegmentEnvelope, **refusals(404)},
        operation_id="segments_get",
        tags=["segments"],
    )
    def get(self, request: Request, id: str) -> Response:
        segment = segment_get(viewer=self.viewer, segment_id=id)
        return Response({"segment": segment_object(segment, policy=policy_for(self.viewer))})

    @extend_schema(
        request=SegmentSerializer(partial=True),
        responses={200: SegmentEnvelope, **refusals(400, 404, 409)},
        operation_id="segments_update",
        tags=["segments"],
    )
    def patch(self, request: Request, id: str) -> Response:
        segment = segment_get(viewer=self.viewer, segment_id=id)
        body = SegmentSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        updated = segments.segment_update(
            viewer=self.viewer,
            segment=segment,
            name=body.validated_data.get("name"),
            filter=body.validated_data.get("filter"),
        )
        return Response({"segment": segment_object(updated, policy=policy_for(self.viewer))})

    @extend_schema(
        responses={204: None, **refusals(404)}, operation_id="segments_delete", tags=["segments"]
    )
    def delete(self, request: Request, id: str) -> Response:
        segments.segment_delete(segment=segment_get(viewer=self.viewer, segment_id=id))
        return Response(status=204)


class SegmentUsersView(OpenApiView):
    """GET /open/v5/segments/{id}/users: the segment's contacts, as the user list."""

    permissions_by_method = {"GET": Permission.CONTACTS_VIEW}

    @extend_schema(
        parameters=LIST_PARAMETERS[2:],
        responses={200: UserListSerializer, **refusals(400, 404)},
        operation_id="segments_users",
        tags=["segments"],
    )
    def get(self, request: Request, id: str) -> Response:
        segment = segment_get(viewer=self.viewer, segment_id=id)
        query_check(request, ("sort", "limit", "since"))
        params = request.query_params
        page = contact_list_page(
            viewer=self.viewer,
            filter={"key": "segment", "operator": "eq", "values": [segment.pk]},
            sort=params.get("sort"),
            limit=page_limit(params.get("limit")),
            since=params.get("since"),
            list_name=f"segment{segment.pk}",
        )
        return Response(page_body(page, policy_for(self.viewer)))
