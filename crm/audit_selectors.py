"""Reads of the audit log for a viewer: its channel's records, newest first, a page at a time.

Pages are keyset on (createdAt, id), newest first, served by the index on
(channel_id, created_at DESC, id DESC): a deep page costs what the first does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from crm.cursors import cursor_decode, cursor_encode
from crm.errors import InvalidInput, Problem
from crm.models import AuditEvent
from crm.permissions import ALL_PERMISSIONS, Viewer


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    next: str | None


def audit_reader(viewer: Viewer) -> bool:
    """VIEWER may read its channel's audit log: a role holding every permission (an owner)."""
    return viewer.permissions >= ALL_PERMISSIONS


def audit_events_of(*, viewer: Viewer) -> QuerySet[AuditEvent]:
    """The audit records of the viewer's channel, newest first."""
    return AuditEvent.objects.filter(channel_id=viewer.channel.pk).order_by("-created_at", "-id")


def _cursor_scope(viewer: Viewer, action: str | None) -> str:
    return f"{viewer.channel.pk}:audit-events:{action or '*'}"


def _position(cursor: str, scope: str) -> tuple[datetime, int]:
    position = cursor_decode(cursor, scope=scope)
    try:
        moment, record_id = datetime.fromisoformat(position[0]), position[1]
    except (IndexError, TypeError, ValueError) as error:
        raise InvalidInput(
            [Problem("since", "invalid_cursor", "The cursor is not valid.")]
        ) from error
    if not isinstance(record_id, int):
        raise InvalidInput([Problem("since", "invalid_cursor", "The cursor is not valid.")])
    return moment, record_id


def audit_events_page(
    *, viewer: Viewer, action: str | None, limit: int, since: str | None
) -> AuditPage:
    """One page of the viewer's channel's audit records (of ACTION only, when given), newest
    first, after the cursor SINCE; and the cursor of the next page (None on the last)."""
    scope = _cursor_scope(viewer, action)
    records = audit_events_of(viewer=viewer)
    if action:
        records = records.filter(action=action)
    if since:
        moment, record_id = _position(since, scope)
        # created_at <= t AND (created_at < t OR id < i): the index range starts at the cursor.
        records = records.filter(
            Q(created_at__lte=moment) & (Q(created_at__lt=moment) | Q(id__lt=record_id))
        )
    rows = list(records[: limit + 1])
    more, rows = len(rows) > limit, rows[:limit]
    last = rows[-1] if rows else None
    next_cursor = (
        cursor_encode(scope=scope, position=[last.created_at.isoformat(), last.pk])
        if more and last is not None
        else None
    )
    return AuditPage(events=rows, next=next_cursor)
