"""Shared fixtures: every test runs on real PostgreSQL (DATABASE_URL or the embedded server);
pages are tested in a real browser, Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contacts.services.boot import channel_cache_clear
from crm.models import Channel
from profile_schema.cache import cache_clear
from tests.crm.factories import ChannelFactory


@pytest.fixture(autouse=True)
def _process_caches_cleared() -> Iterator[None]:
    """Each test starts with empty per-process caches, as a freshly started worker does."""
    cache_clear()
    channel_cache_clear()
    yield


@pytest.fixture
def tasks_immediate(settings: Any) -> None:
    """Tasks run at once, in the process that queues them (crm.jobs: when the transaction
    that started a job commits), instead of waiting in the database for a worker."""
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"},
    }


@pytest.fixture
def channel(db: None) -> Channel:
    return ChannelFactory(name="Shop A")


@pytest.fixture
def other_channel(db: None) -> Channel:
    return ChannelFactory(name="Shop B")


CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium); .ci/run installs it")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # around it are ordinary synchronous ones.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context()  # type: ignore[attr-defined]
    opened = context.new_page()
    yield opened
    context.close()
