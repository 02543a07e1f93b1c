"""The contact admin through the masking policy: the profile field by field under display
names, masked values with an eye button for managers who may reveal them, the audited reveal,
search and sorting as the policy allows, the history, deletes and segments."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from contacts.models import Contact, Segment
from contacts.services.events import contact_event_track
from contacts.services.segments import segment_create
from crm import services as crm_services
from crm.models import AuditEvent, Channel, Membership
from crm.permissions import ALL_PERMISSIONS, Viewer
from masking.maskers import FULL_MASK
from profile_schema.models import Masking, ProfileField
from tests.contacts.factories import ContactFactory
from tests.crm.factories import UserFactory, manager_client, manager_in
from tests.profile_schema.factories import field_in

pytestmark = pytest.mark.django_db

EMAIL = "abcdef@example.com"
MOBILE = "+821012345678"


def sensitive(channel: Channel, *keys: str, masking: str = Masking.FULL) -> None:
    ProfileField.objects.filter(channel=channel, key__in=keys).update(
        sensitive=True, masking=masking
    )


def kim(channel: Channel, **fields: Any) -> Contact:
    profile = {
        "name": "Kim Minji",
        "email": EMAIL,
        "mobileNumber": MOBILE,
        **fields.pop("profile", {}),
    }
    contact: Contact = ContactFactory(channel=channel, profile=profile, **fields)
    return contact


def change_page(client: Client, contact: Contact) -> str:
    response = client.get(reverse("admin:contacts_contact_change", args=[contact.pk]))
    assert response.status_code == 200
    return response.content.decode()


def changelist(client: Client, **params: Any) -> str:
    response = client.get(reverse("admin:contacts_contact_changelist"), params)
    assert response.status_code == 200
    return response.content.decode()


def reveal(client: Client, contact: Contact, key: str) -> Any:
    return client.post(reverse("admin:contacts_contact_reveal", args=[contact.pk]), {"reveal": key})


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- the change form ------------------------------------------------------------------------


def test_the_profile_is_shown_field_by_field_by_display_name_masked(channel: Channel) -> None:
    field_in(channel, "shoeSize", type="number", name="Shoe size")
    contact = kim(channel, profile={"shoeSize": 270, "utmSource": "newsletter"})

    body = change_page(manager_client(channel, "basic"), contact)

    assert "<th>Email</th><td>abc***@example.com</td>" in body
    assert "<th>Mobile number</th><td>010-****-5678</td>" in body
    assert "<th>Name</th><td>Kim Minji</td>" in body
    assert "<th>UTM source</th><td>newsletter</td>" in body
    assert "<th>Shoe size</th><td>270</td>" in body
    # In the channel's order, and never the raw JSON nor the values.
    assert body.index("<th>Name</th>") < body.index("<th>Email</th>") < body.index("Shoe size")
    assert '"email"' not in body and EMAIL not in body and "1012345678" not in body


def test_an_eye_button_beside_each_masked_value_only_for_managers_who_may_reveal(
    channel: Channel,
) -> None:
    contact = kim(channel)
    button = 'name="reveal" value="profile.email"'

    basic = change_page(manager_client(channel, "basic"), contact)
    owner = change_page(manager_client(channel, "owner"), contact)

    assert button not in basic and 'name="reveal"' not in basic
    assert button in owner and 'name="reveal" value="profile.mobileNumber"' in owner
    assert 'value="profile.name"' not in owner  # a value shown needs no reveal
    url = reverse("admin:contacts_contact_reveal", args=[contact.pk])
    assert f'formaction="{url}" formmethod="post"' in owner
    assert owner.count("csrfmiddlewaretoken") >= 1  # the change form's token goes with it


def test_sensitive_built_in_columns_are_masked_in_the_form_and_the_list(channel: Channel) -> None:
    sensitive(channel, "city", "memberId", "profile.name")
    contact = kim(channel, city="Seoulcity", member_id="m-secret-1")
    basic, owner = manager_client(channel, "basic"), manager_client(channel, "owner")

    form, listed = change_page(basic, contact), changelist(basic)
    owner_form = change_page(owner, contact)

    for body in (form, listed, owner_form):
        assert "Seoulcity" not in body and "m-secret-1" not in body and "Kim Minji" not in body
    assert form.count(FULL_MASK) >= 3 and listed.count(FULL_MASK) >= 2
    assert 'name="reveal" value="city"' in owner_form
    assert 'name="reveal" value="memberId"' in owner_form


# --- the reveal -----------------------------------------------------------------------------


def test_the_reveal_answers_the_value_and_records_it_once(channel: Channel) -> None:
    contact = kim(channel)
    owner = manager_in(channel, "owner")
    client = Client(HTTP_USER_AGENT="Admin browser")
    client.force_login(owner.user)

    answer = reveal(client, contact, "profile.mobileNumber")

    assert answer.status_code == 200
    assert MOBILE in answer.content.decode()
    assert "no-store" in answer["Cache-Control"]
    record = AuditEvent.objects.get()
    assert (record.action, record.channel_id, record.target_user_id, record.keys) == (
        "reveal",
        channel.pk,
        contact.pk,
        ["profile.mobileNumber"],
    )
    assert (record.actor_id, record.user_agent) == (owner.user.pk, "Admin browser")
    assert "1012345678" not in str(record.detail)


def test_without_sensitive_view_the_reveal_is_refused_and_recorded_nowhere(
    channel: Channel,
) -> None:
    contact = kim(channel)

    answer = reveal(manager_client(channel, "basic"), contact, "profile.email")

    assert answer.status_code == 403
    assert EMAIL not in answer.content.decode()
    assert not AuditEvent.objects.exists()


def test_the_reveal_takes_only_a_post_with_the_csrf_token(channel: Channel) -> None:
    contact = kim(channel)
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager_in(channel, "owner").user)
    url = reverse("admin:contacts_contact_reveal", args=[contact.pk])

    read = client.get(url, {"reveal": "profile.email"})
    forged = client.post(url, {"reveal": "profile.email"})
    assert (read.status_code, forged.status_code) == (405, 403)
    assert not AuditEvent.objects.exists()

    change_page(client, contact)  # sets the CSRF cookie, as the browser's page does
    token = client.cookies["csrftoken"].value
    posted = client.post(url, {"reveal": "profile.email", "csrfmiddlewaretoken": token})
    assert posted.status_code == 200 and EMAIL in posted.content.decode()
    assert AuditEvent.objects.count() == 1


def test_a_value_that_is_not_masked_has_nothing_to_reveal(channel: Channel) -> None:
    contact = kim(channel)
    client = manager_client(channel, "owner")

    answer = reveal(client, contact, "profile.name")

    assert answer.status_code == 302
    assert answer["Location"] == reverse("admin:contacts_contact_change", args=[contact.pk])
    assert messages_of(answer) == ["profile.name is not masked, so there is nothing to reveal."]
    assert not AuditEvent.objects.exists()


def test_another_channels_contact_cannot_be_revealed(
    channel: Channel, other_channel: Channel
) -> None:
    theirs = kim(other_channel)

    answer = reveal(manager_client(channel, "owner"), theirs, "profile.email")

    assert answer.status_code == 404
    assert not AuditEvent.objects.exists()


# --- search and sorting ---------------------------------------------------------------------


def test_a_basic_manager_finds_a_contact_by_a_whole_email_never_by_a_part(
    channel: Channel,
) -> None:
    contact = kim(channel)
    basic = manager_client(channel, "basic")
    row = f'href="/admin/contacts/contact/{contact.pk}/change/'

    assert row in changelist(basic, q="ABCDEF@Example.com")
    assert row in changelist(basic, q=" abcdef@example.com ")
    assert row not in changelist(basic, q="abcdef@example")
    assert row not in changelist(basic, q="abcde@example.com")
    assert row in changelist(manager_client(channel, "owner"), q="abcdef@exa")


def test_a_masked_name_is_found_by_the_whole_name_only(channel: Channel) -> None:
    sensitive(channel, "profile.name")
    contact = kim(channel)
    basic, owner = manager_client(channel, "basic"), manager_client(channel, "owner")
    row = f'href="/admin/contacts/contact/{contact.pk}/change/'

    assert row in changelist(basic, q="kim minji")
    assert row not in changelist(basic, q="Minji")
    assert row in changelist(owner, q="Minji")


def test_each_channel_is_searched_as_the_managers_role_there_allows(
    channel: Channel, other_channel: Channel
) -> None:
    ours = kim(channel, profile={"email": "kima@shop.example"})
    theirs = kim(other_channel, profile={"email": "kimb@shop.example"})
    user = manager_in(channel, "owner").user
    role = crm_services.role_get(channel=other_channel, name="basic")
    Membership.objects.create(channel=other_channel, user=user, role=role)
    client = Client()
    client.force_login(user)

    def found(term: str) -> list[int]:
        response = client.get(reverse("admin:contacts_contact_changelist"), {"q": term})
        return [row.pk for row in response.context["cl"].result_list]

    assert found("kima@shop") == [ours.pk]  # may reveal there: a part finds it
    assert found("kimb@shop") == []  # basic there: never a part
    assert found("kimb@shop.example") == [theirs.pk]


def test_a_masked_last_seen_is_not_offered_for_sorting_nor_sorted_by(channel: Channel) -> None:
    sensitive(channel, "lastSeenAt")
    ContactFactory.create_batch(2, channel=channel)
    basic, owner = manager_client(channel, "basic"), manager_client(channel, "owner")
    url = reverse("admin:contacts_contact_changelist")
    column = str(owner.get(url).context["cl"].list_display.index("last_seen_at_listed"))

    sorted_basic = basic.get(url, {"o": f"-{column}"})
    sorted_owner = owner.get(url, {"o": f"-{column}"})

    assert f"o=-{column}" not in basic.get(url).content.decode()
    assert ' ORDER BY "contacts_contact"."id" DESC' in str(
        sorted_basic.context["cl"].result_list.query
    )
    assert "last_seen_at" in str(sorted_owner.context["cl"].result_list.query).split("ORDER BY")[1]


# --- editing, history, deleting -------------------------------------------------------------


def test_masked_tags_are_neither_shown_nor_required_and_stay_as_they_are(
    channel: Channel,
) -> None:
    sensitive(channel, "tags")
    contact = kim(channel, tags=["withdrawn"])
    client = manager_client(channel, "basic")

    body = change_page(client, contact)
    saved = client.post(
        reverse("admin:contacts_contact_change", args=[contact.pk]), {"unsubscribe_email": "on"}
    )

    assert "withdrawn" not in body and 'name="tags"' not in body
    assert saved.status_code == 302
    contact.refresh_from_db()
    assert (contact.tags, contact.unsubscribe_email) == (["withdrawn"], True)


def test_the_history_names_a_contact_by_its_id_only(channel: Channel) -> None:
    sensitive(channel, "profile.name")
    contact = kim(channel)
    client = manager_client(channel, "basic")

    client.post(reverse("admin:contacts_contact_change", args=[contact.pk]), {"tags": "vip"})
    history = client.get(reverse("admin:contacts_contact_history", args=[contact.pk]))
    index = client.get(reverse("admin:index"))

    entry = LogEntry.objects.get()
    assert (entry.object_repr, entry.get_change_message()) == (
        f"Contact #{contact.pk}",
        "Changed tags.",
    )
    for body in (history.content.decode(), index.content.decode()):
        assert "Kim Minji" not in body and f"Contact #{contact.pk}" in body


def test_the_history_written_before_names_contacts_by_id_once_migrated(channel: Channel) -> None:
    from django.contrib.contenttypes.models import ContentType

    contact = kim(channel)
    entry = LogEntry.objects.create(
        user=UserFactory(),
        content_type=ContentType.objects.get_for_model(Contact),
        object_id=str(contact.pk),
        object_repr="Kim Minji",
        action_flag=2,
    )
    migration = importlib.import_module(
        "contacts.migrations.0007_admin_history_without_contact_values"
    )

    migration.contact_entries_by_id(apps, None)

    entry.refresh_from_db()
    assert entry.object_repr == f"Contact #{contact.pk}"


def test_the_delete_confirmation_lists_masked_contacts_and_counts_what_goes_with_them(
    channel: Channel,
) -> None:
    sensitive(channel, "profile.name")
    contact = kim(channel)
    contact_event_track(contact=contact, name="Checkout", properties={"to": "Kim Minji"})
    client = manager_client(channel, "owner")
    url = reverse("admin:contacts_contact_delete", args=[contact.pk])

    body = client.get(url).content.decode()

    assert f"Contact #{contact.pk}</a> ({FULL_MASK})" in body
    assert "Kim Minji" not in body and "Checkout" not in body
    assert "<li>Events: 1</li>" in body and "<li>Contacts: 1</li>" in body
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()


def test_a_bulk_delete_is_refused_where_the_manager_may_not_delete(
    channel: Channel, other_channel: Channel
) -> None:
    ours, theirs = kim(channel), kim(other_channel)
    user = manager_in(channel, "owner").user
    role = crm_services.role_get(channel=other_channel, name="basic")
    Membership.objects.create(channel=other_channel, user=user, role=role)
    client = Client()
    client.force_login(user)
    form = {"action": "delete_selected", "_selected_action": [ours.pk, theirs.pk], "post": "yes"}

    response = client.post(reverse("admin:contacts_contact_changelist"), form)

    assert response.status_code == 403
    assert Contact.objects.filter(pk__in=[ours.pk, theirs.pk]).count() == 2


# --- events and segments --------------------------------------------------------------------


def test_an_events_properties_are_masked_as_free_text(channel: Channel) -> None:
    sensitive(channel, "profile.name")
    contact = kim(channel)
    event = contact_event_track(
        contact=contact,
        name="Checkout",
        properties={"note": f"Kim Minji, 010-1234-5678, {EMAIL}", "total": 12000},
    )

    for role in ("basic", "owner"):
        page = manager_client(channel, role).get(
            reverse("admin:contacts_event_change", args=[event.pk])
        )
        body = page.content.decode()
        assert "Kim Minji" not in body and "1234-5678" not in body and EMAIL not in body
        assert "010-****-5678" in body and "12000" in body


def segment_of(channel: Channel) -> Segment:
    field_in(channel, "secretCode", sensitive=True)
    return segment_create(
        viewer=Viewer(channel=channel, permissions=ALL_PERMISSIONS),
        name="Found",
        filter={
            "and": [
                {"key": "profile.secretCode", "operator": "in", "values": ["s-111", "s-222"]},
                {"key": "tags", "operator": "hasAny", "values": ["vip"]},
            ]
        },
    )


def test_a_segments_filter_is_shown_masked_to_a_manager_who_may_not_reveal(
    channel: Channel,
) -> None:
    segment = segment_of(channel)
    url = reverse("admin:contacts_segment_change", args=[segment.pk])

    basic = manager_client(channel, "basic").get(url).content.decode()
    owner = manager_client(channel, "owner").get(url).content.decode()

    assert "s-111" not in basic and "s-222" not in basic and FULL_MASK in basic
    assert "s-111" in owner


def test_conditions_left_as_shown_get_their_stored_values_back(channel: Channel) -> None:
    from contacts.admin.segments import filter_unmasked
    from masking.policy import policy_for

    segment = segment_of(channel)
    policy = policy_for(Viewer(channel=channel, permissions=frozenset()))
    shown = policy.filter_object(segment.filter)
    assert shown["and"][0]["values"] == [FULL_MASK, FULL_MASK]
    shown["and"][1]["values"] = ["gold"]
    shown["and"].append(
        {"key": "profile.secretCode", "operator": "eq", "values": ["s-333"]}  # typed whole
    )

    restored = filter_unmasked(shown, stored=segment.filter, policy=policy)

    assert restored == {
        "and": [
            {"key": "profile.secretCode", "operator": "in", "values": ["s-111", "s-222"]},
            {"key": "tags", "operator": "hasAny", "values": ["gold"]},
            {"key": "profile.secretCode", "operator": "eq", "values": ["s-333"]},
        ]
    }


def test_a_masked_value_typed_into_a_new_condition_is_refused(channel: Channel) -> None:
    segment = segment_of(channel)
    client = manager_client(channel, "basic")
    url = reverse("admin:contacts_segment_change", args=[segment.pk])
    edited = {"key": "profile.secretCode", "operator": "eq", "values": [FULL_MASK]}

    refused = client.post(url, {"name": "Found", "filter": json.dumps(edited)})

    assert refused.status_code == 200
    assert "profile.secretCode is masked for you" in refused.content.decode()
    segment.refresh_from_db()
    assert segment.filter["and"][0]["values"] == ["s-111", "s-222"]


def test_the_contacts_own_values_are_masked_in_free_text_even_when_no_phone_or_email_is(
    channel: Channel,
) -> None:
    ProfileField.objects.filter(
        channel=channel, key__in=["profile.email", "profile.mobileNumber"]
    ).update(sensitive=False)
    sensitive(channel, "profile.name")
    contact = kim(channel)
    event = contact_event_track(
        contact=contact, name="Checkout", properties={"note": "for Kim Minji", "phone": MOBILE}
    )

    body = (
        manager_client(channel, "basic")
        .get(reverse("admin:contacts_event_change", args=[event.pk]))
        .content.decode()
    )

    assert "Kim Minji" not in body and f"for {FULL_MASK}" in body
    assert MOBILE in body  # the channel shows phone numbers: free text keeps them


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["basic", "owner"])
def test_the_device_id_is_never_shown(channel: Channel, role: str) -> None:
    """A boot with the device id alone reads the contact it names: it is a credential."""
    contact = ContactFactory(channel=channel, veil_id="veil-credential-7f3a9c", profile={})
    page = change_page(manager_client(channel, role), contact)
    assert "veil-credential-7f3a9c" not in page
