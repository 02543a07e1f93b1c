"""/open/v5/user-tags: the channel's tag catalogue, each tag with how many contacts hold it.

Decisions where API.md is silent:
- A tag object is `{"name", "count": {"value", "exact"}, "createdAt"}`. The list is by name,
  keyset-paginated on it (`?limit` 1-500, default 25; `?since`), and refuses other parameters.
- Counts follow ARCHITECTURE rule 6 for the whole page at once, in a constant number of
  queries whatever the page size: one statement counts every tag of the page in one pass over
  their holders (`tags && <the page's names>`, served by the GIN index (channel_id, tags);
  each holder read once, not once per tag) under the bounded-count timeout of
  crm.counting; when it runs out, one EXPLAIN gives the planner's estimate of each tag (marked
  inexact), and the tags estimated small are counted exactly again under the same timeout.
  Counting each tag with count_bounded would take a savepoint and a timeout per tag: 500 tags
  could wait 100 s.
- POST `{"name"}` cleans the name as every tag write does (lowercased; no `.` `$` `/` `\\` or
  spaces; at most 50 characters) and adds it within the 1,000-tag limit: 201 with the new tag,
  or 200 with the existing one when the catalogue holds it already (adding is idempotent).
- DELETE removes the tag from every contact holding it, in batches of 5,000 contacts (each
  batch its own transaction, so no long lock on a large channel), then, in one transaction,
  from contacts tagged meanwhile and from the catalogue. Like schema changes, it leaves the
  contacts' `updatedAt` alone: an admin's cleanup is not activity of the contacts.
- A name in a path is matched lowercased (tags are stored lowercased); another channel's tag,
  like an unknown one, is a 404.
- Reads need `contacts_view`, writes `contacts_edit` (tags are contact data, SPEC §2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import OperationalError
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from contacts.models import Contact, Tag
from contacts.representation import epoch_ms
from contacts.selectors import contacts_for_channel
from contacts.services import tag_create, tag_delete
from crm.api import PAGE_LIMIT_DEFAULT, StrictSerializer, page_limit, query_check
from crm.api_auth import OpenApiView
from crm.counting import EXACT_COUNT_TIMEOUT_MS, BoundedCount, count_bounded, count_estimate
from crm.cursors import cursor_decode, cursor_encode
from crm.errors import InvalidInput, Problem
from crm.models import Channel
from crm.openapi import JsonStringField, error_responses, invalid_input, rate_limit_headers
from crm.permissions import Permission, Viewer
from crm.session_settings import settings_for_block

SMALL_TAG_ESTIMATE = 10_000  # holders, estimated, under which an exact count is tried again
_T = TypeVar("_T")
_TABLE = Contact._meta.db_table
_NAMES = {"tags": "name"}

# -- reads (the channel scope of the catalogue) ---------------------------------------------


def tags_of(viewer: Viewer) -> QuerySet[Tag]:
    """The viewer's channel's catalogue, by name."""
    return Tag.objects.filter(channel=viewer.channel).order_by("name")


def tag_of(viewer: Viewer, name: str) -> Tag:
    """The catalogue tag NAME (matched lowercased) of the viewer's channel; 404 otherwise."""
    tag = tags_of(viewer).select_related("channel").filter(name=name.lower()).first()
    if tag is None:
        raise Http404(f"No tag {name} in this channel.")
    return tag


def tag_holders(*, channel: Channel, name: str) -> QuerySet[Contact]:
    """The contacts of CHANNEL holding tag NAME (the GIN index (channel_id, tags))."""
    return contacts_for_channel(channel=channel).filter(tags__contains=[name])


