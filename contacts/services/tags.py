"""The channel's tag catalogue and a contact's tags: add to the catalogue, set, delete a tag.

A tag delete is resumable: `tag_removal_batch` takes a tag off the next holders after a contact
id, each batch its own short transaction, and `tag_removal_finish` drops the catalogue entry
last; `tag_delete_start` starts the `tagDelete` job that runs them with its progress
(contacts.jobs), and `tag_delete` runs them in one call. Removing a tag leaves the contacts'
`updatedAt` alone: an admin's cleanup is no activity of theirs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Func, Q, Value
from django.db.models.functions import Now

from contacts.models import MAX_TAGS_PER_CHANNEL, Contact, Tag
from contacts.services.activity import activity_record
from contacts.services.values import tags_clean
from crm.counting import count_bounded
from crm.jobs.models import Job, JobKind
from crm.jobs.selectors import job_active_on
from crm.jobs.services import job_in_the_way, job_start
from crm.models import Channel
from crm.permissions import Viewer

DELETE_BATCH_SIZE = 5000
_CONTACTS = Contact._meta.db_table
# The batch's ids come as one array (an InitPlan), so the UPDATE reads them by the primary key
# with its channel as a filter; `id IN (subquery)` let the planner hash-join a Seq Scan of every
# tenant's contacts when the tag has many holders.
TAG_REMOVAL_BATCH_SQL = (
    f"UPDATE {_CONTACTS} AS c SET tags = array_remove(c.tags, %(name)s::varchar)"  # noqa: S608 -- constant
    " WHERE c.channel_id = %(channel)s"
    f" AND c.id = ANY(ARRAY(SELECT h.id FROM {_CONTACTS} AS h"
    " WHERE h.channel_id = %(channel)s AND h.tags @> ARRAY[%(name)s]::varchar(50)[]"
    " AND h.id > %(after)s ORDER BY h.id LIMIT %(size)s FOR UPDATE))"
    " RETURNING c.id"
)


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


@transaction.atomic
def tag_create(*, channel: Channel, name: object) -> tuple[Tag, bool]:
    """Add NAME, cleaned as every tag is, to CHANNEL's catalogue; the tag and whether it is new."""
    (clean,) = tags_clean([name])
    existing = Tag.objects.filter(channel=channel, name=clean).first()
    if existing is not None:
        return existing, False
    tag_catalogue_ensure(channel=channel, tags=[clean])
    return Tag.objects.get(channel=channel, name=clean), True


@dataclass(frozen=True)
class TagRemovalBatch:
    """What one batch of a tag delete did: the last contact id it reached, how many contacts
    lost the tag, and whether no holder is left past it."""

    last_id: int
    changed: int
    finished: bool


def tag_removal_batch(
    *, channel_id: int, name: str, after: int, batch_size: int = DELETE_BATCH_SIZE
) -> TagRemovalBatch:
    """Take tag NAME off the next BATCH_SIZE holders with a contact id above AFTER, in one
    transaction; run again from the same AFTER, it finds nothing left to do there."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            TAG_REMOVAL_BATCH_SQL,
            {"channel": channel_id, "name": name, "after": after, "size": batch_size},
        )
        ids = [row[0] for row in cursor.fetchall()]
    return TagRemovalBatch(
        last_id=max(ids, default=after), changed=len(ids), finished=len(ids) < batch_size
    )


def tag_removal_finish(*, channel_id: int, name: str) -> int:
    """Drop tag NAME from the catalogue, then from contacts tagged while the batches ran; how
    many of those there were. Idempotent: a second run finds nothing."""
    with transaction.atomic():
        # The catalogue row goes first: the delete waits for writers that hold the tag (they
        # read it FOR KEY SHARE in tag_catalogue_ensure), and later writers find it gone and
        # add it back, so no contact keeps a tag the catalogue lacks.
        Tag.objects.filter(channel_id=channel_id, name=name).delete()
        holders = Contact.objects.filter(channel_id=channel_id, tags__contains=[name])
        tags_field = Contact._meta.get_field("tags")
        without = Func(F("tags"), Value(name), function="array_remove", output_field=tags_field)
        return holders.update(tags=without)


@transaction.atomic
def tag_delete_start(*, tag: Tag, requested_by: Viewer | None) -> Job:
    """Start the `tagDelete` job that takes TAG off its holders, then out of the catalogue;
    refused (a Conflict naming it) while another one deletes the tag."""
    # Starts on one tag queue here (writers' FOR KEY SHARE does not wait for it).
    Tag.objects.select_for_update(no_key=True).filter(pk=tag.pk).first()
    params = {"name": tag.name}
    running = job_active_on(channel_id=tag.channel_id, kinds=[JobKind.TAG_DELETE], params=params)
    if running is not None:
        raise job_in_the_way(job=running, subject=f"The tag {tag.name}", key="name")
    holders = count_bounded(
        Contact.objects.filter(channel_id=tag.channel_id, tags__contains=[tag.name])
    )
    return job_start(
        channel=tag.channel,
        kind=JobKind.TAG_DELETE,
        params=params,
        requested_by=requested_by,
        total=holders.value if holders.exact else None,
    )


def tag_delete(*, tag: Tag, batch_size: int = DELETE_BATCH_SIZE) -> int:
    """Remove TAG from its holders (batches, each its own transaction), then from the catalogue;
    how many contacts lost it."""
    removed, after = 0, 0
    while True:
        batch = tag_removal_batch(
            channel_id=tag.channel_id, name=tag.name, after=after, batch_size=batch_size
        )
        removed, after = removed + batch.changed, batch.last_id
        if batch.finished:
            break
    return removed + tag_removal_finish(channel_id=tag.channel_id, name=tag.name)
