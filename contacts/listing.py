"""Contact lists: filter + quick search, one sort order, keyset pages, a bounded count.

Every list (API, desk, segments, exports) goes through `contact_list_page`. Pages are keyset,
never OFFSET: the cursor holds the last row's (sort value, id), so page 2,000 costs what page 1
does. Descending orders put missing values last and ascending ones first, which lets one
B-tree index serve both directions.

The planner's view of the count (one EXPLAIN) comes before the page. When it expects a filter
to match few contacts (at most FENCED_PAGE_ROWS) through indexes, the page is picked from those
matches alone, gathered first by whatever index serves the filter, instead of walking the list
order and hoping to meet 26 matches early: the planner assumes matches are spread evenly along
that order, and when they are not (the oldest visitors, or none at all) the walk reads the
whole tenant. The gathering counts what it found, which is the first page's exact count. An
estimate can be wrong, so the gathering stops one row past the limit, and a filter found to
match more is walked (and counted) after all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import OperationalError
from django.db.models import F, JSONField, Q, QuerySet, Value
from django.db.models.fields.json import KeyTransform
from django.db.models.lookups import (
    GreaterThan,
    GreaterThanOrEqual,
    IsNull,
    LessThan,
    LessThanOrEqual,
)

from contacts.filtering import Condition, Group, filter_compile, filter_parse, quick_search_q
from contacts.filtering.parse import Node
from contacts.filtering.search import searched_key
from contacts.models import Contact
from contacts.selectors.contacts import contacts_for_channel
from contacts.selectors.segments import segment_filter_of
from crm.counting import (
    ESTIMATE_MARGIN,
    EXACT_COUNT_CAP,
    BoundedCount,
    count_bounded,
    count_plan,
)
from crm.cursors import cursor_decode, cursor_encode
from crm.errors import InvalidInput, Problem
from crm.permissions import Viewer
from crm.session_settings import settings_for_block, statement_timed_out
from masking.lookups import masked_lookups_charge
from masking.policy import MaskingPolicy, policy_for_fields
from profile_schema.cache import channel_fields, channel_version
from profile_schema.indexes import index_supported
from profile_schema.models import ProfileField

SORT_COLUMNS = {
    "lastSeenAt": "last_seen_at",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "name": "name",
    "sessionsCount": "sessions_count",
}
DATETIME_SORTS = frozenset({"last_seen_at", "created_at", "updated_at"})
# Only these can be missing; the others sort plainly so their (channel, column, id) index serves.
NULLABLE_SORTS = frozenset({"last_seen_at"})
SEARCHED_KEYS = ("name", "profile.email", "profile.mobileNumber")
DEFAULT_SORT = "-lastSeenAt"
# The operators a field's per-key index serves: without it, each reads every contact it is
# left with (the names a too-slow list gives the admin to mark indexed).
INDEX_SERVED_OPERATORS = frozenset(
    {"gt", "gte", "lt", "lte", "between", "before", "after", "withinLastDays",
     "moreThanDaysAgo", "exists", "notExists"}
)  # fmt: skip
# A filter the planner expects to match about this many contacts or fewer (within the count's
# margin) has its page picked from its matches alone, as many as a list counts exactly: their
# number is then the count, and gathering them costs what counting them would.
FENCED_PAGE_ROWS = EXACT_COUNT_CAP


@dataclass(frozen=True)
class Sort:
    name: str  # as asked: "-lastSeenAt", "profile.points"
    expression: Any
    descending: bool
    is_datetime: bool = False
    is_json: bool = False
    nullable: bool = False
    # The sort's values are masked on the way out (a viewer who may reveal them sorts by them):
    # the cursor then holds the last row's id only, and its value is read back from the row.
    masked: bool = False


@dataclass(frozen=True)
class ContactPage:
    contacts: list[Contact]
    next: str | None
    count: BoundedCount


def fields_by_key(viewer: Viewer) -> dict[str, ProfileField]:
    """The channel's field definitions (built-in and profile) by full key, cached per process."""
    channel = viewer.channel
    rows = channel_fields(channel_id=channel.pk, version=channel_version(channel))
    return {f.key: f for f in rows}


def masking_policy(viewer: Viewer, fields: dict[str, ProfileField]) -> MaskingPolicy:
    """VIEWER's masking policy over the channel's FIELDS (as fields_by_key read them)."""
    return policy_for_fields(viewer, fields.values())


