"""The test kind (tests.crm.jobs.kinds.Counting) in place of the export kind, with its table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crm.jobs.kinds import job_kind_swapped
from crm.jobs.models import Job, JobKind
from crm.jobs.services import job_start
from crm.models import Channel
from crm.permissions import Permission
from tests.crm.jobs.kinds import Counting, marks_table_create, marks_table_drop

COUNTING = JobKind.EXPORT


@pytest.fixture
def counting(db: None) -> Iterator[None]:
    marks_table_create()
    with job_kind_swapped(
        kind=COUNTING, handler=Counting(), permission=Permission.GENERAL_SETTINGS
    ):
        yield


@pytest.fixture
def marks_committed(transactional_db: None) -> Iterator[None]:
    """The marks table, committed (for other connections and processes), dropped after."""
    marks_table_create()
    yield
    marks_table_drop()


@pytest.fixture
def counting_committed(marks_committed: None) -> Iterator[None]:
    with job_kind_swapped(
        kind=COUNTING, handler=Counting(), permission=Permission.GENERAL_SETTINGS
    ):
        yield


def counting_job(channel: Channel, **params: Any) -> Job:
    """A queued counting job of CHANNEL (its task is queued only if the transaction commits)."""
    return job_start(channel=channel, kind=COUNTING, params=params, requested_by=None)
