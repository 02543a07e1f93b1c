"""One-statement contact writes: merges with ||, write-once keys, tags, visits, the guards on
the names written into the SQL, and a repeated write that writes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection

from contacts.models import Contact, ContactActivity
from contacts.services.atomic import (
    contact_update_atomic,
    contact_upsert_atomic,
    contact_upsert_returning,
    visit_expressions,
)
from contacts.services.change import ContactChange
from crm.models import Channel
from tests.concurrency import run_together
from tests.contacts.factories import ContactFactory

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def update(contact: Contact, **change: object) -> bool:
    return contact_update_atomic(
        channel_id=contact.channel_id,
        contact_id=contact.pk,
        change=ContactChange(now=NOW, **change),  # type: ignore[arg-type]
    )


def stored(contact: Contact) -> Contact:
    return Contact.objects.get(pk=contact.pk)


def row_version(contact: Contact) -> str:
    """Where the row's current version lies (ctid): every UPDATE of the row writes a new
    version elsewhere, even one that changes no value, even inside one transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT ctid::text FROM contacts_contact WHERE id = %s", [contact.pk])
        return str(cursor.fetchone()[0])


# -- updates ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_profile_keys_are_merged_into_the_stored_ones(channel: Channel) -> None:
    contact = ContactFactory(channel=channel, profile={"name": "Kim", "a": 1, "b": 2})

    written = update(contact, profile_set={"b": 3, "c": 4}, profile_remove=["a"])

    assert written is True
    assert stored(contact).profile == {"name": "Kim", "b": 3, "c": 4}
    assert stored(contact).updated_at == NOW


@pytest.mark.django_db
def test_write_once_keys_fill_only_what_is_empty(channel: Channel) -> None:
    contact = ContactFactory(channel=channel, profile={"name": "Kim", "utmSource": "naver"})

    update(contact, profile_once={"utmSource": "google", "referrer": "https://a.example/"})
    update(contact, profile_once={"referrer": "https://b.example/"}, profile_set={"name": "Lee"})

    assert stored(contact).profile == {
        "name": "Lee",
        "utmSource": "naver",
        "referrer": "https://a.example/",
    }


@pytest.mark.django_db
def test_tags_are_added_in_order_without_repeats_removed_or_replaced(channel: Channel) -> None:
    contact = ContactFactory(channel=channel, tags=["vip", "gold"])

    update(contact, tags_add=["new", "vip", "sale"], tags_remove=["gold"])
    added = stored(contact).tags
    update(contact, tags_replace=["only"])

    assert added == ["vip", "new", "sale"]
    assert stored(contact).tags == ["only"]


@pytest.mark.django_db
def test_sdk_opt_outs_only_turn_on_and_a_managers_turn_either_way(channel: Channel) -> None:
    contact = ContactFactory(channel=channel, unsubscribe_email=True)

    update(contact, unsubscribe_email=False, unsubscribe_only_on=True)
    kept = stored(contact).unsubscribe_email
    update(contact, unsubscribe_email=False)

    assert (kept, stored(contact).unsubscribe_email) == (True, False)


@pytest.mark.django_db
def test_an_update_that_changes_nothing_writes_nothing(channel: Channel) -> None:
    contact = ContactFactory(channel=channel, profile={"name": "Kim"}, tags=["vip"])
    update(contact, profile_set={"name": "Kim"}, tags_add=["vip"])  # already so
    version, stamp = row_version(contact), stored(contact).updated_at

    written = update(contact, profile_set={"name": "Kim"}, tags_replace=["vip"])

    assert written is False
    assert (row_version(contact), stored(contact).updated_at) == (version, stamp)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_each_keep_their_keys(channel: Channel) -> None:
    contact = ContactFactory(channel=channel, profile={"name": "Kim"})

    run_together(8, lambda n: update(contact, profile_set={f"key{n}": n}))

    assert stored(contact).profile == {"name": "Kim", **{f"key{n}": n for n in range(8)}}


# -- upserts ------------------------------------------------------------------------------------


def boot_change(now: datetime, **change: object) -> ContactChange:
    return ContactChange(
        now=now,
        profile_set={"name": "Kim"},
        profile_once={"utmSource": "naver"},
        tags_add=["vip"],
        columns={"web_browser": "Chrome 131"},
        visit="web",
        **change,  # type: ignore[arg-type]
    )


