"""The bench channels, and every piece of app code the generator calls.

The generator's other modules are plain SQL and data; this one is where it meets the app: the
channel service (default roles and preset profile fields), the profile field and tag catalogue
services, and the two tables it loads.
"""

from __future__ import annotations

from django.db import connection, transaction

from bench.seed.vocabulary import TAGS
from contacts.models import Contact, Event
from contacts.services.tags import tag_catalogue_ensure
from crm.models import Channel, Plan
from crm.provisioning import channel_provision
from profile_schema.models import FieldType
from profile_schema.services import profile_field_create

CHANNEL_PREFIX = "bench-"
CHANNEL_REGEX = r"^bench-[0-9]+$"
TABLES = (Contact._meta.db_table, Event._meta.db_table)
EXTRA_FIELDS = (("age", "Age", FieldType.NUMBER), ("gender", "Gender", FieldType.STRING),
                ("planTier", "Plan tier", FieldType.STRING), ("points", "Points", FieldType.NUMBER),
                ("signupDate", "Sign-up date", FieldType.DATE),
                ("orderCount", "Orders", FieldType.NUMBER),
                ("totalSpent", "Total spent (KRW)", FieldType.NUMBER),
                ("interests", "Interests", FieldType.LIST),
                ("marketingOptIn", "Marketing opt-in", FieldType.BOOLEAN),
                ("favoriteCategory", "Favourite category", FieldType.STRING),
                ("couponCount", "Coupons", FieldType.NUMBER))  # fmt: skip


def bench_channel_ids() -> list[int]:
    """Ids of the bench-N channels."""
    return list(Channel.objects.filter(name__regex=CHANNEL_REGEX).values_list("pk", flat=True))


def bench_channels_delete() -> None:
    """Delete the bench-* channels: contacts and events in plain SQL, the rest through Django."""
    ids = bench_channel_ids()
    if not ids:
        return
    # One transaction: the deferred foreign keys of other tables are checked once all is gone.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM contacts_event WHERE channel_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM contacts_contact WHERE channel_id = ANY(%s)", [ids])
        Channel.objects.filter(pk__in=ids).delete()


def bench_channels_create(count: int) -> list[Channel]:
    """bench-1..COUNT with default roles, preset and extra profile fields, and the tag catalogue."""
    channels = []
    for number in range(1, count + 1):
        plan = Plan.PAID if number % 2 else Plan.FREE
        channel = channel_provision(name=f"{CHANNEL_PREFIX}{number}", plan=plan)
        with transaction.atomic():
            tag_catalogue_ensure(channel=channel, tags=[tag for tag, _ in TAGS])
        for key, name, type_ in EXTRA_FIELDS:
            profile_field_create(channel=channel, key=key, name=name, type=type_)
        channels.append(channel)
    return channels
