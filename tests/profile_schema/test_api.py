"""/open/v5/profile-fields: shapes, permissions, channel isolation, refusals that change nothing;
a type change and a delete answer 202 with their job (run here with job_execute)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from crm.jobs.models import Job
from crm.jobs.runner import job_execute
from crm.models import Channel
from profile_schema.indexes import index_name_for
from profile_schema.models import FieldType, IndexState, ProfileField
from profile_schema.presets import BUILT_IN_FIELDS, PROFILE_PRESETS
from profile_schema.services import MAX_INDEXED_FIELDS
from tests.api_clients import credential_client as api
from tests.contacts.factories import ContactFactory
from tests.crm.factories import manager_in
from tests.profile_schema.factories import field_in

pytestmark = pytest.mark.django_db
PRESET_COUNT = len(BUILT_IN_FIELDS) + len(PROFILE_PRESETS)
LIST = "/open/v5/profile-fields"


def send(client: Client, method: str, url: str, body: Any = None) -> Any:
    call = getattr(client, method)
    if body is None:
        return call(url)
    return call(url, data=json.dumps(body), content_type="application/json")


def snapshot(channel: Channel) -> list[tuple[Any, ...]]:
    return list(
        ProfileField.objects.filter(channel=channel)
        .order_by("key")
        .values_list(
            "key", "name", "type", "sensitive", "masking", "shown_in_profile", "order", "indexed"
        )
    )


def profiles(channel: Channel) -> list[dict[str, Any]]:
    rows = Contact.objects.filter(channel=channel).order_by("id")
    return list(rows.values_list("profile", flat=True))


def field_json(**overrides: Any) -> dict[str, Any]:
    base = {
        "key": "profile.shoeSize",
        "name": "Shoe size",
        "type": "number",
        "sensitive": False,
        "masking": "full",
        "shownInProfile": True,
        "order": PRESET_COUNT,
        "builtIn": False,
        "indexed": False,
    }
    return {**base, **overrides}


def denied(permission: str) -> dict[str, Any]:
    message = f"Your role lacks the {permission} permission needed for this."
    return {"type": "permission_denied", "message": message, "errors": []}


NOT_FOUND = {"type": "not_found", "message": "Not found.", "errors": []}


def accepted(response: Any, kind: str, total: int | None) -> Job:
    """The job of a 202 RESPONSE, after checking the answer is that job, queued."""
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert response.status_code == 202
    assert response.json() == {
        "job": {
            "id": str(job.pk),
            "kind": kind,
            "state": "queued",
            "done": 0,
            "skipped": 0,
            "skippedReasons": {},
            "total": total,
            "error": None,
            "createdAt": int(job.created_at.timestamp() * 1000),
            "finishedAt": None,
        }
    }
    return job


def run(job: Job) -> Job:
    assert job_execute(job_id=job.pk) == "succeeded"
    job.refresh_from_db()
    return job


# -- list and read ----------------------------------------------------------------------------


def test_the_list_holds_every_field_by_order_then_key(channel: Channel) -> None:
    field_in(channel, "shoeSize", FieldType.NUMBER, name="Shoe size")
    ProfileField.objects.filter(channel=channel, key="profile.email").update(order=0)

    response = api(channel).get(LIST)

    assert response.status_code == 200
    fields = response.json()["profileFields"]
    assert list(response.json()) == ["profileFields"]
    assert len(fields) == PRESET_COUNT + 1
    assert [f["key"] for f in fields[:3]] == ["id", "profile.email", "memberId"]
    assert fields[0] == {
        "key": "id",
        "name": "Internal id",
        "type": "string",
        "sensitive": False,
        "masking": "full",
        "shownInProfile": True,
        "order": 0,
        "builtIn": True,
        "indexed": False,
    }
    assert fields[1] == field_json(
        key="profile.email",
        name="Email",
        type="string",
        sensitive=True,
        masking="partial",
        order=0,
    )
    assert fields[-1] == field_json()
    assert response["x-ratelimit-limit"]


def test_the_list_takes_the_same_queries_for_2_and_20_fields(
    channel: Channel, other_channel: Channel
) -> None:
    client = api(channel)
    for index in range(2):
        field_in(channel, f"few{index}")
    for index in range(20):
        field_in(other_channel, f"many{index}")
    other_client = api(other_channel)
    client.get(LIST)  # warm up: content types, permission caches
    other_client.get(LIST)

    with CaptureQueriesContext(connection) as few:
        assert len(client.get(LIST).json()["profileFields"]) == PRESET_COUNT + 2
    with CaptureQueriesContext(connection) as many:
        assert len(other_client.get(LIST).json()["profileFields"]) == PRESET_COUNT + 20

    assert len(few) == len(many)
    assert len(few) <= 5


def test_the_list_refuses_parameters_it_would_otherwise_ignore(channel: Channel) -> None:
    response = api(channel).get(LIST, {"limit": "10", "since": "x"})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "key": "limit",
            "code": "unknown_parameter",
            "message": "limit is not a query parameter here; it takes none.",
        },
        {
            "key": "since",
            "code": "unknown_parameter",
            "message": "since is not a query parameter here; it takes none.",
        },
    ]


def test_reading_needs_contacts_view(channel: Channel) -> None:
    client = api(channel, "nothing", permissions=[])

    for response in (client.get(LIST), client.get(f"{LIST}/profile.email"), client.head(LIST)):
        assert response.status_code == 403
    assert client.get(LIST).json() == denied("contacts_view")


def test_missing_or_wrong_credentials_are_refused(channel: Channel) -> None:
    wrong = Client(headers={"x-access-key": "nope", "x-access-secret": "nope"})

    assert Client().get(LIST).status_code == 401
    response = wrong.get(LIST)
    assert response.status_code == 401
    assert response.json() == {
        "type": "authentication_failed",
        "message": "The access key or secret is wrong, or revoked.",
        "errors": [],
    }


def test_a_manager_session_reads_too(channel: Channel) -> None:
    client = Client()
    client.force_login(manager_in(channel, "basic").user)

    response = client.get(f"{LIST}/lastSeenAt", headers={"x-channel-id": str(channel.pk)})

    assert response.status_code == 200
    assert response.json() == {
        "profileField": {
            "key": "lastSeenAt",
            "name": "Last seen",
            "type": "datetime",
            "sensitive": False,
            "masking": "full",
            "shownInProfile": True,
            "order": 9,
            "builtIn": True,
            "indexed": False,
        }
    }


def test_one_field_by_its_full_key(channel: Channel) -> None:
    field_in(channel, "shoeSize", FieldType.NUMBER, name="Shoe size")
    client = api(channel, "basic")

    assert client.get(f"{LIST}/profile.shoeSize").json() == {"profileField": field_json()}
    assert client.get(f"{LIST}/shoeSize").status_code == 404  # keys in paths are full keys


def test_another_channels_field_is_not_found(channel: Channel, other_channel: Channel) -> None:
    field_in(other_channel, "shoeSize", FieldType.NUMBER)
    client = api(channel)
    before = snapshot(other_channel)

    for method, body in (("get", None), ("patch", {"name": "Mine"}), ("delete", None)):
        response = send(client, method, f"{LIST}/profile.shoeSize", body)
        assert (response.status_code, response.json()) == (404, NOT_FOUND)
    response = client.delete(f"{LIST}/profile.shoeSize?confirmCount=0")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert snapshot(other_channel) == before


# -- create -----------------------------------------------------------------------------------


def test_a_field_is_created_last(channel: Channel) -> None:
    body = {"key": "profile.shoeSize", "name": " Shoe size ", "type": "number"}

    response = send(api(channel), "post", LIST, body)

    assert response.status_code == 201
    assert response.json() == {"profileField": field_json()}
    field = ProfileField.objects.get(channel=channel, key="profile.shoeSize")
    assert (field.name, field.type, field.index_state) == ("Shoe size", "number", "none")


def test_a_bare_key_and_every_flag_are_taken(channel: Channel) -> None:
    body = {
        "key": "birthDate",
        "name": "Birth date",
        "type": "date",
        "sensitive": True,
        "masking": "full",
        "shownInProfile": False,
        "indexed": True,
    }

    response = send(api(channel), "post", LIST, body)

    assert response.status_code == 201
    assert response.json()["profileField"] == field_json(
        key="profile.birthDate",
        name="Birth date",
        type="date",
        sensitive=True,
        shownInProfile=False,
        indexed=True,
    )
    field = ProfileField.objects.get(channel=channel, key="profile.birthDate")
    name = index_name_for(channel_id=channel.pk, key="birthDate")
    assert (field.index_state, field.index_name) == (IndexState.PENDING, name)


def test_a_refused_body_lists_every_problem_and_creates_nothing(channel: Channel) -> None:
    before = snapshot(channel)
    body = {
        "key": "Shoe size",
        "name": "",
        "type": "text",
        "sensitive": "yes",
        "shownInProfile": 1,
        "order": 3,
        "colour": "red",
    }

    response = send(api(channel), "post", LIST, body)

    assert response.status_code == 400
    body_out = response.json()
    assert body_out["type"] == "validation_error"
    assert body_out["message"] == "; ".join(e["message"] for e in body_out["errors"])
    assert [(e["key"], e["code"]) for e in body_out["errors"]] == [
        ("key", "invalid"),
        ("name", "blank"),
        ("type", "invalid_choice"),
        ("sensitive", "invalid"),
        ("shownInProfile", "invalid"),
        ("order", "unknown_field"),
        ("colour", "unknown_field"),
    ]
    messages = {e["key"]: e["message"] for e in body_out["errors"]}
    assert messages["type"] == (
        'type: "text" is not a type; types: boolean, string, number, date, datetime, list, '
        "listOfNumber."
    )
    assert messages["sensitive"] == "sensitive: Must be true or false."
    assert messages["order"] == ("order: a new field is placed last; PATCH its order afterwards.")
    assert messages["colour"] == (
        "colour: not a field here; fields: key, name, type, sensitive, masking, "
        "shownInProfile, indexed."
    )
    assert snapshot(channel) == before


def test_partial_masking_of_a_number_is_refused_in_the_same_answer(channel: Channel) -> None:
    body = {"key": "shoeSize", "name": "Shoe", "type": "number", "masking": "partial"}

    response = send(api(channel), "post", LIST, body)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "key": "masking",
            "code": "invalid",
            "message": "masking: A number field masks full; partial masking is for string fields.",
        }
    ]


def test_a_key_taken_or_reserved_is_refused_by_the_service(channel: Channel) -> None:
    field_in(channel, "shoeSize")
    before = snapshot(channel)
    client = api(channel)

    taken = send(client, "post", LIST, {"key": "shoeSize", "name": "Again", "type": "string"})
    reserved = send(client, "post", LIST, {"key": "tags", "name": "Tags", "type": "string"})

    assert taken.status_code == reserved.status_code == 400
    assert taken.json()["errors"] == [
        {
            "key": "key",
            "code": "invalid",
            "message": "profile.shoeSize is already defined in this channel.",
        }
    ]
    assert reserved.json()["errors"][0]["message"] == (
        "'tags' is the name of a built-in field; choose another data key."
    )
    assert snapshot(channel) == before


def test_an_index_on_a_list_field_is_refused_and_nothing_is_created(channel: Channel) -> None:
    before = snapshot(channel)
    body = {"key": "interests", "name": "Interests", "type": "list", "indexed": True}

    response = send(api(channel), "post", LIST, body)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "key": "indexed",
            "code": "not_indexable",
            "message": "profile.interests is a List field, whose filters use the profile index "
            "already; per-key indexes serve ranges and sorting of String, Number, Date, Datetime "
            "fields.",
        }
    ]
    assert snapshot(channel) == before


def test_creating_needs_general_settings(channel: Channel) -> None:
    before = snapshot(channel)

    response = send(
        api(channel, "basic"), "post", LIST, {"key": "a", "name": "A", "type": "string"}
    )

    assert (response.status_code, response.json()) == (403, denied("general_settings"))
    assert snapshot(channel) == before


def test_a_body_that_is_not_json_is_refused(channel: Channel) -> None:
    response = api(channel).post(LIST, data="key=a", content_type="text/plain")

    assert response.status_code == 415
    assert response.json()["type"] == "unsupported_media_type"


# -- update -----------------------------------------------------------------------------------


def test_patch_changes_the_flags_and_the_order(channel: Channel) -> None:
    field_in(channel, "nickname")
    body = {
        "name": "Nick",
        "sensitive": True,
        "masking": "partial",
        "shownInProfile": False,
        "order": 2,
    }

    response = send(api(channel), "patch", f"{LIST}/profile.nickname", body)

    assert response.status_code == 200
    expected = field_json(
        key="profile.nickname",
        name="Nick",
        type="string",
        sensitive=True,
        masking="partial",
        shownInProfile=False,
        order=2,
    )
    assert response.json() == {"profileField": expected}
    assert api(channel).get(f"{LIST}/profile.nickname").json() == {"profileField": expected}


def test_patch_with_a_type_converts_the_stored_values(channel: Channel) -> None:
    field_in(channel, "vip", FieldType.NUMBER)
    ContactFactory(channel=channel, profile={"vip": 1})
    ContactFactory(channel=channel, profile={"vip": 0})

    client = api(channel)

    response = send(client, "patch", f"{LIST}/profile.vip", {"type": "boolean", "name": "V"})

    job = accepted(response, "typeChange", 2)
    expected = field_json(key="profile.vip", name="V", type="boolean")
    assert client.get(f"{LIST}/profile.vip").json()["profileField"] == expected  # switched first
    assert profiles(channel) == [{"vip": 1}, {"vip": 0}]
    assert (run(job).done, job.params) == (
        2,
        {"fieldId": job.params["fieldId"], "key": "profile.vip", "from": "number", "to": "boolean"},
    )
    assert profiles(channel) == [{"vip": True}, {"vip": False}]


def test_a_blocked_type_change_is_a_conflict_naming_the_count(channel: Channel) -> None:
    field_in(channel, "code")
    ContactFactory(channel=channel, profile={"code": "12"})
    ContactFactory(channel=channel, profile={"code": "A-7"})
    ContactFactory(channel=channel, profile={"code": "007"})
    before, values = snapshot(channel), profiles(channel)

    response = send(api(channel), "patch", f"{LIST}/profile.code", {"type": "number", "order": 1})

    message = (
        "2 contacts hold a value of profile.code that cannot become Number. From string to "
        "number: only when the text is a plain decimal number such as '42' or '-3.5' (at most "
        "15 digits on each side of the point, no leading zero). Change or remove those values "
        "first."
    )
    assert response.status_code == 409
    assert response.json() == {
        "type": "conflict",
        "message": message,
        "errors": [{"key": "type", "code": "type_change_blocked", "message": message}],
    }
    assert response["x-contacts-count"] == "2"
    assert (snapshot(channel), profiles(channel)) == (before, values)


def test_flags_refused_for_the_new_type_leave_the_type_unchanged(channel: Channel) -> None:
    field_in(channel, "hobby")
    ContactFactory(channel=channel, profile={"hobby": "golf"})
    before, values = snapshot(channel), profiles(channel)

    response = send(
        api(channel), "patch", f"{LIST}/profile.hobby", {"type": "list", "indexed": True}
    )

    assert response.status_code == 400
    assert [(e["key"], e["code"]) for e in response.json()["errors"]] == [
        ("indexed", "not_indexable")
    ]
    assert (snapshot(channel), profiles(channel)) == (before, values)


def test_an_indexed_field_retyped_with_indexed_true_is_refused_and_unchanged(
    channel: Channel,
) -> None:
    field_in(channel, "hobby", indexed=True)
    ContactFactory(channel=channel, profile={"hobby": "golf"})
    states = ProfileField.objects.filter(channel=channel).values_list("key", "index_state")
    before, values, jobs = (snapshot(channel), list(states)), profiles(channel), Job.objects.count()

    response = send(
        api(channel), "patch", f"{LIST}/profile.hobby", {"type": "list", "indexed": True}
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "key": "indexed",
            "code": "not_indexable",
            "message": "profile.hobby is a List field, whose filters use the profile index "
            "already; per-key indexes serve ranges and sorting of String, Number, Date, Datetime "
            "fields.",
        }
    ]
    assert ((snapshot(channel), list(states)), profiles(channel)) == (before, values)
    assert Job.objects.count() == jobs


def test_an_indexed_field_retyped_without_indexed_is_unmarked(channel: Channel) -> None:
    field_in(channel, "hobby", indexed=True)

    response = send(api(channel), "patch", f"{LIST}/profile.hobby", {"type": "list"})

    run(accepted(response, "typeChange", 0))
    field = ProfileField.objects.get(channel=channel, key="profile.hobby")
    assert (field.type, field.indexed, field.index_state) == ("list", False, IndexState.PENDING)


def test_patch_refuses_fixed_and_unknown_keys_listing_each(channel: Channel) -> None:
    field_in(channel, "nickname")
    before = snapshot(channel)
    body = {"key": "profile.nick", "builtIn": True, "colour": 1, "order": -1, "type": "number"}
    body["masking"] = "partial"

    response = send(api(channel), "patch", f"{LIST}/profile.nickname", body)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "key": "order",
            "code": "min_value",
            "message": "order: Ensure this value is greater than or equal to 0.",
        },
        {
            "key": "key",
            "code": "unknown_field",
            "message": "key: a data key cannot be changed once created.",
        },
        {
            "key": "builtIn",
            "code": "unknown_field",
            "message": "builtIn: whether a field is built in cannot be changed.",
        },
        {
            "key": "colour",
            "code": "unknown_field",
            "message": "colour: not a field here; fields: name, type, sensitive, masking, "
            "shownInProfile, order, indexed.",
        },
    ]
    assert snapshot(channel) == before


def test_built_in_fields_keep_their_type_and_take_no_index(channel: Channel) -> None:
    before = snapshot(channel)
    client = api(channel)

    retyped = send(client, "patch", f"{LIST}/lastSeenAt", {"type": "number"})
    indexed = send(client, "patch", f"{LIST}/lastSeenAt", {"indexed": True})
    deleted = client.delete(f"{LIST}/lastSeenAt?confirmCount=0")
    unconfirmed = client.delete(f"{LIST}/lastSeenAt")

    assert retyped.json()["errors"] == [
        {
            "key": "type",
            "code": "invalid",
            "message": "lastSeenAt is a built-in field; its type is fixed.",
        }
    ]
    assert indexed.json()["errors"] == [
        {
            "key": "indexed",
            "code": "built_in",
            "message": "lastSeenAt is a built-in field: a column with indexes of its own. "
            "Per-key indexes are for profile.* fields.",
        }
    ]
    message = "lastSeenAt is a built-in field; it cannot be deleted."
    for response in (deleted, unconfirmed):
        assert response.status_code == 400
        assert response.json()["errors"] == [{"key": "key", "code": "invalid", "message": message}]
    assert snapshot(channel) == before
    assert send(client, "patch", f"{LIST}/lastSeenAt", {"sensitive": True}).status_code == 200


def test_marking_and_unmarking_records_a_pending_index(channel: Channel) -> None:
    field_in(channel, "age", FieldType.NUMBER)
    client = api(channel)
    url = f"{LIST}/profile.age"

    marked = send(client, "patch", url, {"indexed": True})
    field = ProfileField.objects.get(channel=channel, key="profile.age")
    assert marked.json()["profileField"]["indexed"] is True
    assert (field.indexed, field.index_state) == (True, IndexState.PENDING)
    assert field.index_name == index_name_for(channel_id=channel.pk, key="age")

    ProfileField.objects.filter(pk=field.pk).update(index_state=IndexState.READY)
    unmarked = send(client, "patch", url, {"indexed": False})
    field.refresh_from_db()
    assert unmarked.json()["profileField"]["indexed"] is False
    assert (field.indexed, field.index_state) == (False, IndexState.PENDING)


def test_a_channel_indexes_at_most_20_fields(channel: Channel) -> None:
    for index in range(MAX_INDEXED_FIELDS):
        field_in(channel, f"score{index}", FieldType.NUMBER, indexed=True)
    field_in(channel, "oneMore", FieldType.NUMBER)

    response = send(api(channel), "patch", f"{LIST}/profile.oneMore", {"indexed": True})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "key": "indexed",
            "code": "too_many_indexes",
            "message": "A channel indexes at most 20 fields (each index slows every write of "
            "its contacts); unmark one first.",
        }
    ]
    assert not ProfileField.objects.get(channel=channel, key="profile.oneMore").indexed


def test_updating_needs_general_settings(channel: Channel) -> None:
    field_in(channel, "nickname")
    before = snapshot(channel)

    response = send(api(channel, "basic"), "patch", f"{LIST}/profile.nickname", {"name": "N"})

    assert (response.status_code, response.json()) == (403, denied("general_settings"))
    assert snapshot(channel) == before


# -- delete -----------------------------------------------------------------------------------


def test_delete_without_a_count_asks_for_it_and_deletes_nothing(channel: Channel) -> None:
    field_in(channel, "shoeSize", FieldType.NUMBER)
    ContactFactory(channel=channel, profile={"shoeSize": 270})
    ContactFactory(channel=channel, profile={"shoeSize": 250})
    ContactFactory(channel=channel, profile={"name": "Kim"})
    before, values = snapshot(channel), profiles(channel)

    response = api(channel).delete(f"{LIST}/profile.shoeSize")

    message = (
        "2 contacts hold a value of profile.shoeSize; deleting the field removes them. Confirm "
        "with ?confirmCount=2."
    )
    assert response.status_code == 409
    assert response.json() == {
        "type": "conflict",
        "message": message,
        "errors": [{"key": "confirmCount", "code": "confirmation_required", "message": message}],
    }
    assert response["x-contacts-count"] == "2"
    assert (snapshot(channel), profiles(channel)) == (before, values)


def test_a_stale_count_is_refused(channel: Channel) -> None:
    field_in(channel, "shoeSize", FieldType.NUMBER)
    ContactFactory(channel=channel, profile={"shoeSize": 270})
    before = snapshot(channel)

    response = api(channel).delete(f"{LIST}/profile.shoeSize?confirmCount=0")

    assert response.status_code == 409
    assert response.json()["errors"] == [
        {
            "key": "confirmCount",
            "code": "stale_confirmation",
            "message": "1 contacts now hold a value of profile.shoeSize, not 0 as confirmed; "
            "review the new count and confirm again.",
        }
    ]
    assert response["x-contacts-count"] == "1"
    assert snapshot(channel) == before


def test_a_confirmed_delete_removes_the_field_and_its_values(
    channel: Channel, other_channel: Channel
) -> None:
    field_in(channel, "shoeSize", FieldType.NUMBER)
    field_in(other_channel, "shoeSize", FieldType.NUMBER)
    ContactFactory(channel=channel, profile={"shoeSize": 270, "name": "Kim"})
    ContactFactory(channel=other_channel, profile={"shoeSize": 250})

    response = api(channel).delete(f"{LIST}/profile.shoeSize?confirmCount=1")

    job = accepted(response, "fieldDelete", 1)
    assert ProfileField.objects.filter(channel=channel, key="profile.shoeSize").exists()
    assert (run(job).done, job.total) == (1, 1)
    assert not ProfileField.objects.filter(channel=channel, key="profile.shoeSize").exists()
    assert profiles(channel) == [{"name": "Kim"}]
    assert profiles(other_channel) == [{"shoeSize": 250}]


def test_a_malformed_count_or_parameter_is_a_validation_error(channel: Channel) -> None:
    field_in(channel, "shoeSize", FieldType.NUMBER)
    before = snapshot(channel)
    client = api(channel)

    malformed = client.delete(f"{LIST}/profile.shoeSize?confirmCount=-1")
    unknown = client.delete(f"{LIST}/profile.shoeSize?confirmCount=0&force=1")

    assert malformed.status_code == unknown.status_code == 400
    assert malformed.json()["errors"] == [
        {
            "key": "confirmCount",
            "code": "invalid",
            "message": "confirmCount must be a whole number of contacts, 0 or more; got '-1'.",
        }
    ]
    assert unknown.json()["errors"] == [
        {
            "key": "force",
            "code": "unknown_parameter",
            "message": "force is not a query parameter here; it takes confirmCount.",
        }
    ]
    assert snapshot(channel) == before


def test_deleting_needs_general_settings(channel: Channel) -> None:
    field_in(channel, "shoeSize", FieldType.NUMBER)
    before = snapshot(channel)

    response = api(channel, "basic").delete(f"{LIST}/profile.shoeSize?confirmCount=0")

    assert (response.status_code, response.json()) == (403, denied("general_settings"))
    assert snapshot(channel) == before


def busy(job: Job, kind: str, state: str) -> dict[str, Any]:
    message = (
        f"profile.shoeSize is busy with job {job.pk} ({kind}, {state}): try again once it has "
        "finished, or cancel it."
    )
    return {
        "type": "conflict",
        "message": message,
        "errors": [{"key": "key", "code": "job_running", "message": message}],
    }


@pytest.mark.parametrize("state", ["queued", "running"])
def test_while_a_delete_job_works_a_delete_or_type_change_is_a_conflict_naming_it(
    channel: Channel, state: str
) -> None:
    field_in(channel, "shoeSize", FieldType.NUMBER)
    ContactFactory(channel=channel, profile={"shoeSize": 270})
    client = api(channel)
    job = accepted(client.delete(f"{LIST}/profile.shoeSize?confirmCount=1"), "fieldDelete", 1)
    if state == "running":
        Job.objects.filter(pk=job.pk).update(state="running", run_token="0" * 32)
    before, values = snapshot(channel), profiles(channel)

    again = client.delete(f"{LIST}/profile.shoeSize?confirmCount=1")
    unconfirmed = client.delete(f"{LIST}/profile.shoeSize")
    retyped = send(client, "patch", f"{LIST}/profile.shoeSize", {"type": "string"})

    for response in (again, unconfirmed, retyped):
        assert (response.status_code, response.json()) == (409, busy(job, "field delete", state))
    assert (snapshot(channel), profiles(channel), Job.objects.count()) == (before, values, 1)
    renamed = send(client, "patch", f"{LIST}/profile.shoeSize", {"name": "Size"})
    assert renamed.status_code == 200  # a flag change rewrites no value


def test_while_a_type_change_job_works_another_is_a_conflict_and_a_finished_one_is_not(
    channel: Channel,
) -> None:
    field_in(channel, "shoeSize")
    ContactFactory(channel=channel, profile={"shoeSize": "270"})
    client = api(channel)
    job = accepted(
        send(client, "patch", f"{LIST}/profile.shoeSize", {"type": "number"}), "typeChange", 1
    )

    refused = send(client, "patch", f"{LIST}/profile.shoeSize", {"type": "string"})
    deleted = client.delete(f"{LIST}/profile.shoeSize?confirmCount=1")

    assert (refused.status_code, refused.json()) == (409, busy(job, "type change", "queued"))
    assert (deleted.status_code, deleted.json()) == (409, busy(job, "type change", "queued"))
    run(job)
    assert profiles(channel) == [{"shoeSize": 270}]
    again = send(client, "patch", f"{LIST}/profile.shoeSize", {"type": "string"})
    run(accepted(again, "typeChange", 1))
    assert profiles(channel) == [{"shoeSize": "270"}]


def test_another_channels_field_job_is_not_found(channel: Channel, other_channel: Channel) -> None:
    field_in(other_channel, "shoeSize", FieldType.NUMBER)
    response = api(other_channel).delete(f"{LIST}/profile.shoeSize?confirmCount=0")
    job = accepted(response, "fieldDelete", 0)
    client = api(channel)

    read = client.get(f"/open/v5/jobs/{job.pk}")
    cancelled = client.post(f"/open/v5/jobs/{job.pk}/cancel")

    assert (read.status_code, read.json()) == (404, NOT_FOUND)
    assert (cancelled.status_code, cancelled.json()) == (404, NOT_FOUND)
    assert Job.objects.get(pk=job.pk).state == "queued"
    assert api(other_channel).get(f"/open/v5/jobs/{job.pk}").status_code == 200


def test_starting_a_delete_or_a_type_change_takes_a_fixed_number_of_queries(
    channel: Channel,
) -> None:
    field_in(channel, "shoeSize", FieldType.NUMBER)
    field_in(channel, "code")
    ContactFactory.create_batch(3, channel=channel, profile={"shoeSize": 1, "code": "7"})
    client = api(channel)
    client.get(LIST)

    with CaptureQueriesContext(connection) as deleting:
        assert client.delete(f"{LIST}/profile.shoeSize?confirmCount=3").status_code == 202
    with CaptureQueriesContext(connection) as retyping:
        response = send(client, "patch", f"{LIST}/profile.code", {"type": "number"})
        assert response.status_code == 202

    # the credential, the rate-limit window, the field, then in one transaction: the field's
    # row lock, the running jobs, the count, the channel, the job, the audit record (and the
    # savepoint's two)
    assert len(deleting) == 11, [q["sql"] for q in deleting]
    # the same three, then: the schema lock, the row lock, the running jobs, the blocking
    # values, the update, the audit record, the channel, the count, the job (and two
    # savepoints' four)
    assert len(retyping) == 16, [q["sql"] for q in retyping]


# -- the OpenAPI document ---------------------------------------------------------------------


def test_the_schema_describes_every_operation_and_status(channel: Channel) -> None:
    schema = Client().get("/open/v5/schema/", {"format": "json"}).json()
    paths = schema["paths"]

    def codes(path: str, method: str) -> list[str]:
        return sorted(paths[path][method]["responses"])

    assert sorted(paths[LIST]) == ["get", "post"]
    assert sorted(paths[f"{LIST}/{{key}}"]) == ["delete", "get", "patch"]
    assert codes(LIST, "get") == ["200", "400", "401", "403", "429", "503"]
    assert codes(LIST, "post") == ["201", "400", "401", "403", "413", "415", "429", "503"]
    assert codes(f"{LIST}/{{key}}", "get") == ["200", "400", "401", "403", "404", "429", "503"]
    assert codes(f"{LIST}/{{key}}", "patch") == [
        "200",
        "202",
        "400",
        "401",
        "403",
        "404",
        "409",
        "413",
        "415",
        "429",
        "503",
    ]
    assert codes(f"{LIST}/{{key}}", "delete") == [
        "202",
        "400",
        "401",
        "403",
        "404",
        "409",
        "429",
        "503",
    ]
    field = schema["components"]["schemas"]["ProfileField"]
    assert list(field["properties"]) == [
        "key",
        "name",
        "type",
        "sensitive",
        "masking",
        "shownInProfile",
        "order",
        "builtIn",
        "indexed",
    ]
    conflict = paths[f"{LIST}/{{key}}"]["delete"]["responses"]["409"]
    assert "x-contacts-count" in conflict["headers"]