def sort_parse(
    sort: str | None, fields: dict[str, ProfileField], viewer: Viewer | None = None
) -> Sort:
    """A Sort for '-lastSeenAt', 'createdAt', 'profile.points' …; refused with what is allowed.

    A key VIEWER may not see cannot sort (its order would tell the hidden values apart); the
    default order is the list's own and always applies."""
    name = (sort or DEFAULT_SORT).strip()
    descending = name.startswith("-")
    key = name.removeprefix("-")
    policy = masking_policy(viewer, fields) if viewer is not None else None
    if policy is not None and sort and not policy.may_sort(key):
        message = f"{key} is masked for you, so it cannot sort; sort by a field you can see."
        raise InvalidInput([Problem("sort", "masked_key", message)])
    masked = policy is not None and policy.is_masked(key)
    if key in SORT_COLUMNS:
        column = SORT_COLUMNS[key]
        return Sort(
            name,
            F(column),
            descending,
            is_datetime=column in DATETIME_SORTS,
            nullable=column in NULLABLE_SORTS,
            masked=masked,
        )
    field = fields.get(key)
    if key.startswith("profile.") and field is not None and getattr(field, "indexed", False):
        return Sort(
            name,
            KeyTransform(key.removeprefix("profile."), "profile"),
            descending,
            is_json=True,
            nullable=True,
            masked=masked,
        )
    allowed = ", ".join([*SORT_COLUMNS, "profile.<key> of an indexed field"])
    raise InvalidInput(
        [
            Problem(
                "sort",
                "invalid_sort",
                f"cannot sort by {key!r}; sort by {allowed} (prefix '-' for descending).",
            )
        ]
    )


def _ordering(sort: Sort) -> list[Any]:
    if not sort.nullable:
        if sort.descending:
            return [sort.expression.desc(), F("id").desc()]
        return [sort.expression.asc(), F("id").asc()]
    if sort.descending:
        return [sort.expression.desc(nulls_last=True), F("id").desc()]
    return [sort.expression.asc(nulls_first=True), F("id").asc()]


def _value(sort: Sort, value: Any) -> Any:
    return Value(value, output_field=JSONField()) if sort.is_json else Value(value)


def _rows_after(
    page: QuerySet[Contact], fetch: Fetch, value: Any, last_id: int, count: int
) -> list[Contact]:
    """COUNT rows after (VALUE, LAST_ID) in the fetch's order.

    Written as `expr <= v AND (expr < v OR id < last)` so the index range starts at the cursor;
    the rows without a value (last when descending, first when ascending) are a second query."""
    sort = fetch.sort
    expression, missing = sort.expression, Q(IsNull(sort.expression, True))
    if value is None:
        id_after = Q(id__lt=last_id) if sort.descending else Q(id__gt=last_id)
        rows = fetch(page.filter(missing & id_after), count)
        if not sort.descending and len(rows) < count:
            rows += fetch(page.filter(~missing), count - len(rows))
        return rows
    v = _value(sort, value)
    if sort.descending:
        after = Q(LessThanOrEqual(expression, v)) & (Q(LessThan(expression, v)) | Q(id__lt=last_id))
    else:
        after = Q(GreaterThanOrEqual(expression, v)) & (
            Q(GreaterThan(expression, v)) | Q(id__gt=last_id)
        )
    rows = fetch(page.filter(after), count)
    if sort.nullable and sort.descending and len(rows) < count:
        rows += fetch(page.filter(missing), count - len(rows))
    return rows


def _position(contact: Contact, sort: Sort) -> list[Any]:
    if sort.masked:  # a cursor is readable by whoever holds it: never a masked value
        return [contact.pk]
    value = getattr(contact, "sort_value", None)
    if isinstance(value, datetime):
        value = value.isoformat()
    return [value, contact.pk]


def _decoded(position: list[Any], sort: Sort, contacts: QuerySet[Contact]) -> tuple[Any, int]:
    """(sort value, id) of the row a cursor stopped at; a masked sort's value is read back
    from that row among CONTACTS (the channel's)."""
    invalid = InvalidInput([Problem("since", "invalid_cursor", "The cursor is not valid.")])
    if sort.masked:
        if len(position) != 1 or not isinstance(position[0], int):
            raise invalid
        found = list(contacts.filter(pk=position[0]).values_list(sort.expression, flat=True)[:1])
        if not found:
            message = "The cursor's last contact is gone; start again from the first page."
            raise InvalidInput([Problem("since", "invalid_cursor", message)])
        return found[0], position[0]
    if len(position) != 2 or not isinstance(position[1], int):
        raise invalid
    value = position[0]
    if sort.is_datetime and isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value, position[1]


