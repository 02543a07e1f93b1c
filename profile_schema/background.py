"""Background threads for the schema syncs (index builds, statistics) after commit.

Each thread has database connections of its own, closed when it ends; index_syncs_wait lets
tests and a graceful shutdown wait for them. The syncs are idempotent and
`manage.py profile_indexes_sync` converges whatever a dead thread left.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.db import connections

_threads: set[threading.Thread] = set()
_threads_lock = threading.Lock()


def thread_start(target: Callable[[], None], *, name: str) -> None:
    """Run TARGET in a daemon thread named NAME (TARGET logs its own failures)."""

    def run() -> None:
        try:
            target()
        finally:
            connections.close_all()  # this thread's connections only
            with _threads_lock:
                _threads.discard(threading.current_thread())

    thread = threading.Thread(target=run, name=name, daemon=True)
    with _threads_lock:
        _threads.add(thread)
    thread.start()


def index_syncs_wait(timeout: float | None = None) -> None:
    """Wait for the background syncs, those they start included (tests, graceful shutdown)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with _threads_lock:
            running = [t for t in _threads if t is not threading.current_thread()]
        if not running:
            return
        for thread in running:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if deadline is not None and time.monotonic() >= deadline:
            return
