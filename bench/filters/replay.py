"""The SQL floors: the statements a list page and a whole API request send, captured in this
process and replayed alone through psycopg, as they were bound."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from bench.server import RAISED_LIMIT

if TYPE_CHECKING:
    from bench.filters.figures import Scenario
    from crm.permissions import Viewer


def list_kwargs(scenario: Scenario) -> dict[str, Any]:
    """contact_list_page's arguments for the request SCENARIO makes."""
    params = scenario.params
    raw = params.get("filter")
    filter_ = json.loads(raw) if isinstance(raw, str) else raw
    return {"filter": filter_, "query": params.get("query", ""), "since": params.get("since")}


def client_sender(scenario: Scenario, headers: dict[str, str]) -> Callable[[int], None]:
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


def page_captured(viewer: Viewer, scenario: Scenario) -> list[str]:
    """The SQL of the page's rows (count and set-up statements left out)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from contacts.listing import contact_list_page

    with CaptureQueriesContext(connection) as captured:
        contact_list_page(viewer=viewer, **list_kwargs(scenario))
    statements = []
    for query in captured.captured_queries:
        sql = query["sql"] or ""
        if (
            sql.startswith(("SELECT", "WITH matching"))  # the walk, or the fenced page
            and '"contacts_contact"."profile"' in sql
            and "COUNT(" not in sql
        ):
            statements.append(sql)
    return statements


def request_captured(headers: dict[str, str], scenario: Scenario) -> list[Statement]:
    """Every statement one API request of SCENARIO sends, in order, with its parameters, its
    binding and the transactions around them (BEGIN, COMMIT, ROLLBACK), from a request in this
    process (after one that brings the credential's once-a-minute use up to date)."""
    from django.db import connection
    from django.test import override_settings

    send = client_sender(scenario, headers)
    statements: list[Statement] = []

    def capture(execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any) -> Any:
        raw = ctx["cursor"].cursor
        statements.append(Statement(sql, params, not isinstance(raw, psycopg.ClientCursor)))
        return execute(sql, params, many, ctx)

    def marking(method: Callable[..., Any], sql: str) -> Callable[..., Any]:
        def marked(*args: Any, **kwargs: Any) -> Any:
            opens = sql == "BEGIN" and args and args[0] is False
            if sql != "BEGIN" or opens:
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


def _app_session(url: str) -> psycopg.Connection[Any]:
    """A connection with the session settings the app's connections get (crm.settings:
    statement_timeout, random_page_cost), so replayed statements are planned as the app's."""
    from django.conf import settings

    options = settings.DATABASES["default"].get("OPTIONS", {}).get("options", "")
    return psycopg.connect(url, autocommit=True, options=options)


def request_sql_runner(
    url: str, statements: list[Statement]
) -> tuple[Callable[[], Any], Callable[[], None]]:
    """The request's statements alone, in its transactions, bound as the request binds them."""
    conn = _app_session(url)
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


def page_sql_runner(
    url: str, statements: list[str]
) -> tuple[Callable[[], Any], Callable[[], None]]:
    """The page's statements alone, with the memory the page's query gets (LIST_WORK_MEM)."""
    from django.conf import settings

    conn = _app_session(url)
    conn.execute("SELECT set_config('work_mem', %s, false)", [settings.LIST_WORK_MEM])

    def run() -> int:
        rows = 0
        for sql in statements:
            rows += len(conn.execute(sql).fetchall())
        return rows

    return run, conn.close


def plan_scans(url: str, sql: str) -> str:
    """The scans of SQL's plan, e.g. 'Index Scan contact_last_seen_idx'."""
    from django.conf import settings

    with _app_session(url) as conn:
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
