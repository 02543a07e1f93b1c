"""Reads of the tag catalogue and of the contacts holding a tag, for a viewer.

Counting a page of tags takes a constant number of queries whatever the page size: one
statement counts every tag of the page in one pass over their holders, under the bounded-count
timeout of crm.counting; past it, the planner's estimates stand (inexact), and the tags
estimated small are counted again. The reasons are in docs/ARCHITECTURE.md."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import OperationalError
from django.db.models import QuerySet
from django.http import Http404

from contacts.models import Contact, Tag
from contacts.selectors.contacts import contacts_for_channel
from crm.counting import EXACT_COUNT_TIMEOUT_MS, BoundedCount, count_estimate
from crm.models import Channel
from crm.permissions import Viewer
from crm.session_settings import settings_for_block, statement_timed_out

SMALL_TAG_ESTIMATE = 10_000  # holders, estimated, under which an exact count is tried again
_T = TypeVar("_T")
_TABLE = Contact._meta.db_table


def tags_of(*, viewer: Viewer) -> QuerySet[Tag]:
    """The viewer's channel's catalogue, by name."""
    return Tag.objects.filter(channel=viewer.channel).order_by("name")


def tag_of(*, viewer: Viewer, name: str) -> Tag:
    """The catalogue tag NAME (matched lowercased) of the viewer's channel; 404 otherwise."""
    tag = tags_of(viewer=viewer).select_related("channel").filter(name=name.lower()).first()
    if tag is None:
        raise Http404(f"No tag {name} in this channel.")
    return tag


def tag_holders(*, viewer: Viewer, name: str) -> QuerySet[Contact]:
    """The contacts of the viewer's channel holding tag NAME (the GIN index (channel_id, tags))."""
    return contacts_for_channel(channel=viewer.channel).filter(tags__contains=[name])


def tag_holder_counts(*, viewer: Viewer, names: list[str]) -> dict[str, BoundedCount]:
    """How many contacts of the viewer's channel hold each of NAMES: exact when fast, else
    estimated; a few queries whatever the number of NAMES."""
    if not names:
        return {}
    channel = viewer.channel
    exact = _bounded(lambda cursor: _counts_exact(cursor, channel.pk, names))
    if exact is not None:
        return {name: BoundedCount(value=exact[name], exact=True) for name in names}
    estimates = _counts_estimated(viewer, names)
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
        if not statement_timed_out(error):
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


def _counts_estimated(viewer: Viewer, names: list[str]) -> dict[str, int]:
    """The planner's estimate for each of NAMES, from one EXPLAIN of their counts' union."""
    channel: Channel = viewer.channel
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
        return {name: count_estimate(tag_holders(viewer=viewer, name=name)) for name in names}
    return {name: int(node["Plan Rows"]) for name, node in zip(names, nodes, strict=True)}
