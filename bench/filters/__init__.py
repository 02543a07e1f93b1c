"""Filtered contact lists at 1M contacts: the REST API end to end against the SQL it runs.

Goals (the issue): p95 <= 100 ms end to end for filters an index serves, <= 500 ms for the
worst case, the API within 3x of its SQL floor, and page 2,000 (through a cursor) as fast as
page 1.

For each scenario, against the big tenant (bench-1, 60 % of the contacts):

- End to end: GET /open/v5/users?filter=… (or POST /open/v5/users/search, or ?query=, or
  ?since=) to gunicorn (bench.server, gthread workers that keep the connection alive, as
  README deploys) with an API credential made for the run (crm.services.credential_create,
  role `owner`), one request at a time over loopback; the time from sending the request to
  reading the whole answer.
- Two SQL floors, each executed alone through a psycopg connection and timed there (the exact
  text psycopg sends: Django binds parameters client-side):
  - the page's SQL: the statements the list page runs for its rows, captured from one
    in-process call of contacts.listing.contact_list_page;
  - the request's SQL: every statement one whole API request sends (the credential, the
    list's settings, the rows, the count's EXPLAIN and count) with the transactions around
    them, captured from a request in this process through django.test.Client and replayed in
    the same order, transactions and bindings.
- The bounded count every list answer carries (crm.counting.count_bounded: exact when it
  finishes within 200 ms, else the planner's estimate), timed in this process.
- The plan of the page query (EXPLAIN): which index it walks.

The per-key index (profile_schema: the `indexed` flag and `manage.py profile_indexes_sync`)
is measured both ways on profile.points: first without (the flag is cleared and the sync drops
the index), then marked and synced (the build is timed). The planner ignores the statistics of
a partial index's expression, so when the sync leaves no statistics object on the expression,
the bench also measures the what-if of one (CREATE STATISTICS + ANALYZE). The flag is cleared
again at the end, so the database is left as seeded.

Modules: `figures` (scenarios, timings, goals), `scenarios` (values picked from the data),
`replay` (the SQL floors), `index` (the per-key index and statistics), `measure` (the run),
`report` (the section of the report).
"""

from __future__ import annotations

from bench.filters.measure import measure_filters
from bench.filters.report import filters_report

__all__ = ["filters_report", "measure_filters"]
