"""/open/v5/users…: create, read, update, upsert, delete, block, touch and events (docs/api.md).

Views only check who may call (OpenApiView.permissions_by_method), read the request
(contacts.api.inputs), call a selector or a service and render; the serializers below describe
the bodies for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from contacts.api import inputs
from contacts.models import ContactType
from contacts.representation import event_object, own_sensitive_values, user_object
from contacts.selectors.contacts import contact_get, contact_get_by_member_id
from contacts.selectors.events import SORT_ORDERS, contact_events_page
from contacts.services import events, profile
from contacts.services.reveal import contact_value_reveal
from crm.api import PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, StrictSerializer, refusals
from crm.api_auth import OpenApiView
from crm.openapi import JsonStringField
from crm.permissions import Permission
from masking.policy import policy_for

TAGS = ["users"]

# --- documentation of the bodies -------------------------------------------------------


class UserWebSerializer(serializers.Serializer):
    browser = serializers.CharField()
    browserName = serializers.CharField()
    os = serializers.CharField()
    osName = serializers.CharField()
    device = serializers.CharField()
    lastSeenAt = serializers.IntegerField(allow_null=True, help_text="Epoch milliseconds.")
    sessionsCount = serializers.IntegerField()


class UserMobileSerializer(serializers.Serializer):
    appName = serializers.CharField()
    appVersion = serializers.CharField()
    os = serializers.CharField()
    osName = serializers.CharField()
    device = serializers.CharField()
    lastSeenAt = serializers.IntegerField(allow_null=True, help_text="Epoch milliseconds.")
    sessionsCount = serializers.IntegerField()


# Inlined, not an enum component: "type" enums of other components would collide with its name.
@extend_schema_field({"type": "string", "enum": ContactType.values})
class ContactTypeField(serializers.CharField):
    pass


class UserObjectSerializer(serializers.Serializer):
    """The user object of docs/api.md (contacts.representation.user_object)."""

    id = serializers.CharField()
    channelId = serializers.CharField()
    memberId = serializers.CharField(allow_null=True)
    type = ContactTypeField()
    name = serializers.CharField()
    member = serializers.BooleanField()
    profile = serializers.DictField(help_text="profile.* values by key, typed by the fields.")
    tags = serializers.ListField(child=serializers.CharField())
    city = serializers.CharField()
    country = serializers.CharField()
    language = serializers.CharField()
    sessionsCount = serializers.IntegerField()
    lastSeenAt = serializers.IntegerField(allow_null=True, help_text="Epoch milliseconds.")
    createdAt = serializers.IntegerField(help_text="Epoch milliseconds.")
    updatedAt = serializers.IntegerField(help_text="Epoch milliseconds.")
    web = UserWebSerializer()
    mobile = UserMobileSerializer()
    hasPushToken = serializers.BooleanField()
    unsubscribeEmail = serializers.BooleanField()
    unsubscribeTexting = serializers.BooleanField()
    hasChat = serializers.BooleanField()
    blocked = serializers.BooleanField()
    masked = serializers.ListField(
        child=serializers.CharField(),
        help_text="Keys whose values this answer shows masked. A masked value is always a JSON "
        'string, whatever the field\'s type; a value masked in full is "********". A role with '
        "sensitive_view reveals one value with POST users/{id}/reveal.",
    )


class UserEnvelopeSerializer(serializers.Serializer):
    user = UserObjectSerializer()


class UserWriteSerializer(serializers.Serializer):
    """PATCH users/{id} and PUT users/@{memberId}; any other key is refused."""

    profile = serializers.DictField(
        required=False, help_text="Keys to set; a null value removes the key."
    )
    profileOnce = serializers.DictField(
        required=False, help_text="Keys set only where the profile has no value yet."
    )
    tags = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        max_length=20,
        help_text="Replaces the whole tag set ([] removes every tag).",
    )
    unsubscribeEmail = serializers.BooleanField(required=False)
    unsubscribeTexting = serializers.BooleanField(required=False)


class UserCreateSerializer(UserWriteSerializer):
    """POST users: a lead; profile (or profileOnce) holds an email or a mobile number."""

    profile = serializers.DictField(help_text="Must hold email or mobileNumber.")


class UserBlockSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=inputs.BLOCK_REASON_MAX_LENGTH,
        help_text="Why; recorded with who blocked and when.",
    )


class UserRevealSerializer(StrictSerializer):
    """POST users/{id}/reveal: the key whose value to show."""

    key = JsonStringField(
        max_length=80,
        help_text="A key whose values are masked in the user object (listed in `masked` when "
        "the user has a value): profile.mobileNumber, profile.email, name …",
    )


class RevealedSerializer(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.JSONField(
        allow_null=True, help_text="The stored value, of the field's type; null when none."
    )


class UserEventSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    property = serializers.DictField(
        help_text="Free text, masked like messages: phone numbers, emails and the user's own "
        "sensitive values in any string show masked."
    )
    createdAt = serializers.IntegerField(help_text="Epoch milliseconds.")


class UserEventCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=30)
    property = serializers.DictField(required=False, allow_null=True)


class UserEventEnvelopeSerializer(serializers.Serializer):
    event = UserEventSerializer()


class UserEventsPageSerializer(serializers.Serializer):
    events = UserEventSerializer(many=True)
    next = serializers.CharField(
        allow_null=True, help_text="The cursor of the next page (?since=); null on the last."
    )


ID = OpenApiParameter("id", str, OpenApiParameter.PATH, description="The user's id.")
MEMBER_ID = OpenApiParameter(
    "memberId", str, OpenApiParameter.PATH, description="The customer's id on the business's site."
)
EVENT_LIST_PARAMETERS = [
    OpenApiParameter("sortOrder", str, enum=list(SORT_ORDERS), default="desc"),
    OpenApiParameter(
        "limit", int, description=f"1 to {PAGE_LIMIT_MAX}", default=PAGE_LIMIT_DEFAULT
    ),
    OpenApiParameter("since", str, description="The `next` cursor of the previous page."),
]


def _user(view: OpenApiView, contact: Any, code: int = status.HTTP_200_OK) -> Response:
    return Response({"user": user_object(contact, policy=policy_for(view.viewer))}, status=code)


# --- views ---------------------------------------------------------------------------------


class UsersView(OpenApiView):
    permissions_by_method = {"POST": Permission.CONTACTS_EDIT}

    @extend_schema(
        operation_id="users_create",
        request=UserCreateSerializer,
        responses={201: UserEnvelopeSerializer, **refusals(400)},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        """Create a lead (needs an email or a mobile number); needs contacts_edit."""
        values = inputs.contact_input_parse(
            channel=self.viewer.channel, body=request.data, creating=True
        )
        contact = profile.contact_create(viewer=self.viewer, values=values)
        return _user(self, contact, status.HTTP_201_CREATED)


class UserView(OpenApiView):
    permissions_by_method = {
        "GET": Permission.CONTACTS_VIEW,
        "PATCH": Permission.CONTACTS_EDIT,
        "DELETE": Permission.CONTACTS_DELETE,
    }

    @extend_schema(
        operation_id="users_get",
        parameters=[ID],
        responses={200: UserEnvelopeSerializer, **refusals(404)},
        tags=TAGS,
    )
    def get(self, request: Request, id: str) -> Response:
        """One user; needs contacts_view."""
        return _user(self, contact_get(viewer=self.viewer, contact_id=id))

    @extend_schema(
        operation_id="users_update",
        parameters=[ID],
        request=UserWriteSerializer,
        responses={200: UserEnvelopeSerializer, **refusals(400, 404)},
        tags=TAGS,
    )
    def patch(self, request: Request, id: str) -> Response:
        """Set/remove profile keys, fill empty ones, replace tags, set opt-outs; contacts_edit."""
        contact = contact_get(viewer=self.viewer, contact_id=id)
        values = inputs.contact_input_parse(channel=self.viewer.channel, body=request.data)
        return _user(
            self, profile.contact_update(viewer=self.viewer, contact=contact, values=values)
        )

    @extend_schema(
        operation_id="users_delete",
        parameters=[ID],
        request=None,
        responses={204: None, **refusals(404)},
        tags=TAGS,
    )
    def delete(self, request: Request, id: str) -> Response:
        """Delete the user with its events and activity; needs contacts_delete."""
        contact = contact_get(viewer=self.viewer, contact_id=id)
        profile.contact_delete(viewer=self.viewer, contact=contact)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberView(OpenApiView):
    permissions_by_method = {
        "GET": Permission.CONTACTS_VIEW,
        "PUT": Permission.CONTACTS_EDIT,
        "DELETE": Permission.CONTACTS_DELETE,
    }

    @extend_schema(
        operation_id="users_get_by_member_id",
        parameters=[MEMBER_ID],
        responses={200: UserEnvelopeSerializer, **refusals(404)},
        tags=TAGS,
    )
    def get(self, request: Request, memberId: str) -> Response:
        """One user by member id; needs contacts_view."""
        return _user(self, contact_get_by_member_id(viewer=self.viewer, member_id=memberId))

    @extend_schema(
        operation_id="users_upsert_by_member_id",
        parameters=[MEMBER_ID],
        request=UserWriteSerializer,
        responses={
            200: OpenApiResponse(UserEnvelopeSerializer, description="Updated."),
            201: OpenApiResponse(UserEnvelopeSerializer, description="Created."),
            **refusals(400),
        },
        tags=TAGS,
    )
    def put(self, request: Request, memberId: str) -> Response:
        """Create the member or update it (the PATCH body), in one statement; contacts_edit."""
        values = inputs.contact_input_parse(
            channel=self.viewer.channel, body=request.data, member_id=memberId
        )
        contact, created = profile.contact_upsert_by_member_id(
            viewer=self.viewer, member_id=memberId, values=values
        )
        return _user(self, contact, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        operation_id="users_delete_by_member_id",
        parameters=[MEMBER_ID],
        request=None,
        responses={204: None, **refusals(404)},
        tags=TAGS,
    )
    def delete(self, request: Request, memberId: str) -> Response:
        """Delete the member with its events and activity; needs contacts_delete."""
        contact = contact_get_by_member_id(viewer=self.viewer, member_id=memberId)
        profile.contact_delete(viewer=self.viewer, contact=contact)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserBlockView(OpenApiView):
    permissions_by_method = {"POST": Permission.BLOCK, "DELETE": Permission.BLOCK}

    @extend_schema(
        operation_id="users_block",
        parameters=[ID],
        request=UserBlockSerializer,
        responses={200: UserEnvelopeSerializer, **refusals(400, 404)},
        tags=TAGS,
    )
    def post(self, request: Request, id: str) -> Response:
        """Block (who, when, why are recorded; a blocked user stays as blocked); needs block."""
        contact = contact_get(viewer=self.viewer, contact_id=id)
        reason = inputs.block_reason_parse(body=request.data)
        return _user(
            self, profile.contact_block(viewer=self.viewer, contact=contact, reason=reason)
        )

    @extend_schema(
        operation_id="users_unblock",
        parameters=[ID],
        request=None,
        responses={200: UserEnvelopeSerializer, **refusals(404)},
        tags=TAGS,
    )
    def delete(self, request: Request, id: str) -> Response:
        """Unblock; needs block."""
        contact = contact_get(viewer=self.viewer, contact_id=id)
        return _user(self, profile.contact_unblock(viewer=self.viewer, contact=contact))


class UserTouchView(OpenApiView):
    permissions_by_method = {"POST": Permission.CONTACTS_EDIT}

    @extend_schema(
        operation_id="users_touch",
        parameters=[ID],
        request=None,
        responses={200: UserEnvelopeSerializer, **refusals(404)},
        tags=TAGS,
    )
    def post(self, request: Request, id: str) -> Response:
        """Count a visit now: lastSeenAt and sessionsCount (no platform); needs contacts_edit."""
        contact = contact_get(viewer=self.viewer, contact_id=id)
        return _user(self, profile.contact_touch(viewer=self.viewer, contact=contact))


class UserRevealView(OpenApiView):
    """POST /open/v5/users/{id}/reveal: one masked value, shown to a role that may reveal it."""

    permissions_by_method = {"POST": Permission.SENSITIVE_VIEW}

    @extend_schema(
        operation_id="users_reveal",
        parameters=[ID],
        request=UserRevealSerializer,
        responses={
            200: OpenApiResponse(
                RevealedSerializer, description="The value, unmasked; one audit record written."
            ),
            **refusals(400, 404),
        },
        tags=TAGS,
    )
    def post(self, request: Request, id: str) -> Response:
        """Reveal one masked value of the user, audited; needs sensitive_view and contacts_view."""
        if not self.viewer.can(Permission.CONTACTS_VIEW):
            raise PermissionDenied("Your role lacks the contacts_view permission needed for this.")
        contact = contact_get(viewer=self.viewer, contact_id=id)
        body = UserRevealSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        revealed = contact_value_reveal(
            viewer=self.viewer, contact=contact, key=body.validated_data["key"]
        )
        return Response({"key": revealed.key, "value": revealed.value})


class UserEventsView(OpenApiView):
    permissions_by_method = {"GET": Permission.CONTACTS_VIEW, "POST": Permission.CONTACTS_EDIT}

    @extend_schema(
        operation_id="users_events_list",
        parameters=[ID, *EVENT_LIST_PARAMETERS],
        responses={200: UserEventsPageSerializer, **refusals(400, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, id: str) -> Response:
        """The user's events, newest first (sortOrder=asc: oldest first); needs contacts_view."""
        contact = contact_get(viewer=self.viewer, contact_id=id)
        order, limit, after = inputs.events_page_parse(
            viewer=self.viewer, contact=contact, params=request.query_params
        )
        page = contact_events_page(
            viewer=self.viewer, contact=contact, order=order, limit=limit, after=after
        )
        policy = policy_for(self.viewer)
        own = own_sensitive_values(contact, policy)
        shown = [event_object(e, policy=policy, own_values=own) for e in page.events]
        return Response({"events": shown, "next": page.next})

    @extend_schema(
        operation_id="users_events_create",
        parameters=[ID],
        request=UserEventCreateSerializer,
        responses={201: UserEventEnvelopeSerializer, **refusals(400, 404)},
        tags=TAGS,
    )
    def post(self, request: Request, id: str) -> Response:
        """Record an event {"name", "property"} now; needs contacts_edit."""
        contact = contact_get(viewer=self.viewer, contact_id=id)
        name, properties = inputs.event_input_parse(body=request.data)
        event = events.contact_event_track(contact=contact, name=name, properties=properties)
        policy = policy_for(self.viewer)
        shown = event_object(event, policy=policy, own_values=own_sensitive_values(contact, policy))
        return Response({"event": shown}, status=status.HTTP_201_CREATED)