def contact_filtered(
    *,
    viewer: Viewer,
    filter: Any = None,
    query: str = "",
    fields: dict[str, ProfileField] | None = None,
) -> QuerySet[Contact]:
    """The viewer's channel's contacts matching FILTER (JSON tree) and the quick-search QUERY."""
    fields = fields_by_key(viewer) if fields is None else fields

    def segment_filter(segment_id: int) -> Any:
        return segment_filter_of(viewer=viewer, segment_id=segment_id)

    node = filter_parse(filter, fields=fields, viewer=viewer, segment_filter=segment_filter)
    searchable, whole_only = search_scope(masking_policy(viewer, fields))
    if searched_key(query or "") in whole_only:
        masked_lookups_charge(viewer=viewer, count=1)
    q = filter_compile(node, tz=viewer.channel.timezone) & quick_search_q(
        query or "", searchable=searchable, whole_only=whole_only
    )
    return contacts_for_channel(channel=viewer.channel).filter(q)


def search_scope(policy: MaskingPolicy) -> tuple[frozenset[str], frozenset[str]]:
    """The quick search's keys for POLICY's viewer: (searched by part of a value, found by the
    whole value only)."""
    partly = frozenset(k for k in SEARCHED_KEYS if policy.may_match_partially(k))
    return partly, frozenset(SEARCHED_KEYS) - partly


def contact_list_page(
    *,
    viewer: Viewer,
    filter: Any = None,
    query: str = "",
    sort: str | None = None,
    limit: int = 25,
    since: str | None = None,
    list_name: str = "contacts",
) -> ContactPage:
    """One page of the viewer's contacts, the cursor of the next, and a bounded count."""
    fields = fields_by_key(viewer)
    order = sort_parse(sort, fields, viewer)
    matching = contact_filtered(viewer=viewer, filter=filter, query=query, fields=fields)
    page = matching.annotate(sort_value=order.expression).order_by(*_ordering(order))
    scope = f"{viewer.channel.pk}:{list_name}:{order.name}"
    plan = count_plan(matching)
    narrowed = bool(filter) or bool(query.strip())
    # Gathered only where it is cheap: few matches, read through indexes (a sequential scan
    # would read the tenant to gather them, where a walk may stop early).
    few = plan.rows <= FENCED_PAGE_ROWS * ESTIMATE_MARGIN and plan.indexed
    fetch = Fetch(order, fenced=narrowed and few)
    try:
        if since:
            position = cursor_decode(since, scope=scope)
            value, last_id = _decoded(position, order, contacts_for_channel(channel=viewer.channel))
            rows = _rows_after(page, fetch, value, last_id, limit + 1)
        else:
            rows = fetch(page, limit + 1)
    except ListTooSlow as slow:
        keys = unindexed_keys(viewer=viewer, filter=filter, fields=fields)
        raise InvalidInput([slow.problem(keys)]) from slow
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = cursor_encode(scope=scope, position=_position(rows[-1], order)) if more else None
    if since is None and fetch.matched is not None:  # the first page gathered every match
        count = BoundedCount(value=fetch.matched, exact=True)
    else:
        # An estimate is never below the rows this answer shows and the one it knows follows.
        count = count_bounded(matching, seen=len(rows) + (1 if more else 0), planned=plan)
    return ContactPage(contacts=rows, next=next_cursor, count=count)


@dataclass
class Fetch:
    """How a page's rows are read: in SORT's order, walking it (the planner's choice), or
    FENCED: the matches gathered first (a materialized CTE, planned for the filter alone), then
    sorted; walked after all when they pass FENCED_PAGE_ROWS. MATCHED: how many the last
    gathering found, when it found them all."""

    sort: Sort
    fenced: bool = False
    matched: int | None = None

    def __call__(self, queryset: QuerySet[Contact], count: int) -> list[Contact]:
        return _fetch(queryset, count, self)


