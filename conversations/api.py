"""/open/v5/users/{id}/user-chats: a contact's conversations, and starting one (docs/api.md)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from contacts.representation import own_sensitive_values
from conversations import selectors, services
from conversations import serializers as s
from conversations.representation import user_chat_object
from crm.api_auth import OpenApiView
from crm.permissions import Permission
from masking.policy import policy_for

ERRORS = {
    401: OpenApiResponse(s.ErrorSerializer, "authentication_failed: missing or wrong credentials."),
    404: OpenApiResponse(s.ErrorSerializer, "not_found: no such user in this channel."),
    429: OpenApiResponse(s.ErrorSerializer, "rate_limited, with Retry-After."),
}


class UserChatsView(OpenApiView):
    permissions_by_method = {
        "GET": Permission.CONTACTS_VIEW,
        "POST": Permission.CONVERSATION_START,
    }

    @extend_schema(
        parameters=[s.UserChatListQuerySerializer],
        responses={
            200: s.UserChatListResponseSerializer,
            400: OpenApiResponse(s.ErrorSerializer, "validation_error: a bad limit or cursor."),
            403: OpenApiResponse(s.ErrorSerializer, "permission_denied: needs contacts_view."),
            **ERRORS,
        },
        operation_id="user_chats_list",
        tags=["user-chats"],
    )
    def get(self, request: Request, id: str) -> Response:
        """The user's conversations, newest first (sortOrder=asc: oldest first)."""
        query = s.UserChatListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        contact = selectors.contact_for_viewer(viewer=self.viewer, contact_id=id)
        page = selectors.user_chat_page(
            viewer=self.viewer,
            contact=contact,
            order=query.validated_data["sortOrder"],
            limit=query.validated_data["limit"],
            since=query.validated_data.get("since") or None,
        )
        policy = policy_for(self.viewer)
        own = own_sensitive_values(contact, policy)
        return Response(
            {
                "userChats": [
                    user_chat_object(chat, first, policy=policy, own_values=own)
                    for chat, first in page.items
                ],
                "next": page.next,
            }
        )

    @extend_schema(
        request=s.UserChatCreateSerializer,
        responses={
            201: s.UserChatResponseSerializer,
            400: OpenApiResponse(
                s.ErrorSerializer,
                "validation_error: the medium is not available, the customer cannot be reached "
                "on it, or the message, template or variables are wrong; every reason is listed.",
            ),
            403: OpenApiResponse(
                s.ErrorSerializer,
                "permission_denied (needs conversation_start), or plan_required on the free plan.",
            ),
            **ERRORS,
        },
        operation_id="user_chats_create",
        tags=["user-chats"],
    )
    def post(self, request: Request, id: str) -> Response:
        """Start a conversation with the user over a medium (paid plan)."""
        services.conversation_plan_check(channel=self.viewer.channel)
        contact = selectors.contact_for_viewer(viewer=self.viewer, contact_id=id)
        body = s.UserChatCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data: dict[str, Any] = body.validated_data
        started = services.conversation_start(
            viewer=self.viewer,
            contact=contact,
            medium=data["medium"],
            message_text=(data.get("message") or {}).get("plainText", ""),
            template_code=data.get("templateId") or None,
            variables=data.get("variables") or None,
        )
        policy = policy_for(self.viewer)
        shown = user_chat_object(
            started.conversation,
            started.first_message,
            policy=policy,
            own_values=own_sensitive_values(contact, policy),
        )
        return Response({"userChat": shown}, status=201)
