"""Shared fixtures: every test runs on real PostgreSQL (DATABASE_URL or the embedded server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from contacts.ingest import channel_cache_clear
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
