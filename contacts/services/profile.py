"""A contact and its profile, written by managers, API clients and the SDK: create, update,
upsert by member id, delete, block, unblock, touch, opt-outs, and the SDK's updateUser and tags.

Profile, tags and opt-outs are written in one statement (contacts.services.atomic) under the
channel's schema lock, which the values are checked under (contacts.services.values); block,
unblock and touch are single UPDATEs. A write that changes something counts the contact as
active this month; one that changes nothing writes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Now
from django.utils import timezone

from contacts.models import Contact
from contacts.selectors.contacts import contact_as_stored, contacts_for_channel
from contacts.services.activity import activity_record
from contacts.services.atomic import contact_update_atomic, contact_upsert_atomic
from contacts.services.change import SESSION_IDLE, ContactChange, database_limits
from contacts.services.tags import tag_catalogue_ensure
from contacts.services.unverified import (
    CallerView,
    caller_view,
    change_restrict,
    stored_lock,
    tags_ignored,
)
from contacts.services.values import (
    ContactInput,
    contact_values_clean,
    problems_collect,
    tags_input_clean,
)
from crm.audit import audit_record
from crm.errors import InvalidInput, Problem
from crm.models import AuditAction, Channel
from crm.permissions import Viewer
from profile_schema.locks import schema_read_lock
from profile_schema.models import PROFILE_PREFIX

LANGUAGE_MAX_LENGTH = 16

# --- changes -----------------------------------------------------------------------------


def _change(channel: Channel, values: ContactInput) -> ContactChange:
    """The profile and tags of VALUES, checked under the schema lock, as a change."""
    (profile, removed, once), tags = contact_values_clean(channel=channel, values=values)
    return ContactChange(
        now=timezone.now(),
        profile_set=profile,
        profile_once=once,
        profile_remove=removed,
        tags_replace=tags,
    )


def _manager_change(channel: Channel, values: ContactInput) -> ContactChange:
    """The change a manager or an API client asks for; checked under the schema lock."""
    change = _change(channel, values)
    # Managers and API clients turn opt-outs off as well as on (the SDK only turns them on).
    change.unsubscribe_email = values.unsubscribe_email
    change.unsubscribe_texting = values.unsubscribe_texting
    return change


def _visitor_change(channel: Channel, values: ContactInput) -> ContactChange:
    """The change a website or app asks for (updateUser): opt-outs only ever turn on."""
    change = _change(channel, values)
    change.language = (values.language or "")[:LANGUAGE_MAX_LENGTH] or None
    change.unsubscribe_email = True if values.unsubscribe_email else None
    change.unsubscribe_texting = True if values.unsubscribe_texting else None
    change.unsubscribe_only_on = True
    return change


def _catalogue_ensure(channel: Channel, tags: list[str] | None) -> None:
    try:
        tag_catalogue_ensure(channel=channel, tags=tags or [])
    except ValidationError as error:
        problems = [Problem("tags", "too_many_tags_in_channel", m) for m in error.messages]
        raise InvalidInput(problems) from error


# --- managers and API clients ------------------------------------------------------------


def contact_create(*, viewer: Viewer, values: ContactInput) -> Contact:
    """A new lead of the viewer's channel with VALUES' profile, tags and opt-outs."""
    with transaction.atomic():
        schema_read_lock(viewer.channel)
        change = _manager_change(viewer.channel, values)
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


def contact_update(*, viewer: Viewer, contact: Contact, values: ContactInput) -> Contact:
    """Set and remove profile keys, fill empty ones, replace tags, set opt-outs; as stored."""
    with transaction.atomic():
        schema_read_lock(viewer.channel)
        change = _manager_change(viewer.channel, values)
        _catalogue_ensure(viewer.channel, change.tags_replace)
        if contact_update_atomic(
            channel_id=viewer.channel.pk, contact_id=contact.pk, change=change
        ):
            activity_record(channel=viewer.channel, contact_id=contact.pk, moment=change.now)
    return contact_as_stored(viewer=viewer, contact_id=contact.pk)


def contact_upsert_by_member_id(
    *, viewer: Viewer, member_id: str, values: ContactInput
) -> tuple[Contact, bool]:
    """Create the member MEMBER_ID or merge VALUES into it, in one statement; (contact, created)."""
    with transaction.atomic():
        schema_read_lock(viewer.channel)
        change = _manager_change(viewer.channel, values)
        _catalogue_ensure(viewer.channel, change.tags_replace)
        contact_id, created, written = contact_upsert_atomic(
            channel_id=viewer.channel.pk, identity="member_id", value=member_id, change=change
        )
        if written:
            activity_record(channel=viewer.channel, contact_id=contact_id, moment=change.now)
    return contact_as_stored(viewer=viewer, contact_id=contact_id), created


def contact_delete(*, viewer: Viewer, contact: Contact) -> None:
    """Delete CONTACT with everything held on it (events, activity cascade), and record who
    deleted which contact (its id, never its name) in the audit log, in the same transaction."""
    with transaction.atomic():
        deleted, _ = contacts_for_channel(channel=viewer.channel).filter(pk=contact.pk).delete()
        if deleted:
            audit_record(
                channel_id=viewer.channel.pk,
                viewer=viewer,
                action=AuditAction.USER_DELETE,
                target_user_id=contact.pk,
            )


def contact_consent_set(
    *, contact: Contact, unsubscribe_email: bool, unsubscribe_texting: bool
) -> Contact:
    """Set CONTACT's marketing opt-outs as a manager chose them; no change writes nothing."""
    changed = (
        Contact.objects.filter(pk=contact.pk)
        .filter(
            ~Q(unsubscribe_email=unsubscribe_email) | ~Q(unsubscribe_texting=unsubscribe_texting)
        )
        .update(
            unsubscribe_email=unsubscribe_email,
            unsubscribe_texting=unsubscribe_texting,
            updated_at=Now(),
        )
    )
    contact.refresh_from_db(fields=["unsubscribe_email", "unsubscribe_texting", "updated_at"])
    if changed:
        activity_record(channel=contact.channel, contact_id=contact.pk, moment=contact.updated_at)
    return contact


