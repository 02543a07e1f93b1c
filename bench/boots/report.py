"""The boots section of the bench report."""

from __future__ import annotations

import os
from pathlib import Path

from bench.boots.figures import FLOOR_THREADS, MIXES, BootFigures, LoadRun
from bench.profiling import RequestProfile, profile_report


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
