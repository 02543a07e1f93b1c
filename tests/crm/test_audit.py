"""The audit log is append-only in PostgreSQL: UPDATE and DELETE are refused for the
application's own role (raw SQL and the ORM alike), only the retention purge deletes, and the
records outlive the manager, the contact and the channel they name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import RequestFactory
from django.utils import timezone

from crm.audit import AuditRequestMiddleware, audit_purge, audit_record
from crm.models import AuditAction, AuditEvent, Channel, Membership
from crm.permissions import Viewer
from tests.contacts.factories import ContactFactory
from tests.crm.factories import ChannelFactory, manager_in

pytestmark = pytest.mark.django_db(transaction=True)


def _record(channel: Channel, **fields: Any) -> AuditEvent:
    membership = Membership.objects.filter(
        channel=channel, user__username="auditor@example.com"
    ).first()
    if membership is None:
        membership = manager_in(channel, "owner", username="auditor@example.com")
    viewer = Viewer(channel=channel, user=membership.user)
    return audit_record(
        channel_id=channel.pk,
        viewer=viewer,
        action=AuditAction.REVEAL,
        target_user_id=fields.get("target_user_id"),
        keys=["profile.email"],
    )


def _refused(sql: str, params: list[Any]) -> None:
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)


def test_update_and_delete_are_refused_in_sql_and_through_the_orm(channel: Channel) -> None:
    record = _record(channel)
    _refused("UPDATE crm_auditevent SET action = 'export' WHERE id = %s", [record.pk])
    _refused("DELETE FROM crm_auditevent WHERE id = %s", [record.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=record.pk).update(keys=[])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        record.delete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, usesuper FROM pg_user WHERE usename = current_user")
        role, superuser = cursor.fetchone()
    # The trigger held for the very role the application connects as (here a superuser too).
    assert role and isinstance(superuser, bool)
    record.refresh_from_db()
    assert record.action == AuditAction.REVEAL and record.keys == ["profile.email"]


def test_the_purge_deletes_only_what_is_past_retention(channel: Channel) -> None:
    old, fresh = _record(channel), _record(channel)
    # Records are written with the time they happen; an old one is made by inserting it so.
    aged = AuditEvent.objects.create(
        channel_id=channel.pk,
        actor_type="system",
        action=AuditAction.USER_DELETE,
        created_at=timezone.now() - timedelta(days=channel.audit_retention_days + 1),
    )
    # A record of a deleted channel waits for the default retention, 365 days.
    gone_channel = ChannelFactory(name="Gone")
    orphan_young = AuditEvent.objects.create(
        channel_id=gone_channel.pk,
        actor_type="system",
        action=AuditAction.USER_DELETE,
        created_at=timezone.now() - timedelta(days=100),
    )
    orphan_old = AuditEvent.objects.create(
        channel_id=gone_channel.pk,
        actor_type="system",
        action=AuditAction.USER_DELETE,
        created_at=timezone.now() - timedelta(days=366),
    )
    Channel.objects.filter(pk=gone_channel.pk).update(audit_retention_days=30)
    gone_channel.delete()
    assert audit_purge(batch=1) == 2
    left = set(AuditEvent.objects.values_list("pk", flat=True))
    assert left == {old.pk, fresh.pk, orphan_young.pk}
    assert aged.pk not in left and orphan_old.pk not in left


def test_records_outlive_the_manager_and_the_contact(channel: Channel) -> None:
    contact = ContactFactory(channel=channel)
    contact_id = contact.pk
    record = _record(channel, target_user_id=contact_id)
    user = record.actor_id
    contact.delete()
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(pk=user).delete()
    record.refresh_from_db()
    assert (record.actor_name, record.target_user_id) == ("auditor@example.com", contact_id)


def test_the_request_origin_is_recorded(channel: Channel) -> None:
    request = RequestFactory().get("/", HTTP_USER_AGENT="Agent/1.0", REMOTE_ADDR="203.0.113.9")
    seen: list[AuditEvent] = []

    def view(_request: Any) -> Any:
        seen.append(_record(channel))
        return None

    AuditRequestMiddleware(view)(request)
    assert (seen[0].address, seen[0].user_agent) == ("203.0.113.9", "Agent/1.0")
    assert _record(channel).address is None  # outside a request: no origin


def test_replication_role_does_not_silence_the_trigger(channel: Channel) -> None:
    """`session_replication_role = replica` turns ordinary triggers off; this one fires always."""
    record = _record(channel)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            _refused("DELETE FROM crm_auditevent WHERE id = %s", [record.pk])
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")
    assert AuditEvent.objects.filter(pk=record.pk).exists()


def test_retention_cannot_go_below_30_days_in_the_database(channel: Channel) -> None:
    with pytest.raises(DatabaseError), transaction.atomic():
        Channel.objects.filter(pk=channel.pk).update(audit_retention_days=1)
