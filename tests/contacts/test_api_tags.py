"""/open/v5/user-tags: the catalogue with counts, pages, adding, and deleting everywhere by a
job (its 202 answer; run here with job_execute)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from contacts.models import MAX_TAGS_PER_CHANNEL, Contact, Tag
from contacts.representation import epoch_ms
from contacts.services.tags import tag_catalogue_ensure
from crm.cursors import cursor_encode
from crm.jobs.models import Job
from crm.jobs.runner import job_execute
from crm.models import Channel
from tests.api_clients import credential_client as api
from tests.contacts.factories import ContactFactory

pytestmark = pytest.mark.django_db
LIST = "/open/v5/user-tags"
NOT_FOUND = {"type": "not_found", "message": "Not found.", "errors": []}


def post(client: Client, body: Any) -> Any:
    return client.post(LIST, data=json.dumps(body), content_type="application/json")


def tagged(channel: Channel, *tags: str, **fields: Any) -> Contact:
    tag_catalogue_ensure(channel=channel, tags=tags)
    return ContactFactory(channel=channel, tags=list(tags), **fields)


def catalogue(channel: Channel) -> list[str]:
    return list(Tag.objects.filter(channel=channel).values_list("name", flat=True))


def tag_sets(channel: Channel) -> list[list[str]]:
    rows = Contact.objects.filter(channel=channel).order_by("id")
    return list(rows.values_list("tags", flat=True))


def tag_json(channel: Channel, name: str, count: int) -> dict[str, Any]:
    tag = Tag.objects.get(channel=channel, name=name)
    return {
        "name": name,
        "count": {"value": count, "exact": True},
        "createdAt": epoch_ms(tag.created_at),
    }


def denied(permission: str) -> dict[str, Any]:
    message = f"Your role lacks the {permission} permission needed for this."
    return {"type": "permission_denied", "message": message, "errors": []}


# -- list -------------------------------------------------------------------------------------


def test_the_catalogue_is_listed_by_name_with_counts(
    channel: Channel, other_channel: Channel
) -> None:
    tagged(channel, "vip", "gold")
    tagged(channel, "vip")
    tagged(other_channel, "vip")
    tag_catalogue_ensure(channel=channel, tags=["unused"])

    response = api(channel, "basic").get(LIST)

    assert response.status_code == 200
    assert response.json() == {
        "userTags": [
            tag_json(channel, "gold", 1),
            tag_json(channel, "unused", 0),
            tag_json(channel, "vip", 2),
        ],
        "next": None,
    }
    assert isinstance(response.json()["userTags"][0]["createdAt"], int)


def test_pages_follow_the_name_with_signed_cursors(channel: Channel) -> None:
    tag_catalogue_ensure(channel=channel, tags=["a1", "b2", "c3", "d4", "e5"])
    client = api(channel)

    first = client.get(LIST, {"limit": "2"}).json()
    second = client.get(LIST, {"limit": "2", "since": first["next"]}).json()
    third = client.get(LIST, {"limit": "2", "since": second["next"]}).json()

    assert [t["name"] for t in first["userTags"]] == ["a1", "b2"]
    assert [t["name"] for t in second["userTags"]] == ["c3", "d4"]
    assert [t["name"] for t in third["userTags"]] == ["e5"]
    assert third["next"] is None


def test_bad_paging_lists_every_problem(channel: Channel) -> None:
    client = api(channel)

    response = client.get(LIST, {"limit": "0", "since": "forged", "sort": "name"})
    both = client.get(LIST, {"limit": "501", "since": "forged"})
    other_list = cursor_encode(scope=f"{channel.pk}:segments:name", position=["a"])
    wrong_list = client.get(LIST, {"since": other_list})

    assert response.status_code == both.status_code == wrong_list.status_code == 400
    assert response.json()["errors"] == [
        {
            "key": "sort",
            "code": "unknown_parameter",
            "message": "sort is not a query parameter here; it takes limit, since.",
        }
    ]
    assert both.json()["errors"] == [
        {
            "key": "limit",
            "code": "invalid",
            "message": "limit is a whole number from 1 to 500; received '501'.",
        },
        {"key": "since", "code": "invalid_cursor", "message": "The cursor is not valid."},
    ]
    assert wrong_list.json()["errors"] == [
        {
            "key": "since",
            "code": "invalid_cursor",
            "message": "The cursor belongs to another list or order.",
        }
    ]


def test_another_channels_cursor_is_not_found(channel: Channel, other_channel: Channel) -> None:
    theirs = cursor_encode(scope=f"{other_channel.pk}:user-tags:name", position=["a"])

    response = api(channel).get(LIST, {"since": theirs})

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_the_list_takes_the_same_queries_for_2_and_20_tags(
    channel: Channel, other_channel: Channel
) -> None:
    for index in range(2):
        tagged(channel, f"few{index}")
    for index in range(20):
        tagged(other_channel, f"many{index}")
    few_client, many_client = api(channel), api(other_channel)
    few_client.get(LIST)
    many_client.get(LIST)

    with CaptureQueriesContext(connection) as few:
        assert len(few_client.get(LIST).json()["userTags"]) == 2
    with CaptureQueriesContext(connection) as many:
        body = many_client.get(LIST, {"limit": "500"}).json()
    assert [t["count"] for t in body["userTags"]] == [{"value": 1, "exact": True}] * 20

    assert len(few) == len(many)
    assert len(few) <= 8


def test_reading_needs_contacts_view(channel: Channel) -> None:
    response = api(channel, "nothing", permissions=[]).get(LIST)

    assert (response.status_code, response.json()) == (403, denied("contacts_view"))


# -- create -------------------------------------------------------------------------------------


def test_a_tag_is_added_cleaned(channel: Channel) -> None:
    response = post(api(channel, "basic"), {"name": " VIP "})

    assert response.status_code == 201
    assert response.json() == {"userTag": tag_json(channel, "vip", 0)}
    assert catalogue(channel) == ["vip"]


def test_adding_a_known_tag_answers_it_with_its_count(channel: Channel) -> None:
    tagged(channel, "vip")

    response = post(api(channel), {"name": "vip"})

    assert response.status_code == 200
    assert response.json() == {"userTag": tag_json(channel, "vip", 1)}
    assert catalogue(channel) == ["vip"]


def test_a_refused_tag_lists_every_problem_and_adds_nothing(channel: Channel) -> None:
    client = api(channel)

    wrong = post(client, {"name": 5, "colour": "red"})
    spaced = post(client, {"name": "big spender"})

    assert wrong.status_code == spaced.status_code == 400
    assert wrong.json()["errors"] == [
        {"key": "name", "code": "invalid", "message": "name: Not a valid string."},
        {
            "key": "colour",
            "code": "unknown_field",
            "message": "colour: not a field here; fields: name.",
        },
    ]
    assert spaced.json()["errors"] == [
        {
            "key": "name",
            "code": "invalid",
            "message": "'big spender': a tag may not hold '.', '$', '/', '\\' or spaces.",
        }
    ]
    assert catalogue(channel) == []


def test_the_thousandth_tag_is_the_last(channel: Channel) -> None:
    names = [f"t{index:04d}" for index in range(MAX_TAGS_PER_CHANNEL)]
    Tag.objects.bulk_create([Tag(channel=channel, name=name) for name in names])

    response = post(api(channel), {"name": "onemore"})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "key": "name",
            "code": "invalid",
            "message": "A channel has at most 1000 distinct tags; remove unused tags before "
            "adding onemore.",
        }
    ]
    assert Tag.objects.filter(channel=channel).count() == MAX_TAGS_PER_CHANNEL


def test_adding_needs_contacts_edit(channel: Channel) -> None:
    client = api(channel, "reader", permissions=["contacts_view"])

    response = post(client, {"name": "vip"})

    assert (response.status_code, response.json()) == (403, denied("contacts_edit"))
    assert catalogue(channel) == []


# -- delete -------------------------------------------------------------------------------------


def test_deleting_a_tag_removes_it_from_the_catalogue_and_every_contact(
    channel: Channel, other_channel: Channel
) -> None:
    kept = tagged(channel, "gold", "vip", "new")
    tagged(channel, "vip")
    tagged(channel, "gold")
    tagged(other_channel, "vip")
    updated_at = Contact.objects.get(pk=kept.pk).updated_at

    response = api(channel).delete(f"{LIST}/VIP")

    job = Job.objects.get()
    assert response.status_code == 202
    assert response.json() == {
        "job": {
            "id": str(job.pk),
            "kind": "tagDelete",
            "state": "queued",
            "done": 0,
            "skipped": 0,
            "skippedReasons": {},
            "total": 2,
            "error": None,
            "createdAt": epoch_ms(job.created_at),
            "finishedAt": None,
        }
    }
    assert catalogue(channel) == ["gold", "new", "vip"]  # until the job has run
    assert job_execute(job_id=job.pk) == "succeeded"
    job.refresh_from_db()
    assert (job.done, job.total, job.params) == (2, 2, {"name": "vip"})
    assert catalogue(channel) == ["gold", "new"]
    assert tag_sets(channel) == [["gold", "new"], [], ["gold"]]
    assert Contact.objects.get(pk=kept.pk).updated_at == updated_at
    assert catalogue(other_channel) == ["vip"]
    assert tag_sets(other_channel) == [["vip"]]


def test_another_channels_tag_is_not_found_and_stays(
    channel: Channel, other_channel: Channel
) -> None:
    tagged(other_channel, "vip")

    response = api(channel).delete(f"{LIST}/vip")

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert catalogue(other_channel) == ["vip"]
    assert tag_sets(other_channel) == [["vip"]]


def test_deleting_needs_general_settings(channel: Channel) -> None:
    tagged(channel, "vip")
    editor = api(channel, "editor", permissions=["contacts_view", "contacts_edit"])

    response = editor.delete(f"{LIST}/vip")

    assert (response.status_code, response.json()) == (403, denied("general_settings"))
    assert catalogue(channel) == ["vip"]
    assert tag_sets(channel) == [["vip"]]
    assert not Job.objects.exists()


def test_deleting_a_tag_being_deleted_is_a_conflict_naming_the_job(channel: Channel) -> None:
    tagged(channel, "vip")
    client = api(channel)
    first = client.delete(f"{LIST}/vip")

    again = client.delete(f"{LIST}/vip")

    message = (
        f"The tag vip is busy with job {first.json()['job']['id']} (tag delete, queued): try "
        "again once it has finished, or cancel it."
    )
    assert (again.status_code, again.json()) == (
        409,
        {
            "type": "conflict",
            "message": message,
            "errors": [{"key": "name", "code": "job_running", "message": message}],
        },
    )
    assert Job.objects.count() == 1
    job_execute(job_id=int(first.json()["job"]["id"]))
    assert client.delete(f"{LIST}/vip").status_code == 404  # gone


def test_another_channels_tag_job_is_not_found(channel: Channel, other_channel: Channel) -> None:
    tagged(other_channel, "vip")
    job_id = api(other_channel).delete(f"{LIST}/vip").json()["job"]["id"]
    client = api(channel)

    assert client.get(f"/open/v5/jobs/{job_id}").json() == NOT_FOUND
    assert client.post(f"/open/v5/jobs/{job_id}/cancel").status_code == 404
    assert Job.objects.get(pk=job_id).state == "queued"


def test_starting_a_delete_takes_a_fixed_number_of_queries(channel: Channel) -> None:
    tagged(channel, "vip")
    tagged(channel, "vip", "gold")
    client = api(channel)
    client.get(LIST)

    with CaptureQueriesContext(connection) as queries:
        assert client.delete(f"{LIST}/vip").status_code == 202

    # the credential, the rate-limit window, the tag, then in one transaction: the tag's row
    # lock, the running jobs, the count's plan, its timeout and the count, the job (and the
    # two savepoints' four)
    assert len(queries) == 14, [q["sql"] for q in queries]


def test_the_schema_describes_every_operation_and_status() -> None:
    paths = Client().get("/open/v5/schema/", {"format": "json"}).json()["paths"]

    def codes(path: str, method: str) -> list[str]:
        return sorted(paths[path][method]["responses"])

    assert sorted(paths[LIST]) == ["get", "post"]
    assert sorted(paths[f"{LIST}/{{name}}"]) == ["delete"]
    assert codes(LIST, "get") == ["200", "400", "401", "403", "404", "429", "503"]
    assert codes(LIST, "post") == ["200", "201", "400", "401", "403", "413", "415", "429", "503"]
    assert codes(f"{LIST}/{{name}}", "delete") == [
        "202",
        "400",
        "401",
        "403",
        "404",
        "409",
        "429",
        "503",
    ]