def _reason_recorded(viewer: Viewer, reason: str) -> str:
    """REASON as recorded: an API credential, having no user, is named in front of it."""
    credential = viewer.credential
    if viewer.user is None and credential is not None:
        who = credential.name or f"#{credential.pk}"
        return f"[API credential {who}] {reason}".strip()
    return reason


def _columns_set(
    viewer: Viewer,
    contact: Contact,
    where: Q,
    now: datetime,
    audited: str | None = None,
    **columns: Any,
) -> Contact:
    """One UPDATE of CONTACT's COLUMNS (and updatedAt = NOW) when it matches WHERE; a change
    counts it active this month and, with AUDITED (an AuditAction), is recorded in the audit
    log in the same transaction. The contact as stored afterwards."""
    with transaction.atomic():
        changed = (
            contacts_for_channel(channel=viewer.channel)
            .filter(where, pk=contact.pk)
            .update(**columns, updated_at=now)
        )
        if changed:
            activity_record(channel=viewer.channel, contact_id=contact.pk, moment=now)
            if audited:
                audit_record(
                    channel_id=viewer.channel.pk,
                    viewer=viewer,
                    action=audited,
                    target_user_id=contact.pk,
                )
    return contact_as_stored(viewer=viewer, contact_id=contact.pk)


def contact_block(*, viewer: Viewer, contact: Contact, reason: str) -> Contact:
    """Block CONTACT, recording who, when and why (and an audit record, without the reason);
    blocking a blocked contact changes nothing and records nothing."""
    now = timezone.now()
    return _columns_set(
        viewer,
        contact,
        Q(blocked=False),
        now,
        audited=AuditAction.USER_BLOCK,
        blocked=True,
        blocked_at=now,
        blocked_by_id=viewer.user.pk if viewer.user is not None else None,
        blocked_reason=_reason_recorded(viewer, reason),
    )


