"""Tags on contacts and in the channel's catalogue; deleting a tag batch by batch, and the job
that does it started once at a time."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import MAX_TAGS_PER_CHANNEL, Contact, Tag
from contacts.services.tags import (
    TagRemovalBatch,
    contact_tags_set,
    tag_catalogue_ensure,
    tag_delete,
    tag_delete_start,
    tag_removal_batch,
    tag_removal_finish,
)
from crm.errors import Conflict
from crm.jobs.models import Job
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS, Viewer
from tests.concurrency import run_together
from tests.contacts.factories import ContactFactory


def tagged(channel: Channel, *tags: str, **fields: Any) -> Contact:
    tag_catalogue_ensure(channel=channel, tags=tags)
    return ContactFactory(channel=channel, tags=list(tags), **fields)


def catalogue(channel: Channel) -> list[str]:
    return list(Tag.objects.filter(channel=channel).order_by("name").values_list("name", flat=True))


def tag_sets(channel: Channel) -> list[list[str]]:
    rows = Contact.objects.filter(channel=channel).order_by("id")
    return list(rows.values_list("tags", flat=True))


@pytest.mark.django_db
def test_contact_tags_set_replaces_the_tags_and_fills_the_catalogue(channel: Channel) -> None:
    contact = ContactFactory(channel=channel, tags=["old"])
    before = contact.updated_at

    contact_tags_set(contact=contact, tags=["VIP", "gold"])

    assert Contact.objects.get(pk=contact.pk).tags == ["vip", "gold"]
    assert set(Tag.objects.filter(channel=channel).values_list("name", flat=True)) == {
        "vip",
        "gold",
    }
    assert contact.updated_at > before


@pytest.mark.django_db
def test_contact_tags_set_with_the_same_tags_writes_nothing(channel: Channel) -> None:
    contact = ContactFactory(channel=channel)
    contact_tags_set(contact=contact, tags=["vip"])
    stamp = Contact.objects.get(pk=contact.pk).updated_at

    contact_tags_set(contact=contact, tags=["vip"])

    assert Contact.objects.get(pk=contact.pk).updated_at == stamp


@pytest.mark.django_db
def test_the_catalogue_refuses_the_1001st_tag_and_the_contact_keeps_its_tags(
    channel: Channel,
) -> None:
    Tag.objects.bulk_create(
        [Tag(channel=channel, name=f"t{n}") for n in range(MAX_TAGS_PER_CHANNEL)]
    )
    contact = ContactFactory(channel=channel, tags=["t1"])

    with pytest.raises(ValidationError, match="at most 1000 distinct tags"):
        contact_tags_set(contact=contact, tags=["t1", "brand-new"])

    assert Contact.objects.get(pk=contact.pk).tags == ["t1"]
    assert Tag.objects.filter(channel=channel).count() == MAX_TAGS_PER_CHANNEL
    contact_tags_set(contact=contact, tags=["t2", "t3"])  # known tags still work
    assert Contact.objects.get(pk=contact.pk).tags == ["t2", "t3"]


# -- deleting a tag ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_holders_lose_the_tag_in_batches_then_a_final_sweep(channel: Channel) -> None:
    for _ in range(5):
        tagged(channel, "vip", "gold")
    tag = Tag.objects.get(channel=channel, name="vip")

    with CaptureQueriesContext(connection) as queries:
        removed = tag_delete(tag=tag, batch_size=2)

    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    assert removed == 5
    assert len(updates) == 4  # batches of 2, 2 and 1, then the sweep with the catalogue delete
    assert all("LIMIT 2" in sql for sql in updates[:3])
    assert tag_sets(channel) == [["gold"]] * 5
    assert catalogue(channel) == ["gold"]


@pytest.mark.django_db
def test_one_batch_takes_the_tag_off_the_next_holders_by_id_and_says_where_it_stopped(
    channel: Channel, other_channel: Channel
) -> None:
    first, _, third, fourth = (tagged(channel, "vip", "gold") for _ in range(4))
    untagged = tagged(channel, "gold")
    theirs = tagged(other_channel, "vip")
    stamps = dict(Contact.objects.values_list("pk", "updated_at"))

    one = tag_removal_batch(channel_id=channel.pk, name="vip", after=first.pk, batch_size=2)

    # The holders after FIRST, two of them, in id order; FIRST and FOURTH still hold it.
    assert one == TagRemovalBatch(last_id=third.pk, changed=2, finished=False)
    assert tag_sets(channel) == [["vip", "gold"], ["gold"], ["gold"], ["vip", "gold"], ["gold"]]
    assert tag_sets(other_channel) == [["vip"]]
    assert dict(Contact.objects.values_list("pk", "updated_at")) == stamps  # no activity
    last = tag_removal_batch(channel_id=channel.pk, name="vip", after=one.last_id, batch_size=2)
    assert last == TagRemovalBatch(last_id=fourth.pk, changed=1, finished=True)
    past = tag_removal_batch(channel_id=channel.pk, name="vip", after=untagged.pk, batch_size=2)
    assert past == TagRemovalBatch(last_id=untagged.pk, changed=0, finished=True)
    assert theirs.pk > untagged.pk and tag_sets(other_channel) == [["vip"]]


@pytest.mark.django_db
def test_a_batch_run_again_from_the_same_position_changes_nobody_twice(channel: Channel) -> None:
    holders = [tagged(channel, "vip") for _ in range(3)]

    once = tag_removal_batch(channel_id=channel.pk, name="vip", after=0, batch_size=2)
    # A worker that died before recording ONCE's position starts from 0 again.
    again = tag_removal_batch(channel_id=channel.pk, name="vip", after=0, batch_size=2)

    assert once == TagRemovalBatch(last_id=holders[1].pk, changed=2, finished=False)
    assert again == TagRemovalBatch(last_id=holders[2].pk, changed=1, finished=True)
    assert tag_sets(channel) == [[], [], []]


@pytest.mark.django_db
def test_the_finish_drops_the_catalogue_entry_and_a_holder_tagged_behind_the_batches(
    channel: Channel,
) -> None:
    early, late = tagged(channel, "vip"), tagged(channel, "vip")
    batch = tag_removal_batch(channel_id=channel.pk, name="vip", after=0, batch_size=5)
    Contact.objects.filter(pk=early.pk).update(tags=["vip"])  # tagged again meanwhile

    swept = tag_removal_finish(channel_id=channel.pk, name="vip")
    again = tag_removal_finish(channel_id=channel.pk, name="vip")

    assert batch == TagRemovalBatch(last_id=late.pk, changed=2, finished=True)
    assert (swept, again) == (1, 0)
    assert tag_sets(channel) == [[], []]
    assert catalogue(channel) == []


@pytest.mark.django_db(transaction=True)
def test_two_deletes_of_a_tag_started_at_once_make_one_job_and_one_conflict(
    channel: Channel,
) -> None:
    contact = ContactFactory(channel=channel)
    contact_tags_set(contact=contact, tags=["vip"])
    tag = Tag.objects.select_related("channel").get(channel=channel, name="vip")
    viewer = Viewer(channel=channel, permissions=ALL_PERMISSIONS)

    def start(n: int) -> object:
        try:
            return tag_delete_start(tag=tag, requested_by=viewer).pk
        except Conflict as refusal:
            return refusal.problems[0].code

    outcomes = run_together(2, start)

    [job] = Job.objects.all()
    assert sorted(map(str, outcomes)) == sorted([str(job.pk), "job_running"])
    assert (job.kind, job.total, job.params) == ("tagDelete", 1, {"name": "vip"})
    assert catalogue(channel) == ["vip"]  # until the job runs
