"""/open/v5/user-tags: the channel's tag catalogue, each tag with how many contacts hold it.

A page of tags is keyset on the name and counted in a few queries whatever its size
(contacts.selectors.tags); POST adds a tag idempotently (201 new, 200 known); DELETE starts the
job that takes it off every holder in short batches, then out of the catalogue, and answers 202
with it (contacts.services.tags). The reasons are in docs/ARCHITECTURE.md."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from contacts.models import Tag
from contacts.representation import epoch_ms
from contacts.selectors.tags import tag_holder_counts, tag_holders, tag_of, tags_of
from contacts.services.tags import tag_create, tag_delete_start
from crm.api import PAGE_LIMIT_DEFAULT, StrictSerializer, page_limit, query_check
from crm.api_auth import OpenApiView
from crm.counting import BoundedCount, count_bounded
from crm.cursors import cursor_decode, cursor_encode
from crm.errors import InvalidInput, Problem
from crm.jobs.api import JOB_ACCEPTED, job_accepted
from crm.openapi import JsonStringField, error_responses, invalid_input, rate_limit_headers
from crm.permissions import Permission

_NAMES = {"tags": "name"}


class TagCountSerializer(serializers.Serializer):
    value = serializers.IntegerField(help_text="Contacts holding the tag.")
    exact = serializers.BooleanField(help_text="False when the value is the planner's estimate.")


class UserTagSerializer(serializers.Serializer):
    name = serializers.CharField()
    count = TagCountSerializer()
    createdAt = serializers.IntegerField(help_text="Epoch milliseconds.")


class UserTagListSerializer(serializers.Serializer):
    userTags = UserTagSerializer(many=True)
    next = serializers.CharField(
        allow_null=True, help_text="The cursor of the next page (`?since=`); null on the last."
    )


class UserTagEnvelopeSerializer(serializers.Serializer):
    userTag = UserTagSerializer()


class UserTagCreateSerializer(StrictSerializer):
    name = JsonStringField(
        help_text="Stored lowercased; no `.` `$` `/` `\\` or spaces; at most 50 characters."
    )


def tag_object(tag: Tag, count: BoundedCount) -> dict[str, Any]:
    """TAG as the API's tag object."""
    return {
        "name": tag.name,
        "count": {"value": count.value, "exact": count.exact},
        "createdAt": epoch_ms(tag.created_at),
    }


def _page_params(request: Request, scope: str) -> tuple[int, str | None]:
    """?limit and ?since, every problem with them listed."""
    problems: list[Problem] = []
    limit = PAGE_LIMIT_DEFAULT
    try:
        limit = page_limit(request.query_params.get("limit"))
    except InvalidInput as refused:
        problems += refused.problems
    since = None
    if "since" in request.query_params:
        try:
            position = cursor_decode(request.query_params["since"], scope=scope)
        except InvalidInput as refused:
            problems += refused.problems
        else:
            since = str(position[0]) if position else ""
    if problems:
        raise InvalidInput(problems)
    return limit, since


_TAGS = ["user tags"]
_NAME = OpenApiParameter(
    "name", str, OpenApiParameter.PATH, description="The tag (matched lowercased)."
)
_PAGE = [
    OpenApiParameter(
        "limit", int, OpenApiParameter.QUERY, description="Tags per page, 1-500 (default 25)."
    ),
    OpenApiParameter(
        "since", str, OpenApiParameter.QUERY, description="The `next` cursor of the page before."
    ),
]


class UserTagListView(OpenApiView):
    permissions_by_method = {
        "GET": Permission.CONTACTS_VIEW,
        "HEAD": Permission.CONTACTS_VIEW,
        "POST": Permission.CONTACTS_EDIT,
    }

    @extend_schema(
        operation_id="user_tags_list",
        tags=_TAGS,
        parameters=[*_PAGE, *rate_limit_headers([200, 400, 404])],
        responses={200: UserTagListSerializer, **error_responses(400, 401, 403, 404, 429)},
    )
    def get(self, request: Request) -> Response:
        """The channel's tags by name, each with how many contacts hold it (one page)."""
        query_check(request, ("limit", "since"))
        scope = f"{self.viewer.channel.pk}:user-tags:name"
        limit, since = _page_params(request, scope)
        tags = tags_of(viewer=self.viewer)
        if since is not None:
            tags = tags.filter(name__gt=since)
        page = list(tags[: limit + 1])
        more, page = len(page) > limit, page[:limit]
        counts = tag_holder_counts(viewer=self.viewer, names=[tag.name for tag in page])
        return Response(
            {
                "userTags": [tag_object(tag, counts[tag.name]) for tag in page],
                "next": cursor_encode(scope=scope, position=[page[-1].name]) if more else None,
            }
        )

    @extend_schema(
        operation_id="user_tags_create",
        tags=_TAGS,
        parameters=rate_limit_headers([200, 201, 400, 415]),
        request=UserTagCreateSerializer,
        responses={
            201: OpenApiResponse(UserTagEnvelopeSerializer, "Added to the catalogue."),
            200: OpenApiResponse(UserTagEnvelopeSerializer, "The catalogue held it already."),
            **error_responses(400, 401, 403, 415, 429),
        },
    )
    def post(self, request: Request) -> Response:
        """Add a tag to the channel's catalogue (at most 1,000 tags a channel)."""
        query_check(request)
        body = UserTagCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            tag, created = tag_create(channel=self.viewer.channel, name=body.validated_data["name"])
        except ValidationError as error:
            raise invalid_input(error, _NAMES) from error
        count = count_bounded(tag_holders(viewer=self.viewer, name=tag.name))
        return Response({"userTag": tag_object(tag, count)}, status=201 if created else 200)


class UserTagDetailView(OpenApiView):
    permissions_by_method = {"DELETE": Permission.GENERAL_SETTINGS}

    @extend_schema(
        operation_id="user_tags_delete",
        tags=_TAGS,
        parameters=[_NAME, *rate_limit_headers([202, 400, 404, 409])],
        responses={**JOB_ACCEPTED, **error_responses(400, 401, 403, 404, 409, 429)},
    )
    def delete(self, request: Request, name: str) -> Response:
        """Delete a tag from every contact holding it, then from the catalogue (needs
        `general_settings`): a `tagDelete` job; a 409 names the one deleting it already."""
        query_check(request)
        job = tag_delete_start(tag=tag_of(viewer=self.viewer, name=name), requested_by=self.viewer)
        return job_accepted(job)
