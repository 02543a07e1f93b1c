"""The audit log (SPEC.md section 10): recording, the request it came from, and the purge.

Every service that changes who may see what, or that touches sensitive data or many contacts,
calls `audit_record` in its own transaction, so a record exists exactly when the change does.
Where the request came from (client address, user agent) is kept per request by
`AuditRequestMiddleware` in a context variable, so services need not carry the request; work
outside a request (a job, a command) records none.

A record never holds a value nor the contact's name: keys, ids, counts and the like only."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse

from crm.models import ActorType, AuditEvent
from crm.permissions import Viewer

MAX_USER_AGENT = 512
PURGE_BATCH = 5000


@dataclass(frozen=True)
class RequestOrigin:
    address: str | None
    user_agent: str


_origin: contextvars.ContextVar[RequestOrigin | None] = contextvars.ContextVar(
    "crm_audit_origin", default=None
)


def request_origin(request: HttpRequest) -> RequestOrigin:
    """Where REQUEST came from: the peer's address (the proxy in front sets REMOTE_ADDR) and
    its user agent, cut to what the log keeps."""
    address = request.META.get("REMOTE_ADDR") or None
    agent = str(request.META.get("HTTP_USER_AGENT", ""))[:MAX_USER_AGENT]
    return RequestOrigin(address=address, user_agent=agent)


class AuditRequestMiddleware:
    """Keeps the current request's origin for the audit records written while it runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _origin.set(request_origin(request))
        try:
            return self.get_response(request)
        finally:
            _origin.reset(token)


def current_origin() -> RequestOrigin | None:
    return _origin.get()


def actor_of(viewer: Viewer | None) -> tuple[str, int | None, str]:
    """(type, id, name) of who acts as VIEWER: a manager, an API credential, or the system."""
    if viewer is None:
        return ActorType.SYSTEM, None, ""
    if viewer.credential is not None:
        credential = viewer.credential
        return ActorType.CREDENTIAL, credential.pk, str(credential)
    if viewer.user is not None:
        user = viewer.user
        return ActorType.MANAGER, user.pk, user.get_username()
    return ActorType.SYSTEM, None, ""


def audit_record(
    *,
    channel_id: int,
    viewer: Viewer | None,
    action: str,
    target_user_id: int | None = None,
    keys: Iterable[str] = (),
    detail: Mapping[str, Any] | None = None,
    origin: RequestOrigin | None = None,
) -> AuditEvent:
    """Write one audit record of ACTION by VIEWER (None: the system) in CHANNEL_ID.

    DETAIL holds what the action was about beyond keys (counts, a job's id, a role's
    permissions), never a value nor a contact's name. ORIGIN defaults to the current request's."""
    actor_type, actor_id, actor_name = actor_of(viewer)
    origin = origin or current_origin()
    return AuditEvent.objects.create(
        channel_id=channel_id,
        actor_type=actor_type,
        actor_id=actor_id,
        actor_name=actor_name[:254],
        action=action,
        target_user_id=target_user_id,
        keys=sorted(set(keys)),
        detail=dict(detail or {}),
        address=origin.address if origin else None,
        user_agent=origin.user_agent if origin else "",
    )


def audit_purge(*, batch: int = PURGE_BATCH) -> int:
    """Delete the records older than their channel's retention, BATCH at a time, each batch in
    its own statement; the one path that deletes (the table's trigger refuses any other)."""
    purged = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT crm_audit_purge(%s)", [batch])
            gone = int(cursor.fetchone()[0])
        purged += gone
        if gone < batch:
            return purged
