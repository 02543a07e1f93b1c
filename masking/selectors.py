"""Reads of the audit log for the admin: the actors to filter by, and records in batches."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Q, QuerySet

from crm.models import ActorType, ApiCredential, AuditEvent, Membership

ACTOR_CHOICES_MAX = 200
BATCH = 1000


def audit_actor_choices(*, channel_ids: list[int] | None) -> list[tuple[str, str]]:
    """The managers and API credentials of CHANNEL_IDS (None: every channel), and the system,
    as the audit log's actor filter offers them: ("manager:12", "kim@shop.example")."""
    memberships = Membership.objects.select_related("user").order_by("user_id")
    credentials = ApiCredential.objects.order_by("id")
    if channel_ids is not None:
        memberships = memberships.filter(channel_id__in=channel_ids)
        credentials = credentials.filter(channel_id__in=channel_ids)
    managers = {m.user_id: m.user.get_username() for m in memberships[:ACTOR_CHOICES_MAX]}
    choices = [(f"{ActorType.MANAGER}:{pk}", name) for pk, name in managers.items()]
    choices += [
        (f"{ActorType.CREDENTIAL}:{c.pk}", f"{c} (API)") for c in credentials[:ACTOR_CHOICES_MAX]
    ]
    return [*choices, (str(ActorType.SYSTEM), "System")]


def audit_actor_q(value: str) -> Q | None:
    """The records of the actor VALUE names ("manager:12", "credential:3", "system"), or None
    when VALUE names none."""
    if value == ActorType.SYSTEM:
        return Q(actor_type=ActorType.SYSTEM)
    kind, _, pk = value.partition(":")
    if kind not in (ActorType.MANAGER, ActorType.CREDENTIAL) or not (pk.isascii() and pk.isdigit()):
        return None
    if len(pk) > 18:
        return None
    return Q(actor_type=kind, actor_id=int(pk))


def audit_events_newest_first(
    events: QuerySet[AuditEvent], *, batch: int = BATCH
) -> Iterator[AuditEvent]:
    """EVENTS newest first, read BATCH at a time by their position (created_at, id), so a
    long log is read in short indexed queries while it is sent."""
    ordered = events.order_by("-created_at", "-id")
    last: AuditEvent | None = None
    while True:
        page = ordered
        if last is not None:
            page = ordered.filter(
                Q(created_at__lt=last.created_at) | Q(created_at=last.created_at, id__lt=last.pk)
            )
        found = list(page[:batch])
        yield from found
        if len(found) < batch:
            return
        last = found[-1]
