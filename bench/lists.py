"""The list scenarios of the bench: the contact list, the API's list page, the admin
changelist and the bounded count, timed in this process against the big tenant (bench-1, 60 %
of the contacts); the data's size and the seed's time beside them.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from contacts.models import Contact
    from crm.counting import BoundedCount
    from crm.models import Channel
    from crm.permissions import Viewer

BIG_TENANT = "bench-1"
BENCH_USER = "bench-admin"
PAGE_SIZE = 25
DEEP_POSITION = 500_000
DATA_SQL = """
SELECT count(*), count(*) FILTER (WHERE c.channel_id = %s), count(DISTINCT c.channel_id),
       (SELECT count(*) FROM contacts_event e JOIN crm_channel ch ON ch.id = e.channel_id
        WHERE ch.name ~ '^bench-[0-9]+$')
FROM contacts_contact c JOIN crm_channel ch ON ch.id = c.channel_id
WHERE ch.name ~ '^bench-[0-9]+$'
"""
SIZE_NAMES = (
    "Database size",
    "contacts_contact table",
    "contacts_contact indexes",
    "of which contact_profile_gin",
    "contacts_event table",
    "contacts_event indexes",
)
SIZES_SQL = """
SELECT pg_database_size(current_database()),
       pg_table_size('contacts_contact'), pg_indexes_size('contacts_contact'),
       pg_relation_size('contact_profile_gin'),
       pg_table_size('contacts_event'), pg_indexes_size('contacts_event')
"""


@dataclass(frozen=True)
class Timing:
    """One scenario's wall-clock samples, in seconds."""

    name: str
    samples: list[float]
    note: str = ""

    def percentile_ms(self, percent: float) -> float:
        """The nearest-rank percentile of the samples, in milliseconds."""
        ordered = sorted(self.samples)
        rank = max(1, math.ceil(percent / 100 * len(ordered)))
        return ordered[rank - 1] * 1000


@dataclass(frozen=True)
class Figures:
    """Everything the lists section shows."""

    data: str
    timings: list[Timing]
    seed: dict[str, Any] | None
    sizes: dict[str, int]


def measure(repeat: int, seed: dict[str, Any] | None) -> Figures:
    """Time every scenario against the big tenant; gather the data's description and sizes."""
    big = big_tenant()
    position = min(DEEP_POSITION, int(contact_count(big) * 0.8))
    counted = count_once(big)
    kind = "exact" if counted.exact else "estimate: the exact count passed its time limit"
    scenarios: list[tuple[str, Callable[[], object], str]] = [
        (f"Contact list, first page ({PAGE_SIZE} rows)", first_page(big), ""),
        (f"Contact list, keyset page after row {position:,}", keyset_page(big, position), ""),
        ("API list page (`contact_list_page`), first page", api_page(big, 0), "with its count"),
        (
            f"API list page, cursor after row {position:,}",
            api_page(big, position),
            "with its count",
        ),
        ("Admin changelist of the big tenant, end to end", admin_page(big), "100 rows"),
        ("Bounded count of the big tenant", lambda: count_once(big), f"{counted.value:,} ({kind})"),
    ]
    timings = [_timed(name, run, repeat, note) for name, run, note in scenarios]
    return Figures(data_description(big), timings, seed, sizes())


