"""Writes for contacts and the channel's tag catalogue."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now

from contacts.activity import activity_record
from contacts.models import (
    MAX_TAGS_PER_CHANNEL,
    MAX_TAGS_PER_CONTACT,
    TAG_MAX_LENGTH,
    Contact,
    Tag,
)
from crm.models import Channel

TAG_FORBIDDEN = re.compile(r"[.$/\\\s]")


def tags_clean(tags: Iterable[object]) -> list[str]:
    """Lowercase, de-duplicate and check TAGS: at most 20, no `.` `$` `/` `\\` or spaces."""
    cleaned: list[str] = []
    problems: list[str] = []
    for raw in tags:
        if not isinstance(raw, str) or not raw.strip():
            problems.append(f"{raw!r} is not a tag: a tag is a non-empty string.")
            continue
        tag = raw.strip().lower()
        if TAG_FORBIDDEN.search(tag):
            problems.append(f"{raw!r}: a tag may not hold '.', '$', '/', '\\' or spaces.")
        elif len(tag) > TAG_MAX_LENGTH:
            problems.append(f"{raw!r}: a tag has at most {TAG_MAX_LENGTH} characters.")
        elif tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS_PER_CONTACT:
        problems.append(
            f"A contact has at most {MAX_TAGS_PER_CONTACT} tags; {len(cleaned)} were given."
        )
    if problems:
        raise ValidationError({"tags": problems})
    return cleaned


def tag_catalogue_ensure(*, channel: Channel, tags: Iterable[str]) -> None:
    """Add TAGS to the channel's catalogue; refused when it would pass 1,000 distinct tags."""
    wanted = set(tags)
    if not wanted or not _tags_missing(channel, wanted):
        return
    # The channel row lock serialises catalogue growth so the limit holds under concurrency;
    # writes with known tags (the common case) never take it.
    Channel.objects.select_for_update().filter(pk=channel.pk).first()
    missing = _tags_missing(channel, wanted)
    if not missing:
        return
    if Tag.objects.filter(channel=channel).count() + len(missing) > MAX_TAGS_PER_CHANNEL:
        raise ValidationError(
            {
                "tags": f"A channel has at most {MAX_TAGS_PER_CHANNEL} distinct tags; "
                f"remove unused tags before adding {', '.join(sorted(missing))}."
            }
        )
    Tag.objects.bulk_create(
        [Tag(channel=channel, name=name) for name in sorted(missing)], ignore_conflicts=True
    )


def _tags_missing(channel: Channel, wanted: set[str]) -> set[str]:
    known = Tag.objects.filter(channel=channel, name__in=wanted).values_list("name", flat=True)
    return wanted - set(known)


@transaction.atomic
def contact_tags_set(*, contact: Contact, tags: Iterable[object]) -> Contact:
    """Replace CONTACT's tags with TAGS (cleaned, catalogued); unchanged tags write nothing."""
    cleaned = tags_clean(tags)
    tag_catalogue_ensure(channel=contact.channel, tags=cleaned)
    changed = (
        Contact.objects.filter(pk=contact.pk)
        .filter(~Q(tags=cleaned))
        .update(tags=cleaned, updated_at=Now())
    )
    contact.refresh_from_db(fields=["tags", "updated_at"])
    if changed:
        activity_record(channel=contact.channel, contact_id=contact.pk, moment=contact.updated_at)
    return contact


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
