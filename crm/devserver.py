"""`make run`: migrate, load the demo data once, print how to log in, and serve, with one
background worker (`manage.py db_worker`) beside the server; both stop together.

Runs with DATABASE_URL set (by `python -m crm.embedded_db run` when the user has none).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

MANAGE = [sys.executable, "manage.py"]
# A worker asked to stop hands its job back after the current batch; past this it is killed
# (the job is then queued again once its heartbeat goes silent).
WORKER_STOP_SECONDS = 10


def _manage(*args: str) -> None:
    subprocess.run([*MANAGE, *args], check=True)  # noqa: S603 - fixed command line


def banner(port: int) -> str:
    """What a new user needs: the URLs, the demo logins and the demo channel's keys."""
    from contacts import demo

    base = f"http://127.0.0.1:{port}"
    logins = "\n".join(
        f"    {email:<22} {password:<16} ({role})" for email, password, role in demo.DEMO_MANAGERS
    )
    return f"""
  Contacts CRM is running.

  Desk       {base}/desk/
  Admin      {base}/admin/
  API docs   {base}/open/v5/docs/   (schema: {base}/open/v5/schema/)
  SDK demo   {base}/sdk/demo/       (the website snippet: {base}/sdk/v1/boot.js)

  Demo logins (desk and admin):
{logins}

  Demo shop channel (paid):
    plugin key          {demo.DEMO_PLUGIN_KEY}
    member-hash secret  {demo.DEMO_MEMBER_HASH_SECRET}
    API x-access-key    {demo.DEMO_ACCESS_KEY}
    API x-access-secret {demo.DEMO_ACCESS_SECRET}

  Press Ctrl-C to stop.
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    _manage("migrate", "--no-input", "-v", "0")
    _manage("seed_demo")
    import django

    django.setup()
    print(banner(args.port), flush=True)
    worker = subprocess.Popen([*MANAGE, "db_worker", "--no-reload"])  # noqa: S603 - fixed command line
    server = subprocess.Popen(  # noqa: S603 - fixed command line
        [*MANAGE, "runserver", "--noreload", f"127.0.0.1:{args.port}"]
    )
    stopping: list[int] = []

    def stop(signum: int, frame: object) -> None:
        stopping.append(signum)
        server.terminate()
        worker.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        code = server.wait()
    except KeyboardInterrupt:  # Ctrl-C went to the whole process group: the worker has it too
        stopping.append(signal.SIGINT)
        server.wait()
        code = -signal.SIGINT
    finally:
        # A second signal would make the worker drop its task at once: send one only if none came.
        _stop_worker(worker, signalled=bool(stopping))
    # Asked to stop (Ctrl-C or SIGTERM): a clean exit, not the server's signal status.
    return 0 if stopping or code in (-signal.SIGINT, -signal.SIGTERM) else code


def _stop_worker(worker: subprocess.Popen[bytes], *, signalled: bool) -> None:
    """Stop the worker: a job it runs goes back to the queue after its current batch."""
    if not signalled and worker.poll() is None:
        worker.terminate()
    try:
        worker.wait(timeout=WORKER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