def tag_holder_counts(*, channel: Channel, names: list[str]) -> dict[str, BoundedCount]:
    """How many contacts hold each of NAMES: exact when fast, else estimated; few queries."""
    if not names:
        return {}
    exact = _bounded(lambda cursor: _counts_exact(cursor, channel.pk, names))
    if exact is not None:
        return {name: BoundedCount(value=exact[name], exact=True) for name in names}
    estimates = _counts_estimated(channel, names)
    small = [name for name in names if estimates[name] <= SMALL_TAG_ESTIMATE]
    recount = _bounded(lambda cursor: _counts_exact(cursor, channel.pk, small)) if small else None
    recount = recount or {}
    return {
        name: BoundedCount(value=recount[name], exact=True)
        if name in recount
        else BoundedCount(value=estimates[name], exact=False)
        for name in names
    }


def _bounded(run: Callable[[Any], _T]) -> _T | None:
    """RUN's result within the bounded-count timeout (crm.counting), or None past it."""
    try:
        with settings_for_block({"statement_timeout": str(EXACT_COUNT_TIMEOUT_MS)}) as cursor:
            return run(cursor)
    except OperationalError as error:
        if "statement timeout" not in str(error):
            raise
    return None


def _counts_exact(cursor: Any, channel_id: int, names: list[str]) -> dict[str, int]:
    """One pass over the contacts holding any of NAMES (`tags && names`: the GIN index)."""
    cursor.execute(
        f"SELECT t.tag, count(*) FROM {_TABLE} AS c CROSS JOIN LATERAL unnest(c.tags) AS t(tag) "  # noqa: S608 -- constant
        "WHERE c.channel_id = %(channel)s AND c.tags && %(names)s::varchar(50)[] "
        "AND t.tag = ANY(%(names)s::varchar(50)[]) GROUP BY t.tag",
        {"channel": channel_id, "names": names},
    )
    held = {name: int(count) for name, count in cursor.fetchall()}
    return {name: held.get(name, 0) for name in names}


def _counts_estimated(channel: Channel, names: list[str]) -> dict[str, int]:
    """The planner's estimate for each of NAMES, from one EXPLAIN of their counts' union."""
    branch = (
        f"SELECT 1 FROM {_TABLE} WHERE channel_id = %s "  # noqa: S608 -- constant
        "AND tags @> ARRAY[%s]::varchar(50)[]"
    )
    params = [value for name in names for value in (channel.pk, name)]
    # One branch, one plan node: a parallel plan would divide the rows among workers.
    with settings_for_block({"max_parallel_workers_per_gather": "0"}) as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {' UNION ALL '.join([branch] * len(names))}", params)
        plan = cursor.fetchone()[0][0]["Plan"]
    nodes = plan["Plans"] if plan["Node Type"] == "Append" else [plan]
    if len(nodes) != len(names):  # a plan of another shape: ask tag by tag
        return {name: count_estimate(tag_holders(channel=channel, name=name)) for name in names}
    return {name: int(node["Plan Rows"]) for name, node in zip(names, nodes, strict=True)}


# -- writes (contacts.services is where they belong; kept here with their only caller) ------


# -- the API -------------------------------------------------------------------------------------


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
        tags = tags_of(self.viewer)
        if since is not None:
            tags = tags.filter(name__gt=since)
        page = list(tags[: limit + 1])
        more, page = len(page) > limit, page[:limit]
        counts = tag_holder_counts(channel=self.viewer.channel, names=[tag.name for tag in page])
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
        count = count_bounded(tag_holders(channel=self.viewer.channel, name=tag.name))
        return Response({"userTag": tag_object(tag, count)}, status=201 if created else 200)


class UserTagDetailView(OpenApiView):
    permissions_by_method = {"DELETE": Permission.CONTACTS_EDIT}

    @extend_schema(
        operation_id="user_tags_delete",
        tags=_TAGS,
        parameters=[_NAME, *rate_limit_headers([204, 400, 404])],
        responses={
            204: OpenApiResponse(description="Removed from the catalogue and every contact."),
            **error_responses(400, 401, 403, 404, 429),
        },
    )
    def delete(self, request: Request, name: str) -> Response:
        """Delete a tag: from the catalogue and from every contact holding it."""
        query_check(request)
        tag_delete(tag=tag_of(self.viewer, name))
        return Response(status=204)
