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

Modules: `figures` (runs and figures), `load_runs` (one load run), `floor` (the statement
alone), `measure` (the run), `report` (the section of the report).
"""

from __future__ import annotations

from bench.boots.measure import measure_boots
from bench.boots.report import boots_report

__all__ = ["boots_report", "measure_boots"]
