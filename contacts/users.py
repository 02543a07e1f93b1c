"""One user of the REST API (API.md /open/v5/users…): lookups, writes, block, visits, events.

Every lookup is scoped to the viewer's channel through `contacts_for_channel`, so an id or a
member id of another channel is simply not found (404), exactly like a missing one.
Profile, tags and opt-outs are written in one statement (contacts.atomic); block, unblock and
touch are single UPDATEs. Bodies are checked with the SDK's validators (ingest) plus the
API's shape rules, and a refusal lists every problem and changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone

from contacts.activity import activity_record
from contacts.atomic import (
    SESSION_IDLE,
    ContactChange,
    contact_update_atomic,
    contact_upsert_atomic,
    database_limits,
)
from contacts.events import contact_event_track, event_problems

# Private helpers of the SDK path, shared on purpose: the API validates exactly as the SDK does.
from contacts.ingest import _all_problems, _clean_profiles, _tags
from contacts.models import Contact, Event
from contacts.selectors import contacts_for_channel
from contacts.services import tag_catalogue_ensure
from crm.api import PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, page_limit
from crm.cursors import cursor_decode, cursor_encode
from crm.errors import InvalidInput, Problem
from crm.models import Channel
from crm.permissions import Viewer
from profile_schema.locks import schema_read_lock

WRITE_KEYS = ("profile", "profileOnce", "tags", "unsubscribeEmail", "unsubscribeTexting")
BLOCK_KEYS = ("reason",)
EVENT_KEYS = ("name", "property")
# A lead is reached by one of these (API.md: POST users needs an email or a mobile number).
REACH_KEYS = ("email", "mobileNumber")
# The pk as PostgreSQL's bigint writes it: no sign, no leading zero, no other digit forms.
CONTACT_ID = re.compile(r"[1-9][0-9]{0,18}")
MAX_CONTACT_ID = 2**63 - 1
MEMBER_ID_MAX_LENGTH = 255
BLOCK_REASON_MAX_LENGTH = 300
LIST_LIMIT_DEFAULT = PAGE_LIMIT_DEFAULT
LIST_LIMIT_MAX = PAGE_LIMIT_MAX
SORT_ORDERS = ("desc", "asc")


# --- lookups -----------------------------------------------------------------------------


def user_get(*, viewer: Viewer, user_id: str) -> Contact:
    """The contact of the viewer's channel whose id is USER_ID; Http404 otherwise."""
    if not CONTACT_ID.fullmatch(user_id) or int(user_id) > MAX_CONTACT_ID:
        raise Http404("No such user.")
    return _one(viewer, contacts_for_channel(channel=viewer.channel).filter(pk=int(user_id)))


def user_get_by_member_id(*, viewer: Viewer, member_id: str) -> Contact:
    """The contact of the viewer's channel whose member id is MEMBER_ID; Http404 otherwise."""
    return _one(viewer, contacts_for_channel(channel=viewer.channel).filter(member_id=member_id))


def _one(viewer: Viewer, rows: QuerySet[Contact]) -> Contact:
    try:
        contact = rows.get()
    except Contact.DoesNotExist as error:
        raise Http404("No such user.") from error
    contact.channel = viewer.channel  # already loaded: spares a query to whoever reads it
    return contact


def _reloaded(viewer: Viewer, contact_id: int) -> Contact:
    """The contact as stored after a write (404 when a concurrent delete removed it)."""
    return _one(viewer, contacts_for_channel(channel=viewer.channel).filter(pk=contact_id))


# --- body checks -------------------------------------------------------------------------


def _refuse(key: str, code: str, message: str) -> InvalidInput:
    return InvalidInput([Problem(key, code, message)])


