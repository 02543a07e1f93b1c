"""Running test work in threads at once, each with a database connection of its own."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connection

T = TypeVar("T")


def run_together(count: int, work: Callable[[int], T]) -> list[T]:
    """Start COUNT threads at one barrier, each calling WORK(n) with its own database
    connection (closed when it ends); their results, in order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count  # each filled by its thread

    def target(n: int) -> None:
        try:
            barrier.wait()
            results[n] = work(n)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
