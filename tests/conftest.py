"""Shared fixtures: every test runs on real PostgreSQL (DATABASE_URL or the embedded server)."""

from __future__ import annotations

import pytest

from crm.models import Channel
from tests.crm.factories import ChannelFactory


@pytest.fixture
def channel(db: None) -> Channel:
    return ChannelFactory(name="Shop A")


@pytest.fixture
def other_channel(db: None) -> Channel:
    return ChannelFactory(name="Shop B")
