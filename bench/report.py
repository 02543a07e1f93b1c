"""The bench's report file: a header (date, commit, machine, PostgreSQL) and the sections.

`make bench` writes it to bench/results/<YYYY-MM-DD>-<commit>.md (a second run of the same
commit on the same day gets `-2`, and so on), so the figures of docs/performance.md come from a
file rather than from a terminal. The report names no absolute path: the project's folder, the
home folder, the temporary folder and the interpreter's prefix are replaced where an error
message carries them.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BASE_DIR / "bench" / "results"


@dataclass(frozen=True)
class Machine:
    """What the figures ran on."""

    cores: int
    memory_gib: float
    cpu_model: str
    kernel: str
    postgres: str  # SELECT version()
    shared_buffers: str
    python: str
    django: str


@dataclass(frozen=True)
class RunHeader:
    """When and on what one bench run measured."""

    started: datetime  # UTC
    commit: str  # short hash, "unknown" outside a git checkout
    uncommitted: bool  # the work tree differed from the commit
    machine: Machine
    arguments: list[str]  # python -m bench.run's arguments


def report_markdown(*, header: RunHeader, sections: list[str]) -> str:
    """The whole report: the header, then each section as it was measured."""
    machine = header.machine
    commit = header.commit + (" (with uncommitted changes)" if header.uncommitted else "")
    arguments = " ".join(header.arguments) or "(defaults)"
    lines = [
        f"# Bench {header.started:%Y-%m-%d %H:%M} UTC, commit {commit}",
        "",
        "| | |",
        "| --- | --- |",
        f"| Date | {header.started:%Y-%m-%d %H:%M} UTC |",
        f"| Commit | {commit} |",
        f"| Command | `python -m bench.run {arguments}` |",
        f"| CPU | {machine.cores} cores, {machine.cpu_model} |",
        f"| Memory | {machine.memory_gib:.1f} GiB |",
        f"| Kernel | {machine.kernel} |",
        f"| PostgreSQL | {machine.postgres} (shared_buffers {machine.shared_buffers}) |",
        f"| Python, Django | {machine.python}, {machine.django} |",
    ]
    for section in sections:
        lines += ["", section.strip("\n")]
    return "\n".join(lines) + "\n"


def section_failed(name: str, error: BaseException) -> str:
    """The section NAME in place of its figures: the error, then the traceback that says
    where it was raised (a bare "IndexError" does not)."""
    trace = "".join(traceback.format_exception(error)).rstrip("\n")
    return f"### {name}\n\nFAILED: {type(error).__name__}: {error}\n\n```\n{trace}\n```"


def report_path(*, folder: Path, header: RunHeader) -> Path:
    """The first free `<date>-<commit>[-dirty][-N].md` in FOLDER."""
    stem = f"{header.started:%Y-%m-%d}-{header.commit}" + ("-dirty" if header.uncommitted else "")
    path, number = folder / f"{stem}.md", 1
    while path.exists():
        number += 1
        path = folder / f"{stem}-{number}.md"
    return path


def paths_hidden(text: str, replacements: dict[str, str]) -> str:
    """TEXT with each absolute path prefix of REPLACEMENTS (longest first) replaced."""
    for prefix in sorted(replacements, key=len, reverse=True):
        if prefix and prefix != "/":
            text = text.replace(prefix, replacements[prefix])
    return text


def local_prefixes() -> dict[str, str]:
    """This machine's absolute paths that error messages can carry, and what replaces them."""
    prefixes = {
        f"{BASE_DIR}/": "",
        str(BASE_DIR): ".",
        tempfile.gettempdir(): "<tmp>",
        sys.base_prefix: "<python>",
        str(Path.home()): "~",
    }
    venv = Path(sys.prefix)
    if sys.prefix != sys.base_prefix and not venv.is_relative_to(BASE_DIR):
        prefixes[sys.prefix] = "<venv>"  # a virtualenv outside the project (inside: .venv/…)
    return prefixes


def report_write(*, header: RunHeader, sections: list[str], folder: Path = RESULTS_DIR) -> Path:
    """Write the report into FOLDER; the path written."""
    folder.mkdir(parents=True, exist_ok=True)
    path = report_path(folder=folder, header=header)
    text = report_markdown(header=header, sections=sections)
    path.write_text(paths_hidden(text, local_prefixes()), encoding="utf-8")
    return path


def run_header(database_url: str, arguments: list[str]) -> RunHeader:
    """The header of a run starting now against DATABASE_URL's server."""
    commit, uncommitted = _commit()
    return RunHeader(
        started=datetime.now(UTC),
        commit=commit,
        uncommitted=uncommitted,
        machine=machine_read(database_url),
        arguments=arguments,
    )


def machine_read(database_url: str) -> Machine:
    """Cores, memory, CPU model and kernel of this machine; the server's version."""
    import django

    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT version(), current_setting('shared_buffers')").fetchone()
    postgres, shared_buffers = row if row else ("unknown", "unknown")
    return Machine(
        cores=os.cpu_count() or 0,
        memory_gib=_memory_gib(),
        cpu_model=_cpu_model(),
        kernel=f"{platform.system()} {platform.release()}",
        postgres=str(postgres),
        shared_buffers=str(shared_buffers),
        python=f"Python {platform.python_version()}",
        django=f"Django {django.get_version()}",
    )


def _commit() -> tuple[str, bool]:
    """The checked-out commit's short hash, and whether tracked files differ from it."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        changed = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False
    return commit, bool(changed)


def _git(*args: str) -> str:
    done = subprocess.run(  # noqa: S603 - fixed argv
        ["git", *args],  # noqa: S607 - git from PATH, as a developer runs it
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _cpu_model() -> str:
    for line in _read_lines("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    for line in _read_lines("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024**2
    return 0.0


def _read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []
