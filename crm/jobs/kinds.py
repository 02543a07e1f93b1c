"""The job kinds registry: the app that owns a kind of work registers its handler here.

A handler does the work in batches: `batch(job, position)` does one short, idempotent batch
from POSITION (None at the start) and says where the next one starts; `total(job)` (optional)
counts the work once at the start; `finish(job)` (optional) is the last step, such as
dropping a definition, and may say how many items it did too. crm never imports the apps: they
register from their `jobs.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from crm.jobs.models import JobKind
from crm.permissions import Permission

if TYPE_CHECKING:
    from crm.jobs.models import Job


@dataclass(frozen=True)
class BatchResult:
    """What one batch did: where the next starts (JSON), items done, items skipped by code."""

    position: Any
    done: int = 0
    skipped: Mapping[str, int] = field(default_factory=dict)
    finished: bool = False


class JobHandler:
    """The work of one kind of job; subclass it and register it with `@job_kind`."""

    def total(self, job: Job) -> int | None:
        """How many items the job will go through (None: not known); asked once, at start."""
        return None

    def batch(self, job: Job, position: Any) -> BatchResult:
        """One batch from POSITION; run again from the same POSITION, it must do no harm."""
        raise NotImplementedError

    def finish(self, job: Job) -> int | None:
        """The last step, after every batch (in its own transaction when the kind is atomic);
        how many items it did, added to the job's done (None: none)."""
        return None


@dataclass(frozen=True)
class JobKindSpec:
    """A registered kind: its handler, the permission that starts and cancels it, and whether
    each batch runs in a transaction with its progress (False for work that cannot, such as
    CREATE INDEX CONCURRENTLY: its progress is then committed right after, and a runner that
    lost its claim may have done a batch's work already, so the kind serialises it itself)."""

    kind: str
    handler: JobHandler
    permission: str
    atomic: bool = True


_kinds: dict[str, JobKindSpec] = {}
_H = TypeVar("_H", bound=type[JobHandler])


def job_kind_register(
    *, kind: str, handler: JobHandler, permission: str, atomic: bool = True, replace: bool = False
) -> JobKindSpec:
    """Register HANDLER for KIND; a second, different handler for a kind is refused unless
    REPLACE (tests put a kind of their own in place)."""
    if kind not in JobKind.values:
        raise ValueError(f"{kind!r} is not a job kind; kinds: {', '.join(JobKind.values)}.")
    spec = JobKindSpec(kind=kind, handler=handler, permission=permission, atomic=atomic)
    known = _kinds.get(kind)
    if known is not None and not replace and type(known.handler) is not type(handler):
        raise ValueError(f"Job kind {kind!r} is already handled by {type(known.handler)!r}.")
    _kinds[kind] = spec
    return spec


def job_kind(kind: str, *, permission: str, atomic: bool = True) -> Callable[[_H], _H]:
    """Class decorator: register an instance of the decorated JobHandler for KIND."""

    def register(cls: _H) -> _H:
        job_kind_register(kind=kind, handler=cls(), permission=permission, atomic=atomic)
        return cls

    return register


def job_kind_get(kind: str) -> JobKindSpec:
    """The registration of KIND; LookupError when no app registered it."""
    try:
        return _kinds[kind]
    except KeyError:
        raise LookupError(f"No handler is registered for job kind {kind!r}.") from None


def job_kind_permission(kind: str) -> str:
    """The permission that starts, cancels and resumes a job of KIND. A kind no app registered
    in this process (its code is not deployed here) needs the one that guards the settings."""
    spec = _kinds.get(kind)
    return spec.permission if spec else Permission.GENERAL_SETTINGS


@contextmanager
def job_kind_swapped(
    *, kind: str, handler: JobHandler, permission: str, atomic: bool = True
) -> Iterator[JobKindSpec]:
    """For tests: KIND handled by HANDLER inside the block, as it was registered after."""
    before = _kinds.get(kind)
    spec = job_kind_register(
        kind=kind, handler=handler, permission=permission, atomic=atomic, replace=True
    )
    try:
        yield spec
    finally:
        if before is None:
            _kinds.pop(kind, None)
        else:
            _kinds[kind] = before
