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
"""

from __future__ import annotations

import http.client
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import psycopg

from bench.load import percentile
from bench.profiling import RequestProfile, profile_report, request_profile
from bench.server import RAISED_LIMIT, Server, gunicorn

if TYPE_CHECKING:
    from crm.models import Channel
    from crm.permissions import Viewer

BENCH_CREDENTIAL = "bench-runner"
RANGE_KEY = "profile.points"
RANGE_FROM = 99_000
WHAT_IF_STATISTICS = "bench_what_if_points_stats"
VARIANTS = (
    ("indexed", "as `profile_indexes_sync` leaves it (the index, and whatever else the app adds)"),
    ("indexed + expression statistics (what-if)",
     "measured only when the sync made no statistics on the key's expression: the bench then "
     "runs CREATE STATISTICS … ON ((profile -> 'points')) and ANALYZE itself; not app code"),
)  # fmt: skip
PROFILED = 30  # API requests profiled in process per profiled scenario
API_STEPS = (
    ("credential check (SELECT + UPDATE last_used_at)", "crm/api_auth.py", "authenticate"),
    ("rate limit", "crm/ratelimit.py", "rate_limit_hit"),
    ("contact_list_page", "contacts/listing.py", "contact_list_page"),
    ("… field definitions", "contacts/listing.py", "fields_by_key"),
    ("… filter parse + compile (contact_filtered)", "contacts/listing.py", "contact_filtered"),
    ("… page rows (_fetch: query + model instances)", "contacts/listing.py", "_fetch"),
    ("… bounded count", "crm/counting.py", "count_bounded"),
    ("user objects (page_body)", "contacts/api/lists.py", "page_body"),
    ("JSON rendering", "rest_framework/renderers.py", "render"),
)  # fmt: skip
DEEP_POSITION = 50_000  # page 2,001 of 25 rows
SCENARIO_BUDGET_SECONDS = 25.0
MIN_RUNS = 5
INDEXED_GOAL_MS = 100.0
WORST_GOAL_MS = 500.0
FLOOR_GOAL = 3.0


@dataclass
class Scenario:
    name: str
    method: str  # GET | POST
    params: dict[str, Any] = field(default_factory=dict)  # GET query or POST body
    indexed: bool = True  # whether the goal for indexed filters applies
    note: str = ""


@dataclass
class FilterTiming:
    scenario: Scenario
    http_ms: list[float]
    sql_ms: list[float]
    count_ms: list[float]
    count: tuple[int, bool] | None  # value, exact
    rows: int
    plan: str
    statements: int
    error: str = ""
    request_sql_ms: list[float] = field(default_factory=list)
    request_statements: int = 0

    def p(self, samples: list[float], percent: float) -> float:
        return percentile(sorted(samples), percent)


@dataclass
class FilterFigures:
    timings: list[FilterTiming] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)  # what was chosen, with counts
    index_build_seconds: float | None = None
    index_note: str = ""
    deep_check: str = ""
    server: str = ""
    profiles: list[RequestProfile] = field(default_factory=list)


def _viewer_and_headers(channel: Channel) -> tuple[Viewer, dict[str, str]]:
    """A fresh owner credential for the run (the previous run's one is deleted)."""
    from crm.models import ApiCredential, Role
    from crm.permissions import viewer_for_credential
    from crm.services import credential_create

    ApiCredential.objects.filter(channel=channel, name=BENCH_CREDENTIAL).delete()
    role = Role.objects.get(channel=channel, name="owner")
    issued = credential_create(channel=channel, role=role, name=BENCH_CREDENTIAL)
    viewer = viewer_for_credential(credential=issued.credential)
    headers = {"x-access-key": issued.credential.access_key, "x-access-secret": issued.secret}
    return viewer, headers


def _one(sql: str, params: list[Any]) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def _tenant_size(channel: Channel) -> int:
    return int(_one("SELECT count(*) FROM contacts_contact WHERE channel_id = %s", [channel.pk]))


def _rare_signup_day(channel: Channel, share: float) -> tuple[str, int]:
    """The signupDate whose contacts are closest to SHARE of the tenant (a Date equality)."""
    size = _tenant_size(channel)
    row = None
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT profile->>'signupDate' AS day, count(*) FROM contacts_contact"
            " WHERE channel_id = %s AND profile ? 'signupDate' GROUP BY 1"
            " ORDER BY abs(count(*) - %s), 1 LIMIT 1",
            [channel.pk, size * share],
        )
        row = cursor.fetchone()
    return (str(row[0]), int(row[1])) if row else ("2026-01-01", 0)


