"""SDK boots end to end (POST /sdk/v1/boot through gunicorn) and the SQL floor under them.

Goal (the issue): at least 500 boots/s with p95 <= 50 ms, and within 5x of the SQL floor.

1. Load: gunicorn (bench.server) and, in a separate process, the load generator (bench.load)
   with N keep-alive connections for a fixed time, for two mixes:
   - new: a fresh memberId + veilId each boot, with name, email and mobile number;
   - returning: members of the big tenant drawn at random, each once, sending their stored
     name, email and mobile number.
   While it runs, PostgreSQL's sessions are sampled (pg_stat_activity every 20 ms: active,
   waiting on a lock, idle, idle in transaction), and the CPU time of gunicorn, PostgreSQL and
   the load generator is read from /proc (bench.sysstat).
2. Floor: the boot's single statement alone. The same ContactChange the boot builds
   (contacts.services.boot.boot_change over the same bodies) is written with
   contacts.services.atomic.contact_upsert_returning (the upsert, the month's activity row and
   the row back, prepared as in the server) in this process, in autocommit (each one commits),
   timed around that call only: one session in a loop, then 8 threads (8 sessions).
3. Where the time goes: the same boots in this process through django.test.Client, once plain
   (total time, and every statement timed by an execute wrapper) and once under cProfile (the
   Python time by package).

The contacts created here (member ids `load-…`) are deleted at the end and at the start; the
returning members keep their new visit (lastSeenAt now, one more session).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from bench import sysstat
from bench.load import new_bodies, percentile, returning_bodies
from bench.profiling import RequestProfile, profile_report, request_profile
from bench.server import RAISED_LIMIT, Server, gunicorn

if TYPE_CHECKING:
    from crm.models import Channel

BASE_DIR = Path(__file__).resolve().parent.parent
LOAD_PREFIX = "load-"
BOOT_PATH = "/sdk/v1/boot"
POOL_SIZE = 60_000
FLOOR_THREADS = 8
FLOOR_MAX_OPS = 4_000
MIXES = ("new", "returning")
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
ACTIVITY_SQL = """
SELECT CASE WHEN state = 'active' AND wait_event_type = 'Lock' THEN 'active: waiting on a lock'
            WHEN state = 'active' AND wait_event_type IS NOT NULL
                 THEN 'active: ' || wait_event_type || ' ' || wait_event
            WHEN state = 'active' THEN 'active: on CPU'
            ELSE coalesce(state, '?') END
FROM pg_stat_activity
WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
"""


@dataclass
class LoadRun:
    mix: str
    connections: int
    result: dict[str, Any]
    cpu: dict[str, float]
    sessions: dict[str, float]  # share of sampled session states, %
    command: list[str]


@dataclass
class FloorRun:
    mix: str
    sessions: int
    ops: int
    seconds: float
    samples_ms: list[float]
    postgres_cpu_ms: float | None = None  # PostgreSQL CPU per write

    @property
    def per_second(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def p(self, percent: float) -> float:
        return percentile(sorted(self.samples_ms), percent)


@dataclass
class BootFigures:
    server: list[str] = field(default_factory=list)
    runs: list[LoadRun] = field(default_factory=list)
    floors: list[FloorRun] = field(default_factory=list)
    profiles: list[RequestProfile] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    vacuum_seconds: float = 0.0
    limiter: str = "PostgreSQL"
    prepare_threshold: str = "5"


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
        limiter=f"Redis ({settings.RATE_LIMIT_REDIS_URL})"
        if settings.RATE_LIMIT_REDIS_URL
        else "PostgreSQL (no REDIS_URL)",
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
            groups = _cpu_groups(server)
            for connections in levels:
                for mix in MIXES:
                    run = _load_run(
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


def _cpu_groups(server: Server | None) -> dict[str, list[int]]:
    """gunicorn (master + workers) and the PostgreSQL server (when its data folder is readable)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('data_directory', true)")
        data_directory = cursor.fetchone()[0]
    groups = {"gunicorn": [server.pid]} if server else {}
    postmaster = sysstat.postmaster_pid(data_directory)
    if postmaster:
        groups["postgres"] = [postmaster]
    return groups


def load_command(
    server: Server, plugin_key: str, mix: str, connections: int, seconds: float, warmup: float
) -> list[str]:
    return [
        sys.executable, "-m", "bench.load", "--url", f"{server.url}{BOOT_PATH}",
        "--plugin-key", plugin_key, "--mix", mix, "--connections", str(connections),
        "--duration", f"{seconds:g}", "--warmup", f"{warmup:g}",
    ]  # fmt: skip


