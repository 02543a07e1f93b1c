"""The peer's SQL for the same scenarios: Chatwoot's contact filter, written against this
project's tables (the shared CHATWOOT_SQL.md), timed on the same server and data in the same run.

Chatwoot builds its filter as SQL strings in Ruby (`app/services/filter_service.rb`,
`app/services/contacts/filter_service.rb`): every request counts the whole filter, then reads
the page with `ORDER BY last_seen_at ASC NULLS LAST LIMIT 15 OFFSET (page - 1) * 15`; contacts
with no email, phone or identifier are left out; text is compared through `LOWER(profile ->> k)`,
numbers through `::numeric` casts, timestamps by day through `::date`, and tags by `EXISTS` on
the taggings (the tag array stands for that join table here). Only its SQL is timed, with no
Ruby and no HTTP: one sample is the count and the page, as one request of theirs sends them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg
from psycopg import sql

PEER_PAGE_SIZE = 15
PEER_MIN_RUNS = 10  # timed, after 2 warm-up runs, as CHATWOOT_SQL.md asks
PEER_WARMUP = 2
# Contacts Chatwoot lists at all (its `resolved_contacts`).
RESOLVED = "(profile ->> 'email' <> '' OR profile ->> 'mobileNumber' <> '' OR member_id <> '')"


@dataclass(frozen=True)
class PeerQuery:
    """One scenario as the peer writes it: its condition (SQL text with %s placeholders) and
    their values, and the row its page starts after (its OFFSET)."""

    condition: str = ""
    params: tuple[object, ...] = ()
    offset: int = 0

    def statements(self, channel_id: int) -> list[tuple[sql.Composable, tuple[object, ...]]]:
        """The count and the page, each with its parameters."""
        where = f"channel_id = %s AND {RESOLVED}" + (
            f" AND ({self.condition})" if self.condition else ""
        )
        params = (channel_id, *self.params)
        count = sql.SQL(f"SELECT COUNT(*) FROM contacts_contact WHERE {where}")
        page = sql.SQL(
            f"SELECT contacts_contact.* FROM contacts_contact WHERE {where} "
            "ORDER BY last_seen_at ASC NULLS LAST LIMIT %s OFFSET %s"
        )
        return [(count, params), (page, (*params, PEER_PAGE_SIZE, self.offset))]


def _tags(names: list[str], negate: bool = False) -> str:
    """Tags as the peer joins its taggings: [NOT] EXISTS over the tag names, one placeholder
    per name."""
    placeholders = ", ".join(["%s"] * len(names))
    exists = f"EXISTS (SELECT 1 FROM unnest(tags) AS t(name) WHERE t.name IN ({placeholders}))"
    return f"NOT {exists}" if negate else exists


def _day_before(today: date, days: int) -> str:
    return (today - timedelta(days=days)).isoformat()


def peer_queries(
    *, day: str, phone_digits: str, name_part: str, deep: int, today: date
) -> dict[str, PeerQuery]:
    """Each scenario's peer query by a short tag (bench.filters.scenarios gives each scenario
    its tag): the conditions of CHATWOOT_SQL.md with this run's values."""
    female = "LOWER(profile ->> 'gender')::text = %s"
    return {
        "page1": PeerQuery(),
        "deep": PeerQuery(offset=deep),
        "gender": PeerQuery(female, ("female",)),
        "signup": PeerQuery("(profile ->> 'signupDate')::date = %s::date", (day,)),
        "points": PeerQuery("(profile ->> 'points')::numeric > %s::numeric", ("98999",)),
        "seen7": PeerQuery(
            "(last_seen_at AT TIME ZONE 'UTC')::date > %s::date", (_day_before(today, 8),)
        ),
        "tags": PeerQuery(
            f"{_tags(['vip'])} AND {_tags(['withdrawn'], negate=True)}", ("vip", "withdrawn")
        ),
        "name": PeerQuery("LOWER(name) ILIKE ANY (ARRAY[%s])", (f"%{name_part}%",)),
        "gin3": PeerQuery(
            "LOWER(profile ->> 'planTier')::text = %s"
            " AND (profile ->> 'age')::numeric < %s::numeric"
            f" AND {_tags(['wholesale'])}",
            ("vip", "18", "wholesale"),
        ),
        "worst3": PeerQuery(
            f"{female} AND (last_seen_at AT TIME ZONE 'UTC')::date > %s::date"
            " AND (profile ->> 'points')::numeric > %s::numeric",
            ("female", _day_before(today, 31), "100000"),
        ),
        "phone": PeerQuery(
            "profile ->> 'mobileNumber' ILIKE ANY (ARRAY[%s])", (f"%{phone_digits}%",)
        ),
    }


def peer_runner(
    url: str, channel_id: int, query: PeerQuery
) -> tuple[Callable[[], int], Callable[[], None]]:
    """One peer request (count, then page) on its own connection, and its closer. The server's
    defaults apply (the peer sets no work_mem); no statement timeout, so a slow one is timed
    whole."""
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SET statement_timeout = 0")
    statements = query.statements(channel_id)

    def run() -> int:
        rows = 0
        for statement, params in statements:
            rows += len(conn.execute(statement, params).fetchall())
        return rows

    return run, conn.close


def peer_timed(url: str, channel_id: int, query: PeerQuery, repeat: int) -> list[float]:
    """REPEAT (at least PEER_MIN_RUNS) timed peer requests after PEER_WARMUP, in ms."""
    run, close = peer_runner(url, channel_id, query)
    try:
        for _ in range(PEER_WARMUP):
            run()
        samples = []
        for _ in range(max(repeat, PEER_MIN_RUNS)):
            started = time.perf_counter()
            run()
            samples.append((time.perf_counter() - started) * 1000)
        return samples
    finally:
        close()
