"""conversation_start: plan gating, medium availability, reachability, the rows it writes."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from contacts.models import Contact
from conversations import services
from conversations.models import Conversation, Message, OutboxMessage
from crm.errors import InvalidInput
from crm.models import Channel, KakaoTemplateKind, Plan
from crm.permissions import Permission, Viewer
from tests.conversations.factories import (
    CHANNEL_PHONE,
    KAKAO_CHANNEL,
    LANDLINE,
    MOBILE,
    ApiClient,
    KakaoTemplateFactory,
    channel_connect,
    customer,
    manager_viewer,
    role_with,
    written,
)
from tests.crm.factories import ChannelFactory

ALL_MEDIA = ["chat", "voiceMeet", "videoMeet", "phone", "kakaoAlimtalk", "kakaoBrandMessage"]
VARIABLES = {"name": "김지우", "orderId": "A-1001"}
SHIPPED_TEXT = "김지우님, 주문 A-1001이(가) 발송되었습니다."


@pytest.fixture
def shop(channel: Channel) -> Channel:
    """A paid channel with an issued phone number and a connected Kakao channel."""
    return channel_connect(channel)


@pytest.fixture
def owner(shop: Channel) -> Viewer:
    return manager_viewer(shop, first_name="Jiwoo", last_name="Park")


def start(viewer: Viewer, contact: Contact, medium: str, text: str = "", **more: Any) -> Any:
    return services.conversation_start(
        viewer=viewer, contact=contact, medium=medium, message_text=text, **more
    )


def refusal(viewer: Viewer, contact: Contact, medium: str, text: str = "", **more: Any) -> Any:
    """Start and expect a refusal that wrote nothing; returns [(key, code)] of its problems."""
    before = written(contact)
    with pytest.raises(InvalidInput) as refused:
        start(viewer, contact, medium, text, **more)
    assert written(contact) == before
    return [(problem.key, problem.code) for problem in refused.value.problems]


def kakao_args(code: str, **variables: Any) -> dict[str, Any]:
    return {"template_code": code, "variables": variables or VARIABLES}


# --- what a started conversation writes -------------------------------------------------------


@pytest.mark.django_db
def test_a_chat_writes_the_conversation_its_first_message_and_its_outbox_row(
    shop: Channel, owner: Viewer
) -> None:
    kim = customer(shop)
    assert kim.type == "anonymous"
    before = timezone.now()

    started = start(owner, kim, "chat", "안녕하세요, 주문 건으로 연락드립니다.")

    conversation = Conversation.objects.get()
    message = Message.objects.get()
    outbox = OutboxMessage.objects.get()
    assert started == services.StartedConversation(conversation, message, outbox)
    assert owner.user is not None
    assert (
        conversation.channel_id,
        conversation.contact_id,
        conversation.medium,
        conversation.state,
        conversation.started_by_type,
        conversation.started_by_id,
        conversation.started_by_credential_id,
        conversation.kakao_template_id,
        conversation.kakao_variables,
        conversation.closed_at,
    ) == (shop.pk, kim.pk, "chat", "opened", "manager", owner.user.pk, None, None, {}, None)
    assert (
        message.channel_id,
        message.conversation_id,
        message.author_kind,
        message.author_user_id,
        message.plain_text,
    ) == (
        shop.pk,
        conversation.pk,
        "manager",
        owner.user.pk,
        "안녕하세요, 주문 건으로 연락드립니다.",
    )
    assert (
        outbox.channel_id,
        outbox.conversation_id,
        outbox.message_id,
        outbox.medium,
        outbox.status,
        outbox.attempts,
        outbox.last_error,
        outbox.sent_at,
    ) == (shop.pk, conversation.pk, message.pk, "chat", "pending", 0, "", None)
    assert before <= outbox.next_attempt_at <= timezone.now()
    assert outbox.payload == {
        "medium": "chat",
        "channelId": str(shop.pk),
        "conversationId": str(conversation.pk),
        "messageId": str(message.pk),
        "userId": str(kim.pk),
        "from": None,
        "to": None,
        "plainText": "안녕하세요, 주문 건으로 연락드립니다.",
        "template": None,
    }
    kim.refresh_from_db()
    assert (kim.has_chat, kim.type) == (True, "lead")


@pytest.mark.django_db
def test_has_chat_is_written_once_a_second_conversation_leaves_the_contact_alone(
    shop: Channel, owner: Viewer
) -> None:
    kim = customer(shop)
    start(owner, kim, "chat", "first")
    kim.refresh_from_db()
    updated_at = kim.updated_at

    start(owner, kim, "videoMeet")

    kim.refresh_from_db()
    assert (kim.has_chat, kim.updated_at) == (True, updated_at)
    assert Conversation.objects.filter(contact=kim).count() == 2


@pytest.mark.django_db
def test_a_failed_outbox_write_leaves_no_conversation_behind(
    shop: Channel, owner: Viewer, monkeypatch: pytest.MonkeyPatch
) -> None:
    kim = customer(shop)
    before = written(kim)

    def broken(**fields: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(OutboxMessage.objects, "create", broken)
    with pytest.raises(RuntimeError):
        start(owner, kim, "chat", "hello")

    assert written(kim) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("medium", "text", "author", "first_text"),
    [
        ("voiceMeet", "", "system", "Voice meet started."),
        ("videoMeet", "  ", "system", "Video meet started."),
        (
            "videoMeet",
            "화면 공유로 설정을 도와드릴게요.",
            "manager",
            "화면 공유로 설정을 도와드릴게요.",
        ),
    ],
)
def test_a_meet_opens_with_the_note_or_a_system_message(
    shop: Channel, owner: Viewer, medium: str, text: str, author: str, first_text: str
) -> None:
    kim = customer(shop)

    started = start(owner, kim, medium, text)

    assert started.conversation.medium == medium
    message = Message.objects.get()
    expected_user = owner.user.pk if author == "manager" else None  # type: ignore[union-attr]
    assert (message.author_kind, message.author_user_id, message.plain_text) == (
        author,
        expected_user,
        first_text,
    )
    assert started.outbox.payload["to"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("profile", "number"),
    [
        ({"mobileNumber": MOBILE, "landlineNumber": LANDLINE}, MOBILE),
        ({"landlineNumber": LANDLINE}, LANDLINE),
    ],
)
def test_a_phone_call_goes_from_the_channels_number_to_the_customers(
    shop: Channel, owner: Viewer, profile: dict[str, str], number: str
) -> None:
    kim = customer(shop, **profile)

    started = start(owner, kim, "phone", "배송 문의 건으로 전화드립니다.")

    assert started.conversation.medium == "phone"
    assert started.first_message.plain_text == "배송 문의 건으로 전화드립니다."
    assert (started.outbox.payload["from"], started.outbox.payload["to"]) == (CHANNEL_PHONE, number)
    assert Contact.objects.get(pk=kim.pk).has_chat is True


@pytest.mark.django_db
def test_an_alimtalk_stores_the_rendered_template_and_its_variables(
    shop: Channel, owner: Viewer
) -> None:
    template = KakaoTemplateFactory(channel=shop, code="order-shipped")
    kim = customer(shop, mobileNumber=MOBILE)

    started = start(owner, kim, "kakaoAlimtalk", **kakao_args("order-shipped"))

    conversation = Conversation.objects.get()
    assert (
        conversation.medium,
        conversation.kakao_template_id,
        conversation.kakao_variables,
    ) == ("kakaoAlimtalk", template.pk, VARIABLES)
    assert Message.objects.get().plain_text == SHIPPED_TEXT
    assert started.outbox.payload == {
        "medium": "kakaoAlimtalk",
        "channelId": str(shop.pk),
        "conversationId": str(conversation.pk),
        "messageId": str(started.first_message.pk),
        "userId": str(kim.pk),
        "from": KAKAO_CHANNEL,
        "to": MOBILE,
        "plainText": SHIPPED_TEXT,
        "template": {"code": "order-shipped", "kind": "alimtalk", "variables": VARIABLES},
    }


@pytest.mark.django_db
def test_template_variables_take_numbers_and_are_not_rendered_twice(
    shop: Channel, owner: Viewer
) -> None:
    KakaoTemplateFactory(channel=shop, code="order-shipped")
    kim = customer(shop, mobileNumber=MOBILE)

    start(
        owner,
        kim,
        "kakaoAlimtalk",
        template_code="order-shipped",
        variables={"name": "#{orderId}", "orderId": 1001},
    )

    assert Message.objects.get().plain_text == "#{orderId}님, 주문 1001이(가) 발송되었습니다."
    assert Conversation.objects.get().kakao_variables == {"name": "#{orderId}", "orderId": "1001"}


@pytest.mark.django_db
def test_a_brand_message_goes_to_a_customer_who_accepts_marketing_texts(
    shop: Channel, owner: Viewer
) -> None:
    KakaoTemplateFactory(
        channel=shop,
        code="spring-sale",
        kind=KakaoTemplateKind.BRAND_MESSAGE,
        body="#{name}님, 봄 세일이 시작되었습니다!",
    )
    kim = customer(shop, mobileNumber=MOBILE)

    started = start(
        owner, kim, "kakaoBrandMessage", template_code="spring-sale", variables={"name": "지우"}
    )

    assert started.conversation.medium == "kakaoBrandMessage"
    assert started.first_message.plain_text == "지우님, 봄 세일이 시작되었습니다!"
    assert started.outbox.payload["template"] == {
        "code": "spring-sale",
        "kind": "brandMessage",
        "variables": {"name": "지우"},
    }


@pytest.mark.django_db
def test_an_api_credential_starts_as_itself(shop: Channel) -> None:
    api = ApiClient(shop)
    kim = customer(shop)

    started = start(api.viewer, kim, "chat", "Your order shipped.")

    conversation = started.conversation
    assert (
        conversation.started_by_type,
        conversation.started_by_id,
        conversation.started_by_credential_id,
    ) == ("api", None, api.credential.pk)
    assert (started.first_message.author_kind, started.first_message.author_user_id) == (
        "manager",
        None,
    )


# --- plan, permission, tenant ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("medium", ALL_MEDIA)
def test_the_free_plan_refuses_every_medium_and_changes_nothing(medium: str) -> None:
    free = channel_connect(ChannelFactory(plan=Plan.FREE))
    KakaoTemplateFactory(channel=free, code="order-shipped")
    kim = customer(free, mobileNumber=MOBILE)
    before = written(kim)

    with pytest.raises(services.PlanRequired) as refused:
        start(
            manager_viewer(free),
            kim,
            medium,
            "hello",
            **(kakao_args("order-shipped") if "kakao" in medium else {}),
        )

    assert refused.value.message == (
        "Starting a new chat or conversation needs the paid plan; this channel is on the free "
        "plan. Upgrade the channel's plan to use it."
    )
    assert written(kim) == before
    assert before[3] is False


@pytest.mark.django_db
def test_a_role_without_conversation_start_is_refused_and_changes_nothing(shop: Channel) -> None:
    viewer = manager_viewer(shop, role_with(shop, Permission.CONTACTS_VIEW))
    kim = customer(shop)
    before = written(kim)

    with pytest.raises(PermissionDenied, match="lacks the conversation_start permission"):
        start(viewer, kim, "chat", "hello")

    assert written(kim) == before


@pytest.mark.django_db
def test_another_channels_contact_is_not_found(
    shop: Channel, owner: Viewer, other_channel: Channel
) -> None:
    theirs = customer(other_channel)
    before = written(theirs)

    with pytest.raises(Http404):
        start(owner, theirs, "chat", "hello")

    assert written(theirs) == before


# --- medium availability and reachability: every reason, nothing written ------------------------


@pytest.mark.django_db
def test_phone_needs_the_channels_phone_number(channel: Channel) -> None:
    channel_connect(channel, phone="")
    kim = customer(channel, mobileNumber=MOBILE)

    assert refusal(manager_viewer(channel), kim, "phone") == [("medium", "phone_number_missing")]


@pytest.mark.django_db
def test_phone_needs_a_number_of_the_customer(shop: Channel, owner: Viewer) -> None:
    kim = customer(shop, email="kim@shop.example")

    assert refusal(owner, kim, "phone") == [("contact", "no_phone_number")]


@pytest.mark.django_db
@pytest.mark.parametrize("medium", ["kakaoAlimtalk", "kakaoBrandMessage"])
def test_kakao_needs_a_connected_kakao_channel(channel: Channel, medium: str) -> None:
    kind = "alimtalk" if medium == "kakaoAlimtalk" else "brandMessage"
    KakaoTemplateFactory(channel=channel, code="order-shipped", kind=kind)
    kim = customer(channel, mobileNumber=MOBILE)

    problems = refusal(manager_viewer(channel), kim, medium, **kakao_args("order-shipped"))

    assert problems == [("medium", "kakao_not_connected")]


@pytest.mark.django_db
def test_kakao_needs_a_template_id(shop: Channel, owner: Viewer) -> None:
    kim = customer(shop, mobileNumber=MOBILE)

    assert refusal(owner, kim, "kakaoAlimtalk") == [("templateId", "required")]


@pytest.mark.django_db
def test_an_unknown_template_is_refused_even_when_another_channel_has_it(
    shop: Channel, owner: Viewer, other_channel: Channel
) -> None:
    KakaoTemplateFactory(channel=other_channel, code="order-shipped")
    kim = customer(shop, mobileNumber=MOBILE)

    assert refusal(owner, kim, "kakaoAlimtalk", **kakao_args("order-shipped")) == [
        ("templateId", "not_found")
    ]


@pytest.mark.django_db
def test_an_unapproved_template_is_refused(shop: Channel, owner: Viewer) -> None:
    KakaoTemplateFactory(channel=shop, code="order-shipped", approved=False)
    kim = customer(shop, mobileNumber=MOBILE)

    assert refusal(owner, kim, "kakaoAlimtalk", **kakao_args("order-shipped")) == [
        ("templateId", "not_approved")
    ]


@pytest.mark.django_db
def test_a_template_of_the_other_kind_is_refused(shop: Channel, owner: Viewer) -> None:
    KakaoTemplateFactory(channel=shop, code="order-shipped", kind=KakaoTemplateKind.ALIMTALK)
    kim = customer(shop, mobileNumber=MOBILE)
    before = written(kim)

    with pytest.raises(InvalidInput) as refused:
        start(owner, kim, "kakaoBrandMessage", **kakao_args("order-shipped"))

    assert [(p.key, p.code, p.message) for p in refused.value.problems] == [
        (
            "templateId",
            "wrong_kind",
            "Template 'order-shipped' is of kind alimtalk; kakaoBrandMessage needs a template of "
            "kind brandMessage.",
        )
    ]
    assert written(kim) == before


@pytest.mark.django_db
def test_every_missing_and_unknown_variable_is_listed(shop: Channel, owner: Viewer) -> None:
    KakaoTemplateFactory(channel=shop, code="order-shipped")
    kim = customer(shop, mobileNumber=MOBILE)
    before = written(kim)

    with pytest.raises(InvalidInput) as refused:
        start(owner, kim, "kakaoAlimtalk", template_code="order-shipped", variables={"coupon": "X"})

    assert [(p.key, p.code, p.message) for p in refused.value.problems] == [
        ("variables.name", "required", "Template 'order-shipped' needs a value for #{name}."),
        (
            "variables.orderId",
            "required",
            "Template 'order-shipped' needs a value for #{orderId}.",
        ),
        (
            "variables.coupon",
            "unknown_variable",
            "Template 'order-shipped' has no #{coupon}; its variables: name, orderId.",
        ),
    ]
    assert refused.value.message == (
        "3 problems (variables.name, variables.orderId, variables.coupon); each is listed under "
        "errors."
    )
    assert written(kim) == before


@pytest.mark.django_db
def test_a_blank_or_structured_variable_is_refused(shop: Channel, owner: Viewer) -> None:
    KakaoTemplateFactory(channel=shop, code="order-shipped")
    kim = customer(shop, mobileNumber=MOBILE)

    problems = refusal(
        owner,
        kim,
        "kakaoAlimtalk",
        template_code="order-shipped",
        variables={"name": " ", "orderId": {"id": 1}},
    )

    assert problems == [("variables.name", "invalid"), ("variables.orderId", "invalid")]


@pytest.mark.django_db
@pytest.mark.parametrize("medium", ALL_MEDIA)
def test_a_blocked_customer_is_refused_on_every_medium(
    shop: Channel, owner: Viewer, medium: str
) -> None:
    kind = "brandMessage" if medium == "kakaoBrandMessage" else "alimtalk"
    KakaoTemplateFactory(channel=shop, code="order-shipped", kind=kind)
    kim = customer(shop, mobileNumber=MOBILE)
    Contact.objects.filter(pk=kim.pk).update(blocked=True, blocked_at=kim.created_at)
    kakao = kakao_args("order-shipped") if "kakao" in medium else {}
    text = "" if kakao else "hello"

    assert refusal(owner, kim, medium, text, **kakao) == [("contact", "blocked")]


@pytest.mark.django_db
@pytest.mark.parametrize("medium", ["kakaoAlimtalk", "kakaoBrandMessage"])
def test_kakao_needs_a_mobile_number_a_landline_will_not_do(
    shop: Channel, owner: Viewer, medium: str
) -> None:
    kind = "brandMessage" if medium == "kakaoBrandMessage" else "alimtalk"
    KakaoTemplateFactory(channel=shop, code="order-shipped", kind=kind)
    kim = customer(shop, landlineNumber=LANDLINE)

    assert refusal(owner, kim, medium, **kakao_args("order-shipped")) == [
        ("contact", "no_mobile_number")
    ]


@pytest.mark.django_db
def test_a_customer_who_opted_out_of_texting_gets_no_brand_message_but_an_alimtalk(
    shop: Channel, owner: Viewer
) -> None:
    KakaoTemplateFactory(channel=shop, code="sale", kind=KakaoTemplateKind.BRAND_MESSAGE)
    KakaoTemplateFactory(channel=shop, code="order-shipped")
    kim = customer(shop, mobileNumber=MOBILE)
    Contact.objects.filter(pk=kim.pk).update(unsubscribe_texting=True)

    assert refusal(owner, kim, "kakaoBrandMessage", **kakao_args("sale")) == [
        ("contact", "unsubscribed_texting")
    ]
    assert start(owner, kim, "kakaoAlimtalk", **kakao_args("order-shipped")).conversation.pk


@pytest.mark.django_db
def test_every_reason_is_listed_at_once(channel: Channel) -> None:
    KakaoTemplateFactory(channel=channel, code="order-shipped", approved=False)
    kim = customer(channel, landlineNumber=LANDLINE)
    Contact.objects.filter(pk=kim.pk).update(blocked=True, blocked_at=kim.created_at)

    problems = refusal(
        manager_viewer(channel),
        kim,
        "kakaoAlimtalk",
        "hello",
        template_code="order-shipped",
        variables={"name": "Kim"},
    )

    assert problems == [
        ("medium", "kakao_not_connected"),
        ("templateId", "not_approved"),
        ("message.plainText", "not_allowed"),
        ("variables.orderId", "required"),
        ("contact", "blocked"),
        ("contact", "no_mobile_number"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("", [("message.plainText", "required")]),
        ("   \n", [("message.plainText", "required")]),
        ("가" * 10_001, [("message.plainText", "too_long")]),
    ],
)
def test_a_chat_needs_a_message_of_1_to_10000_characters(
    shop: Channel, owner: Viewer, text: str, problems: list[tuple[str, str]]
) -> None:
    kim = customer(shop)

    assert refusal(owner, kim, "chat", text) == problems


@pytest.mark.django_db
def test_a_chat_of_exactly_10000_characters_is_sent(shop: Channel, owner: Viewer) -> None:
    started = start(owner, customer(shop), "chat", "가" * 10_000)

    assert len(started.first_message.plain_text) == 10_000


@pytest.mark.django_db
def test_an_unknown_medium_is_refused(shop: Channel, owner: Viewer) -> None:
    assert refusal(owner, customer(shop), "fax", "hello") == [("medium", "invalid_choice")]


@pytest.mark.django_db
def test_a_template_or_variables_for_another_medium_are_refused(
    shop: Channel, owner: Viewer
) -> None:
    kim = customer(shop)

    assert refusal(owner, kim, "chat", "hello", **kakao_args("order-shipped")) == [
        ("templateId", "not_allowed"),
        ("variables", "not_allowed"),
    ]
