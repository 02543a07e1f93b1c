"""Who calls /open/v5: an API credential (x-access-key + x-access-secret) or a manager's session.

Either way the request carries a `Viewer` (channel + permissions) in `request.auth`; every
endpoint asks it for the permission it needs (Viewer.can, the one check)."""

from __future__ import annotations

import functools
import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Model, Q
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from crm.api import RateLimitedView
from crm.errors import RateLimited
from crm.models import ApiCredential, Channel, Role
from crm.permissions import Viewer, viewer_for_credential
from crm.prepared import server_bound_cursor
from crm.ratelimit import limit_parse, rate_limit_hit
from crm.selectors import channels_for_user, viewer_for_user
from crm.services import secret_matches

CHANNEL_HEADER = "x-channel-id"
LAST_USED_RESOLUTION = timedelta(minutes=1)


_CREDENTIAL_PARTS = ((ApiCredential, "c"), (Channel, "ch"), (Role, "r"))


@functools.cache
def _credential_layout() -> tuple[str, list[tuple[type[Model], list[str], slice]]]:
    """The statement, and for each model its attribute names and its columns' place in a row:
    the models' own concrete fields, listed once per process."""
    columns: list[str] = []
    parts: list[tuple[type[Model], list[str], slice]] = []
    for model, alias in _CREDENTIAL_PARTS:
        fields = model._meta.concrete_fields
        parts.append(
            (model, [f.attname for f in fields], slice(len(columns), len(columns) + len(fields)))
        )
        columns += [f'{alias}."{field.column}"' for field in fields]
    # Names from the models; the access key is a parameter.
    sql = (
        f"SELECT {', '.join(columns)}, coalesce((SELECT v.version FROM profile_schema_version"  # noqa: S608
        " AS v WHERE v.channel_id = c.channel_id), 0)"
        f" FROM {ApiCredential._meta.db_table} AS c"
        f" JOIN {Channel._meta.db_table} AS ch ON ch.id = c.channel_id"
        f" JOIN {Role._meta.db_table} AS r ON r.id = c.role_id"
        " WHERE c.access_key = %s AND c.revoked_at IS NULL"
    )
    return sql, parts


def credential_active(access_key: str) -> ApiCredential | None:
    """The unrevoked credential of ACCESS_KEY with its channel and role, in one prepared
    statement; the channel carries its profile schema version, read along.

    Every API request starts here, so it skips the ORM's query compiler: the columns are the
    models' own, listed once per process, and the rows become instances with `from_db` (none
    of these columns needs a converter on PostgreSQL; a test holds the instances to the ORM's)."""
    sql, parts = _credential_layout()
    with server_bound_cursor() as cursor:
        cursor.execute(sql, [access_key])
        row = cursor.fetchone()
    if row is None:
        return None
    credential, channel, role = (
        model.from_db(connection.alias, names, row[place]) for model, names, place in parts
    )
    assert isinstance(credential, ApiCredential)
    assert isinstance(channel, Channel) and isinstance(role, Role)
    # The field definitions this request reads are the ones of this version (read along).
    channel.profile_schema_version = row[-1]
    ApiCredential.channel.field.set_cached_value(credential, channel)
    ApiCredential.role.field.set_cached_value(credential, role)
    return credential


class CredentialAuthentication(authentication.BaseAuthentication):
    """x-access-key + x-access-secret: the secret is compared with its stored hash."""

    def authenticate(self, request: Request) -> tuple[Any, Viewer] | None:
        key = request.headers.get("x-access-key")
        secret = request.headers.get("x-access-secret")
        if not key and not secret:
            return None
        credential = credential_active(key or "")
        if credential is None or not secret_matches(
            secret=secret or "", hashed=credential.secret_hash
        ):
            raise exceptions.AuthenticationFailed("The access key or secret is wrong, or revoked.")
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


class OpenApiView(RateLimitedView):
    """Base of /open/v5 views: authentication, the permission per method, rate-limit headers."""

    authentication_classes = [CredentialAuthentication, ManagerSessionAuthentication]
    permission_classes = [HasViewer]
    # HTTP method -> permission (crm.permissions.Permission value); None: any viewer.
    permissions_by_method: dict[str, str | None] = {}

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
