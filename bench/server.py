"""The application server the end-to-end scenarios talk to: gunicorn on loopback, DEBUG off.

    .venv/bin/gunicorn crm.wsgi -w 2 -b 127.0.0.1:<free port>

with DATABASE_URL pointing at crm_bench, DEBUG=0, the bench process's SECRET_KEY (so cursors
signed here are valid there), ALLOWED_HOSTS=127.0.0.1, SECURE_SSL_REDIRECT=0 and every rate
limit raised so that the limiter counts but never refuses. It is started as a subprocess and
stopped (SIGTERM to its process id, then SIGKILL after a grace period) when the block ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RAISED_LIMIT = "100000000/60"
WORKERS = 2


@dataclass(frozen=True)
class Server:
    url: str  # http://127.0.0.1:<port>
    pid: int
    log: Path
    command: list[str]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def gunicorn_path() -> str:
    """gunicorn next to the running interpreter (the project's .venv)."""
    candidate = Path(sys.executable).parent / "gunicorn"
    return str(candidate) if candidate.exists() else "gunicorn"


def server_environment(database_url: str, secret_key: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DEBUG": "0",
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SDK_RATE_LIMIT_PER_KEY": RAISED_LIMIT,
        "SDK_RATE_LIMIT_PER_ADDRESS": RAISED_LIMIT,
        "API_RATE_LIMIT": RAISED_LIMIT,
        "LOG_LEVEL": "ERROR",
    }


@contextmanager
def gunicorn(
    database_url: str,
    secret_key: str,
    workers: int = WORKERS,
    threads: int = 0,
    environment: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """Run gunicorn for the block; its stderr goes to a temporary log file named in Server.

    THREADS 0: sync workers, which close the connection after each answer. THREADS N >= 1:
    gthread workers with N threads each, which keep connections alive. ENVIRONMENT adds to or
    overrides the server's variables (the tests' STATIC_ROOT, for one)."""
    port = free_port()
    command = [gunicorn_path(), "crm.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}"]
    if threads >= 1:
        command += ["-k", "gthread", "--threads", str(threads)]
    with tempfile.NamedTemporaryFile("w+b", prefix="bench-gunicorn-", suffix=".log") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv
            command,
            cwd=BASE_DIR,
            env={**server_environment(database_url, secret_key), **(environment or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = Server(f"http://127.0.0.1:{port}", process.pid, Path(log.name), command)
        try:
            _wait_ready(server, process, workers)
            yield server
        finally:
            _stop(process)


def _wait_ready(
    server: Server, process: subprocess.Popen[bytes], workers: int, seconds: float = 60
) -> None:
    """Until the workers answer (a 404 of an unknown path is an answer)."""
    deadline = time.monotonic() + seconds
    answered = 0
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {server.log.read_text(errors='replace')[-2000:]}")
        try:
            urllib.request.urlopen(f"{server.url}/bench-ready", timeout=5)  # noqa: S310
        except urllib.error.HTTPError:
            answered += 1
        except OSError:
            time.sleep(0.2)
            continue
        if answered >= workers * 2:
            return
    raise RuntimeError(f"gunicorn did not answer within {seconds:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