def _body(data: Any) -> Mapping[str, Any]:
    """DATA when it is a JSON object (an empty body counts as {})."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise _refuse("body", "invalid_type", "The body must be a JSON object.")
    return data


def _known_keys(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """Every key of BODY that the request does not define is a problem of its own."""
    unknown = [str(key) for key in body if key not in allowed]
    if unknown:
        fields = ", ".join(allowed)
        raise InvalidInput(
            Problem(key, "unknown_field", f"{key} is not a field of this request; send {fields}.")
            for key in unknown
        )


def _received(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else f"{text[:40]}…"


def _profiles(channel: Channel, data: Mapping[str, Any]) -> tuple[Any, ...]:
    """(values to set, keys to remove, write-once values) of profile and profileOnce."""
    problems = [
        Problem(key, "invalid_type", f"{key} must be an object of profile keys and values.")
        for key in ("profile", "profileOnce")
        if key in data and not isinstance(data[key], Mapping)
    ]
    parts = [data.get(key) for key in ("profile", "profileOnce")]
    profile, once = (part if isinstance(part, Mapping) else {} for part in parts)
    try:
        cleaned = _clean_profiles(channel, profile, once)
    except InvalidInput as error:
        problems += error.problems
    if problems:
        raise InvalidInput(problems)
    return cleaned


def _tag_set(data: Mapping[str, Any]) -> list[str] | None:
    """The whole new tag set, or None when the body leaves the tags alone."""
    if "tags" not in data:
        return None
    if not isinstance(data["tags"], list):
        raise _refuse("tags", "invalid_type", "tags must be a list of tags (the whole new set).")
    return _tags(data["tags"])


def _flag(data: Mapping[str, Any], key: str) -> bool | None:
    if key not in data:
        return None
    if not isinstance(data[key], bool):
        message = f"{key} must be true or false; received {_received(data[key])}."
        raise _refuse(key, "invalid_type", message)
    return bool(data[key])


def _reachable(data: Mapping[str, Any]) -> None:
    """A new lead needs an email or a mobile number (in profile or profileOnce)."""
    for part in (data.get("profile"), data.get("profileOnce")):
        if not isinstance(part, Mapping):
            continue
        for key in REACH_KEYS:
            if part.get(key) is not None or part.get(f"profile.{key}") is not None:
                return
    message = "A new user needs profile.email or profile.mobileNumber to be reached by."
    raise _refuse("profile", "required", message)


def user_change_clean(
    *, channel: Channel, data: Any, creating: bool = False, also: tuple[Callable[[], Any], ...] = ()
) -> ContactChange:
    """The change a POST, PATCH or PUT body asks for; InvalidInput listing every problem.

    ALSO: more checks whose problems join the body's (the member id of a PUT)."""
    body = _body(data)
    steps: list[Callable[[], Any]] = [
        lambda: _known_keys(body, WRITE_KEYS),
        lambda: _profiles(channel, body),
        lambda: _tag_set(body),
        lambda: _flag(body, "unsubscribeEmail"),
        lambda: _flag(body, "unsubscribeTexting"),
        *([lambda: _reachable(body)] if creating else []),
        *also,
    ]
    _, cleaned, tags, unsubscribe_email, unsubscribe_texting, *_ = _all_problems(*steps)
    profile, removed, once = cleaned
    return ContactChange(
        now=timezone.now(),
        profile_set=profile,
        profile_once=once,
        profile_remove=removed,
        tags_replace=tags,
        # Managers and API clients turn opt-outs off as well as on (the SDK only turns them on).
        unsubscribe_email=unsubscribe_email,
        unsubscribe_texting=unsubscribe_texting,
    )


def _member_id_check(member_id: str) -> None:
    if len(member_id) > MEMBER_ID_MAX_LENGTH:
        message = (
            f"A member id has at most {MEMBER_ID_MAX_LENGTH} characters; got {len(member_id)}."
        )
        raise _refuse("memberId", "too_long", message)


def _catalogue_ensure(channel: Channel, tags: list[str] | None) -> None:
    try:
        tag_catalogue_ensure(channel=channel, tags=tags or [])
    except ValidationError as error:
        problems = [Problem("tags", "too_many_tags_in_channel", m) for m in error.messages]
        raise InvalidInput(problems) from error


# --- writes ------------------------------------------------------------------------------


def user_create(*, viewer: Viewer, data: Any) -> Contact:
    """POST users: a new lead with the body's profile, tags and opt-outs."""
    with transaction.atomic():
        schema_read_lock(viewer.channel)
        change = user_change_clean(channel=viewer.channel, data=data, creating=True)
        _catalogue_ensure(viewer.channel, change.tags_replace)
        contact = _contact_insert(viewer.channel, change)
        activity_record(channel=viewer.channel, contact_id=contact.pk, moment=change.now)
    return contact


