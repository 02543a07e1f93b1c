"""The load itself: batches of INSERT_SQL in parallel sessions, each batch reproducible."""

from __future__ import annotations

import queue
import random
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection
from tqdm import tqdm

from bench.seed.sessions import in_threads, session_unbounded
from bench.seed.statement import INSERT_SQL
from bench.seed.vocabulary import INTERESTS_PARAMS, TAGS_PARAMS, VOCABULARY_PARAMS

BIG_TENANT_SHARE = 0.6
APP_NAME = "Bench Shop"


@dataclass(frozen=True)
class LoadPlan:
    """What one run loads: how many rows, in which batches, with which shared parameters."""

    contacts: int
    events_per_contact: int
    batch_size: int
    seed: int
    params: dict[str, Any]

    def batches(self) -> list[tuple[int, int, int]]:
        """(batch number, first n, last n) for every batch."""
        starts = range(1, self.contacts + 1, self.batch_size)
        last = self.contacts
        return [(i, lo, min(lo + self.batch_size - 1, last)) for i, lo in enumerate(starts)]


@dataclass(frozen=True)
class LoadTarget:
    """Where the rows go: the channels (the first is the big tenant) and the two id ranges."""

    channel_ids: list[int]
    contact_base: int
    event_base: int


def ids_reserve(table: str, count: int) -> int:
    """Move TABLE's id sequence past COUNT new ids and return the id just before them."""
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(GREATEST((SELECT max(id) FROM {quoted}),"
            " pg_sequence_last_value(pg_get_serial_sequence(%s, 'id')::regclass)), 0)",
            [table],
        )
        base = int(cursor.fetchone()[0])
        if count:
            sequence_set = "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)"
            cursor.execute(sequence_set, [table, base + count])
    return base


def load_plan(
    *, target: LoadTarget, contacts: int, events: int, batch_size: int, seed: int, as_of: date
) -> LoadPlan:
    """The plan of a load of CONTACTS (EVENTS each) into TARGET, its timestamps ending AS_OF."""
    params: dict[str, Any] = {
        **VOCABULARY_PARAMS,
        **TAGS_PARAMS,
        **INTERESTS_PARAMS,
        "contact_base": target.contact_base,
        "event_base": target.event_base,
        "events": events,
        "total": contacts,
        "channel_ids": target.channel_ids,
        "channels_count": len(target.channel_ids),
        "big_share": BIG_TENANT_SHARE,
        "as_of": datetime.combine(as_of, datetime.min.time(), tzinfo=UTC),
        "seed_text": str(seed),
        "app_name": APP_NAME,
    }
    return LoadPlan(contacts, events, batch_size, seed, params)


def load(plan: LoadPlan, workers: int) -> None:
    """Run every batch of PLAN in WORKERS sessions, with a progress bar on stderr."""
    pending: queue.Queue[tuple[int, int, int]] = queue.Queue()
    for batch in plan.batches():
        pending.put(batch)
    with tqdm(total=plan.contacts, unit=" contacts", unit_scale=True, file=sys.stderr) as bar:
        in_threads(workers, lambda stop: _load_worker(plan, pending, bar, stop))


def _load_worker(
    plan: LoadPlan,
    pending: queue.Queue[tuple[int, int, int]],
    bar: tqdm[Any],
    stop: threading.Event,
) -> None:
    """Insert batches until none are left; each batch reseeds random() so it is reproducible."""
    try:
        session_unbounded()
        while not stop.is_set():
            try:
                number, lo, hi = pending.get_nowait()
            except queue.Empty:
                return
            with connection.cursor() as cursor:
                cursor.execute("SELECT setseed(%s)", [batch_seed(plan.seed, number)])
                cursor.execute(INSERT_SQL, {**plan.params, "lo": lo, "hi": hi})
            bar.update(hi - lo + 1)
    finally:
        connection.close()


def batch_seed(seed: int, number: int) -> float:
    """A setseed() value in [-1, 1] for batch NUMBER of a run with SEED."""
    return random.Random(f"{seed}:{number}").uniform(-1.0, 1.0)
