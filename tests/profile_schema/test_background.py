"""The background threads of the schema syncs: waited for, those they start included."""

from __future__ import annotations

import threading
import time

import pytest

from profile_schema.background import index_syncs_wait, thread_start


def test_the_wait_covers_threads_started_by_the_threads_it_waits_for() -> None:
    finished: list[str] = []

    def second() -> None:
        time.sleep(0.2)
        finished.append("second")

    def first() -> None:
        time.sleep(0.1)
        thread_start(second, name="test-second")
        finished.append("first")

    thread_start(first, name="test-first")
    index_syncs_wait(10)

    assert finished == ["first", "second"]
    assert not [t for t in threading.enumerate() if t.name.startswith("test-")]


def test_a_failing_target_leaves_nothing_to_wait_for(monkeypatch: pytest.MonkeyPatch) -> None:
    raised: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(str(args.exc_value)))

    def fails() -> None:
        raise RuntimeError("a sync that broke")

    thread_start(fails, name="test-fails")
    started = time.monotonic()
    index_syncs_wait(10)

    assert time.monotonic() - started < 5
    assert raised == ["a sync that broke"]
    assert not [t for t in threading.enumerate() if t.name == "test-fails"]