def _a_mobile_number(channel: Channel) -> str:
    """A stored mobile number of the tenant, as a person types it (010-1234-5678)."""
    from django.db import connection

    from profile_schema.rules import mobile_number_clean
    from profile_schema.types import ValueRefused

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT profile->>'mobileNumber' FROM contacts_contact WHERE channel_id = %s"
            " AND profile ? 'mobileNumber' ORDER BY id LIMIT 100",
            [channel.pk],
        )
        numbers = [row[0] for row in cursor.fetchall()]
    for number in numbers:
        try:
            mobile_number_clean(number)
        except ValueRefused:
            continue
        if number.startswith("+8210"):
            local = "010" + number[5:]
            return f"{local[:3]}-{local[3:7]}-{local[7:]}"
    return "010-1234-5678"


def _count(channel: Channel, where: str, params: list[Any]) -> int:
    return int(
        _one(f"SELECT count(*) FROM contacts_contact WHERE channel_id = %s AND {where}",
             [channel.pk, *params])
    )  # fmt: skip


def scenarios(channel: Channel, figures: FilterFigures, deep_cursor: str) -> list[Scenario]:
    """The scenarios, with the values picked from the data and their counts recorded."""
    size = _tenant_size(channel)
    female = _count(channel, "profile @> %s::jsonb", ['{"gender": "female"}'])
    day, day_count = _rare_signup_day(channel, 0.001)
    phone = _a_mobile_number(channel)
    name_part = "김민서"
    figures.setup += [
        f"Tenant: {channel.name}, {size:,} contacts.",
        f"profile.gender = female: {female:,} contacts ({100 * female / size:.1f} %).",
        f"profile.signupDate = {day}: {day_count:,} contacts ({100 * day_count / size:.2f} %), "
        "the day closest to 0.1 %.",
        f"Quick search: `{phone}`, the mobile number of an existing contact.",
    ]

    def filtered(filter_: Any, method: str = "GET") -> dict[str, Any]:
        return (
            {"filter": json.dumps(filter_, ensure_ascii=False)}
            if method == "GET"
            else {"filter": filter_}
        )

    def cond(key: str, operator: str, *values: Any) -> dict[str, Any]:
        return {"key": key, "operator": operator, "values": list(values)}

    nothing_gin = {"and": [cond("profile.planTier", "eq", "vip"), cond("profile.age", "lt", 18),
                           cond("tags", "hasAny", "wholesale")]}  # fmt: skip
    nothing_scan = {"and": [cond("profile.gender", "eq", "female"),
                            cond("lastSeenAt", "withinLastDays", 30),
                            cond(RANGE_KEY, "gt", 100_000)]}  # fmt: skip
    return [
        Scenario("No filter, page 1", "GET", {}),
        Scenario(f"Cursor page after row {DEEP_POSITION:,} (page 2,001)", "GET",
                 {"since": deep_cursor}),
        Scenario("profile.gender = female (26 %)", "GET",
                 filtered(cond("profile.gender", "eq", "female"))),
        Scenario(f"profile.signupDate = {day} ({100 * day_count / size:.2f} %)", "GET",
                 filtered(cond("profile.signupDate", "eq", day))),
        Scenario(f"{RANGE_KEY} ≥ {RANGE_FROM:,} (range)", "GET",
                 filtered(cond(RANGE_KEY, "gte", RANGE_FROM)), indexed=False),
        Scenario("lastSeenAt within last 7 days", "GET",
                 filtered(cond("lastSeenAt", "withinLastDays", 7))),
        Scenario("tags hasAny [vip] and hasNone [withdrawn]", "GET",
                 filtered({"and": [cond("tags", "hasAny", "vip"),
                                   cond("tags", "hasNone", "withdrawn")]})),
        Scenario(f"name contains “{name_part}”", "GET",
                 filtered(cond("name", "contains", name_part))),
        Scenario("3 conditions, no match: planTier = vip, age < 18, tags hasAny [wholesale]",
                 "POST", filtered(nothing_gin, "POST")),
        Scenario("3 conditions, no match: gender = female, lastSeenAt within 30 days, "
                 f"{RANGE_KEY} > 100,000", "POST", filtered(nothing_scan, "POST"),
                 indexed=False),
        Scenario(f"Quick search by phone `{phone}`", "GET", {"query": phone}),
    ]  # fmt: skip


