"""Request shapes of /sdk/v1 (docs/sdk.md): checked here, values then go through the services."""

from __future__ import annotations

from rest_framework import serializers

from crm.api import ProblemSerializer


class PageSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=4096, required=False, allow_blank=True)
    referrer = serializers.CharField(max_length=4096, required=False, allow_blank=True)
    title = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class DeviceSerializer(serializers.Serializer):
    platform = serializers.ChoiceField(choices=["web", "mobile"], default="web")
    userAgent = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    appName = serializers.CharField(max_length=100, required=False, allow_blank=True)
    appVersion = serializers.CharField(max_length=32, required=False, allow_blank=True)
    os = serializers.CharField(max_length=100, required=False, allow_blank=True)
    osName = serializers.CharField(max_length=64, required=False, allow_blank=True)
    device = serializers.CharField(max_length=100, required=False, allow_blank=True)
    hasPushToken = serializers.BooleanField(required=False)


class ProfileWriteSerializer(serializers.Serializer):
    """The fields updateUser and boot share."""

    profile = serializers.DictField(required=False, allow_empty=True)
    profileOnce = serializers.DictField(required=False, allow_empty=True)
    language = serializers.CharField(max_length=16, required=False, allow_blank=True)
    unsubscribeEmail = serializers.BooleanField(required=False)
    unsubscribeTexting = serializers.BooleanField(required=False)
    tags = serializers.ListField(child=serializers.JSONField(), required=False, max_length=100)


class BootRequestSerializer(ProfileWriteSerializer):
    pluginKey = serializers.CharField(max_length=64)
    memberId = serializers.CharField(max_length=255, required=False, allow_blank=True)
    memberHash = serializers.CharField(max_length=128, required=False, allow_blank=True)
    veilId = serializers.RegexField(
        r"^[A-Za-z0-9_-]{8,64}$",
        required=False,
        allow_blank=True,
        error_messages={"invalid": "veilId is 8 to 64 letters, digits, '-' or '_'."},
    )
    page = PageSerializer(required=False)
    device = DeviceSerializer(required=False)


class EventRequestSerializer(serializers.Serializer):
    name = serializers.JSONField()
    property = serializers.JSONField(required=False)


class TagsRequestSerializer(serializers.Serializer):
    add = serializers.ListField(child=serializers.JSONField(), required=False, max_length=100)
    remove = serializers.ListField(child=serializers.JSONField(), required=False, max_length=100)


USER_HELP = (
    "The user object (docs/api.md), unmasked: the customer's own data. To a session whose boot "
    "named a memberId without a valid memberHash (unverified) only what the call sent and wrote: "
    "channelId, memberId, type, member, the profile keys this call filled (name with "
    "profile.name), language and opt-outs when it set them, masked; no id, no stored value."
)


class IgnoredSerializer(ProblemSerializer):
    """A part of the request an unverified call left out (a stored value kept, a removal, a tag
    change)."""


class UserResponseSerializer(serializers.Serializer):
    """Documents the user object (docs/api.md) in the OpenAPI schema."""

    user = serializers.DictField(help_text=USER_HELP)
    ignored = IgnoredSerializer(
        many=True,
        help_text="What an unverified call left out, one item a key; empty when verified.",
    )


class BootResponseSerializer(UserResponseSerializer):
    veilId = serializers.CharField(allow_null=True)
    sessionToken = serializers.CharField()
    verified = serializers.BooleanField(
        help_text="False when the boot named a memberId without a valid memberHash (allowed only "
        "where the channel does not require it): the session token is then unverified too."
    )


class EventResponseSerializer(serializers.Serializer):
    event = serializers.DictField()
    user = serializers.DictField(help_text=USER_HELP)