def _load_run(
    server: Server,
    channel: Channel,
    mix: str,
    connections: int,
    seconds: float,
    warmup: float,
    pool_path: Path,
    pool_offset: int,
    run_id: str,
    groups: dict[str, list[int]],
    database_url: str,
) -> LoadRun:
    command = load_command(server, channel.plugin_key, mix, connections, seconds, warmup)
    extra = ["--run-id", run_id]
    if mix == "returning":
        extra += ["--pool", str(pool_path), "--pool-offset", str(pool_offset)]
    sampler = SessionSampler(database_url, start_after=warmup)
    sampler.start()
    loader = subprocess.Popen(  # noqa: S603 - fixed argv
        [*command, *extra], cwd=BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    time.sleep(warmup)
    before = sysstat.snapshot(groups)
    try:
        out, err = loader.communicate(timeout=warmup + seconds + 120)
    except subprocess.TimeoutExpired:
        loader.kill()
        out, err = loader.communicate()
    after = sysstat.snapshot(groups)
    sessions = sampler.stop()
    try:
        result = json.loads(out)
    except ValueError:
        result = {"first_error": f"load generator failed: {err.decode(errors='replace')[-500:]}"}
    cpu = sysstat.difference(before, after)
    cpu["load generator"] = float(result.get("cpu_seconds", 0.0))
    return LoadRun(mix, connections, result, cpu, sessions, command)


class SessionSampler:
    """Samples the states of the database's client sessions every 20 ms, in a thread."""

    def __init__(self, url: str, *, start_after: float = 0.0, every: float = 0.02) -> None:
        self.url, self.every, self.start_after = url, every, start_after
        self.counts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        begin = time.monotonic() + self.start_after
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.is_set():
                if time.monotonic() >= begin:
                    for (state,) in conn.execute(ACTIVITY_SQL).fetchall():
                        self.counts[state] += 1
                self._stop.wait(self.every)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join(10)
        total = sum(self.counts.values())
        return {k: 100.0 * v / total for k, v in self.counts.most_common()} if total else {}


# --- the floor -------------------------------------------------------------------------------


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


def _bodies(
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

    bodies = _bodies(channel, mix, pool, run_id)
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

    groups = _cpu_groups(None)
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


# --- where the time goes ---------------------------------------------------------------------


def boot_profile(
    channel: Channel, mix: str, boots: int, pool: list[dict[str, Any]], run_id: str
) -> RequestProfile:
    """BOOTS boots in this process (bench.profiling): timed plainly, then under cProfile."""
    from django.test import Client, override_settings

    client = Client(REMOTE_ADDR="127.0.0.1")
    bodies = _bodies(channel, mix, pool, f"{run_id}p")
    payloads = [json.dumps(next(bodies), ensure_ascii=False) for _ in range(boots * 2 + 20)]

    def send(index: int) -> None:
        response = client.post(BOOT_PATH, data=payloads[index], content_type="application/json")
        if response.status_code != 200:
            raise RuntimeError(f"boot answered {response.status_code}: {response.content[:300]!r}")

    limits = {"SDK_RATE_LIMIT_PER_KEY": RAISED_LIMIT, "SDK_RATE_LIMIT_PER_ADDRESS": RAISED_LIMIT}
    with override_settings(DEBUG=False, **limits):
        return request_profile(mix, send, boots, steps=BOOT_STEPS)


# --- the report ------------------------------------------------------------------------------


def _cpu_ms(run: LoadRun, group: str) -> str:
    ok = run.result.get("ok", 0)
    if group not in run.cpu or not ok:
        return "n/a"
    return f"{run.cpu[group] * 1000 / ok:.1f}"


def _ceiling(run: LoadRun) -> str:
    """Boots/s the cores could give if nothing else ran: CPUs / CPU time per boot, all parties."""
    ok = run.result.get("ok", 0)
    spent = sum(run.cpu.get(group, 0.0) for group in ("gunicorn", "postgres", "load generator"))
    if not ok or not spent or "postgres" not in run.cpu:
        return "n/a"
    return f"{(os.cpu_count() or 1) * ok / spent:,.0f}/s"


def boots_report(figures: BootFigures) -> str:
    lines = ["### Boots (POST /sdk/v1/boot)", ""]
    server = " ".join([Path(figures.server[0]).name, *figures.server[1:]]) if figures.server else ""
    lines += [
        f"Server: `{server}`; rate-limit counters in {figures.limiter}; "
        f"statements of server-bound cursors prepared after {figures.prepare_threshold} runs.",
        "",
    ]
    lines += [
        "| Mix | Connections | Boots/s | p50 (ms) | p95 (ms) | p99 (ms) | Errors | "
        "CPU ms/boot: gunicorn | PostgreSQL | load generator | CPU-bound ceiling | "
        "Machine busy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in figures.runs:
        r = run.result
        errors = {k: v for k, v in r.get("statuses", {}).items() if k != "200"}
        busy = run.cpu.get("machine busy %")
        lines.append(
            f"| {run.mix} | {run.connections} | {r.get('per_second', 0):,.0f} | "
            f"{r.get('p50_ms', 0):.1f} | {r.get('p95_ms', 0):.1f} | {r.get('p99_ms', 0):.1f} | "
            f"{errors or 'none'} | {_cpu_ms(run, 'gunicorn')} | {_cpu_ms(run, 'postgres')} | "
            f"{_cpu_ms(run, 'load generator')} | {_ceiling(run)} | "
            f"{f'{busy:.0f} %' if busy is not None else 'n/a'} |"
        )
    lines += ["", "PostgreSQL client sessions during the runs (share of 20 ms samples):", ""]
    lines += ["| Mix | Connections | Session states |", "| --- | ---: | --- |"]
    for run in figures.runs:
        states = ", ".join(f"{k} {v:.0f} %" for k, v in run.sessions.items() if v >= 0.5)
        lines.append(f"| {run.mix} | {run.connections} | {states or 'n/a'} |")
    lines += [
        "",
        "The floor: the boot's one statement (`contact_upsert_returning`: the upsert, the "
        "month's activity row and the row back) alone, in autocommit, prepared as in the "
        "server:",
        "",
    ]
    lines += [
        "| Mix | Sessions | Writes/s | p50 (ms) | p95 (ms) | p99 (ms) | Writes | "
        "PostgreSQL CPU ms/write |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for floor in figures.floors:
        cpu = f"{floor.postgres_cpu_ms:.2f}" if floor.postgres_cpu_ms is not None else "n/a"
        lines.append(
            f"| {floor.mix} | {floor.sessions} | {floor.per_second:,.0f} | {floor.p(50):.2f} | "
            f"{floor.p(95):.2f} | {floor.p(99):.2f} | {floor.ops:,} | {cpu} |"
        )
    lines += ["", *_ratios(figures), "", *_profiles_report(figures.profiles)]
    lines += [
        f"Afterwards the contacts made by the run were deleted and `VACUUM (ANALYZE)` of the "
        f"contacts took {figures.vacuum_seconds:.1f} s.",
    ]
    if figures.failures:
        lines += ["", "Failures: " + "; ".join(figures.failures)]
    return "\n".join(lines)


def _ratios(figures: BootFigures) -> list[str]:
    lines = [
        "| Mix | Best boots/s (connections) | Floor writes/s (8 sessions) | Throughput ratio | "
        "Boot p50 / floor p50 (1 session) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for mix in MIXES:
        runs = [r for r in figures.runs if r.mix == mix and r.result.get("ok")]
        floors = {f.sessions: f for f in figures.floors if f.mix == mix}
        if not runs or FLOOR_THREADS not in floors or 1 not in floors:
            continue
        best = max(runs, key=lambda r: r.result["per_second"])
        lowest = min(runs, key=lambda r: r.connections)
        wide, single = floors[FLOOR_THREADS], floors[1]
        ratio = wide.per_second / best.result["per_second"] if best.result["per_second"] else 0
        latency = lowest.result["p50_ms"] / single.p(50) if single.p(50) else 0
        lines.append(
            f"| {mix} | {best.result['per_second']:,.0f} ({best.connections}) | "
            f"{wide.per_second:,.0f} | {ratio:.1f}x | {latency:.1f}x "
            f"(at {lowest.connections} connections) |"
        )
    return lines


def _profiles_report(profiles: list[RequestProfile]) -> list[str]:
    lines: list[str] = []
    for profile in profiles:
        lines += profile_report(profile, f"a {profile.name} boot's time")
    return lines
