"""Seed the bench: reset the bench-N channels, load the rows, rebuild what the load dropped."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from bench.seed.channels import (
    TABLES,
    bench_channel_ids,
    bench_channels_create,
    bench_channels_delete,
)
from bench.seed.ddl import ddl_drop, ddl_restore
from bench.seed.loader import LoadPlan, LoadTarget, ids_reserve, load, load_plan
from bench.seed.sessions import session_unbounded, tables_vacuum


class SeedError(Exception):
    """The seed cannot start, or could not put back what it dropped."""


@dataclass(frozen=True)
class SeedOptions:
    """What to generate. The same options give the same rows (ids aside)."""

    contacts: int
    channels: int
    seed: int = 1
    events_per_contact: int = 1
    reset: bool = False
    batch_size: int = 50_000
    workers: int = 2
    as_of: date | None = None  # the day the data ends (default today): a year back from it
    show_restore: bool = False  # print the statements that restore the schema, before the load


def bench_seed(*, options: SeedOptions) -> dict[str, Any]:
    """Generate the bench data of OPTIONS; a summary of what was loaded and how long it took."""
    session_unbounded()
    if not options.reset and bench_channel_ids():
        raise SeedError("bench-* channels exist already: pass --reset to replace them.")
    started = time.perf_counter()
    plan, phases = _seed(options)
    phases["vacuum_analyze"] = _timed(lambda: tables_vacuum(TABLES, analyze=True))
    return _summary(plan, options.channels, phases, time.perf_counter() - started)


def _timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def _seed(options: SeedOptions) -> tuple[LoadPlan, dict[str, float]]:
    """Reset and load with the secondary indexes and foreign keys dropped; restore them always.

    An error or Ctrl-C restores them; a killed process (SIGKILL) cannot, hence show_restore.
    """
    saved = ddl_drop(TABLES)
    if options.show_restore:
        sys.stderr.write("".join(f"-- to restore: {item.restore};\n" for item in saved))
    phases: dict[str, float] = {}
    failures: list[str] = []
    try:
        phases["reset"] = _timed(_reset)
        plan = _plan(options)
        phases["load"] = _timed(lambda: load(plan, options.workers))
    finally:
        phases["indexes"] = _timed(lambda: failures.extend(ddl_restore(saved, options.workers)))
        if failures:
            raise SeedError("Could not restore:\n" + "\n".join(failures))
    return plan, phases


def _reset() -> None:
    bench_channels_delete()
    tables_vacuum(TABLES)


def _plan(options: SeedOptions) -> LoadPlan:
    """Create the channels, reserve the ids, and plan the load into them."""
    channels = bench_channels_create(options.channels)
    contacts_table, events_table = TABLES
    events = options.contacts * options.events_per_contact
    target = LoadTarget(
        channel_ids=[channel.pk for channel in channels],
        contact_base=ids_reserve(contacts_table, options.contacts),
        event_base=ids_reserve(events_table, events),
    )
    return load_plan(
        target=target,
        contacts=options.contacts,
        events=options.events_per_contact,
        batch_size=options.batch_size,
        seed=options.seed,
        as_of=options.as_of or date.today(),
    )


def _summary(
    plan: LoadPlan, channels: int, phases: dict[str, float], seconds: float
) -> dict[str, Any]:
    events = plan.contacts * plan.events_per_contact
    return {
        "contacts": plan.contacts,
        "events": events,
        "channels": channels,
        "seconds": round(seconds, 2),
        "contacts_per_second": round(plan.contacts / seconds),
        "rows_per_second": round((plan.contacts + events) / seconds),
        "phases": {name: round(value, 2) for name, value in phases.items()},
    }


def summary_text(summary: dict[str, Any]) -> str:
    """The summary as the command prints it."""
    phases = ", ".join(f"{name} {value:.1f} s" for name, value in summary["phases"].items())
    return (
        f"Seeded {summary['contacts']:,} contacts and {summary['events']:,} events in "
        f"{summary['channels']} channels in {summary['seconds']:.1f} s "
        f"({summary['contacts_per_second']:,} contacts/s, {summary['rows_per_second']:,} rows/s)."
        f"\nPhases: {phases}."
    )