def _list_kwargs(scenario: Scenario) -> dict[str, Any]:
    """contact_list_page's arguments for the request SCENARIO makes."""
    params = scenario.params
    raw = params.get("filter")
    filter_ = json.loads(raw) if isinstance(raw, str) else raw
    return {"filter": filter_, "query": params.get("query", ""), "since": params.get("since")}


def _request(server: Server, headers: dict[str, str], scenario: Scenario) -> Callable[[], Any]:
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    if scenario.method == "GET":
        query = urlencode(scenario.params)
        target, body = "/open/v5/users" + (f"?{query}" if query else ""), None
        sent = dict(headers)
    else:
        target = "/open/v5/users/search"
        body = json.dumps(scenario.params, ensure_ascii=False).encode()
        sent = {**headers, "Content-Type": "application/json"}

    def run() -> Any:
        connection.request(scenario.method, target, body=body, headers=sent)
        response = connection.getresponse()
        content = response.read()
        if response.will_close:
            connection.close()
        if response.status != 200:
            raise RuntimeError(f"{scenario.method} {target[:80]} answered {response.status}: "
                               f"{content[:300]!r}")  # fmt: skip
        return json.loads(content)

    return run


def _timed(run: Callable[[], Any], repeat: int, warmup: int = 2) -> tuple[list[float], Any]:
    """REPEAT timed runs after WARMUP (at least MIN_RUNS, at most SCENARIO_BUDGET_SECONDS)."""
    last = None
    for _ in range(warmup):
        last = run()
    samples: list[float] = []
    budget = time.perf_counter() + SCENARIO_BUDGET_SECONDS
    while len(samples) < repeat and (len(samples) < MIN_RUNS or time.perf_counter() < budget):
        started = time.perf_counter()
        last = run()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, last


