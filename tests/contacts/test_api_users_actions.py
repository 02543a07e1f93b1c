"""/open/v5/users/{id}/events, /block, /touch, and the OpenAPI document of the user endpoints."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.models import Contact, ContactActivity, Event
from contacts.services.profile import contact_delete
from crm.models import AuditEvent, Channel
from crm.selectors import viewer_for_user
from tests.contacts.factories import EventFactory, MemberFactory
from tests.contacts.test_api_users import Api
from tests.crm.factories import manager_in

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def api(channel: Channel) -> Api:
    return Api(channel)


@pytest.fixture
def member(channel: Channel) -> Contact:
    return MemberFactory(channel=channel, member_id="m-42", profile={"name": "Kim"})


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# --- events --------------------------------------------------------------------------------


@pytest.fixture
def five_events(member: Contact) -> list[Event]:
    """Five events; the middle two share a time, so the id breaks the tie."""
    times = [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    times += [times[2], T0 + timedelta(minutes=3)]
    return [
        EventFactory(contact=member, name=f"E{n}", properties={"n": n}, created_at=at)
        for n, at in enumerate(times)
    ]


def pages(api: Api, member: Contact, **params: str) -> tuple[list[list[str]], list[str | None]]:
    names, cursors = [], []
    since = None
    for _ in range(10):
        response = api.get(
            f"users/{member.pk}/events", limit="2", **params, **({"since": since} if since else {})
        )
        assert response.status_code == 200
        body = response.json()
        names.append([event["name"] for event in body["events"]])
        cursors.append(body["next"])
        since = body["next"]
        if since is None:
            break
    return names, cursors


@pytest.mark.django_db
def test_events_are_listed_newest_first(api: Api, member: Contact, five_events: list) -> None:
    response = api.get(f"users/{member.pk}/events")

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    assert body["events"][0] == {
        "id": str(five_events[4].pk),
        "name": "E4",
        "property": {"n": 4},
        "createdAt": ms(T0 + timedelta(minutes=3)),
    }
    assert [event["name"] for event in body["events"]] == ["E4", "E3", "E2", "E1", "E0"]


@pytest.mark.django_db
def test_events_come_in_three_pages_of_two_newest_first(
    api: Api, member: Contact, five_events: list
) -> None:
    names, cursors = pages(api, member)

    assert names == [["E4", "E3"], ["E2", "E1"], ["E0"]]
    assert cursors[-1] is None


@pytest.mark.django_db
def test_events_come_in_three_pages_of_two_oldest_first(
    api: Api, member: Contact, five_events: list
) -> None:
    names, cursors = pages(api, member, sortOrder="asc")

    assert names == [["E0", "E1"], ["E2", "E3"], ["E4"]]
    assert cursors[-1] is None


@pytest.mark.django_db
def test_a_page_that_ends_the_list_exactly_has_no_next(api: Api, member: Contact) -> None:
    EventFactory(contact=member)
    EventFactory(contact=member)

    assert api.get(f"users/{member.pk}/events", limit="2").json()["next"] is None


@pytest.mark.django_db
def test_a_tampered_cursor_is_400(api: Api, member: Contact, five_events: list) -> None:
    cursor = api.get(f"users/{member.pk}/events", limit="2").json()["next"]
    middle = len(cursor) // 2
    tampered = cursor[:middle] + ("A" if cursor[middle] != "A" else "B") + cursor[middle + 1 :]

    response = api.get(f"users/{member.pk}/events", since=tampered)

    assert response.status_code == 400
    assert [(e["key"], e["code"]) for e in response.json()["errors"]] == [
        ("since", "invalid_cursor")
    ]


@pytest.mark.django_db
def test_a_cursor_of_another_order_or_user_is_400(
    api: Api, member: Contact, channel: Channel, five_events: list
) -> None:
    cursor = api.get(f"users/{member.pk}/events", limit="2").json()["next"]
    other = MemberFactory(channel=channel)

    other_order = api.get(f"users/{member.pk}/events", since=cursor, sortOrder="asc")
    other_user = api.get(f"users/{other.pk}/events", since=cursor)

    assert (other_order.status_code, other_user.status_code) == (400, 400)
    assert other_order.json()["errors"][0]["key"] == "since"


@pytest.mark.django_db
def test_another_channels_cursor_is_404(
    api: Api, member: Contact, other_channel: Channel, five_events: list
) -> None:
    theirs = MemberFactory(channel=other_channel)
    EventFactory(contact=theirs)
    EventFactory(contact=theirs)
    cursor = Api(other_channel).get(f"users/{theirs.pk}/events", limit="1").json()["next"]

    response = api.get(f"users/{member.pk}/events", since=cursor)

    assert response.status_code == 404
    assert response.json()["type"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize("limit", ["0", "501", "abc", "-1", "2.5", "1e2"])
def test_a_bad_limit_is_400_naming_limit(api: Api, member: Contact, limit: str) -> None:
    response = api.get(f"users/{member.pk}/events", limit=limit)

    assert response.status_code == 400
    assert [(e["key"], e["code"]) for e in response.json()["errors"]] == [("limit", "invalid")]


@pytest.mark.django_db
def test_every_bad_list_parameter_is_listed(api: Api, member: Contact) -> None:
    response = api.get(f"users/{member.pk}/events", limit="0", sortOrder="up", since="x")

    assert sorted(e["key"] for e in response.json()["errors"]) == ["limit", "sortOrder"]


@pytest.mark.django_db
def test_limit_500_is_allowed(api: Api, member: Contact, five_events: list) -> None:
    response = api.get(f"users/{member.pk}/events", limit="500")

    assert (response.status_code, len(response.json()["events"])) == (200, 5)


@pytest.mark.django_db
def test_listing_events_costs_the_same_queries_for_1_and_30(
    api: Api, member: Contact, channel: Channel
) -> None:
    lone = MemberFactory(channel=channel)
    EventFactory(contact=lone)
    Event.objects.bulk_create(
        Event(channel=channel, contact=member, name="PageView", created_at=T0) for _ in range(30)
    )

    api.get(f"users/{lone.pk}/events", limit="1")  # the credential's last use is now recorded

    with CaptureQueriesContext(connection) as one:
        first = api.get(f"users/{lone.pk}/events", limit="50")
    with CaptureQueriesContext(connection) as thirty:
        second = api.get(f"users/{member.pk}/events", limit="50")

    assert (len(first.json()["events"]), len(second.json()["events"])) == (1, 30)
    # the credential, the rate-limit window, the contact, one page of events
    assert len(one) == len(thirty) == 4


@pytest.mark.django_db
def test_post_an_event(api: Api, member: Contact) -> None:
    before = timezone.now()

    response = api.call(
        "POST", f"users/{member.pk}/events", {"name": "Signup", "property": {"plan": "gold"}}
    )

    assert response.status_code == 201
    event = Event.objects.get(contact=member)
    assert (event.name, event.properties, event.channel_id) == (
        "Signup",
        {"plan": "gold"},
        member.channel_id,
    )
    assert before <= event.created_at <= timezone.now()
    assert response.json() == {
        "event": {
            "id": str(event.pk),
            "name": "Signup",
            "property": {"plan": "gold"},
            "createdAt": ms(event.created_at),
        }
    }


@pytest.mark.django_db
def test_a_bad_event_lists_every_problem_and_records_nothing(api: Api, member: Contact) -> None:
    response = api.call(
        "POST",
        f"users/{member.pk}/events",
        {"name": "x" * 31, "property": {"note": "가" * 200}, "at": 1},
    )

    assert response.status_code == 400
    assert sorted((e["key"], e["code"]) for e in response.json()["errors"]) == [
        ("at", "unknown_field"),
        ("name", "too_long"),
        ("property.note", "too_long"),
    ]
    assert not Event.objects.exists()


# --- block / unblock -----------------------------------------------------------------------


@pytest.mark.django_db
def test_an_api_credential_blocks_with_its_name_in_the_reason(api: Api, member: Contact) -> None:
    before = timezone.now()

    response = api.call("POST", f"users/{member.pk}/block", {"reason": "Sends spam"})

    assert (response.status_code, response.json()["user"]["blocked"]) == (200, True)
    member.refresh_from_db()
    assert (member.blocked, member.blocked_by_id, member.blocked_reason) == (
        True,
        None,
        "[API credential Zapier] Sends spam",
    )
    assert before <= member.blocked_at <= timezone.now()
    assert ContactActivity.objects.filter(contact=member).count() == 1


@pytest.mark.django_db
def test_blocking_again_keeps_the_first_record(api: Api, member: Contact) -> None:
    api.call("POST", f"users/{member.pk}/block", {"reason": "Sends spam"})
    member.refresh_from_db()
    first = (member.blocked_at, member.blocked_reason, member.updated_at)

    again = api.call("POST", f"users/{member.pk}/block", {"reason": "Rude"})

    assert (again.status_code, again.json()["user"]["blocked"]) == (200, True)
    member.refresh_from_db()
    assert (member.blocked_at, member.blocked_reason, member.updated_at) == first


@pytest.mark.django_db
def test_unblock_clears_the_record_and_is_idempotent(api: Api, member: Contact) -> None:
    api.call("POST", f"users/{member.pk}/block", None)

    response = api.call("DELETE", f"users/{member.pk}/block")
    again = api.call("DELETE", f"users/{member.pk}/block")

    assert (response.status_code, response.json()["user"]["blocked"]) == (200, False)
    assert (again.status_code, again.json()["user"]["blocked"]) == (200, False)
    member.refresh_from_db()
    assert (member.blocked, member.blocked_at, member.blocked_by_id, member.blocked_reason) == (
        False,
        None,
        None,
        "",
    )


@pytest.mark.django_db
def test_a_manager_blocks_as_themself(channel: Channel, member: Contact) -> None:
    manager = manager_in(channel, "owner").user
    client = Client()
    client.force_login(manager)

    response = client.post(
        f"/open/v5/users/{member.pk}/block",
        json.dumps({"reason": " Abusive messages "}),
        content_type="application/json",
    )

    assert response.status_code == 200
    member.refresh_from_db()
    assert (member.blocked, member.blocked_by_id, member.blocked_reason) == (
        True,
        manager.pk,
        "Abusive messages",
    )


@pytest.mark.django_db
def test_a_bad_block_body_is_refused(api: Api, member: Contact) -> None:
    response = api.call("POST", f"users/{member.pk}/block", {"reason": "x" * 301, "why": 1})

    assert response.status_code == 400
    assert sorted((e["key"], e["code"]) for e in response.json()["errors"]) == [
        ("reason", "too_long"),
        ("why", "unknown_field"),
    ]
    member.refresh_from_db()
    assert member.blocked is False


# --- the audit log of blocks, unblocks and deletes ----------------------------------------


def audited(*actions: str) -> list[tuple[str, int | None, str, int | None]]:
    """The audit records of ACTIONS: (action, target, actor type, actor id), oldest first."""
    found = AuditEvent.objects.filter(action__in=actions).order_by("id")
    return [(r.action, r.target_user_id, r.actor_type, r.actor_id) for r in found]


@pytest.mark.django_db
def test_a_block_and_an_unblock_are_audited_once_each_when_they_change_something(
    api: Api, member: Contact
) -> None:
    calls = [
        ("POST", "block", {"reason": "Sends spam to +821055512345"}),
        ("POST", "block", {"reason": "Again"}),
        ("DELETE", "block", None),
        ("DELETE", "block", None),
    ]
    for method, path, body in calls:
        assert api.call(method, f"users/{member.pk}/{path}", body).status_code == 200

    who = ("credential", api.credential.pk)
    assert audited("user.block", "user.unblock") == [
        ("user.block", member.pk, *who),
        ("user.unblock", member.pk, *who),
    ]
    # The reason is free text: the record keeps who and when, never what was written.
    texts = AuditEvent.objects.values_list("detail", "keys", "actor_name")
    assert not any("+8210" in str(text) for text in texts)


@pytest.mark.django_db
def test_a_refused_block_records_nothing(channel: Channel, member: Contact) -> None:
    viewer_only = Api(channel, permissions={"contacts_view"}, name="reader")

    assert viewer_only.call("POST", f"users/{member.pk}/block", {}).status_code == 403
    assert audited("user.block") == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["users/{id}", "users/@m-42"])
def test_a_delete_is_audited_with_the_contacts_id_never_its_name(
    api: Api, member: Contact, path: str
) -> None:
    contact_id = member.pk

    response = api.call("DELETE", path.format(id=contact_id))
    again = api.call("DELETE", path.format(id=contact_id))

    assert (response.status_code, again.status_code) == (204, 404)
    assert audited("user.delete") == [("user.delete", contact_id, "credential", api.credential.pk)]
    record = AuditEvent.objects.get(action="user.delete")
    assert "Kim" not in f"{record.keys} {record.detail} {record.actor_name}"
    assert not Contact.objects.filter(pk=contact_id).exists()


@pytest.mark.django_db
def test_a_manager_deleting_through_the_service_is_recorded_as_themself(
    channel: Channel, member: Contact
) -> None:
    manager = manager_in(channel, "owner", username="lead@shop.example").user
    viewer = viewer_for_user(user=manager, channel=channel)
    assert viewer is not None

    contact_delete(viewer=viewer, contact=member)
    contact_delete(viewer=viewer, contact=member)  # gone already: nothing more recorded

    record = AuditEvent.objects.get(action="user.delete")
    assert (record.actor_type, record.actor_id, record.actor_name) == (
        "manager",
        manager.pk,
        "lead@shop.example",
    )


# --- touch ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_touch_counts_a_session_after_30_idle_minutes(api: Api, member: Contact) -> None:
    Contact.objects.filter(pk=member.pk).update(
        last_seen_at=timezone.now() - timedelta(minutes=31), sessions_count=3
    )
    before = timezone.now()

    first = api.call("POST", f"users/{member.pk}/touch")
    second = api.call("POST", f"users/{member.pk}/touch")

    assert (first.status_code, second.status_code) == (200, 200)
    user = second.json()["user"]
    assert user["sessionsCount"] == 4
    assert ms(before) <= first.json()["user"]["lastSeenAt"] <= user["lastSeenAt"]
    assert (user["web"]["sessionsCount"], user["web"]["lastSeenAt"]) == (0, None)
    assert (user["mobile"]["sessionsCount"], user["mobile"]["lastSeenAt"]) == (0, None)
    assert ContactActivity.objects.filter(contact=member).count() == 1


@pytest.mark.django_db
def test_touch_of_a_never_seen_user_starts_a_session(api: Api, member: Contact) -> None:
    Contact.objects.filter(pk=member.pk).update(last_seen_at=None, sessions_count=0)

    response = api.call("POST", f"users/{member.pk}/touch")

    assert response.json()["user"]["sessionsCount"] == 1


# --- OpenAPI -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_schema_describes_what_is_served() -> None:
    schema = json.loads(Client().get("/open/v5/schema/", {"format": "json"}).content)
    paths = schema["paths"]

    def codes(path: str, method: str) -> list[str]:
        return sorted(paths[f"/open/v5/{path}"][method]["responses"])

    assert codes("users", "post") == ["201", "400", "401", "403", "413", "415", "429", "503"]
    assert codes("users/{id}", "get") == ["200", "401", "403", "404", "429", "503"]
    assert codes("users/{id}", "patch") == [
        "200",
        "400",
        "401",
        "403",
        "404",
        "413",
        "415",
        "429",
        "503",
    ]
    assert codes("users/{id}", "delete") == ["204", "401", "403", "404", "429", "503"]
    assert codes("users/@{memberId}", "get") == ["200", "401", "403", "404", "429", "503"]
    assert codes("users/@{memberId}", "put") == [
        "200",
        "201",
        "400",
        "401",
        "403",
        "413",
        "415",
        "429",
        "503",
    ]
    assert codes("users/@{memberId}", "delete") == ["204", "401", "403", "404", "429", "503"]
    assert codes("users/{id}/block", "post") == [
        "200",
        "400",
        "401",
        "403",
        "404",
        "413",
        "415",
        "429",
        "503",
    ]
    assert codes("users/{id}/block", "delete") == ["200", "401", "403", "404", "429", "503"]
    assert codes("users/{id}/touch", "post") == ["200", "401", "403", "404", "429", "503"]
    assert codes("users/{id}/events", "get") == ["200", "400", "401", "403", "404", "429", "503"]
    assert codes("users/{id}/events", "post") == [
        "201",
        "400",
        "401",
        "403",
        "404",
        "413",
        "415",
        "429",
        "503",
    ]
    user = schema["components"]["schemas"]["UserObject"]["properties"]
    assert {"id", "memberId", "profile", "tags", "web", "mobile", "masked"} <= set(user)
    events = paths["/open/v5/users/{id}/events"]["get"]["parameters"]
    assert {p["name"] for p in events} == {"id", "sortOrder", "limit", "since"}
