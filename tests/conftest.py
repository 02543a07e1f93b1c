"""Shared fixtures: every test runs on real PostgreSQL (DATABASE_URL or the embedded server)."""

from __future__ import annotations

from collections.abc import Iterator

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
def channel(db: None) -> Channel:
    return ChannelFactory(name="Shop A")


@pytest.fixture
def other_channel(db: None) -> Channel:
    return ChannelFactory(name="Shop B")
