"""/open/v5/users/{id}/user-chats: starting a conversation and listing a user's conversations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from contacts.models import Contact
from conversations import services
from conversations.models import Conversation, Message, OutboxMessage
from crm.api import epoch_ms
from crm.models import Channel, Plan
from crm.permissions import Permission
from profile_schema.models import Masking, ProfileField
from profile_schema.services import profile_field_update
from tests.conversations.factories import (
    MOBILE,
    ApiClient,
    KakaoTemplateFactory,
    channel_connect,
    customer,
    role_with,
    written,
)
from tests.crm.factories import ChannelFactory, manager_in

PLAN_REQUIRED = {
    "type": "plan_required",
    "message": "Starting a new chat or conversation needs the paid plan; this channel is on the "
    "free plan. Upgrade the channel's plan to use it.",
    "errors": [],
}


@pytest.fixture
def shop(channel: Channel) -> Channel:
    return channel_connect(channel)


@pytest.fixture
def api(shop: Channel) -> ApiClient:
    return ApiClient(shop)


def user_chat(conversation: Conversation, started_by: dict[str, Any]) -> dict[str, Any]:
    """The userChat object CONVERSATION should be, read back from the database."""
    conversation.refresh_from_db()
    first = Message.objects.filter(conversation=conversation).order_by("created_at", "id")[0]
    return {
        "id": str(conversation.pk),
        "channelId": str(conversation.channel_id),
        "userId": str(conversation.contact_id),
        "medium": conversation.medium,
        "state": "opened",
        "startedBy": started_by,
        "firstMessage": {"plainText": first.plain_text, "createdAt": epoch_ms(first.created_at)},
        "createdAt": epoch_ms(conversation.created_at),
        "updatedAt": epoch_ms(conversation.updated_at),
        "closedAt": None,
    }


# --- POST: start -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_post_starts_a_chat_and_answers_the_user_chat(shop: Channel, api: ApiClient) -> None:
    kim = customer(shop)

    response = api.post(
        f"users/{kim.pk}/user-chats", {"medium": "chat", "message": {"plainText": "안녕하세요"}}
    )

    assert response.status_code == 201, response.json()
    conversation = Conversation.objects.get()
    assert response.json() == {
        "userChat": user_chat(
            conversation, {"type": "api", "id": str(api.credential.pk), "name": "Shop sync"}
        )
    }
    assert response.json()["userChat"]["firstMessage"]["plainText"] == "안녕하세요"
    assert OutboxMessage.objects.get().conversation_id == conversation.pk
    assert Contact.objects.get(pk=kim.pk).has_chat is True
    assert response["x-ratelimit-limit"] == "1200"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["basic", "owner"])
def test_a_message_is_free_text_masked_in_every_answer(shop: Channel, role: str) -> None:
    email_field = ProfileField.objects.get(channel=shop, key="profile.email")
    profile_field_update(field=email_field, masking=Masking.FULL)
    kim = customer(shop, mobileNumber="+821055512345", email="leak-marker-7f3a@example.com")
    api = ApiClient(shop, role)
    text = (
        "Kim, we called 010-5551-2345 and wrote to leak-marker-7f3a@example.com; "
        "our desk is at desk@shop.example or 02-555-1234."
    )

    started = api.post(
        f"users/{kim.pk}/user-chats", {"medium": "chat", "message": {"plainText": text}}
    )
    listed = api.get(f"users/{kim.pk}/user-chats")

    assert (started.status_code, listed.status_code) == (201, 200)
    # Every phone number and email in the text (full masking of emails here), not only Kim's.
    masked = (
        "Kim, we called 010-****-2345 and wrote to ********; "
        "our desk is at ******** or 02-***-1234."
    )
    assert started.json()["userChat"]["firstMessage"]["plainText"] == masked
    assert listed.json()["userChats"][0]["firstMessage"]["plainText"] == masked
    for body in (started.content.decode(), listed.content.decode()):
        assert "leak-marker" not in body and "5551" not in body and "desk@" not in body
    assert Message.objects.get().plain_text == text  # stored as written


@pytest.mark.django_db
def test_a_manager_session_starts_as_the_manager(shop: Channel) -> None:
    user = manager_in(shop, "basic", first_name="Jiwoo", last_name="Park").user
    client = Client()
    client.force_login(user)
    kim = customer(shop)

    response = client.post(
        f"/open/v5/users/{kim.pk}/user-chats",
        {"medium": "voiceMeet"},
        content_type="application/json",
    )

    assert response.status_code == 201, response.json()
    assert response.json() == {
        "userChat": user_chat(
            Conversation.objects.get(),
            {"type": "manager", "id": str(user.pk), "name": "Jiwoo Park"},
        )
    }
    assert response.json()["userChat"]["firstMessage"]["plainText"] == "Voice meet started."


@pytest.mark.django_db
def test_post_sends_an_alimtalk_with_the_rendered_template(shop: Channel, api: ApiClient) -> None:
    KakaoTemplateFactory(channel=shop, code="order-shipped")
    kim = customer(shop, mobileNumber=MOBILE)

    response = api.post(
        f"users/{kim.pk}/user-chats",
        {
            "medium": "kakaoAlimtalk",
            "templateId": "order-shipped",
            "variables": {"name": "김지우", "orderId": "A-1001"},
        },
    )

    assert response.status_code == 201, response.json()
    assert response.json()["userChat"]["medium"] == "kakaoAlimtalk"
    assert response.json()["userChat"]["firstMessage"]["plainText"] == (
        "김지우님, 주문 A-1001이(가) 발송되었습니다."
    )


@pytest.mark.django_db
def test_post_on_the_free_plan_is_plan_required_and_changes_nothing() -> None:
    free = channel_connect(ChannelFactory(plan=Plan.FREE))
    kim = customer(free, mobileNumber=MOBILE)
    before = written(kim)

    response = ApiClient(free).post(
        f"users/{kim.pk}/user-chats", {"medium": "chat", "message": {"plainText": "hello"}}
    )

    assert response.status_code == 403
    assert response.json() == PLAN_REQUIRED
    assert written(kim) == before
    assert Contact.objects.get(pk=kim.pk).has_chat is False


@pytest.mark.django_db
def test_plan_required_comes_before_the_body_is_read() -> None:
    free = ChannelFactory(plan=Plan.FREE)
    kim = customer(free)

    response = ApiClient(free).post(f"users/{kim.pk}/user-chats", {"medium": "fax"})

    assert (response.status_code, response.json()) == (403, PLAN_REQUIRED)


@pytest.mark.django_db
def test_post_without_conversation_start_is_permission_denied(shop: Channel) -> None:
    client = ApiClient(shop, role_with(shop, Permission.CONTACTS_VIEW))
    kim = customer(shop)
    before = written(kim)

    response = client.post(
        f"users/{kim.pk}/user-chats", {"medium": "chat", "message": {"plainText": "hello"}}
    )

    assert response.status_code == 403
    assert response.json() == {
        "type": "permission_denied",
        "message": "Your role lacks the conversation_start permission needed for this.",
        "errors": [],
    }
    assert written(kim) == before


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_channels_user_is_not_found(
    shop: Channel, api: ApiClient, other_channel: Channel, method: str
) -> None:
    theirs = customer(other_channel)
    before = written(theirs)

    if method == "get":
        response = api.get(f"users/{theirs.pk}/user-chats")
    else:
        response = api.post(
            f"users/{theirs.pk}/user-chats", {"medium": "chat", "message": {"plainText": "hi"}}
        )

    assert response.status_code == 404
    assert response.json() == {"type": "not_found", "message": "Not found.", "errors": []}
    assert written(theirs) == before


@pytest.mark.django_db
@pytest.mark.parametrize("user_id", ["abc", "99999999999999999999", "\uff11\uff12"])
def test_an_id_that_is_no_id_is_not_found(api: ApiClient, user_id: str) -> None:
    response = api.get(f"users/{id}/user-chats")

    assert (response.status_code, response.json()["type"]) == (404, "not_found")


@pytest.mark.django_db
def test_an_unavailable_medium_is_400_with_every_reason(channel: Channel) -> None:
    channel_connect(channel, phone="")
    kim = customer(channel, email="kim@shop.example")
    before = written(kim)

    response = ApiClient(channel).post(
        f"users/{kim.pk}/user-chats", {"medium": "phone", "message": {"plainText": "hello"}}
    )

    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "message": "2 problems (medium, contact); each is listed under errors.",
        "errors": [
            {
                "key": "medium",
                "code": "phone_number_missing",
                "message": "Phone calls need the channel's issued phone number, and none is set "
                "(integrations settings).",
            },
            {
                "key": "contact",
                "code": "no_phone_number",
                "message": "The customer has no profile.mobileNumber or profile.landlineNumber "
                "to call.",
            },
        ],
    }
    assert written(kim) == before


@pytest.mark.django_db
def test_missing_template_variables_are_named(shop: Channel, api: ApiClient) -> None:
    KakaoTemplateFactory(channel=shop, code="order-shipped")
    kim = customer(shop, mobileNumber=MOBILE)

    response = api.post(
        f"users/{kim.pk}/user-chats",
        {"medium": "kakaoAlimtalk", "templateId": "order-shipped", "variables": {"name": "Kim"}},
    )

    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "message": "Template 'order-shipped' needs a value for #{orderId}.",
        "errors": [
            {
                "key": "variables.orderId",
                "code": "required",
                "message": "Template 'order-shipped' needs a value for #{orderId}.",
            }
        ],
    }
    assert Conversation.objects.count() == 0


@pytest.mark.django_db
def test_an_unknown_medium_is_a_validation_error(shop: Channel, api: ApiClient) -> None:
    kim = customer(shop)

    response = api.post(f"users/{kim.pk}/user-chats", {"medium": "fax"})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "key": "medium",
            "code": "invalid_choice",
            "message": 'medium: "fax" is not a valid choice.',
        }
    ]


@pytest.mark.django_db
def test_without_credentials_it_is_401(shop: Channel) -> None:
    kim = customer(shop)

    response = Client().post(
        f"/open/v5/users/{kim.pk}/user-chats", {"medium": "chat"}, content_type="application/json"
    )

    assert response.status_code == 401
    assert response.json()["type"] == "authentication_failed"
    assert Conversation.objects.count() == 0


# --- GET: list ---------------------------------------------------------------------------------


def conversations_of(contact: Contact, count: int) -> list[Conversation]:
    """COUNT chats with CONTACT, one a minute apart from an hour ago, oldest first."""
    viewer = ApiClient(contact.channel, name="seeder").viewer
    start = timezone.now() - timedelta(hours=1)
    made = []
    for index in range(count):
        conversation = services.conversation_start(
            viewer=viewer, contact=contact, medium="chat", message_text=f"message {index}"
        ).conversation
        Conversation.objects.filter(pk=conversation.pk).update(
            created_at=start + timedelta(minutes=index)
        )
        made.append(conversation)
    return made


@pytest.mark.django_db
@pytest.mark.parametrize("order", ["desc", "asc"])
def test_the_list_pages_through_every_conversation_once(
    shop: Channel, api: ApiClient, order: str
) -> None:
    kim = customer(shop)
    made = conversations_of(kim, 5)
    customer_other = customer(shop)
    conversations_of(customer_other, 2)
    expected = [str(c.pk) for c in (reversed(made) if order == "desc" else made)]

    pages, since = [], None
    for _ in range(4):
        params: dict[str, Any] = {"sortOrder": order, "limit": 2}
        if since:
            params["since"] = since
        response = api.get(f"users/{kim.pk}/user-chats", **params)
        assert response.status_code == 200, response.json()
        pages.append([chat["id"] for chat in response.json()["userChats"]])
        since = response.json()["next"]
        if since is None:
            break

    assert pages == [expected[0:2], expected[2:4], expected[4:5]]


@pytest.mark.django_db
def test_the_list_answers_user_chat_objects_newest_first_by_default(
    shop: Channel, api: ApiClient
) -> None:
    kim = customer(shop)
    older, newer = conversations_of(kim, 2)
    seeder = {"type": "api", "id": str(older.started_by_credential_id), "name": "seeder"}

    response = api.get(f"users/{kim.pk}/user-chats")

    assert response.status_code == 200
    assert response.json() == {
        "userChats": [user_chat(newer, seeder), user_chat(older, seeder)],
        "next": None,
    }
    assert response.json()["userChats"][1]["firstMessage"]["plainText"] == "message 0"


@pytest.mark.django_db
def test_conversations_created_at_the_same_moment_page_by_id(shop: Channel, api: ApiClient) -> None:
    kim = customer(shop)
    made = conversations_of(kim, 4)
    Conversation.objects.filter(contact=kim).update(created_at=timezone.now())

    first = api.get(f"users/{kim.pk}/user-chats", limit=3)
    second = api.get(f"users/{kim.pk}/user-chats", limit=3, since=first.json()["next"])

    ids = [c["id"] for c in first.json()["userChats"] + second.json()["userChats"]]
    assert ids == [str(c.pk) for c in reversed(made)]
    assert second.json()["next"] is None


@pytest.mark.django_db
def test_the_list_makes_the_same_queries_for_2_or_30_conversations(
    shop: Channel, api: ApiClient
) -> None:
    few, many = customer(shop), customer(shop)
    conversations_of(few, 2)
    conversations_of(many, 30)

    api.get(f"users/{few.pk}/user-chats", limit=1)  # the credential's last use is now recorded

    with CaptureQueriesContext(connection) as for_few:
        assert api.get(f"users/{few.pk}/user-chats", limit=50).status_code == 200
    with CaptureQueriesContext(connection) as for_many:
        response = api.get(f"users/{many.pk}/user-chats", limit=50)

    assert len(response.json()["userChats"]) == 30
    # the credential, rate limit, the user, the conversations, their first messages
    assert len(for_few.captured_queries) == len(for_many.captured_queries) == 5


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "key", "code"),
    [
        ({"limit": 0}, "limit", "min_value"),
        ({"limit": 501}, "limit", "max_value"),
        ({"sortOrder": "newest"}, "sortOrder", "invalid_choice"),
        ({"since": "not-a-cursor"}, "since", "invalid_cursor"),
    ],
)
def test_bad_list_parameters_are_400(
    shop: Channel, api: ApiClient, params: dict[str, Any], key: str, code: str
) -> None:
    kim = customer(shop)

    response = api.get(f"users/{kim.pk}/user-chats", **params)

    assert response.status_code == 400
    assert [(e["key"], e["code"]) for e in response.json()["errors"]] == [(key, code)]


@pytest.mark.django_db
def test_a_cursor_of_another_order_or_user_is_refused(shop: Channel, api: ApiClient) -> None:
    kim, lee = customer(shop), customer(shop)
    conversations_of(kim, 3)
    since = api.get(f"users/{kim.pk}/user-chats", limit=1).json()["next"]

    other_order = api.get(f"users/{kim.pk}/user-chats", limit=1, sortOrder="asc", since=since)
    other_user = api.get(f"users/{lee.pk}/user-chats", limit=1, since=since)

    assert other_order.json()["errors"][0]["message"] == (
        "The cursor belongs to another list or order."
    )
    assert other_user.status_code == 400


@pytest.mark.django_db
def test_listing_needs_contacts_view(shop: Channel) -> None:
    kim = customer(shop)
    conversations_of(kim, 1)
    client = ApiClient(shop, role_with(shop, Permission.CONVERSATION_START))

    response = client.get(f"users/{kim.pk}/user-chats")

    assert response.status_code == 403
    assert response.json() == {
        "type": "permission_denied",
        "message": "Your role lacks the contacts_view permission needed for this.",
        "errors": [],
    }


@pytest.mark.django_db
def test_the_free_plan_can_still_list_conversations() -> None:
    free = ChannelFactory(plan=Plan.FREE)
    kim = customer(free)

    response = ApiClient(free).get(f"users/{kim.pk}/user-chats")

    assert (response.status_code, response.json()) == (200, {"userChats": [], "next": None})


# --- OpenAPI -----------------------------------------------------------------------------------


def test_the_schema_documents_both_operations_and_every_status() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)

    operations = schema["paths"]["/open/v5/users/{id}/user-chats"]
    assert sorted(operations["get"]["responses"]) == [
        "200",
        "400",
        "401",
        "403",
        "404",
        "429",
        "503",
    ]
    assert sorted(operations["post"]["responses"]) == [
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
    body = schema["components"]["schemas"]["UserChatCreate"]
    assert sorted(body["properties"]) == ["medium", "message", "templateId", "variables"]
    assert body["required"] == ["medium"]
    user_chat_schema = schema["components"]["schemas"]["UserChat"]
    assert sorted(user_chat_schema["properties"]) == sorted(
        [
            "id",
            "channelId",
            "userId",
            "medium",
            "state",
            "startedBy",
            "firstMessage",
            "createdAt",
            "updatedAt",
            "closedAt",
        ]
    )
    assert [p["name"] for p in operations["get"]["parameters"]] == [
        "id",
        "limit",
        "since",
        "sortOrder",
    ]
