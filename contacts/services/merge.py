"""Merging a device's anonymous contact or lead into the member it turns out to be.

When a visitor signs in, the contact their device had before (anonymous, or a lead) becomes
part of the member: profile, tags, visits, consent and everything held on it (events,
conversations). Both rows are locked for the whole merge (docs/ARCHITECTURE.md rule 3: a row
lock held for the whole change), so a concurrent boot or update waits and then sees the merged
member."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import ManyToOneRel, Model, Q

from contacts.models import (
    MAX_PROFILE_BYTES,
    MAX_PROFILE_KEYS,
    MAX_TAGS_PER_CONTACT,
    Contact,
    ContactActivity,
)
from crm.models import Channel
from profile_schema.validation import profile_size

# First-touch keys: on a merge the older contact's value is the first touch.
WRITE_ONCE_KEYS = frozenset(
    {"referrer", "utmSource", "utmMedium", "utmCampaign", "utmContent", "utmTerm"}
)
DEVICE_PREFIXES = ("web", "mobile")
DEVICE_FIELDS = ("browser", "browser_name", "os", "os_name", "device", "app_name", "app_version")


def _filled(value: Any) -> bool:
    return value not in (None, "", [], {})


def profiles_merge(
    *, member: dict[str, Any], other: dict[str, Any], member_is_older: bool
) -> dict[str, Any]:
    """Member data beats the other's, a filled value an empty one; first touch stays first."""
    merged = {k: v for k, v in other.items() if _filled(v)}
    merged.update({k: v for k, v in member.items() if _filled(v) or k not in merged})
    older, newer = (member, other) if member_is_older else (other, member)
    for key in WRITE_ONCE_KEYS:
        if _filled(older.get(key)):
            merged[key] = older[key]
        elif _filled(newer.get(key)):
            merged[key] = newer[key]
    return _within_limits(merged, keep=member)


def _within_limits(profile: dict[str, Any], *, keep: dict[str, Any]) -> dict[str, Any]:
    """Drop the other contact's extra keys, last first, until the profile fits its limits."""
    extra = [k for k in profile if k not in keep]
    while extra and (len(profile) > MAX_PROFILE_KEYS or profile_size(profile) > MAX_PROFILE_BYTES):
        profile.pop(extra.pop())
    return profile


def tags_merge(*, member: list[str], other: list[str]) -> list[str]:
    """The member's tags, then the other's it lacks, at most 20."""
    return (member + [t for t in other if t not in member])[:MAX_TAGS_PER_CONTACT]


def _device_from_newer(member: Contact, other: Contact, prefix: str) -> dict[str, Any]:
    seen_member = getattr(member, f"{prefix}_last_seen_at")
    seen_other = getattr(other, f"{prefix}_last_seen_at")
    if seen_other is None or (seen_member is not None and seen_member >= seen_other):
        return {}
    names = [f"{prefix}_{name}" for name in DEVICE_FIELDS if hasattr(member, f"{prefix}_{name}")]
    return {name: getattr(other, name) for name in [*names, f"{prefix}_last_seen_at"]}


def merged_fields(*, member: Contact, other: Contact) -> dict[str, Any]:
    """The member's columns after absorbing OTHER."""
    fields: dict[str, Any] = {
        "profile": profiles_merge(
            member=member.profile,
            other=other.profile,
            member_is_older=member.created_at <= other.created_at,
        ),
        "tags": tags_merge(member=member.tags, other=other.tags),
        "sessions_count": member.sessions_count + other.sessions_count,
        "web_sessions_count": member.web_sessions_count + other.web_sessions_count,
        "mobile_sessions_count": member.mobile_sessions_count + other.mobile_sessions_count,
        "created_at": min(member.created_at, other.created_at),
        "unsubscribe_email": member.unsubscribe_email or other.unsubscribe_email,
        "unsubscribe_texting": member.unsubscribe_texting or other.unsubscribe_texting,
        "has_push_token": member.has_push_token or other.has_push_token,
        "has_chat": member.has_chat or other.has_chat,
        "language": member.language or other.language,
        "city": member.city or other.city,
        "country": member.country or other.country,
    }
    for prefix in DEVICE_PREFIXES:
        fields.update(_device_from_newer(member, other, prefix))
    return fields


def _holding_models() -> list[tuple[type[Model], str]]:
    """(model, field) of every foreign key to Contact, including those without a reverse
    accessor (related_name "+", as the activity ledger's)."""
    return [
        (relation.related_model, relation.field.name)
        for relation in Contact._meta.get_fields(include_hidden=True)
        if isinstance(relation, ManyToOneRel)
        and relation.one_to_many
        and isinstance(relation.related_model, type)
    ]


def _rows_move(other: Contact, member: Contact) -> None:
    """Give the member everything held on OTHER (events, conversations, …) before it goes.

    Every model with a foreign key to Contact is moved, so a model added later cannot be lost
    to the delete's cascade; the monthly-activity ledger is merged (one row a month)."""
    for model, column in _holding_models():
        rows = model._default_manager.filter(**{column: other})
        if model is ContactActivity:
            months = list(rows.values_list("month", flat=True))
            ContactActivity.objects.bulk_create(
                [
                    ContactActivity(channel_id=member.channel_id, contact=member, month=m)
                    for m in months
                ],
                ignore_conflicts=True,
            )
            continue
        rows.update(**{column: member})


def _lock_pair(channel: Channel, member_contact_id: int, veil_id: str) -> list[Contact]:
    """Lock the member and the device's non-member contact, in id order (no deadlocks)."""
    device = Q(veil_id=veil_id, member_id__isnull=True)
    return list(
        Contact.objects.select_for_update()
        .filter(channel=channel)
        .filter(Q(pk=member_contact_id) | device)
        .order_by("id")
    )


@transaction.atomic
def contact_merge_device_into_member(
    *, channel: Channel, member_contact_id: int, veil_id: str, now: datetime
) -> bool:
    """Merge the non-member contact of device VEIL_ID into the member; False when there is none."""
    rows = _lock_pair(channel, member_contact_id, veil_id)
    member = next((c for c in rows if c.pk == member_contact_id), None)
    other = next((c for c in rows if c.pk != member_contact_id), None)
    if member is None or other is None:
        return False
    fields = merged_fields(member=member, other=other)
    _rows_move(other, member)
    other.delete()
    Contact.objects.filter(pk=member.pk).update(**fields, updated_at=now)
    return True
