"""/sdk/v1: boot, updateUser, track and tags for websites and apps (docs/sdk.md).

The views check the request's shape (contacts.sdk.shapes for the boot, the serializers for the
rest) and pass typed values to the services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from contacts.representation import event_object
from contacts.sdk import serializers as s
from contacts.sdk.answers import ignored_objects, sdk_user_object
from contacts.sdk.context import visit_context
from contacts.sdk.shapes import boot_body_clean
from contacts.services import boot, events, profile
from contacts.services.unverified import CallerView
from contacts.services.values import ContactInput
from crm.api import RateLimitedView, sdk_refusals
from crm.errors import AuthenticationFailed, RateLimited
from crm.models import Channel
from crm.ratelimit import limit_parse, rate_limit_hit
from crm.renderers import FastJSONRenderer
from masking.policy import unmasked

SESSION_HEADER = OpenApiParameter(
    "x-session-token",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="The sessionToken a boot returned.",
)


def client_address(request: Request) -> str:
    """The client's address, trusting X-Forwarded-For only as far as the configured proxies."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if proxies and len([a for a in forwarded if a]) >= proxies:
        return forwarded[-proxies]
    return str(request.META.get("REMOTE_ADDR", ""))


class JsonOnly(DefaultContentNegotiation):
    """The SDK answers JSON whatever the Accept header says: no negotiation to run per request."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class SdkView(RateLimitedView):
    """Authenticated by the plugin key or a session token, never by manager credentials."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    renderer_classes = [FastJSONRenderer]
    content_negotiation_class = JsonOnly

    def rate_limit(self, request: Request, channel: Channel | None) -> None:
        limits = [
            limit_parse(f"sdk:addr:{client_address(request)}", settings.SDK_RATE_LIMIT_PER_ADDRESS)
        ]
        if channel is not None:
            limits.insert(0, limit_parse(f"sdk:key:{channel.pk}", settings.SDK_RATE_LIMIT_PER_KEY))
        self.rate = rate_limit_hit(limits)
        if not self.rate.allowed:
            raise RateLimited(self.rate.retry_after)

    def session(self, request: Request) -> boot.SdkSession:
        """The session of the request's x-session-token (401 when missing or invalid)."""
        try:
            session = boot.session_get(token=request.headers.get("x-session-token"))
        except AuthenticationFailed:
            self.rate_limit(request, None)
            raise
        self.rate_limit(request, session.contact.channel)
        return session


class BootView(SdkView):
    @extend_schema(
        request=s.BootRequestSerializer,
        responses={200: s.BootResponseSerializer, **sdk_refusals()},
        operation_id="sdk_boot",
        tags=["sdk"],
    )
    def post(self, request: Request) -> Response:
        """Identify the visitor and count the visit; returns the user and a session token."""
        data = boot_body_clean(request.data)
        channel = boot.channel_get_by_plugin_key(plugin_key=data["pluginKey"])
        self.rate_limit(request, channel)
        if channel is None:
            raise AuthenticationFailed("Unknown pluginKey.")
        asked = boot.BootInput(
            member_id=data.get("memberId") or None,
            member_hash=data.get("memberHash") or None,
            veil_id=data.get("veilId") or None,
            profile=data.get("profile"),
            profile_once=data.get("profileOnce"),
            language=data.get("language"),
            unsubscribe_email=data.get("unsubscribeEmail"),
            unsubscribe_texting=data.get("unsubscribeTexting"),
            tags=data.get("tags"),
        )
        visit = visit_context(
            page=data.get("page", {}),
            device=data.get("device", {}),
            address=client_address(request),
        )
        result = boot.contact_boot(channel=channel, boot=asked, visit=visit)
        return Response(
            {
                "user": sdk_user_object(result.contact, result.caller),
                "veilId": result.veil_id,
                "sessionToken": result.session_token,
                "verified": result.verified,
                "ignored": ignored_objects(result.caller),
            }
        )


class UserView(SdkView):
    @extend_schema(
        request=s.ProfileWriteSerializer,
        responses={200: s.UserResponseSerializer, **sdk_refusals()},
        parameters=[SESSION_HEADER],
        operation_id="sdk_update_user",
        tags=["sdk"],
    )
    def post(self, request: Request) -> Response:
        """updateUser: profile, profileOnce, tags (replaced), language, opt-outs."""
        session = self.session(request)
        body = s.ProfileWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        values = ContactInput(
            profile=data.get("profile") or {},
            profile_once=data.get("profileOnce") or {},
            tags=data.get("tags"),
            language=data.get("language"),
            unsubscribe_email=data.get("unsubscribeEmail"),
            unsubscribe_texting=data.get("unsubscribeTexting"),
        )
        written = profile.contact_sdk_update(
            contact=session.contact, values=values, verified=session.verified
        )
        return Response(
            {
                "user": sdk_user_object(written.contact, written.caller),
                "ignored": ignored_objects(written.caller),
            }
        )


class EventsView(SdkView):
    @extend_schema(
        request=s.EventRequestSerializer,
        responses={200: s.EventResponseSerializer, **sdk_refusals()},
        parameters=[SESSION_HEADER],
        operation_id="sdk_track",
        tags=["sdk"],
    )
    def post(self, request: Request) -> Response:
        """track: record an event of the session's contact."""
        session = self.session(request)
        contact = session.contact
        body = s.EventRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        name, properties = events.event_values_clean(
            name=body.validated_data["name"], properties=body.validated_data.get("property")
        )
        event = events.contact_event_track(
            contact=contact, name=name, properties=properties, fill_only=not session.verified
        )
        caller = None if session.verified else CallerView()
        if session.verified:
            contact.refresh_from_db()
        return Response(
            {
                # The event is the caller's own: what it sent, shown as sent.
                "event": event_object(event, policy=unmasked(contact.channel_id)),
                "user": sdk_user_object(contact, caller),
            }
        )


class TagsView(SdkView):
    @extend_schema(
        request=s.TagsRequestSerializer,
        responses={200: s.UserResponseSerializer, **sdk_refusals()},
        parameters=[SESSION_HEADER],
        operation_id="sdk_tags",
        tags=["sdk"],
    )
    def post(self, request: Request) -> Response:
        """addTags / removeTags."""
        session = self.session(request)
        body = s.TagsRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        written = profile.contact_sdk_tags_change(
            contact=session.contact,
            add=body.validated_data.get("add", []),
            remove=body.validated_data.get("remove", []),
            verified=session.verified,
        )
        return Response(
            {
                "user": sdk_user_object(written.contact, written.caller),
                "ignored": ignored_objects(written.caller),
            }
        )
