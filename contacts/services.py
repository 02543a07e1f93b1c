"""Writes for contacts and the channel's tag catalogue."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Func, Q, Value
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
    """The tags of WANTED not in the catalogue; the known ones stay locked FOR KEY SHARE until
    the caller's transaction ends, so a tag delete cannot slip between check and write."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM contacts_tag WHERE channel_id = %s AND name = ANY(%s) FOR KEY SHARE",
            [channel.pk, sorted(wanted)],
        )
        known = {row[0] for row in cursor.fetchall()}
    return wanted - known


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


DELETE_BATCH_SIZE = 5000


@transaction.atomic
def tag_create(*, channel: Channel, name: object) -> tuple[Tag, bool]:
    """Add NAME, cleaned as every tag is, to CHANNEL's catalogue; the tag and whether it is new."""
    (clean,) = tags_clean([name])
    existing = Tag.objects.filter(channel=channel, name=clean).first()
    if existing is not None:
        return existing, False
    tag_catalogue_ensure(channel=channel, tags=[clean])
    return Tag.objects.get(channel=channel, name=clean), True


def tag_delete(*, tag: Tag, batch_size: int = DELETE_BATCH_SIZE) -> int:
    """Remove TAG from its holders (batches, each its own transaction), then from the catalogue."""
    holders = Contact.objects.filter(channel=tag.channel, tags__contains=[tag.name])
    tags_field = Contact._meta.get_field("tags")
    without = Func(F("tags"), Value(tag.name), function="array_remove", output_field=tags_field)
    removed = 0
    while True:
        with transaction.atomic():
            batch = holders.filter(pk__in=holders.values("pk")[:batch_size])
            changed = batch.update(tags=without)
        removed += changed
        if changed < batch_size:
            break
    with transaction.atomic():
        # The catalogue row goes first: the delete waits for writers that hold the tag (they
        # read it FOR KEY SHARE in tag_catalogue_ensure), and later writers find it gone and
        # add it back, so no contact keeps a tag the catalogue lacks.
        Tag.objects.filter(pk=tag.pk).delete()
        removed += holders.update(tags=without)  # contacts tagged while the batches ran
    return removed
