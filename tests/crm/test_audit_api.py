"""GET /open/v5/audit-events: the channel's audit log for an owner's credential, newest first, in
cursor pages, filtered by action; never another channel's records, never a value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crm import services
from crm.audit import RequestOrigin, audit_record
from crm.models import ActorType, AuditAction, AuditEvent, Channel
from crm.permissions import ALL_PERMISSIONS, Permission, Viewer
from tests.crm.factories import manager_in

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
AUDIT = "/open/v5/audit-events"


class Owner:
    """A client holding a new API credential of CHANNEL with ROLE, and the viewer it is."""

    def __init__(self, channel: Channel, role: str = "owner", *, log_emptied: bool = True) -> None:
        found = services.role_get(channel=channel, name=role)
        issued = services.credential_create(channel=channel, role=found, name=f"{role} key")
        self.client = Client(
            headers={
                "x-access-key": issued.credential.access_key,
                "x-access-secret": issued.secret,
            }
        )
        self.viewer = Viewer(
            channel=channel, permissions=frozenset(found.permissions), credential=issued.credential
        )
        # Issuing the credential is itself recorded (credential.grant); each test starts from
        # an empty log so that it sees only the records it writes. TRUNCATE is the one way
        # the table's trigger leaves open besides the purge, and it is undone with the test.
        if log_emptied:
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE crm_auditevent")

    def get(self, **params: Any) -> Any:
        return self.client.get(AUDIT, params)


def placed(channel: Channel, action: str, at: datetime, **fields: Any) -> AuditEvent:
    """A record of CHANNEL written by the system at AT (the table takes inserts only)."""
    return AuditEvent.objects.create(
        channel_id=channel.pk, actor_type=ActorType.SYSTEM, action=action, created_at=at, **fields
    )


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def ids(body: dict[str, Any]) -> list[str]:
    return [event["id"] for event in body["auditEvents"]]


@pytest.fixture
def owner(channel: Channel) -> Owner:
    return Owner(channel)


@pytest.mark.django_db
def test_a_record_is_shown_as_the_contract_says(owner: Owner, channel: Channel) -> None:
    record = audit_record(
        channel_id=channel.pk,
        viewer=owner.viewer,
        action=AuditAction.REVEAL,
        target_user_id=4242,
        keys=["profile.mobileNumber"],
        origin=RequestOrigin(address="203.0.113.7", user_agent="curl/8.5"),
    )

    response = owner.get()

    assert response.status_code == 200
    assert response.json() == {
        "auditEvents": [
            {
                "id": str(record.pk),
                "action": "reveal",
                "actor": {
                    "type": "credential",
                    "id": str(owner.viewer.credential.pk),  # type: ignore[union-attr]
                    "name": "owner key",
                },
                "target": {"userId": "4242"},
                "keys": ["profile.mobileNumber"],
                "address": "203.0.113.7",
                "userAgent": "curl/8.5",
                "createdAt": ms(record.created_at),
            }
        ],
        "next": None,
    }


@pytest.mark.django_db
def test_a_record_without_a_target_or_an_actor(owner: Owner, channel: Channel) -> None:
    placed(channel, AuditAction.FIELD_CREATE, T0, keys=["profile.age"])

    [event] = owner.get().json()["auditEvents"]

    assert (event["actor"], event["target"], event["address"], event["userAgent"]) == (
        {"type": "system", "id": None, "name": ""},
        {},
        None,
        "",
    )


@pytest.mark.django_db
def test_records_come_newest_first_in_cursor_pages(owner: Owner, channel: Channel) -> None:
    times = [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    records = [placed(channel, AuditAction.REVEAL, at) for at in times]
    records.append(placed(channel, AuditAction.USER_BLOCK, T0 - timedelta(days=1)))
    newest_first = [str(r.pk) for r in (records[3], records[2], records[1], records[0], records[4])]

    seen: list[str] = []
    since: str | None = None
    for _ in range(5):
        body = owner.get(limit="2", **({"since": since} if since else {})).json()
        seen += ids(body)
        since = body["next"]
        if since is None:
            break

    assert seen == newest_first


@pytest.mark.django_db
def test_a_page_costs_the_same_queries_for_2_and_40_records(owner: Owner, channel: Channel) -> None:
    def counted(n: int) -> int:
        AuditEvent.objects.bulk_create(
            AuditEvent(channel_id=channel.pk, actor_type=ActorType.SYSTEM, action="reveal")
            for _ in range(n)
        )
        owner.get()  # the credential's last use and the rate window, written once
        with CaptureQueriesContext(connection) as queries:
            assert owner.get(limit="100").status_code == 200
        return len(queries)

    assert counted(2) == counted(38)


@pytest.mark.django_db
def test_action_filters_and_a_cursor_keeps_its_filter(owner: Owner, channel: Channel) -> None:
    blocks = [placed(channel, AuditAction.USER_BLOCK, T0 + timedelta(minutes=n)) for n in range(3)]
    placed(channel, AuditAction.REVEAL, T0 + timedelta(minutes=5))

    first = owner.get(action="user.block", limit="2").json()
    second = owner.get(action="user.block", limit="2", since=first["next"]).json()
    mixed = owner.get(action="reveal", since=first["next"])

    assert ids(first) + ids(second) == [str(r.pk) for r in reversed(blocks)]
    assert second["next"] is None
    assert mixed.status_code == 400
    assert mixed.json()["errors"][0]["code"] == "invalid_cursor"


@pytest.mark.django_db
def test_bad_parameters_are_listed_together(owner: Owner) -> None:
    response = owner.get(action="user.peek", limit="0")
    unknown = owner.get(actor="1")
    tampered = owner.get(since="not-a-cursor")

    assert response.status_code == unknown.status_code == tampered.status_code == 400
    assert [(e["key"], e["code"]) for e in response.json()["errors"]] == [
        ("action", "invalid_choice"),
        ("limit", "invalid"),
    ]
    assert "user.block" in response.json()["errors"][0]["message"]
    assert unknown.json()["errors"][0]["code"] == "unknown_parameter"
    assert tampered.json()["errors"][0]["code"] == "invalid_cursor"


@pytest.mark.django_db
def test_only_the_viewers_channel_is_read(
    owner: Owner, channel: Channel, other_channel: Channel
) -> None:
    theirs = Owner(other_channel)
    ours = placed(channel, AuditAction.REVEAL, T0)
    placed(other_channel, AuditAction.REVEAL, T0 + timedelta(minutes=1))
    cursor_of_theirs = theirs.get(limit="1").json()

    assert ids(owner.get().json()) == [str(ours.pk)]
    assert cursor_of_theirs["next"] is None
    placed(other_channel, AuditAction.REVEAL, T0)
    next_of_theirs = theirs.get(limit="1").json()["next"]
    assert owner.get(since=next_of_theirs).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["basic", "nearly-owner"])
def test_a_role_short_of_every_permission_is_refused(channel: Channel, role: str) -> None:
    if role == "nearly-owner":
        everything_but = sorted(set(ALL_PERMISSIONS) - {Permission.BLOCK})
        services.role_create(channel=channel, name=role, permissions=everything_but)
    placed(channel, AuditAction.REVEAL, T0)

    response = Owner(channel, role).get()

    assert response.status_code == 403
    assert response.json() == {
        "type": "permission_denied",
        "message": "Only a role holding every permission (owner) reads the audit log.",
        "errors": [],
    }


@pytest.mark.django_db
def test_an_owner_manager_reads_it_through_a_session(channel: Channel) -> None:
    placed(channel, AuditAction.REVEAL, T0)
    client = Client()
    client.force_login(manager_in(channel, "owner").user)
    basic = Client()
    basic.force_login(manager_in(channel, "basic").user)

    assert len(client.get(AUDIT).json()["auditEvents"]) == 1
    assert basic.get(AUDIT).status_code == 403


@pytest.mark.django_db
def test_records_outlive_the_credential_that_acted(owner: Owner, channel: Channel) -> None:
    audit_record(channel_id=channel.pk, viewer=owner.viewer, action=AuditAction.REVEAL)
    credential = owner.viewer.credential
    assert credential is not None
    credential_id, reader = credential.pk, Owner(channel, log_emptied=False)
    credential.delete()

    [event] = reader.get(action=AuditAction.REVEAL).json()["auditEvents"]

    assert event["actor"] == {"type": "credential", "id": str(credential_id), "name": "owner key"}
