"""Measuring every scenario: the API through gunicorn, its SQL floors, its count, its plan."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from bench.filters.figures import (
    MIN_RUNS,
    RANGE_KEY,
    SCENARIO_BUDGET_SECONDS,
    VARIANTS,
    FilterFigures,
    FilterTiming,
    Scenario,
)
from bench.filters.index import (
    expression_statistics,
    expression_statistics_present,
    index_set,
    index_supported,
    range_field,
    statistics_as_the_services_keep_them,
)
from bench.filters.peer import peer_timed
from bench.filters.replay import (
    client_sender,
    list_kwargs,
    page_captured,
    page_sql_runner,
    plan_scans,
    request_captured,
    request_sql_runner,
)
from bench.filters.scenarios import (
    deep_cursor,
    deep_position,
    scenarios,
    tenant_size,
)
from bench.profiling import RequestProfile, request_profile
from bench.server import RAISED_LIMIT, Server, gunicorn

if TYPE_CHECKING:
    from crm.models import Channel
    from crm.permissions import Viewer

BENCH_CREDENTIAL = "bench-runner"


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


def _count_runner(viewer: Viewer, scenario: Scenario) -> Callable[[], Any]:
    from contacts.listing import contact_filtered
    from crm.counting import count_bounded

    kwargs = list_kwargs(scenario)
    return lambda: count_bounded(
        contact_filtered(viewer=viewer, filter=kwargs["filter"], query=kwargs["query"])
    )


def measure_scenario(
    server: Server, url: str, viewer: Viewer, headers: dict[str, str], scenario: Scenario,
    repeat: int,
) -> FilterTiming:  # fmt: skip
    from django.test import override_settings

    try:
        statements = page_captured(viewer, scenario)
        request_statements = request_captured(headers, scenario)
        http_ms, answer = _timed(_request(server, headers, scenario), repeat)
        run_sql, close = page_sql_runner(url, statements)
        try:
            sql_ms, _ = _timed(run_sql, repeat)
        finally:
            close()
        run_request_sql, close = request_sql_runner(url, request_statements)
        try:
            request_sql_ms, _ = _timed(run_request_sql, repeat)
        finally:
            close()
        with override_settings(DEBUG=False):  # no query log: `make bench` runs with DEBUG=1
            count_ms, _ = _timed(_count_runner(viewer, scenario), max(MIN_RUNS, repeat // 2), 1)
        plan = plan_scans(url, statements[0]) if statements else "no query"
    except Exception as error:  # one failing scenario does not stop the others
        return FilterTiming(
            scenario, [], [], [], None, 0, "", 0, f"{type(error).__name__}: {error}"
        )
    count = (int(answer["count"]["value"]), bool(answer["count"]["exact"]))
    return FilterTiming(
        scenario, http_ms, sql_ms, count_ms, count, len(answer["users"]), plan, len(statements),
        request_sql_ms=request_sql_ms, request_statements=len(request_statements),
    )  # fmt: skip


def measure_filters(
    channel: Channel, url: str, *, repeat: int, threads: int = 4, peer_repeat: int = 10
) -> FilterFigures:
    """Every scenario against gunicorn with gthread workers of THREADS threads (0: sync), and
    the peer's SQL for it PEER_REPEAT times (0: not measured)."""
    from django.conf import settings

    figures = FilterFigures(deep_position=deep_position(channel, tenant_size(channel)))
    statistics_as_the_services_keep_them(figures)
    viewer, headers = _viewer_and_headers(channel)
    cursor, first_id = deep_cursor(viewer, figures.deep_position)
    chosen = scenarios(channel, figures, cursor)
    can_index = index_supported() and range_field(channel) is not None
    if can_index and range_field(channel).indexed:
        index_set(channel, False)  # measure "without" on the database as seeded
    with gunicorn(url, settings.SECRET_KEY, threads=threads) as server:
        figures.server = " ".join(["gunicorn", *server.command[1:]])
        for scenario in chosen:
            timing = measure_scenario(server, url, viewer, headers, scenario, repeat)
            figures.timings.append(timing)
        figures.deep_check = _deep_check(server, headers, cursor, first_id, figures.deep_position)
        _peer_measured(url, channel.pk, figures, peer_repeat)
        if can_index:
            _indexed_variants(channel, server, url, viewer, headers, chosen, repeat, figures)
        else:
            figures.index_note = "profile_schema has no per-key index here: not measured."
    for scenario in chosen:
        if scenario.name.startswith(("No filter", "profile.signupDate")):
            figures.profiles.append(api_profile(scenario, headers))
    return figures


def _peer_measured(url: str, channel_id: int, figures: FilterFigures, repeat: int) -> None:
    """The peer's SQL of every scenario measured so far (bench.filters.peer)."""
    if repeat <= 0:
        figures.peer_note = "The peer's SQL was not measured (--peer-repeat 0)."
        return
    for timing in figures.timings:
        if timing.scenario.peer is None:
            continue
        try:
            timing.peer_ms = peer_timed(url, channel_id, timing.scenario.peer, repeat)
        except Exception as error:  # report it with the others
            timing.peer_error = f"{type(error).__name__}: {error}"


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
                    f"{scenario.name} — {label}", scenario.method, scenario.params, True,
                    peer=scenario.peer,
                )  # fmt: skip
                timing = measure_scenario(server, url, viewer, headers, marked, repeat)
                # the peer's SQL is the same whatever our flag: its figure from the first run
                same = next(t for t in figures.timings if t.scenario is scenario)
                timing.peer_ms, timing.peer_error = same.peer_ms, same.peer_error
                figures.timings.append(timing)
    except Exception as error:  # the feature is young: report, and still restore
        figures.index_note += f" The indexed variants failed: {type(error).__name__}: {error}"
    finally:
        expression_statistics(False)
        index_set(channel, False)


def api_profile(scenario: Scenario, headers: dict[str, str]) -> RequestProfile:
    """PROFILED requests of SCENARIO in this process (bench.profiling)."""
    from django.test import override_settings

    send = client_sender(scenario, headers)
    with override_settings(DEBUG=False, API_RATE_LIMIT=RAISED_LIMIT):
        return request_profile(scenario.name, send, PROFILED, warmup=3, steps=API_STEPS)


def _deep_check(
    server: Server, headers: dict[str, str], cursor: str, first_id: int, position: int
) -> str:
    """Whether the page after the built cursor starts at the row after POSITION."""
    run = _request(server, headers, Scenario("check", "GET", {"since": cursor}))
    users = run()["users"]
    got = int(users[0]["id"]) if users else None
    verdict = "matches" if got == first_id else f"DIFFERS (got {got})"
    return (
        f"The cursor page's first contact is id {first_id}, the row after position "
        f"{position:,} in the list order (OFFSET query): {verdict}."
    )
