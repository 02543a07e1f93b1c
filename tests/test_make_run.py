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
SMOKE_DB = "crm_smoke_run"


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


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
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
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", 180)
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        recreate_database(SMOKE_DB, drop_only=True)


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        return response.status, response.read().decode()


@pytest.mark.slow
@pytest.mark.django_db
def test_make_run_serves_the_admin_the_desk_and_the_api_docs(running_server) -> None:  # type: ignore[no-untyped-def]
    base, process = running_server

    status, login = get(f"{base}/admin/login/")
    assert status == 200 and "Contacts CRM administration" in login
    status, docs = get(f"{base}/open/v5/docs/")
    assert status == 200 and "swagger" in docs.lower()
    status, schema = get(f"{base}/open/v5/schema/")
    assert status == 200 and schema.startswith("openapi: 3")
    status, desk_login = get(f"{base}/desk/")
    assert status == 200 and "Log in to the desk" in desk_login

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    output = process.stdout.read() if process.stdout else ""
    assert "owner@demo.example" in output and "demo-shop-plugin-key" in output
    assert f"{base}/admin/" in output