def _contact_insert(channel: Channel, change: ContactChange) -> Contact:
    """One INSERT; a database limit (profile size, key count) becomes a refusal naming it."""
    with database_limits(), transaction.atomic():
        return Contact.objects.create(
            channel=channel,
            profile={**change.profile_once, **change.profile_set},
            tags=change.tags_replace or [],
            unsubscribe_email=bool(change.unsubscribe_email),
            unsubscribe_texting=bool(change.unsubscribe_texting),
        )


def user_update(*, viewer: Viewer, contact: Contact, data: Any) -> Contact:
    """PATCH users/{id}: set and remove profile keys, fill empty ones, replace tags, opt-outs."""
    with transaction.atomic():
        schema_read_lock(viewer.channel)
        change = user_change_clean(channel=viewer.channel, data=data)
        _catalogue_ensure(viewer.channel, change.tags_replace)
        if contact_update_atomic(
            channel_id=viewer.channel.pk, contact_id=contact.pk, change=change
        ):
            activity_record(channel=viewer.channel, contact_id=contact.pk, moment=change.now)
    return _reloaded(viewer, contact.pk)


def user_upsert_by_member_id(*, viewer: Viewer, member_id: str, data: Any) -> tuple[Contact, bool]:
    """PUT users/@{memberId}: create the member or merge the body into it, in one statement.

    Returns (contact, created)."""
    with transaction.atomic():
        schema_read_lock(viewer.channel)
        change = user_change_clean(
            channel=viewer.channel, data=data, also=(lambda: _member_id_check(member_id),)
        )
        _catalogue_ensure(viewer.channel, change.tags_replace)
        contact_id, created, written = contact_upsert_atomic(
            channel_id=viewer.channel.pk, identity="member_id", value=member_id, change=change
        )
        if written:
            activity_record(channel=viewer.channel, contact_id=contact_id, moment=change.now)
    return _reloaded(viewer, contact_id), created


def user_delete(*, viewer: Viewer, contact: Contact) -> None:
    """DELETE users/{id}: the contact and everything held on it (events, activity) cascade."""
    contacts_for_channel(channel=viewer.channel).filter(pk=contact.pk).delete()


def _reason(body: Mapping[str, Any]) -> str:
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise _refuse("reason", "invalid_type", "reason must be a string (or null).")
    reason = (reason or "").strip()
    if len(reason) > BLOCK_REASON_MAX_LENGTH:
        message = f"A reason has at most {BLOCK_REASON_MAX_LENGTH} characters; got {len(reason)}."
        raise _refuse("reason", "too_long", message)
    return reason


def _blocked_reason(viewer: Viewer, data: Any) -> str:
    """The reason as recorded: an API credential, having no user, is named in front of it."""
    body = _body(data)
    _, reason = _all_problems(lambda: _known_keys(body, BLOCK_KEYS), lambda: _reason(body))
    credential = viewer.credential
    if viewer.user is None and credential is not None:
        who = credential.name or f"#{credential.pk}"
        return f"[API credential {who}] {reason}".strip()
    return str(reason)


def user_block(*, viewer: Viewer, contact: Contact, data: Any) -> Contact:
    """Block CONTACT, recording who, when and why; blocking a blocked contact changes nothing."""
    reason = _blocked_reason(viewer, data)
    now = timezone.now()
    with transaction.atomic():
        changed = (
            contacts_for_channel(channel=viewer.channel)
            .filter(pk=contact.pk, blocked=False)
            .update(
                blocked=True,
                blocked_at=now,
                blocked_by_id=viewer.user.pk if viewer.user is not None else None,
                blocked_reason=reason,
                updated_at=now,
            )
        )
        if changed:
            activity_record(channel=viewer.channel, contact_id=contact.pk, moment=now)
    return _reloaded(viewer, contact.pk)


def user_unblock(*, viewer: Viewer, contact: Contact) -> Contact:
    """Unblock CONTACT, clearing who, when and why; unblocking an unblocked one changes nothing."""
    now = timezone.now()
    with transaction.atomic():
        changed = (
            contacts_for_channel(channel=viewer.channel)
            .filter(pk=contact.pk, blocked=True)
            .update(
                blocked=False, blocked_at=None, blocked_by=None, blocked_reason="", updated_at=now
            )
        )
        if changed:
            activity_record(channel=viewer.channel, contact_id=contact.pk, moment=now)
    return _reloaded(viewer, contact.pk)


