"""`make run`'s server, end to end over real HTTP: migrate, demo data, serve, stop on signal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
# Named after the configured database, so that checkouts sharing a server do not drop each
# other's ("crm" gives "crm_smoke_run").
SMOKE_DB = f"{settings.DATABASES['default']['NAME']}_smoke_run"


def server_conninfo(dbname: str) -> str:
    db = settings.DATABASES["default"]
    host = db["HOST"] or "localhost"
    parts = {"dbname": dbname, "user": db["USER"], "host": host, "port": db["PORT"] or "5432"}
    if db["PASSWORD"]:
        parts["password"] = db["PASSWORD"]
    return " ".join(f"{key}='{value}'" for key, value in parts.items())


def database_url(dbname: str) -> str:
    db = settings.DATABASES["default"]
    host = db["HOST"] or "localhost"
    auth = f"{db['USER']}:{db['PASSWORD'] or ''}"
    if host.startswith("/"):
        return f"postgresql://{auth}@/{dbname}?host={host}"
    return f"postgresql://{auth}@{host}:{db['PORT'] or 5432}/{dbname}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def recreate_database(name: str, *, drop_only: bool = False) -> None:
    with psycopg.connect(server_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def wait_for(url: str, seconds: float, process: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"it stopped with status {process.returncode}:\n{output}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.fixture
def running_server() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    recreate_database(SMOKE_DB)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(SMOKE_DB), "DEBUG": "1"}
    process = subprocess.Popen(  # noqa: S603 - our own entry point
        [sys.executable, "-m", "crm.devserver", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal gives it (Ctrl-C)
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", 180, process)
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        recreate_database(SMOKE_DB, drop_only=True)


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is PID, with their command lines (Linux's /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if entry.name.isdigit() and parent == pid:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError, ValueError):
            continue
    return {child: command.decode() for child, command in found.items()}


def periodic_runs(dbname: str) -> int:
    """How many times the worker ran the periodic task (it queues one as it starts)."""
    with psycopg.connect(server_conninfo(dbname)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM django_tasks_database_dbtaskresult"
            " WHERE task_path = 'crm.jobs.periodic.periodic_run' AND status = 'SUCCESSFUL'"
        ).fetchone()
    return int(row[0]) if row else 0


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        return response.status, response.read().decode()


def stop(process: subprocess.Popen[str], how: str) -> None:
    if how == "ctrl-c":  # the terminal sends SIGINT to the whole foreground process group
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM)


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_make_run_serves_the_admin_the_desk_and_the_api_docs(  # type: ignore[no-untyped-def]
    running_server, how: str
) -> None:
    base, process = running_server

    status, login = get(f"{base}/admin/login/")
    assert status == 200 and "Contacts CRM administration" in login
    status, docs = get(f"{base}/open/v5/docs/")
    assert status == 200 and "swagger" in docs.lower()
    status, schema = get(f"{base}/open/v5/schema/")
    assert status == 200 and schema.startswith("openapi: 3")
    status, desk_login = get(f"{base}/desk/")
    assert status == 200 and "Log in to the desk" in desk_login
    [worker] = [pid for pid, command in children(process.pid).items() if "db_worker" in command]
    deadline = time.monotonic() + 60
    while periodic_runs(SMOKE_DB) == 0:  # the worker runs tasks
        assert time.monotonic() < deadline, "the worker ran no task within 60 s"
        time.sleep(0.5)

    stop(process, how)
    assert process.wait(timeout=30) == 0
    assert not Path(f"/proc/{worker}").exists()  # stopped with the server
    output = process.stdout.read() if process.stdout else ""
    assert "owner@demo.example" in output and "demo-shop-plugin-key" in output
    assert f"{base}/admin/" in output