def _timed(name: str, run: Callable[[], object], repeat: int, note: str = "") -> Timing:
    """REPEAT timed runs of RUN after a few untimed warm-up runs; a failure is reported."""
    try:
        for _ in range(max(3, repeat // 10)):
            run()
    except Exception as error:  # the report names the failure; the other scenarios still run
        return Timing(name, [], f"FAILED: {type(error).__name__}: {error}")
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return Timing(name, samples, note)


def big_tenant() -> Channel:
    """The channel holding 60% of the contacts."""
    from crm.models import Channel

    return Channel.objects.get(name=BIG_TENANT)


def _viewer(channel: Channel) -> Viewer:
    from crm.permissions import ALL_PERMISSIONS, Viewer

    return Viewer(channel=channel, permissions=ALL_PERMISSIONS)


def contact_count(channel: Channel) -> int:
    from contacts.selectors.contacts import contacts_for_channel

    return contacts_for_channel(channel=channel).count()


def count_once(channel: Channel) -> BoundedCount:
    """The bounded count behind list pages and the admin (exact when fast, else estimated)."""
    from contacts.selectors.contacts import contacts_for_channel
    from crm.counting import count_bounded

    return count_bounded(contacts_for_channel(channel=channel))


def first_page(channel: Channel) -> Callable[[], list[Contact]]:
    """The first page of the contact list, every row fetched."""
    from contacts.selectors.contacts import contact_list

    viewer = _viewer(channel)
    return lambda: list(contact_list(viewer=viewer)[:PAGE_SIZE])


def keyset_page(channel: Channel, position: int) -> Callable[[], list[Contact]]:
    """The page after the row at POSITION, fetched by its key, not by OFFSET."""
    from contacts.selectors.contacts import contact_list

    viewer = _viewer(channel)
    anchor = contact_list(viewer=viewer).only("id", "last_seen_at")[position]
    return lambda: page_after(viewer, anchor)


def page_after(viewer: Viewer, anchor: Contact) -> list[Contact]:
    """Rows after ANCHOR in (last_seen_at DESC NULLS LAST, id DESC) order: one index range."""
    from django.db.models import F
    from django.db.models.fields.tuple_lookups import Tuple, TupleLessThan

    from contacts.selectors.contacts import contact_list

    rows = contact_list(viewer=viewer)
    if anchor.last_seen_at is None:
        return list(rows.filter(last_seen_at__isnull=True, id__lt=anchor.pk)[:PAGE_SIZE])
    after = TupleLessThan(Tuple(F("last_seen_at"), F("id")), (anchor.last_seen_at, anchor.pk))
    page = list(rows.filter(after)[:PAGE_SIZE])
    if len(page) < PAGE_SIZE:  # contacts never seen come last; a row comparison skips NULLs
        page += list(rows.filter(last_seen_at__isnull=True)[: PAGE_SIZE - len(page)])
    return page


def api_page(channel: Channel, position: int) -> Callable[[], object]:
    """A page of the REST API's contact list (25 rows, default order, bounded count included).

    The cursor is made lazily, on the first run, so a change in its format shows as a failed
    scenario rather than a crash.
    """
    from contacts.listing import contact_list_page

    viewer = _viewer(channel)
    cursor: list[str | None] = []

    def run() -> object:
        if not cursor:
            cursor.append(_api_cursor(viewer, position) if position else None)
        return contact_list_page(viewer=viewer, since=cursor[0])

    return run


def _api_cursor(viewer: Viewer, position: int) -> str:
    """The signed cursor `contacts.listing` hands out after the row at POSITION."""
    from contacts.selectors.contacts import contact_list
    from crm.cursors import cursor_encode

    anchor = contact_list(viewer=viewer).only("id", "last_seen_at")[position]
    value = anchor.last_seen_at.isoformat() if anchor.last_seen_at else None
    scope = f"{viewer.channel.pk}:contacts:-lastSeenAt"
    return cursor_encode(scope=scope, position=[value, anchor.pk])


def admin_page(channel: Channel) -> Callable[[], object]:
    """The Django admin's contact changelist filtered to CHANNEL, through the test client."""
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(_bench_superuser())
    url = f"{reverse('admin:contacts_contact_changelist')}?channel={channel.pk}"

    def run() -> object:
        response = client.get(url, secure=True)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        return response

    return run


def _bench_superuser() -> User:
    from django.contrib.auth.models import User

    user = User.objects.filter(username=BENCH_USER).first()
    if user is None:
        user = User.objects.create_superuser(
            BENCH_USER, "bench@example.invalid", secrets.token_urlsafe()
        )
    return user


def data_description(channel: Channel) -> str:
    """How many contacts and events the bench channels hold, and the big tenant's share."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(DATA_SQL, [channel.pk])
        contacts, big, channels, events = cursor.fetchone()
    return (
        f"{contacts:,} contacts in {channels} channels ({channel.name}: {big:,}), {events:,} events"
    )


def sizes() -> dict[str, int]:
    """Database, contacts and events sizes in bytes (tables with TOAST; indexes apart)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(SIZES_SQL)
        values = cursor.fetchone()
    return dict(zip(SIZE_NAMES, values, strict=True))


def lists_report(figures: Figures) -> str:
    """The lists section: data, latency table, seed and size table."""
    lines = ["### Lists (in process)", "", f"Data: {figures.data}", ""]
    lines += [
        "| Scenario | p50 (ms) | p95 (ms) | Runs | Note |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for timing in figures.timings:
        p50, p95 = (f"{timing.percentile_ms(p):.2f}" if timing.samples else "-" for p in (50, 95))
        runs = len(timing.samples)
        lines.append(f"| {timing.name} | {p50} | {p95} | {runs} | {timing.note} |")
    lines += ["", "| Figure | Value |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in _seed_rows(figures.seed)]
    lines += [f"| {name} | {_size(value)} |" for name, value in figures.sizes.items()]
    return "\n".join(lines)


def _seed_rows(seed: dict[str, Any] | None) -> list[tuple[str, str]]:
    if seed is None:
        return [("Seed", "reused an existing crm_bench (not measured this run)")]
    phases = ", ".join(f"{name} {value:.1f} s" for name, value in seed["phases"].items())
    rows = f"{seed['contacts']:,} contacts + {seed['events']:,} events"
    return [
        ("Seed time", f"{seed['seconds']:.1f} s ({rows}, indexes included)"),
        ("Seed speed", f"{seed['contacts_per_second']:,} contacts/s"),
        ("Seed phases", phases),
        ("Seed wall time with Django start-up", f"{seed['wall_seconds']:.1f} s"),
    ]


def _size(value: int) -> str:
    return f"{value / 1024**3:.2f} GiB" if value >= 1024**3 else f"{value / 1024**2:.0f} MiB"
