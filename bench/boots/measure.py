"""Measuring the boots: the load runs, the floor and where a boot's time goes."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bench.boots.figures import (
    BOOT_PATH,
    FLOOR_THREADS,
    LOAD_PREFIX,
    MIXES,
    POOL_SIZE,
    BootFigures,
)
from bench.boots.floor import boot_bodies, floor_run
from bench.boots.load_runs import cpu_groups, load_run
from bench.profiling import RequestProfile, request_profile
from bench.server import RAISED_LIMIT, gunicorn

if TYPE_CHECKING:
    from crm.models import Channel

BOOT_STEPS = (
    ("BootView.post (the view, all of it)", "contacts/sdk/api.py", "post"),
    ("… body checks (boot_body_clean)", "contacts/sdk/shapes.py", "boot_body_clean"),
    ("… channel by plugin key (cached 10 s)", "contacts/services/boot.py",
     "channel_get_by_plugin_key"),
    ("… rate limit", "contacts/sdk/api.py", "rate_limit"),
    ("… visit context (UTM, user agent)", "contacts/sdk/context.py", "visit_context"),
    ("… contact_boot", "contacts/services/boot.py", "contact_boot"),
    ("… … schema lock + version (schema_read_lock)", "profile_schema/locks.py",
     "schema_read_lock"),
    ("… … boot_change (validation of profile and visit)", "contacts/services/boot.py",
     "boot_change"),
    ("… … contact_upsert_returning (upsert + activity + row)", "contacts/services/atomic.py",
     "contact_upsert_returning"),
    ("… … merge (contact_merge_device_into_member)", "contacts/services/merge.py",
     "contact_merge_device_into_member"),
    ("… … session token", "contacts/services/boot.py", "session_token_issue"),
    ("… user_object", "contacts/representation.py", "user_object"),
)  # fmt: skip


POOL_SQL = """
SELECT member_id, profile->>'name', profile->>'email', profile->>'mobileNumber'
FROM contacts_contact
WHERE channel_id = %s AND member_id IS NOT NULL AND member_id NOT LIKE 'load-%%'
ORDER BY random() LIMIT %s
"""


def measure_boots(
    channel: Channel,
    database_url: str,
    *,
    levels: list[int],
    seconds: float,
    warmup: float,
    floor_seconds: float,
    profile_boots: int,
    workers: int = 2,
    threads: int = 0,
) -> BootFigures:
    """Load runs for each mix and concurrency LEVEL, then the floor and the profile."""
    from django.conf import settings

    figures = BootFigures(
        limiter=_limiter(settings.RATE_LIMIT_REDIS_URL),
        prepare_threshold=str(settings.DATABASES["default"]["OPTIONS"].get("prepare_threshold")),
    )
    _load_contacts_delete(channel)
    pool = member_pool(channel)
    cursor_at = 0
    run_id = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as folder:
        pool_path = Path(folder) / "pool.jsonl"
        pool_path.write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in pool))
        with gunicorn(database_url, settings.SECRET_KEY, workers, threads) as server:
            figures.server = server.command
            groups = cpu_groups(server)
            for connections in levels:
                for mix in MIXES:
                    run = load_run(
                        server, channel, mix, connections, seconds, warmup,
                        pool_path, cursor_at, f"{run_id}c{connections}", groups, database_url,
                    )  # fmt: skip
                    if mix == "returning":
                        cursor_at += int(run.result.get("sent", 0))
                    figures.runs.append(run)
                    if run.result.get("first_error"):
                        figures.failures.append(
                            f"{mix} x{connections}: {run.result['first_error']}"
                        )
    floor_pool = pool[cursor_at:] or pool
    for mix in MIXES:
        for sessions in (1, FLOOR_THREADS):
            figures.floors.append(
                floor_run(channel, mix, sessions, floor_seconds, floor_pool, f"{run_id}f{sessions}")
            )
            if mix == "returning":
                floor_pool = floor_pool[figures.floors[-1].ops :] or pool
    for mix in MIXES:
        figures.profiles.append(boot_profile(channel, mix, profile_boots, floor_pool, run_id))
        floor_pool = floor_pool[profile_boots * 2 + 20 :] or pool
    _load_contacts_delete(channel)
    figures.vacuum_seconds = _vacuum()
    return figures


def _limiter(redis_url: str) -> str:
    """Where the rate-limit counters live, naming Redis's host but never its password."""
    if not redis_url:
        return "PostgreSQL (no REDIS_URL)"
    parts = urlsplit(redis_url)
    return f"Redis ({parts.hostname}:{parts.port or 6379})"


def _vacuum() -> float:
    """VACUUM (ANALYZE) the contacts: the boots updated and deleted rows, which clears pages
    from the visibility map, and the next run's counts (index-only scans) would pay for it."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("VACUUM (ANALYZE) contacts_contact, contacts_contactactivity")
        cursor.execute("RESET statement_timeout")
    return time.perf_counter() - started


def member_pool(channel: Channel, size: int = POOL_SIZE) -> list[dict[str, Any]]:
    """SIZE members of CHANNEL in random order, with their stored name, email and mobile."""
    from django.db import connection

    from profile_schema.rules import mobile_number_clean
    from profile_schema.types import ValueRefused

    with connection.cursor() as cursor:
        cursor.execute(POOL_SQL, [channel.pk, size])
        rows = cursor.fetchall()
    pool = []
    for member, name, email, mobile in rows:
        try:  # databases seeded before seed_bench skipped 010-5970…5999 hold a few
            if mobile:
                mobile_number_clean(mobile)
        except ValueRefused:
            continue
        pool.append({"memberId": member, "name": name, "email": email, "mobileNumber": mobile})
    return pool


def _load_contacts_delete(channel: Channel) -> int:
    """Delete the contacts the load runs created (member ids starting with `load-`)."""
    from contacts.models import Contact

    found = Contact.objects.filter(channel=channel, member_id__startswith=LOAD_PREFIX)
    deleted, _ = found.delete()
    return deleted


def boot_profile(
    channel: Channel, mix: str, boots: int, pool: list[dict[str, Any]], run_id: str
) -> RequestProfile:
    """BOOTS boots in this process (bench.profiling): timed plainly, then under cProfile."""
    from django.test import Client, override_settings

    client = Client(REMOTE_ADDR="127.0.0.1")
    bodies = boot_bodies(channel, mix, pool, f"{run_id}p")
    payloads = [json.dumps(next(bodies), ensure_ascii=False) for _ in range(boots * 2 + 20)]

    def send(index: int) -> None:
        response = client.post(BOOT_PATH, data=payloads[index], content_type="application/json")
        if response.status_code != 200:
            raise RuntimeError(f"boot answered {response.status_code}: {response.content[:300]!r}")

    limits = {"SDK_RATE_LIMIT_PER_KEY": RAISED_LIMIT, "SDK_RATE_LIMIT_PER_ADDRESS": RAISED_LIMIT}
    with override_settings(DEBUG=False, **limits):
        return request_profile(mix, send, boots, steps=BOOT_STEPS)
