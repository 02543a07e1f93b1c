"""The audit log's admin: owners read their channels' records, filter them by action, actor
and date, and download them as CSV (streamed, formula-safe, with a byte order mark); nobody
adds, changes or deletes a record here, not even a superuser."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm import services as crm_services
from crm.audit import RequestOrigin, audit_record
from crm.models import AuditEvent, Channel, Membership
from crm.permissions import Viewer
from masking.audit_csv import HEADER, cell_safe
from masking.selectors import audit_events_newest_first
from tests.crm.factories import UserFactory, manager_in

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:crm_auditevent_changelist"
DOWNLOAD = "admin:crm_auditevent_download"


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def record(channel: Channel, user: Any, action: str = "reveal", **more: Any) -> AuditEvent:
    origin = RequestOrigin(
        address=more.pop("address", "203.0.113.7"), user_agent=more.pop("agent", "Firefox")
    )
    return audit_record(
        channel_id=channel.pk,
        viewer=Viewer(channel=channel, user=user),
        action=action,
        origin=origin,
        **more,
    )


def rows_of(response: Any) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def listed(client: Client, **params: Any) -> list[AuditEvent]:
    response = client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_owners_read_their_channels_records_and_nobody_else_does(
    channel: Channel, other_channel: Channel
) -> None:
    owner = manager_in(channel, "owner").user
    ours = record(channel, owner, target_user_id=7, keys=["profile.email"])
    record(other_channel, manager_in(other_channel, "owner").user)
    basic = logged_in(manager_in(channel, "basic").user)

    assert listed(logged_in(owner)) == [ours]
    assert basic.get(reverse(CHANGELIST)).status_code == 403
    assert basic.get(reverse(DOWNLOAD)).status_code == 403
    assert basic.get(reverse("admin:crm_auditevent_change", args=[ours.pk])).status_code == 403
    assert "auditevent" not in basic.get(reverse("admin:index")).content.decode()


def test_an_owner_of_one_channel_reads_only_that_channels_records(
    channel: Channel, other_channel: Channel
) -> None:
    user = manager_in(channel, "owner").user
    role = crm_services.role_get(channel=other_channel, name="basic")
    Membership.objects.create(channel=other_channel, user=user, role=role)
    ours = record(channel, user)
    theirs = record(other_channel, user)
    client = logged_in(user)

    assert listed(client) == [ours]
    page = client.get(reverse("admin:crm_auditevent_change", args=[theirs.pk]))
    assert page.status_code == 302  # Django's answer for a record it does not show


def test_no_one_adds_changes_or_deletes_a_record_not_even_a_superuser(channel: Channel) -> None:
    kept = record(channel, manager_in(channel, "owner").user, keys=["profile.email"])
    client = logged_in(UserFactory(is_superuser=True))
    change = reverse("admin:crm_auditevent_change", args=[kept.pk])

    page = client.get(change)
    added = client.get(reverse("admin:crm_auditevent_add"))
    changed = client.post(change, {"action": "export", "keys": ""})
    deleted = client.post(reverse("admin:crm_auditevent_delete", args=[kept.pk]), {"post": "yes"})
    bulk = client.post(
        reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [kept.pk]}
    )

    assert page.status_code == 200 and page.context["has_change_permission"] is False
    assert (added.status_code, changed.status_code, deleted.status_code) == (403, 403, 403)
    assert 'name="action"' not in client.get(reverse(CHANGELIST)).content.decode()
    assert bulk.status_code in (200, 302)
    kept.refresh_from_db()
    assert (kept.action, kept.keys) == ("reveal", ["profile.email"])


def test_records_are_filtered_by_action_actor_and_date(channel: Channel) -> None:
    owner = manager_in(channel, "owner").user
    other = manager_in(channel, "owner").user
    reveal = record(channel, owner)
    block = record(channel, other, action="user.block", target_user_id=3)
    old = AuditEvent.objects.create(
        channel_id=channel.pk,
        actor_type="system",
        action="field.delete",
        created_at=timezone.now() - timedelta(days=40),
    )
    client = logged_in(owner)
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)

    assert listed(client, action__exact="user.block") == [block]
    assert listed(client, actor=f"manager:{owner.pk}") == [reveal]
    assert listed(client, actor="system") == [old]
    assert listed(client, actor="manager:x") == []
    since = {"created_at__gte": str(midnight)}  # as the date filter's "Today" writes it
    assert set(listed(client, **since)) == {reveal, block}
    offered = client.get(reverse(CHANGELIST)).content.decode()
    assert f"?actor=manager%3A{other.pk}" in offered and other.get_username() in offered


@pytest.mark.parametrize(
    "lookup", ["actor_name__startswith", "keys__contains", "detail__count", "user_agent"]
)
def test_other_lookups_are_refused(channel: Channel, lookup: str) -> None:
    record(channel, manager_in(channel, "owner").user)
    client = logged_in(manager_in(channel, "owner").user)

    assert client.get(reverse(CHANGELIST), {lookup: "x"}).status_code == 400
    assert client.get(reverse(DOWNLOAD), {lookup: "x"}).status_code == 400


def test_the_csv_streams_the_filtered_records_with_formula_safe_cells(
    channel: Channel, other_channel: Channel
) -> None:
    owner = manager_in(channel, "owner", username='=HYPERLINK("http://x")@shop.example').user
    first = record(channel, owner, target_user_id=11, keys=["profile.email"], agent="+cmd|calc")
    second = record(
        channel,
        owner,
        target_user_id=12,
        keys=["profile.mobileNumber", "profile.name"],
        agent="-1+1",
        address="2001:db8::1",
        detail={"reason": "@SUM(A1)"},
    )
    record(channel, owner, action="user.block", agent="\tTab")
    record(other_channel, manager_in(other_channel, "owner").user)
    client = logged_in(owner)

    response = client.get(reverse(DOWNLOAD), {"action__exact": "reveal"})

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-')
    rows = rows_of(response)
    assert rows[0] == list(HEADER)
    name = '\'=HYPERLINK("http://x")@shop.example'
    assert rows[1:] == [
        [
            second.created_at.isoformat(),
            "reveal",
            "manager",
            str(owner.pk),
            name,
            "12",
            "profile.mobileNumber, profile.name",
            "2001:db8::1",
            "'-1+1",
            '{"reason": "@SUM(A1)"}',
        ],
        [
            first.created_at.isoformat(),
            "reveal",
            "manager",
            str(owner.pk),
            name,
            "11",
            "profile.email",
            "203.0.113.7",
            "'+cmd|calc",
            "",
        ],
    ]


def test_the_csv_keeps_korean_readable_and_neutralises_every_formula_start() -> None:
    assert [cell_safe(v) for v in ["=1", "+1", "-1", "@a", "\tx", "\rx", "김관리", None, 5]] == [
        "'=1",
        "'+1",
        "'-1",
        "'@a",
        "'\tx",
        "'\rx",
        "김관리",
        "",
        "5",
    ]


def test_the_changelist_links_the_download_with_its_filters(channel: Channel) -> None:
    record(channel, manager_in(channel, "owner").user)
    client = logged_in(manager_in(channel, "owner").user)

    body = client.get(reverse(CHANGELIST), {"action__exact": "reveal"}).content.decode()

    assert f'href="{reverse(DOWNLOAD)}?action__exact=reveal"' in body
    assert "Download CSV" in body


def test_a_long_log_is_read_in_batches_newest_first(channel: Channel) -> None:
    owner = manager_in(channel, "owner").user
    made = [record(channel, owner, target_user_id=n) for n in range(5)]
    same_time = timezone.now()
    made += [
        AuditEvent.objects.create(
            channel_id=channel.pk, actor_type="system", action="bulk", created_at=same_time
        )
        for _ in range(3)
    ]
    everything = AuditEvent.objects.filter(channel_id=channel.pk)

    read = list(audit_events_newest_first(everything, batch=2))

    assert read == sorted(made, key=lambda e: (e.created_at, e.pk), reverse=True)
