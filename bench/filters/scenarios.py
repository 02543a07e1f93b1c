"""The scenarios, with their values picked from the data, and the cursor of a deep page
(page 2,001, or 80 % into a tenant too small for it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from bench.filters.figures import (
    DEEP_POSITION,
    MIN_TENANT,
    PAGE_SIZE,
    RANGE_FROM,
    RANGE_KEY,
    FilterFigures,
    Scenario,
)
from bench.filters.peer import PEER_PAGE_SIZE, peer_queries

NAME_PART = "김민서"  # a common given name: about 120 contacts of the big tenant

if TYPE_CHECKING:
    from crm.models import Channel
    from crm.permissions import Viewer


@contextmanager
def _unbounded() -> Iterator[Any]:
    """A cursor whose statements have no timeout: the bench's own look-ups over a tenant of
    millions (the app's statements keep theirs)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
        yield cursor


def _one(sql: str, params: list[Any]) -> Any:
    with _unbounded() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def tenant_size(channel: Channel) -> int:
    """How many contacts CHANNEL holds."""
    return int(_one("SELECT count(*) FROM contacts_contact WHERE channel_id = %s", [channel.pk]))


def deep_position(channel: Channel, size: int) -> int:
    """The row the deep page follows: DEEP_POSITION, or 80 % into a smaller tenant (on a page
    boundary); a tenant under MIN_TENANT contacts is refused with what to do."""
    if size < MIN_TENANT:
        raise ValueError(
            f"The filter bench needs at least {MIN_TENANT} contacts in its big tenant; "
            f"{channel.name} holds {size}: seed more (--contacts)."
        )
    return min(DEEP_POSITION, int(size * 0.8) // PAGE_SIZE * PAGE_SIZE)


def _rare_signup_day(channel: Channel, share: float) -> tuple[str, int]:
    """The signupDate whose contacts are closest to SHARE of the tenant (a Date equality)."""
    size = tenant_size(channel)
    row = None
    with _unbounded() as cursor:
        cursor.execute(
            "SELECT profile->>'signupDate' AS day, count(*) FROM contacts_contact"
            " WHERE channel_id = %s AND profile ? 'signupDate' GROUP BY 1"
            " ORDER BY abs(count(*) - %s), 1 LIMIT 1",
            [channel.pk, size * share],
        )
        row = cursor.fetchone()
    return (str(row[0]), int(row[1])) if row else ("2026-01-01", 0)


def _a_mobile_number(channel: Channel) -> str:
    """A stored mobile number of the tenant, as a person types it (010-1234-5678)."""
    from profile_schema.rules import mobile_number_clean
    from profile_schema.types import ValueRefused

    with _unbounded() as cursor:
        cursor.execute(
            "SELECT profile->>'mobileNumber' FROM contacts_contact WHERE channel_id = %s"
            " AND profile ? 'mobileNumber' ORDER BY id LIMIT 100",
            [channel.pk],
        )
        numbers = [row[0] for row in cursor.fetchall()]
    for number in numbers:
        try:
            mobile_number_clean(number)
        except ValueRefused:
            continue
        if number.startswith("+8210"):
            local = "010" + number[5:]
            return f"{local[:3]}-{local[3:7]}-{local[7:]}"
    return "010-1234-5678"


def _count(channel: Channel, where: str, params: list[Any]) -> int:
    return int(
        _one(f"SELECT count(*) FROM contacts_contact WHERE channel_id = %s AND {where}",
             [channel.pk, *params])
    )  # fmt: skip


def scenarios(channel: Channel, figures: FilterFigures, deep_cursor: str) -> list[Scenario]:
    """The scenarios, with the values picked from the data and their counts recorded."""
    size = tenant_size(channel)
    female = _count(channel, "profile @> %s::jsonb", ['{"gender": "female"}'])
    day, day_count = _rare_signup_day(channel, 0.001)
    phone = _a_mobile_number(channel)
    name_part = NAME_PART
    deep = figures.deep_position
    figures.setup += [
        f"Tenant: {channel.name}, {size:,} contacts.",
        f"profile.gender = female: {female:,} contacts ({100 * female / size:.1f} %).",
        f"profile.signupDate = {day}: {day_count:,} contacts ({100 * day_count / size:.2f} %), "
        "the day closest to 0.1 %.",
        f"Quick search: `{phone}`, the mobile number of an existing contact.",
    ]

    def filtered(filter_: Any, method: str = "GET") -> dict[str, Any]:
        return (
            {"filter": json.dumps(filter_, ensure_ascii=False)}
            if method == "GET"
            else {"filter": filter_}
        )

    def cond(key: str, operator: str, *values: Any) -> dict[str, Any]:
        return {"key": key, "operator": operator, "values": list(values)}

    nothing_gin = {"and": [cond("profile.planTier", "eq", "vip"), cond("profile.age", "lt", 18),
                           cond("tags", "hasAny", "wholesale")]}  # fmt: skip
    nothing_scan = {"and": [cond("profile.gender", "eq", "female"),
                            cond("lastSeenAt", "withinLastDays", 30),
                            cond(RANGE_KEY, "gt", 100_000)]}  # fmt: skip
    digits = "".join(c for c in phone if c.isdigit()).removeprefix("0")
    peers = peer_queries(
        day=day, phone_digits=digits, name_part=name_part,
        deep=deep // PAGE_SIZE * PEER_PAGE_SIZE,  # the peer's page 2,001, as ours
        today=timezone.now().date(),
    )  # fmt: skip
    return [
        Scenario("No filter, page 1", "GET", {}, peer=peers["page1"]),
        Scenario(f"Cursor page after row {deep:,} (page {deep // PAGE_SIZE + 1:,})", "GET",
                 {"since": deep_cursor}, peer=peers["deep"]),
        Scenario("profile.gender = female (26 %)", "GET",
                 filtered(cond("profile.gender", "eq", "female")), peer=peers["gender"]),
        Scenario(f"profile.signupDate = {day} ({100 * day_count / size:.2f} %)", "GET",
                 filtered(cond("profile.signupDate", "eq", day)), peer=peers["signup"]),
        Scenario(f"{RANGE_KEY} ≥ {RANGE_FROM:,} (range)", "GET",
                 filtered(cond(RANGE_KEY, "gte", RANGE_FROM)), indexed=False, peer=peers["points"]),
        Scenario("lastSeenAt within last 7 days", "GET",
                 filtered(cond("lastSeenAt", "withinLastDays", 7)), peer=peers["seen7"]),
        Scenario("tags hasAny [vip] and hasNone [withdrawn]", "GET",
                 filtered({"and": [cond("tags", "hasAny", "vip"),
                                   cond("tags", "hasNone", "withdrawn")]}), peer=peers["tags"]),
        Scenario(f"name contains “{name_part}”", "GET",
                 filtered(cond("name", "contains", name_part)), peer=peers["name"]),
        Scenario("3 conditions, no match: planTier = vip, age < 18, tags hasAny [wholesale]",
                 "POST", filtered(nothing_gin, "POST"), peer=peers["gin3"]),
        Scenario("3 conditions, no match: gender = female, lastSeenAt within 30 days, "
                 f"{RANGE_KEY} > 100,000", "POST", filtered(nothing_scan, "POST"),
                 indexed=False, peer=peers["worst3"]),
        Scenario(f"Quick search by phone `{phone}`", "GET", {"query": phone}, peer=peers["phone"]),
    ]  # fmt: skip


def deep_cursor(viewer: Viewer, position: int) -> tuple[str, int]:
    """The signed cursor contacts.listing hands out after the row at POSITION (default order),
    built directly (cursor_encode, the listing's scope) rather than by following `next` 2,000
    times; and the id of the row that must come first on the page after it."""
    from contacts.selectors.contacts import contact_list
    from crm.cursors import cursor_encode

    rows = contact_list(viewer=viewer).only("id", "last_seen_at")
    anchor = rows[position]
    following = rows[position + 1]
    value = anchor.last_seen_at.isoformat() if anchor.last_seen_at else None
    scope = f"{viewer.channel.pk}:contacts:-lastSeenAt"
    return cursor_encode(scope=scope, position=[value, anchor.pk]), int(following.pk)