def user_touch(*, viewer: Viewer, contact: Contact) -> Contact:
    """Count a visit now: lastSeenAt = now, a new session after 30 idle minutes.

    A server-side touch belongs to no platform, so web.* and mobile.* stay as they are."""
    now = timezone.now()
    new_session = Case(
        When(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=now - SESSION_IDLE), then=Value(1)),
        default=Value(0),
    )
    with transaction.atomic():
        if (
            contacts_for_channel(channel=viewer.channel)
            .filter(pk=contact.pk)
            .update(
                sessions_count=F("sessions_count") + new_session, last_seen_at=now, updated_at=now
            )
        ):
            activity_record(channel=viewer.channel, contact_id=contact.pk, moment=now)
    return _reloaded(viewer, contact.pk)


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventsPage:
    events: list[Event]
    next: str | None


def _sort_order(raw: str | None) -> str:
    if raw is None or raw == "":
        return "desc"
    if raw not in SORT_ORDERS:
        raise _refuse("sortOrder", "invalid", f"sortOrder is desc or asc; received {raw!r}.")
    return raw


def _events_scope(viewer: Viewer, contact: Contact, order: str) -> str:
    return f"{viewer.channel.pk}:users/{contact.pk}/events:{order}"


def _position(since: str | None, scope: str | None) -> tuple[datetime, int] | None:
    """The (created_at, id) the cursor SINCE stopped at; None for the first page."""
    if not since or scope is None:
        return None
    position = cursor_decode(since, scope=scope)
    try:
        moment, event_id = datetime.fromisoformat(position[0]), int(position[1])
    except (IndexError, TypeError, ValueError) as error:
        raise _refuse("since", "invalid_cursor", "The cursor is not valid.") from error
    return moment, event_id


def events_for_contact(*, viewer: Viewer, contact: Contact) -> QuerySet[Event]:
    """CONTACT's events, scoped to the viewer's channel (index event_contact_time_idx)."""
    return Event.objects.filter(channel_id=viewer.channel.pk, contact_id=contact.pk)


def user_events_page(*, viewer: Viewer, contact: Contact, params: Mapping[str, str]) -> EventsPage:
    """One page of CONTACT's events, keyset on (created_at, id); newest first unless asc."""
    raw_order = params.get("sortOrder")
    scope = (
        _events_scope(viewer, contact, raw_order or "desc")
        if raw_order in (None, "", *SORT_ORDERS)
        else None
    )
    order, limit, position = _all_problems(
        lambda: _sort_order(raw_order),
        lambda: page_limit(params.get("limit")),
        lambda: _position(params.get("since"), scope),
    )
    rows = events_for_contact(viewer=viewer, contact=contact)
    if position is not None:
        moment, event_id = position
        if order == "desc":
            rows = rows.filter(Q(created_at__lt=moment) | Q(created_at=moment, id__lt=event_id))
        else:
            rows = rows.filter(Q(created_at__gt=moment) | Q(created_at=moment, id__gt=event_id))
    ordering = ("-created_at", "-id") if order == "desc" else ("created_at", "id")
    events = list(rows.order_by(*ordering)[: limit + 1])
    if len(events) <= limit:
        return EventsPage(events=events, next=None)
    last = events[limit - 1]
    cursor = cursor_encode(
        scope=_events_scope(viewer, contact, order),
        position=[last.created_at.isoformat(), last.pk],
    )
    return EventsPage(events=events[:limit], next=cursor)


def user_event_create(*, viewer: Viewer, contact: Contact, data: Any) -> Event:
    """POST users/{id}/events: record an event {"name", "property"} of CONTACT now."""
    body = _body(data)
    name, properties = body.get("name"), body.get("property")

    def content() -> None:
        problems = event_problems(name, {} if properties is None else properties)
        if problems:
            raise InvalidInput(problems)

    _all_problems(lambda: _known_keys(body, EVENT_KEYS), content)
    return contact_event_track(contact=contact, name=name, properties=properties, at=timezone.now())
