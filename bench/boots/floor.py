"""The floor: the boot's one statement alone, as contacts.services.boot builds it, in 1 and in 8
sessions."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bench import sysstat
from bench.boots.figures import FLOOR_MAX_OPS, FloorRun
from bench.boots.load_runs import cpu_groups
from bench.load import new_bodies, returning_bodies

if TYPE_CHECKING:
    from crm.models import Channel


def _boot_parts(channel: Channel, body: dict[str, Any]) -> tuple[Any, str, str, str | None]:
    """(ContactChange, identity, value, device veil id) as contacts.services.boot.contact_boot
    builds them."""
    from contacts.sdk.context import visit_context
    from contacts.services import boot as ingest

    boot = ingest.BootInput(
        member_id=body.get("memberId") or None,
        veil_id=body.get("veilId") or None,
        profile=body.get("profile"),
        language=body.get("language"),
    )
    visit = visit_context(page=body["page"], device=body["device"], address="127.0.0.1")
    change = ingest.boot_change(channel, boot, visit)
    if boot.member_id:
        return change, "member_id", boot.member_id, boot.veil_id
    return change, "veil_id", boot.veil_id or uuid.uuid4().hex, None


def boot_bodies(
    channel: Channel, mix: str, pool: list[dict[str, Any]], run_id: str
) -> Iterator[dict[str, Any]]:
    if mix == "new":
        return new_bodies(channel.plugin_key, run_id, seed=7)
    return returning_bodies(channel.plugin_key, pool, 0, seed=7)


def floor_run(
    channel: Channel,
    mix: str,
    sessions: int,
    seconds: float,
    pool: list[dict[str, Any]],
    run_id: str,
) -> FloorRun:
    """The boot's upsert alone: SESSIONS threads for SECONDS (at most FLOOR_MAX_OPS writes)."""
    from django.db import connection
    from django.test import override_settings

    from contacts.services.activity import month_of
    from contacts.services.atomic import contact_upsert_returning

    bodies = boot_bodies(channel, mix, pool, run_id)
    count = min(FLOOR_MAX_OPS, len(pool)) if mix == "returning" else FLOOR_MAX_OPS
    changes = [_boot_parts(channel, next(bodies)) for _ in range(count)]
    pending = iter(changes)
    lock = threading.Lock()
    samples: list[float] = []
    deadline = time.perf_counter() + seconds

    def work() -> None:
        mine = []
        try:
            while time.perf_counter() < deadline:
                with lock:
                    item = next(pending, None)
                if item is None:
                    break
                change, identity, value, device = item
                started = time.perf_counter()
                contact_upsert_returning(
                    channel_id=channel.pk,
                    identity=identity,
                    value=value,
                    change=change,
                    activity_month=month_of(channel, change.now),
                    device_veil_id=device,
                )
                mine.append((time.perf_counter() - started) * 1000)
        finally:
            connection.close()
            with lock:
                samples.extend(mine)

    groups = cpu_groups(None)
    before = sysstat.snapshot(groups)
    started = time.perf_counter()
    with override_settings(DEBUG=False):  # no query log: `make bench` runs with DEBUG=1
        if sessions == 1:
            work()
        else:
            threads = [threading.Thread(target=work) for _ in range(sessions)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    elapsed = time.perf_counter() - started
    spent = sysstat.difference(before, sysstat.snapshot(groups)).get("postgres")
    cpu = spent * 1000 / len(samples) if spent is not None and samples else None
    return FloorRun(mix, sessions, len(samples), elapsed, samples, cpu)
