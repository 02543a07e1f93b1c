"""The job kinds registry: the owning app registers a handler; crm imports no app."""

from __future__ import annotations

from typing import Any

import pytest

from crm.jobs import kinds
from crm.jobs.kinds import (
    BatchResult,
    JobHandler,
    job_kind,
    job_kind_get,
    job_kind_permission,
    job_kind_register,
    job_kind_swapped,
)
from crm.jobs.models import Job
from crm.permissions import Permission


class One(JobHandler):
    def batch(self, job: Job, position: Any) -> BatchResult:
        return BatchResult(position=1, done=1, finished=True)


class Other(One):
    pass


@pytest.fixture(autouse=True)
def registry(monkeypatch: Any) -> None:
    monkeypatch.setattr(kinds, "_kinds", {})


def test_the_decorator_registers_an_instance_with_its_permission() -> None:
    @job_kind("bulk", permission=Permission.CONTACTS_EDIT, atomic=False)
    class Bulk(One):
        pass

    spec = job_kind_get("bulk")
    assert (type(spec.handler), spec.permission, spec.atomic) == (Bulk, "contacts_edit", False)
    assert job_kind_permission("bulk") == "contacts_edit"


def test_a_kind_outside_the_api_list_is_refused() -> None:
    with pytest.raises(ValueError, match="'reindex' is not a job kind; kinds: tagDelete, "):
        job_kind_register(kind="reindex", handler=One(), permission="general_settings")


def test_a_second_handler_for_a_kind_is_refused_and_the_same_one_again_is_not() -> None:
    job_kind_register(kind="bulk", handler=One(), permission="general_settings")
    job_kind_register(kind="bulk", handler=One(), permission="general_settings")  # a re-import

    with pytest.raises(ValueError, match="'bulk' is already handled by"):
        job_kind_register(kind="bulk", handler=Other(), permission="general_settings")

    assert type(job_kind_get("bulk").handler) is One


def test_an_unregistered_kind_is_looked_up_in_vain_and_cancelled_with_general_settings() -> None:
    with pytest.raises(LookupError, match="No handler is registered for job kind 'import'"):
        job_kind_get("import")

    assert job_kind_permission("import") == "general_settings"


def test_a_swapped_kind_comes_back_after_the_block() -> None:
    job_kind_register(kind="bulk", handler=One(), permission="contacts_edit")

    with job_kind_swapped(kind="bulk", handler=Other(), permission="general_settings"):
        assert type(job_kind_get("bulk").handler) is Other

    assert (type(job_kind_get("bulk").handler), job_kind_permission("bulk")) == (
        One,
        "contacts_edit",
    )


def test_a_handler_without_total_nor_finish_has_neither() -> None:
    handler = One()

    assert handler.total(Job()) is None
    assert handler.finish(Job()) is None