def _captured(viewer: Viewer, scenario: Scenario) -> list[str]:
    """The SQL of the page's rows (count and set-up statements left out)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from contacts.listing import contact_list_page

    with CaptureQueriesContext(connection) as captured:
        contact_list_page(viewer=viewer, **_list_kwargs(scenario))
    statements = []
    for query in captured.captured_queries:
        sql = query["sql"] or ""
        if (
            sql.startswith("SELECT")
            and '"contacts_contact"."profile"' in sql
            and "COUNT(" not in sql
        ):
            statements.append(sql)
    return statements


def _request_captured(headers: dict[str, str], scenario: Scenario) -> list[Statement]:
    """Every statement one API request of SCENARIO sends, in order, with its parameters, its
    binding and the transactions around them (BEGIN, COMMIT, ROLLBACK), from a request in this
    process (after one that brings the credential's once-a-minute use up to date)."""
    from django.db import connection
    from django.test import override_settings

    send = _client_sender(scenario, headers)
    statements: list[Statement] = []

    def capture(execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any) -> Any:
        raw = ctx["cursor"].cursor
        statements.append(Statement(sql, params, not isinstance(raw, psycopg.ClientCursor)))
        return execute(sql, params, many, ctx)

    def marking(method: Callable[..., Any], sql: str | None) -> Callable[..., Any]:
        def marked(*args: Any, **kwargs: Any) -> Any:
            opens = sql == "BEGIN" and args and args[0] is False
            if (sql and sql != "BEGIN") or opens:
                statements.append(Statement(sql, None, False))
            return method(*args, **kwargs)

        return marked

    with override_settings(DEBUG=False, API_RATE_LIMIT=RAISED_LIMIT):
        send(0)
        # Django opens a transaction by turning autocommit off (psycopg then sends BEGIN before
        # the next statement) and ends it with commit() or rollback().
        patched = {"set_autocommit": "BEGIN", "commit": "COMMIT", "rollback": "ROLLBACK"}
        for name, sql in patched.items():
            setattr(connection, name, marking(getattr(connection, name), sql))
        try:
            with connection.execute_wrapper(capture):
                send(1)
        finally:
            for name in patched:
                delattr(connection, name)
    return statements


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Any
    server_bound: bool  # sent by crm.prepared's cursor (prepared after a few runs), as here


def _request_sql_runner(
    url: str, statements: list[Statement]
) -> tuple[Callable[[], Any], Callable[[], None]]:
    """The request's statements alone, in its transactions, bound as the request binds them."""
    conn = psycopg.connect(url, autocommit=True)
    client = psycopg.ClientCursor(conn)
    server = conn.cursor()

    def run() -> int:
        rows = 0
        for statement in statements:
            cursor = server if statement.server_bound else client
            cursor.execute(statement.sql, statement.params)
            rows += len(cursor.fetchall()) if cursor.description else 0
        return rows

    return run, conn.close


def _plan(url: str, sql: str) -> str:
    """The scans of SQL's plan, e.g. 'Index Scan contact_last_seen_idx'."""
    from django.conf import settings

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT set_config('work_mem', %s, false)", [settings.LIST_WORK_MEM])
        plan = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchone()[0]  # type: ignore[index]
    scans: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        kind = node.get("Node Type", "")
        if "Scan" in kind:
            target = node.get("Index Name") or node.get("Relation Name") or ""
            scans.append(f"{kind} {target}".strip())
        elif kind in ("Sort", "Incremental Sort", "BitmapAnd", "BitmapOr"):
            scans.append(kind)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return " → ".join(scans)


def _sql_runner(url: str, statements: list[str]) -> tuple[Callable[[], Any], Callable[[], None]]:
    """The page's statements alone, with the memory the page's query gets (LIST_WORK_MEM)."""
    from django.conf import settings

    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SELECT set_config('work_mem', %s, false)", [settings.LIST_WORK_MEM])

    def run() -> int:
        rows = 0
        for sql in statements:
            rows += len(conn.execute(sql).fetchall())
        return rows

    return run, conn.close


def _count_runner(viewer: Viewer, scenario: Scenario) -> Callable[[], Any]:
    from contacts.listing import contact_filtered
    from crm.counting import count_bounded

    kwargs = _list_kwargs(scenario)
    return lambda: count_bounded(
        contact_filtered(viewer=viewer, filter=kwargs["filter"], query=kwargs["query"])
    )


def measure_scenario(
    server: Server, url: str, viewer: Viewer, headers: dict[str, str], scenario: Scenario,
    repeat: int,
) -> FilterTiming:  # fmt: skip
    from django.test import override_settings

    try:
        statements = _captured(viewer, scenario)
        request_statements = _request_captured(headers, scenario)
        http_ms, answer = _timed(_request(server, headers, scenario), repeat)
        run_sql, close = _sql_runner(url, statements)
        try:
            sql_ms, _ = _timed(run_sql, repeat)
        finally:
            close()
        run_request_sql, close = _request_sql_runner(url, request_statements)
        try:
            request_sql_ms, _ = _timed(run_request_sql, repeat)
        finally:
            close()
        with override_settings(DEBUG=False):  # no query log: `make bench` runs with DEBUG=1
            count_ms, _ = _timed(_count_runner(viewer, scenario), max(MIN_RUNS, repeat // 2), 1)
        plan = _plan(url, statements[0]) if statements else "no query"
    except Exception as error:  # one failing scenario does not stop the others
        return FilterTiming(
            scenario, [], [], [], None, 0, "", 0, f"{type(error).__name__}: {error}"
        )
    count = (int(answer["count"]["value"]), bool(answer["count"]["exact"]))
    return FilterTiming(
        scenario, http_ms, sql_ms, count_ms, count, len(answer["users"]), plan, len(statements),
        request_sql_ms=request_sql_ms, request_statements=len(request_statements),
    )  # fmt: skip


def deep_cursor(viewer: Viewer, position: int) -> tuple[str, int]:
    """The signed cursor contacts.listing hands out after the row at POSITION (default order),
    built directly (cursor_encode, the listing's scope) rather than by following `next` 2,000
    times; and the id of the row that must come first on the page after it."""
    from contacts.selectors.contacts import contact_list
    from crm.cursors import cursor_encode

    rows = contact_list(viewer=viewer).only("id", "last_seen_at")
    anchor = rows[position]
    following = rows[position + 1]
    value = anchor.last_seen_at.isoformat() if anchor.last_seen_at else None
    scope = f"{viewer.channel.pk}:contacts:-lastSeenAt"
    return cursor_encode(scope=scope, position=[value, anchor.pk]), int(following.pk)


def _range_field(channel: Channel) -> Any:
    from profile_schema.models import ProfileField

    return ProfileField.objects.filter(channel=channel, key=RANGE_KEY).first()


def index_supported() -> bool:
    from profile_schema.models import ProfileField

    return any(f.name == "indexed" for f in ProfileField._meta.get_fields())


def index_set(channel: Channel, indexed: bool) -> float:
    """Mark or unmark RANGE_KEY as indexed and sync (profile_indexes_sync); seconds it took."""
    from django.core.management import call_command

    from profile_schema.indexes import index_syncs_wait
    from profile_schema.services import profile_field_update

    field_ = _range_field(channel)
    started = time.perf_counter()
    profile_field_update(field=field_, indexed=indexed)
    index_syncs_wait(timeout=900)  # the background build the service starts on commit
    call_command("profile_indexes_sync", stdout=io.StringIO())
    seconds = time.perf_counter() - started
    field_.refresh_from_db()
    wanted = "ready" if indexed else "none"
    if field_.index_state != wanted:
        raise RuntimeError(f"{RANGE_KEY}: index state {field_.index_state} ({field_.index_error})")
    return seconds


def analyze_contacts() -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    return time.perf_counter() - started


def expression_statistics(create: bool) -> float:
    """The what-if: statistics on the key's expression (then ANALYZE), or their removal.

    The per-key index is partial (WHERE channel_id = …), and the planner ignores the statistics
    of partial indexes, so without these it assumes a third of the rows match any range."""
    from django.db import connection

    with connection.cursor() as cursor:
        if not create:
            cursor.execute(f"DROP STATISTICS IF EXISTS {WHAT_IF_STATISTICS}")
            return 0.0
        cursor.execute(
            f"CREATE STATISTICS IF NOT EXISTS {WHAT_IF_STATISTICS}"
            f" ON ((profile -> '{RANGE_KEY.removeprefix('profile.')}')) FROM contacts_contact"
        )
    return analyze_contacts()


def measure_filters(channel: Channel, url: str, *, repeat: int, threads: int = 4) -> FilterFigures:
    """Every scenario against gunicorn with gthread workers of THREADS threads (0: sync)."""
    from django.conf import settings

    figures = FilterFigures()
    _statistics_as_the_services_keep_them(figures)
    viewer, headers = _viewer_and_headers(channel)
    cursor, first_id = deep_cursor(viewer, DEEP_POSITION)
    chosen = scenarios(channel, figures, cursor)
    can_index = index_supported() and _range_field(channel) is not None
    if can_index and _range_field(channel).indexed:
        index_set(channel, False)  # measure "without" on the database as seeded
    with gunicorn(url, settings.SECRET_KEY, threads=threads) as server:
        figures.server = " ".join(["gunicorn", *server.command[1:]])
        for scenario in chosen:
            timing = measure_scenario(server, url, viewer, headers, scenario, repeat)
            figures.timings.append(timing)
        figures.deep_check = _deep_check(server, headers, cursor, first_id)
        if can_index:
            _indexed_variants(channel, server, url, viewer, headers, chosen, repeat, figures)
        else:
            figures.index_note = "profile_schema has no per-key index here: not measured."
    for scenario in chosen:
        if scenario.name.startswith(("No filter", "profile.signupDate")):
            figures.profiles.append(api_profile(scenario, headers))
    return figures


def _statistics_as_the_services_keep_them(figures: FilterFigures) -> None:
    """The range keys' planner statistics, as the field services leave them after commit.

    A database seeded before the services kept statistics (or by hand) gets them here, so the
    filters are measured as a channel's own would run."""
    from profile_schema.indexes import statistics_sync

    outcomes = statistics_sync()
    made = sorted(o.key for o in outcomes if o.action == "created")
    kept = sorted(o.key for o in outcomes if o.action == "kept")
    figures.setup.append(
        f"Planner statistics on range keys (profile_schema.indexes.statistics_sync): "
        f"{len(kept)} kept, {len(made)} created{': ' + ', '.join(made) if made else ''}."
    )


def _indexed_variants(
    channel: Channel, server: Server, url: str, viewer: Viewer, headers: dict[str, str],
    chosen: list[Scenario], repeat: int, figures: FilterFigures,
) -> None:  # fmt: skip
    """The RANGE_KEY scenarios again with the per-key index (and the what-if when needed)."""
    ranged = [s for s in chosen if RANGE_KEY in s.name]
    try:
        figures.index_build_seconds = index_set(channel, True)
        made = expression_statistics_present()
        figures.index_note += (
            f" The sync made statistics on the key's expression ({', '.join(made)})."
            if made
            else " The sync made no statistics on the key's expression."
        )
        for label, _ in VARIANTS:
            if "what-if" in label:
                if made:
                    continue
                figures.index_note += (
                    f" What-if statistics + ANALYZE: {expression_statistics(True):.1f} s."
                )
            for scenario in ranged:
                marked = Scenario(
                    f"{scenario.name} — {label}", scenario.method, scenario.params, True
                )
                figures.timings.append(
                    measure_scenario(server, url, viewer, headers, marked, repeat)
                )
    except Exception as error:  # the feature is young: report, and still restore
        figures.index_note += f" The indexed variants failed: {type(error).__name__}: {error}"
    finally:
        expression_statistics(False)
        index_set(channel, False)


def expression_statistics_present() -> list[str]:
    """Names of the statistics objects on contacts_contact whose definition names the key."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stxname FROM pg_statistic_ext WHERE stxrelid = 'contacts_contact'::regclass"
            " AND pg_get_statisticsobjdef(oid) LIKE %s ORDER BY 1",
            [f"%'{RANGE_KEY.removeprefix('profile.')}'%"],
        )
        return [row[0] for row in cursor.fetchall()]


def _client_sender(scenario: Scenario, headers: dict[str, str]) -> Callable[[int], None]:
    """A function sending one API request of SCENARIO through django.test.Client."""
    from django.test import Client

    client = Client()

    def send(_: int) -> None:
        if scenario.method == "GET":
            response = client.get("/open/v5/users", scenario.params, headers=headers)
        else:
            response = client.post(
                "/open/v5/users/search", scenario.params, content_type="application/json",
                headers=headers,
            )  # fmt: skip
        if response.status_code != 200:
            raise RuntimeError(
                f"{scenario.name}: {response.status_code} {response.content[:200]!r}"
            )

    return send


def api_profile(scenario: Scenario, headers: dict[str, str]) -> RequestProfile:
    """PROFILED requests of SCENARIO in this process (bench.profiling)."""
    from django.test import override_settings

    send = _client_sender(scenario, headers)
    with override_settings(DEBUG=False, API_RATE_LIMIT=RAISED_LIMIT):
        return request_profile(scenario.name, send, PROFILED, warmup=3, steps=API_STEPS)


def _deep_check(server: Server, headers: dict[str, str], cursor: str, first_id: int) -> str:
    """Whether the page after the built cursor starts at the row after position 50,000."""
    run = _request(server, headers, Scenario("check", "GET", {"since": cursor}))
    users = run()["users"]
    got = int(users[0]["id"]) if users else None
    verdict = "matches" if got == first_id else f"DIFFERS (got {got})"
    return (
        f"The cursor page's first contact is id {first_id}, the row after position "
        f"{DEEP_POSITION:,} in the list order (OFFSET query): {verdict}."
    )


# --- the report ------------------------------------------------------------------------------


def _verdict(timing: FilterTiming, page_one_p95: float | None) -> str:
    http95 = timing.p(timing.http_ms, 95)
    misses = []
    goal = INDEXED_GOAL_MS if timing.scenario.indexed else WORST_GOAL_MS
    if http95 > goal:
        misses.append(f"p95 > {goal:.0f} ms")
    request50 = timing.p(timing.request_sql_ms, 50) if timing.request_sql_ms else 0.0
    if request50 and timing.p(timing.http_ms, 50) / request50 > FLOOR_GOAL:
        misses.append(f"> {FLOOR_GOAL:.0f}x its SQL")
    if (
        page_one_p95 is not None
        and "Cursor" in timing.scenario.name
        and http95 > page_one_p95 * 1.5
    ):
        misses.append("slower than page 1")
    return "met" if not misses else "missed: " + ", ".join(misses)


def filters_report(figures: FilterFigures) -> str:
    lines = ["### Filters (GET /open/v5/users, POST /open/v5/users/search)", ""]
    if figures.server:
        lines += [f"Server: `{figures.server}`.", ""]
    lines += [f"- {item}" for item in figures.setup]
    if figures.deep_check:
        lines.append(f"- {figures.deep_check}")
    if figures.index_build_seconds is not None:
        lines.append(
            f"- Marking {RANGE_KEY} indexed and syncing (CREATE INDEX CONCURRENTLY over the "
            f"tenant) took {figures.index_build_seconds:.1f} s.{figures.index_note}"
        )
    elif figures.index_note:
        lines.append(f"- {figures.index_note}")
    lines += [
        "",
        "| Scenario | API p50 (ms) | API p95 (ms) | Page SQL p50 (ms) | Page SQL p95 (ms) | "
        "API/page SQL p50 | Count p50 (ms) | Request SQL p50 (ms) | API/request SQL p50 | Count | "
        "Page plan | Goal |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    page_one = next((t for t in figures.timings if t.scenario.name.startswith("No filter")), None)
    page_one_p95 = page_one.p(page_one.http_ms, 95) if page_one and page_one.http_ms else None
    for t in figures.timings:
        if t.error:
            lines.append(f"| {t.scenario.name} |{' - |' * 10} FAILED: {t.error} |")
            continue
        http50, http95 = t.p(t.http_ms, 50), t.p(t.http_ms, 95)
        sql50, sql95 = t.p(t.sql_ms, 50), t.p(t.sql_ms, 95)
        ratio = f"{http50 / sql50:.1f}x" if sql50 else "-"
        count50 = t.p(t.count_ms, 50)
        request50 = t.p(t.request_sql_ms, 50) if t.request_sql_ms else 0.0
        whole = f"{http50 / request50:.1f}x" if request50 else "-"
        value, exact = t.count or (0, False)
        count = f"{value:,} ({'exact' if exact else 'estimate'})"
        lines.append(
            f"| {t.scenario.name} | {http50:.1f} | {http95:.1f} | {sql50:.1f} | {sql95:.1f} | "
            f"{ratio} | {count50:.1f} | {request50:.1f} ({t.request_statements}) | {whole} | "
            f"{count} | {t.plan} | {_verdict(t, page_one_p95)} |"
        )
    lines += ["", f"The per-key index variants of the {RANGE_KEY} rows:", ""]
    lines += [f"- {label}: {meaning}." for label, meaning in VARIANTS]
    runs = sorted({len(t.http_ms) for t in figures.timings if t.http_ms})
    lines += [
        "",
        f"Runs per scenario: {', '.join(map(str, runs))} (after 2 warm-up runs; fewer when a "
        f"scenario passes {SCENARIO_BUDGET_SECONDS:.0f} s). Goal: p95 ≤ {INDEXED_GOAL_MS:.0f} ms "
        f"for filters an index serves, ≤ {WORST_GOAL_MS:.0f} ms for the others (marked by "
        f"“p95 > 500 ms”), API ≤ {FLOOR_GOAL:.0f}x the SQL the request runs (its statements "
        "alone, in brackets their number with BEGIN and COMMIT: credential, list settings, rows, "
        "count).",
        "",
    ]
    for profile in figures.profiles:
        lines += profile_report(profile, f"the API request “{profile.name}”")
    return "\n".join(lines)
