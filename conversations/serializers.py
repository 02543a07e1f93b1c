"""Shapes of the user-chats endpoints (docs/api.md): request types checked here, rules in the
service.

The response serializers document the output in the OpenAPI schema; the output itself is built
by conversations.representation."""

from __future__ import annotations

from rest_framework import serializers

from conversations.models import ConversationState, Medium
from crm.api import ApiErrorSerializer

LIST_LIMIT_MAX = 500
LIST_LIMIT_DEFAULT = 25


class UserChatListQuerySerializer(serializers.Serializer):
    sortOrder = serializers.ChoiceField(
        choices=["desc", "asc"], default="desc", help_text="desc: newest first; asc: oldest first."
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=LIST_LIMIT_MAX, default=LIST_LIMIT_DEFAULT
    )
    since = serializers.CharField(
        required=False, allow_blank=True, help_text="The `next` cursor of the previous page."
    )


class MessageWriteSerializer(serializers.Serializer):
    plainText = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="1 to 10,000 characters; required for chat, optional for meets and phone, "
        "left out for Kakao (the template's text is sent).",
    )


class UserChatCreateSerializer(serializers.Serializer):
    medium = serializers.ChoiceField(choices=Medium.values)
    message = MessageWriteSerializer(required=False, allow_null=True)
    templateId = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=64,
        help_text="Kakao media only: the code of an approved template of the channel.",
    )
    variables = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        allow_null=True,
        help_text="Kakao media only: a value (string or number) for every #{name} of the "
        "template, and no other.",
    )


class StartedBySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["manager", "api"])
    id = serializers.CharField(allow_null=True, help_text="null once the starter is deleted.")
    name = serializers.CharField()


class FirstMessageSerializer(serializers.Serializer):
    plainText = serializers.CharField(
        help_text="Free text, masked: where the channel marks mobile numbers or emails "
        "sensitive, every phone number or email in it, and any of the customer's own sensitive "
        "values, show masked (for every role; stored as written)."
    )
    createdAt = serializers.IntegerField(help_text="Epoch milliseconds.")


class UserChatSerializer(serializers.Serializer):
    id = serializers.CharField()
    channelId = serializers.CharField()
    userId = serializers.CharField()
    medium = serializers.ChoiceField(choices=Medium.values)
    state = serializers.ChoiceField(choices=ConversationState.values)
    startedBy = StartedBySerializer()
    firstMessage = FirstMessageSerializer()
    createdAt = serializers.IntegerField(help_text="Epoch milliseconds.")
    updatedAt = serializers.IntegerField(help_text="Epoch milliseconds.")
    closedAt = serializers.IntegerField(allow_null=True, help_text="Epoch milliseconds.")


class UserChatResponseSerializer(serializers.Serializer):
    userChat = UserChatSerializer()


class UserChatListResponseSerializer(serializers.Serializer):
    userChats = UserChatSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="null on the last page.")


# The error shape of the API (docs/api.md), shared by every endpoint.
ErrorSerializer = ApiErrorSerializer