def _fenced_rows(
    queryset: QuerySet[Contact], count: int, sort: Sort
) -> tuple[list[Contact], int] | None:
    """The first COUNT rows of QUERYSET (annotated with sort_value) in SORT's order, sorted
    from its matches gathered first: `WITH matching AS MATERIALIZED (…)` keeps the planner from
    walking the order's index through the filter; and how many matched. None when the matches
    pass FENCED_PAGE_ROWS (the gathering stops one row past it)."""
    try:
        inner, params = queryset.order_by().query.sql_with_params()
    except EmptyResultSet:  # a filter that matches nothing by construction
        return [], 0
    direction = "DESC" if sort.descending else "ASC"
    nulls = ""
    if sort.nullable:
        nulls = " NULLS LAST" if sort.descending else " NULLS FIRST"
    statement = (
        f"WITH matching AS MATERIALIZED ({inner} LIMIT %s) "  # noqa: S608
        "SELECT matching.*, (SELECT count(*) FROM matching) AS fence_matched FROM matching "
        f"ORDER BY sort_value {direction}{nulls}, id {direction} LIMIT %s"
    )
    rows = list(Contact.objects.raw(statement, [*params, FENCED_PAGE_ROWS + 1, count]))
    matched = int(rows[0].fence_matched) if rows else 0  # type: ignore[attr-defined]
    if matched > FENCED_PAGE_ROWS:
        return None
    if sort.is_json:  # jsonb arrives as its text here; the ORM's annotation would decode it
        for row in rows:
            value = getattr(row, "sort_value", None)
            row.sort_value = None if value is None else json.loads(value)  # type: ignore[attr-defined]
    return rows, matched


def _fetch(queryset: QuerySet[Contact], count: int, fetch: Fetch) -> list[Contact]:
    """Run the page query under the list statement timeout; a slow filter is a clear refusal."""
    timeout = int(getattr(settings, "LIST_STATEMENT_TIMEOUT_MS", 5000))
    # A filter that combines two big bitmaps (gender AND a visit range on a large tenant) keeps
    # them exact with this much memory; with PostgreSQL's 4 MB they turn lossy and every row
    # of their pages is checked again (about twice the time at 600,000 contacts).
    work_mem = str(getattr(settings, "LIST_WORK_MEM", "32MB"))
    try:
        with settings_for_block({"statement_timeout": str(timeout), "work_mem": work_mem}):
            if fetch.fenced:
                gathered = _fenced_rows(queryset, count, fetch.sort)
                if gathered is not None:
                    rows, fetch.matched = gathered
                    return rows
            fetch.matched = None
            return list(queryset[:count])
    except OperationalError as error:
        if not statement_timed_out(error):
            raise
        raise ListTooSlow(timeout) from error


class ListTooSlow(Exception):
    """A page query passed the list's statement timeout of TIMEOUT_MS."""

    def __init__(self, timeout_ms: int) -> None:
        super().__init__(f"The list took longer than {timeout_ms} ms.")
        self.timeout_ms = timeout_ms

    def problem(self, unindexed: list[str]) -> Problem:
        """The refusal, naming the UNINDEXED keys whose index would serve the filter."""
        took = f"This list took longer than {self.timeout_ms / 1000:g} s"
        if not unindexed:
            return Problem(
                "filter",
                "too_slow",
                f"{took}; narrow the filter or add a condition on an indexed field.",
            )
        named = ", ".join(unindexed)
        one = len(unindexed) == 1
        return Problem(
            "filter",
            "too_slow",
            f"{took}: {named} {'is' if one else 'are'} not indexed, so {'its' if one else 'their'}"
            f" condition reads every contact left. An admin can mark {'it' if one else 'them'}"
            " indexed (profile fields); until then, narrow the filter.",
        )


def unindexed_keys(*, viewer: Viewer, filter: Any, fields: dict[str, ProfileField]) -> list[str]:
    """The profile keys FILTER compares by an operator a per-key index serves, whose field can
    be indexed and is not: what would make a too-slow list fast, in the filter's order."""

    def segment_filter(segment_id: int) -> Any:
        return segment_filter_of(viewer=viewer, segment_id=segment_id)

    node = filter_parse(
        filter, fields=fields, viewer=viewer, segment_filter=segment_filter, charged=False
    )
    found: list[str] = []

    def visit(node: Node | None) -> None:
        if isinstance(node, Group):
            for child in node.children:
                visit(child)
        elif isinstance(node, Condition) and node.operator in INDEX_SERVED_OPERATORS:
            field = fields.get(node.spec.key)
            if (
                field is not None
                and not field.built_in
                and not field.indexed
                and index_supported(field.type)
                and field.key not in found
            ):
                found.append(field.key)

    visit(node)
    return found
