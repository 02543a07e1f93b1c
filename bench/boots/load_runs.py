"""One load run: the load generator in its own process against gunicorn, with the CPU time of
each party and the states of PostgreSQL's sessions sampled meanwhile."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from bench import sysstat
from bench.boots.figures import BOOT_PATH, LoadRun
from bench.server import Server

if TYPE_CHECKING:
    from crm.models import Channel

BASE_DIR = Path(__file__).resolve().parents[2]  # the project folder, two above bench/boots/


ACTIVITY_SQL = """
SELECT CASE WHEN state = 'active' AND wait_event_type = 'Lock' THEN 'active: waiting on a lock'
            WHEN state = 'active' AND wait_event_type IS NOT NULL
                 THEN 'active: ' || wait_event_type || ' ' || wait_event
            WHEN state = 'active' THEN 'active: on CPU'
            ELSE coalesce(state, '?') END
FROM pg_stat_activity
WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
"""


def cpu_groups(server: Server | None) -> dict[str, list[int]]:
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
    server: Server, channel: Channel, mix: str, connections: int, seconds: float, warmup: float
) -> list[str]:
    """The load generator's command line: boots of CHANNEL's members, signed as a shop's server
    signs them (the channel requires the member hash)."""
    return [
        sys.executable, "-m", "bench.load", "--url", f"{server.url}{BOOT_PATH}",
        "--plugin-key", channel.plugin_key, "--member-hash-secret", channel.member_hash_secret,
        "--mix", mix, "--connections", str(connections),
        "--duration", f"{seconds:g}", "--warmup", f"{warmup:g}",
    ]  # fmt: skip


def load_run(
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
    command = load_command(server, channel, mix, connections, seconds, warmup)
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