def contact_unblock(*, viewer: Viewer, contact: Contact) -> Contact:
    """Unblock CONTACT, clearing who, when and why (an audit record keeps who unblocked);
    unblocking an unblocked one changes nothing and records nothing."""
    return _columns_set(
        viewer,
        contact,
        Q(blocked=True),
        timezone.now(),
        audited=AuditAction.USER_UNBLOCK,
        blocked=False,
        blocked_at=None,
        blocked_by=None,
        blocked_reason="",
    )


def contact_touch(*, viewer: Viewer, contact: Contact) -> Contact:
    """Count a visit now: lastSeenAt = now, a new session after 30 idle minutes.

    A server-side touch belongs to no platform, so web.* and mobile.* stay as they are."""
    now = timezone.now()
    new_session = Case(
        When(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=now - SESSION_IDLE), then=Value(1)),
        default=Value(0),
    )
    return _columns_set(
        viewer,
        contact,
        Q(),
        now,
        sessions_count=F("sessions_count") + new_session,
        last_seen_at=now,
    )


# --- websites and apps (the SDK) ---------------------------------------------------------


@dataclass(frozen=True)
class SdkWrite:
    """A contact after an SDK write. CALLER is what the answer may say when the session is
    unverified (contacts.services.unverified); None for a verified one, answered in full."""

    contact: Contact
    caller: CallerView | None = None


@transaction.atomic
def contact_sdk_update(*, contact: Contact, values: ContactInput, verified: bool) -> SdkWrite:
    """updateUser: profile, profileOnce, tags (replaced), language, opt-outs (turned on only).

    An unverified session's update only fills empty keys and changes no tag."""
    schema_read_lock(contact.channel)
    change = _visitor_change(contact.channel, values)
    if verified:
        return SdkWrite(contact=_sdk_apply(contact, change))
    stored = stored_lock(channel=contact.channel, where=Q(pk=contact.pk), columns=["language"])
    asked = [
        str(key).removeprefix(PROFILE_PREFIX)
        for key, value in values.profile.items()
        if value is not None
    ]
    restricted, ignored = change_restrict(
        change, stored=stored, asked=asked, tags_sent=["tags"] if values.tags is not None else []
    )
    after = _sdk_apply(contact, restricted)
    caller = caller_view(
        change=restricted, stored=stored, after=after, ignored=ignored, language=change.language
    )
    return SdkWrite(contact=after, caller=caller)


def contact_sdk_tags_change(
    *, contact: Contact, add: Sequence[object], remove: Sequence[object], verified: bool
) -> SdkWrite:
    """addTags / removeTags, merged into the stored tags atomically.

    An unverified session changes no tag: the request is checked, then ignored."""
    added, removed = problems_collect(
        lambda: tags_input_clean(add, "add"), lambda: tags_input_clean(remove, "remove")
    )
    if not verified:
        asked = [name for name, tags in (("add", added), ("remove", removed)) if tags]
        return SdkWrite(contact=contact, caller=CallerView(ignored=tags_ignored(asked)))
    change = ContactChange(now=timezone.now(), tags_add=added, tags_remove=removed)
    return SdkWrite(contact=_sdk_apply(contact, change))


def _sdk_apply(contact: Contact, change: ContactChange) -> Contact:
    with transaction.atomic():
        tag_catalogue_ensure(
            channel=contact.channel, tags=change.tags_add + (change.tags_replace or [])
        )
        if contact_update_atomic(
            channel_id=contact.channel_id, contact_id=contact.pk, change=change
        ):
            activity_record(channel=contact.channel, contact_id=contact.pk, moment=change.now)
    return Contact.objects.select_related("channel").get(pk=contact.pk)
