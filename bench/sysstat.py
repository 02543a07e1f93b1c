"""CPU accounting around a load run, read from /proc (Linux): who used the two cores.

A snapshot holds the machine's busy and total jiffies and the CPU time of groups of processes:
a group is its root processes (with the CPU of the children they have reaped) and their live
children, e.g. the gunicorn master and its workers, or the PostgreSQL postmaster (found from the
server's data directory) and its backends, which come and go. The difference of two snapshots
says how many CPU-milliseconds each group spent per request. Elsewhere than Linux every figure
is zero, and the report says "n/a".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Snapshot:
    busy: int = 0  # jiffies, all CPUs
    total: int = 0
    groups: dict[str, float] = field(default_factory=dict)  # group -> CPU seconds


def _machine() -> tuple[int, int]:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0, 0
    values = [int(v) for v in fields[:8]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """utime + stime of PID (0 when it is gone); with REAPED, also its ended children's."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    rest = text.rsplit(")", 1)[1].split()
    ticks = int(rest[11]) + int(rest[12])
    if reaped:  # cutime + cstime: children that ended (PostgreSQL backends come and go)
        ticks += int(rest[13]) + int(rest[14])
    return ticks / TICKS


def children_of(parent: int) -> list[int]:
    """Direct children of PARENT (scanning /proc; [] elsewhere)."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(text.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(entry))
    return found


def postmaster_pid(data_directory: str | None) -> int | None:
    """The PostgreSQL server's pid from DATA_DIRECTORY/postmaster.pid, when readable."""
    if not data_directory:
        return None
    try:
        return int(Path(data_directory, "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def snapshot(groups: dict[str, list[int]]) -> Snapshot:
    """Machine jiffies and each group's CPU seconds (a group is its root pids + their children)."""
    busy, total = _machine()
    seconds = {}
    for name, roots in groups.items():
        children = {child for root in roots for child in children_of(root)} - set(roots)
        seconds[name] = sum(_cpu_seconds(pid, reaped=True) for pid in roots) + sum(
            _cpu_seconds(pid) for pid in children
        )
    return Snapshot(busy, total, seconds)


def difference(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """'machine busy %' (of all CPUs) and each group's CPU seconds between two snapshots."""
    spent = {name: after.groups.get(name, 0.0) - value for name, value in before.groups.items()}
    total = after.total - before.total
    spent["machine busy %"] = 100.0 * (after.busy - before.busy) / total if total else 0.0
    return spent
