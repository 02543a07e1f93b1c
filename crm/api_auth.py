"""Who calls /open/v5: an API credential (x-access-key + x-access-secret) or a manager's session.

Either way the request carries a `Viewer` (channel + permissions) in `request.auth`; every
endpoint asks it for the permission it needs (crm.permissions, the one check)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.errors import RateLimited
from crm.models import ApiCredential, Channel
from crm.permissions import Viewer, viewer_for_credential, viewer_for_user
from crm.ratelimit import RateDecision, limit_parse, rate_limit_hit
from crm.services import secret_matches
from profile_schema.cache import schema_version_subquery

CHANNEL_HEADER = "x-channel-id"
LAST_USED_RESOLUTION = timedelta(minutes=1)


class CredentialAuthentication(authentication.BaseAuthentication):
    """x-access-key + x-access-secret: the secret is compared with its stored hash."""

    def authenticate(self, request: Request) -> tuple[Any, Viewer] | None:
        key = request.headers.get("x-access-key")
        secret = request.headers.get("x-access-secret")
        if not key and not secret:
            return None
        credential = (
            ApiCredential.objects.select_related("channel", "role")
            .annotate(schema_version=schema_version_subquery("channel_id"))
            .filter(access_key=key or "", revoked_at__isnull=True)
            .first()
        )
        if credential is None or not secret_matches(
            secret=secret or "", hashed=credential.secret_hash
        ):
            raise exceptions.AuthenticationFailed("The access key or secret is wrong, or revoked.")
        # The field definitions this request reads are the ones of this version (read along).
        credential.channel.profile_schema_version = credential.schema_version
        # At most one write a minute per credential: reads should not all write. The row just
        # read tells whether one is due; the condition keeps concurrent requests to one write.
        now = timezone.now()
        since = now - LAST_USED_RESOLUTION
        if credential.last_used_at is None or credential.last_used_at < since:
            stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=since)
            ApiCredential.objects.filter(stale, pk=credential.pk).update(last_used_at=now)
        return None, viewer_for_credential(credential=credential)

    def authenticate_header(self, request: Request) -> str:
        return 'x-access-key realm="open/v5"'


class ManagerSessionAuthentication(authentication.SessionAuthentication):
    """A manager's browser session; the channel comes from x-channel-id (or the only one)."""

    def authenticate(self, request: Request) -> tuple[Any, Viewer] | None:
        found = super().authenticate(request)
        if found is None:
            return None
        user = found[0]
        channel = _session_channel(request, user)
        viewer = viewer_for_user(user=user, channel=channel) if channel else None
        if viewer is None:
            raise exceptions.AuthenticationFailed(
                f"Choose a channel you belong to with the {CHANNEL_HEADER} header."
            )
        return user, viewer


def _session_channel(request: Request, user: Any) -> Channel | None:
    wanted = request.headers.get(CHANNEL_HEADER, "")
    from crm.selectors import channels_for_user

    channels = channels_for_user(user=user)
    if wanted:
        return (
            channels.filter(pk=int(wanted)).first()
            if re.fullmatch(r"[0-9]{1,18}", wanted)
            else None
        )
    only = list(channels[:2])
    return only[0] if len(only) == 1 else None


class HasViewer(permissions.BasePermission):
    """Authenticated with a channel, and holding the view's permission for this method."""

    def has_permission(self, request: Request, view: Any) -> bool:
        viewer = request.auth
        if not isinstance(viewer, Viewer):
            return False
        needed = view.required_permission(request)
        if needed and not viewer.can(needed):
            raise exceptions.PermissionDenied(
                f"Your role lacks the {needed} permission needed for this."
            )
        return True


class OpenApiView(APIView):
    """Base of /open/v5 views: authentication, the permission per method, rate-limit headers."""

    authentication_classes = [CredentialAuthentication, ManagerSessionAuthentication]
    permission_classes = [HasViewer]
    # HTTP method -> permission (crm.permissions.Permission value); None: any viewer.
    permissions_by_method: dict[str, str | None] = {}
    rate: RateDecision | None = None

    def required_permission(self, request: Request) -> str | None:
        method = request.method or "GET"
        if method in ("HEAD", "OPTIONS"):
            method = "GET"  # HEAD answers like GET; it must be as guarded
        return self.permissions_by_method.get(method)

    @property
    def viewer(self) -> Viewer:
        viewer = self.request.auth
        assert isinstance(viewer, Viewer)
        return viewer

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        viewer = self.viewer
        who = (
            f"cred:{viewer.credential.pk}"
            if viewer.credential
            else f"user:{viewer.user.pk if viewer.user else 0}"
        )
        self.rate = rate_limit_hit([limit_parse(f"api:{who}", settings.API_RATE_LIMIT)])
        if not self.rate.allowed:
            raise RateLimited(self.rate.retry_after)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        if self.rate is not None:
            response["x-ratelimit-limit"] = str(self.rate.limit)
            response["x-ratelimit-remaining"] = str(self.rate.remaining)
            response["x-ratelimit-reset"] = str(self.rate.reset)
        return super().finalize_response(request, response, *args, **kwargs)
