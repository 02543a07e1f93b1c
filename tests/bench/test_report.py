"""bench.report and bench.lists: the report file `make bench` writes, from a small fake run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import connection
from psycopg.conninfo import make_conninfo

from bench.lists import Figures, Timing, lists_report
from bench.report import (
    BASE_DIR,
    Machine,
    RunHeader,
    machine_read,
    paths_hidden,
    report_markdown,
    report_path,
    report_write,
    section_failed,
)

MACHINE = Machine(
    cores=2,
    memory_gib=7.75,
    cpu_model="AMD EPYC 7B13",
    kernel="Linux 6.1.0",
    postgres="PostgreSQL 18.6 on x86_64-pc-linux-gnu, compiled by gcc 12.2.0, 64-bit",
    shared_buffers="128MB",
    python="Python 3.11.7",
    django="Django 5.2.8",
)


def header(*, uncommitted: bool = False) -> RunHeader:
    return RunHeader(
        started=datetime(2025, 11, 29, 2, 25, tzinfo=UTC),
        commit="8617840",
        uncommitted=uncommitted,
        machine=MACHINE,
        arguments=["--reuse", "--skip-boots"],
    )


def lists_figures() -> Figures:
    return Figures(
        data="1,000,000 contacts in 20 channels (bench-1: 600,112), 1,000,000 events",
        timings=[
            Timing("Contact list, first page (25 rows)", [0.003, 0.001, 0.002, 0.004]),
            Timing("Admin changelist", [], "FAILED: RuntimeError: answered 500"),
        ],
        seed=None,
        sizes={"Database size": 3 * 1024**3, "contacts_event indexes": 50 * 1024**2},
    )


def test_the_lists_section_shows_percentiles_failures_the_seed_and_sizes() -> None:
    assert lists_report(lists_figures()).splitlines() == [
        "### Lists (in process)",
        "",
        "Data: 1,000,000 contacts in 20 channels (bench-1: 600,112), 1,000,000 events",
        "",
        "| Scenario | p50 (ms) | p95 (ms) | Runs | Note |",
        "| --- | ---: | ---: | ---: | --- |",
        "| Contact list, first page (25 rows) | 2.00 | 4.00 | 4 |  |",
        "| Admin changelist | - | - | 0 | FAILED: RuntimeError: answered 500 |",
        "",
        "| Figure | Value |",
        "| --- | --- |",
        "| Seed | reused an existing crm_bench (not measured this run) |",
        "| Database size | 3.00 GiB |",
        "| contacts_event indexes | 50 MiB |",
    ]


def test_the_report_starts_with_date_commit_machine_and_server_then_the_sections() -> None:
    text = report_markdown(header=header(), sections=["### Lists\n\nbody\n", "### Boots\n\nx"])

    assert text == (
        "# Bench 2025-11-29 02:25 UTC, commit 8617840\n"
        "\n"
        "| | |\n"
        "| --- | --- |\n"
        "| Date | 2025-11-29 02:25 UTC |\n"
        "| Commit | 8617840 |\n"
        "| Command | `python -m bench.run --reuse --skip-boots` |\n"
        "| CPU | 2 cores, AMD EPYC 7B13 |\n"
        "| Memory | 7.8 GiB |\n"
        "| Kernel | Linux 6.1.0 |\n"
        "| PostgreSQL | PostgreSQL 18.6 on x86_64-pc-linux-gnu, compiled by gcc 12.2.0, 64-bit"
        " (shared_buffers 128MB) |\n"
        "| Python, Django | Python 3.11.7, Django 5.2.8 |\n"
        "\n"
        "### Lists\n"
        "\n"
        "body\n"
        "\n"
        "### Boots\n"
        "\n"
        "x\n"
    )


def test_a_run_on_uncommitted_changes_says_so_in_the_report_and_its_name(tmp_path: Path) -> None:
    dirty = header(uncommitted=True)

    text = report_markdown(header=dirty, sections=[])

    assert "| Commit | 8617840 (with uncommitted changes) |" in text.splitlines()
    assert report_path(folder=tmp_path, header=dirty).name == "2025-11-29-8617840-dirty.md"


def test_a_second_run_of_the_same_commit_on_the_same_day_gets_its_own_file(
    tmp_path: Path,
) -> None:
    first = report_write(header=header(), sections=["### Lists\n\none"], folder=tmp_path)
    second = report_write(header=header(), sections=["### Lists\n\ntwo"], folder=tmp_path)
    third = report_write(header=header(), sections=["### Lists\n\nthree"], folder=tmp_path)

    assert [first.name, second.name, third.name] == [
        "2025-11-29-8617840.md",
        "2025-11-29-8617840-2.md",
        "2025-11-29-8617840-3.md",
    ]
    assert first.read_text().endswith("\none\n")
    assert third.read_text().endswith("\nthree\n")


def test_the_written_report_names_no_absolute_path_of_this_machine(tmp_path: Path) -> None:
    failure = (
        "### Lists\n\nFAILED: CalledProcessError: Command "
        f"'['{BASE_DIR}/.venv/bin/python', '{BASE_DIR}/manage.py', 'seed_bench']' "
        f"returned non-zero exit status 1. Log: {Path.home()}/x.log; cwd {BASE_DIR}"
    )

    path = report_write(header=header(), sections=[failure], folder=tmp_path)

    assert path.read_text().splitlines()[-1] == (
        "FAILED: CalledProcessError: Command "
        "'['.venv/bin/python', 'manage.py', 'seed_bench']' "
        "returned non-zero exit status 1. Log: ~/x.log; cwd ."
    )


def test_paths_are_replaced_longest_prefix_first_and_api_paths_are_left_alone() -> None:
    replacements = {"/srv/crm/": "", "/srv/crm": ".", "/srv": "<srv>", "/": "never"}
    message = "/srv/crm/manage.py in /srv/crm, /srv/other; GET /open/v5/users"

    text = paths_hidden(message, replacements)

    assert text == "manage.py in ., <srv>/other; GET /open/v5/users"


@pytest.mark.django_db
def test_the_machine_is_read_from_this_host_and_the_server_it_runs_on() -> None:
    settings = connection.settings_dict
    conninfo = make_conninfo(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=str(settings["PORT"]) if settings["PORT"] else None,
    )

    machine = machine_read(conninfo)

    with connection.cursor() as cursor:
        cursor.execute("SELECT version(), current_setting('shared_buffers')")
        version, shared_buffers = cursor.fetchone()
    assert (machine.postgres, machine.shared_buffers) == (version, shared_buffers)
    assert machine.cores >= 1 and machine.memory_gib > 0
    assert machine.kernel.startswith("Linux ")
    assert machine.cpu_model != ""


def test_a_failed_section_shows_the_error_and_the_line_that_raised_it() -> None:
    def deep_cursor() -> None:
        [][1]

    try:
        deep_cursor()
    except IndexError as error:
        section = section_failed("Filters", error)

    lines = section.splitlines()
    assert lines[:4] == ["### Filters", "", "FAILED: IndexError: list index out of range", ""]
    assert lines[4] == "```"
    assert f'File "{__file__}", line' in section
    assert ", in deep_cursor\n" in section
    assert lines[-2:] == ["IndexError: list index out of range", "```"]