def upsert(channel: Channel, change: ContactChange) -> tuple[int, bool, bool]:
    upserted = contact_upsert_returning(
        channel_id=channel.pk,
        identity="member_id",
        value="m-1",
        change=change,
        activity_month=date(2026, 5, 1),
    )
    return upserted.contact.pk, upserted.created, upserted.written


@pytest.mark.django_db
def test_a_boot_creates_the_contact_then_a_repeated_boot_writes_nothing(channel: Channel) -> None:
    contact_id, created, written = upsert(channel, boot_change(NOW))
    contact = Contact.objects.get(pk=contact_id)
    version = row_version(contact)

    again = upsert(channel, boot_change(NOW + timedelta(seconds=30)))

    assert (created, written) == (True, True)
    assert again == (contact_id, False, False)
    assert row_version(contact) == version
    assert (contact.profile, contact.tags, contact.web_browser) == (
        {"name": "Kim", "utmSource": "naver"},
        ["vip"],
        "Chrome 131",
    )
    assert (contact.sessions_count, contact.web_sessions_count, contact.last_seen_at) == (1, 1, NOW)
    assert list(ContactActivity.objects.values_list("contact_id", "month")) == [
        (contact_id, date(2026, 5, 1))
    ]


@pytest.mark.django_db
def test_a_boot_past_the_last_seen_resolution_counts_the_visit(channel: Channel) -> None:
    upsert(channel, boot_change(NOW))

    later = upsert(channel, boot_change(NOW + timedelta(minutes=2)))
    new_session = upsert(channel, boot_change(NOW + timedelta(minutes=40)))

    contact = Contact.objects.get(member_id="m-1")
    assert (later[1:], new_session[1:]) == ((False, True), (False, True))
    assert (contact.sessions_count, contact.last_seen_at) == (2, NOW + timedelta(minutes=40))


@pytest.mark.django_db
def test_the_plain_upsert_answers_id_created_and_written(channel: Channel) -> None:
    change = ContactChange(now=NOW, profile_set={"name": "Kim"})

    first = contact_upsert_atomic(
        channel_id=channel.pk, identity="veil_id", value="device-0001", change=change
    )
    second = contact_upsert_atomic(
        channel_id=channel.pk, identity="veil_id", value="device-0001", change=change
    )

    contact = Contact.objects.get(channel=channel)
    assert (first, second) == ((contact.pk, True, True), (contact.pk, False, False))
    assert (contact.veil_id, contact.member_id, contact.profile) == (
        "device-0001",
        None,
        {"name": "Kim"},
    )


# -- the names written into the SQL -------------------------------------------------------------


@pytest.mark.django_db
def test_only_member_id_and_veil_id_identify_a_contact(channel: Channel) -> None:
    change = ContactChange(now=NOW, profile_set={"name": "Kim"})

    for identity in ("id", "member_id = member_id; --", "name"):
        with pytest.raises(ValueError, match="is not a contact identity"):
            contact_upsert_atomic(
                channel_id=channel.pk, identity=identity, value="x", change=change
            )

    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_only_writable_columns_and_known_platforms_reach_the_sql(channel: Channel) -> None:
    contact = ContactFactory(channel=channel)

    with pytest.raises(ValueError, match="Not columns a change may set: 'id', 'x = 1; --'"):
        update(contact, columns={"web_os": "Linux", "id": 7, "x = 1; --": 1})
    with pytest.raises(ValueError, match="Not columns a change may set: 'type'"):
        update(contact, columns={"type": "member"})  # generated by the database
    with pytest.raises(ValueError, match="'tv' is not a platform"):
        visit_expressions("tv")

    assert stored(contact).web_os == ""


def test_the_identity_guard_holds_under_python_optimisations() -> None:
    """Asserts vanish under `python -O`; the guard must not."""
    script = (
        "import django; django.setup()\n"
        "from contacts.services.atomic import _identity_checked\n"
        "assert False, 'asserts run'\n"
    )
    checked = script.replace("assert False, 'asserts run'\n", "_identity_checked('channel_id')\n")
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "crm.settings"}

    def run(code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 -- this interpreter, fixed code
            [sys.executable, "-O", "-c", code],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert run(script).returncode == 0  # -O really drops asserts
    refused = run(checked)
    assert refused.returncode == 1
    assert "ValueError: 'channel_id' is not a contact identity" in refused.stderr
