"""Contacts (the "users" of the API), the channel's tag catalogue, and contact events."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Case, F, Func, Q, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Upper
from django.db.models.lookups import LessThan, LessThanOrEqual

from crm.models import Channel
from profile_schema.validation import MAX_PROFILE_BYTES, MAX_PROFILE_KEYS

MAX_TAGS_PER_CONTACT = 20
MAX_TAGS_PER_CHANNEL = 1000
TAG_MAX_LENGTH = 50
EVENT_NAME_MAX_LENGTH = 30
# An immutable SQL function (created by migration 0001) so a CHECK can count a profile's keys.
JSONB_KEY_COUNT_FUNCTION = "crm_jsonb_key_count"


class ContactType(models.TextChoices):
    ANONYMOUS = "anonymous", "Anonymous"
    LEAD = "lead", "Lead"
    MEMBER = "member", "Member"


class Contact(models.Model):
    """A customer of a channel: built-in fields as typed columns, `profile.*` as jsonb."""

    # No index of its own: every contact index leads with channel_id.
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="contacts", db_index=False
    )
    # Derived in the database on every write, whatever path writes (ARCHITECTURE rule 2):
    # member when a member id is set; lead with contact information or a chat; else anonymous.
    type = models.GeneratedField(
        expression=Case(
            When(member_id__isnull=False, then=Value(ContactType.MEMBER)),
            When(
                Q(has_chat=True)
                | Q(profile__has_key="email")
                | Q(profile__has_key="mobileNumber")
                | Q(profile__has_key="landlineNumber"),
                then=Value(ContactType.LEAD),
            ),
            default=Value(ContactType.ANONYMOUS),
        ),
        output_field=models.CharField(max_length=10, choices=ContactType.choices),
        db_persist=True,
    )
    # NULL, not "", means "none": the per-channel unique keys then skip those rows.
    member_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    veil_id = models.CharField(  # noqa: DJ001
        max_length=64, null=True, blank=True, help_text="The anonymous device id of the SDK."
    )
    name = models.GeneratedField(
        expression=Coalesce(KT("profile__name"), Value(""), output_field=models.TextField()),
        output_field=models.CharField(max_length=512),
        db_persist=True,
        help_text="From profile.name.",
    )
    profile = models.JSONField(default=dict, blank=True)
    tags = ArrayField(models.CharField(max_length=TAG_MAX_LENGTH), default=list, blank=True)

    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2.")
    language = models.CharField(max_length=16, blank=True)
    sessions_count = models.PositiveIntegerField(default=0)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    web_browser = models.CharField(max_length=100, blank=True)
    web_browser_name = models.CharField(max_length=64, blank=True)
    web_os = models.CharField(max_length=100, blank=True)
    web_os_name = models.CharField(max_length=64, blank=True)
    web_device = models.CharField(max_length=100, blank=True)
    web_last_seen_at = models.DateTimeField(null=True, blank=True)
    web_sessions_count = models.PositiveIntegerField(default=0)

    mobile_app_name = models.CharField(max_length=100, blank=True)
    mobile_app_version = models.CharField(max_length=32, blank=True)
    mobile_os = models.CharField(max_length=100, blank=True)
    mobile_os_name = models.CharField(max_length=64, blank=True)
    mobile_device = models.CharField(max_length=100, blank=True)
    mobile_last_seen_at = models.DateTimeField(null=True, blank=True)
    mobile_sessions_count = models.PositiveIntegerField(default=0)

    has_push_token = models.BooleanField(default=False)
    unsubscribe_email = models.BooleanField(default=False)
    unsubscribe_texting = models.BooleanField(default=False)
    has_chat = models.BooleanField(default=False)

    blocked = models.BooleanField(default=False)
    blocked_at = models.DateTimeField(null=True, blank=True)
    blocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    blocked_reason = models.CharField(max_length=500, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "member_id"],
                condition=models.Q(member_id__isnull=False),
                name="contact_member_id_per_channel",
            ),
            models.UniqueConstraint(
                fields=["channel", "veil_id"],
                condition=models.Q(veil_id__isnull=False),
                name="contact_veil_id_per_channel",
            ),
            models.CheckConstraint(
                condition=models.Q(blocked=False) | models.Q(blocked_at__isnull=False),
                name="contact_blocked_has_time",
            ),
            models.CheckConstraint(
                condition=models.Q(tags__len__lte=MAX_TAGS_PER_CONTACT),
                name="contact_tags_at_most_20",
            ),
            # The profile limits (15 KB as JSON, 256 keys) hold for every writer, merges included.
            models.CheckConstraint(
                condition=LessThanOrEqual(
                    Func(Cast("profile", models.TextField()), function="octet_length"),
                    MAX_PROFILE_BYTES,
                ),
                name="contact_profile_at_most_15kb",
            ),
            # A profile under 2,000 bytes cannot hold 257 keys (each takes at least 8), so
            # only larger ones pay for counting them.
            models.CheckConstraint(
                condition=LessThan(
                    Func(Cast("profile", models.TextField()), function="octet_length"), 2000
                )
                | LessThanOrEqual(
                    Func("profile", function=JSONB_KEY_COUNT_FUNCTION), MAX_PROFILE_KEYS
                ),
                name="contact_profile_at_most_256_keys",
            ),
        ]
        indexes = [
            # Tenant-first keys for every list order (ARCHITECTURE rule 1).
            models.Index(fields=["channel", "-id"], name="contact_channel_id_idx"),
            models.Index(
                F("channel"),
                F("last_seen_at").desc(nulls_last=True),
                F("id").desc(),
                name="contact_last_seen_idx",
            ),
            models.Index(fields=["channel", "-updated_at", "-id"], name="contact_updated_idx"),
            models.Index(fields=["channel", "-created_at", "-id"], name="contact_created_idx"),
            models.Index(fields=["channel", "name", "id"], name="contact_name_sort_idx"),
            models.Index(fields=["channel", "sessions_count", "id"], name="contact_sessions_idx"),
            models.Index(
                fields=["channel", "-blocked_at"],
                condition=models.Q(blocked=True),
                name="contact_blocked_idx",
            ),
            # Small (blocked contacts only); serves SET NULL when a manager's login is deleted.
            models.Index(
                fields=["channel", "blocked_by"],
                condition=models.Q(blocked_by__isnull=False),
                name="contact_blocked_by_idx",
            ),
            # Equality / containment on profile keys: profile @> '{"key": value}'.
            GinIndex(
                "channel", OpClass("profile", name="jsonb_path_ops"), name="contact_profile_gin"
            ),
            GinIndex("channel", "tags", name="contact_tags_gin"),
            # Quick search (contacts.filtering.search): an email or a phone number typed in full
            # or as its start is a prefix, `LIKE 'abc%'`, which a B-tree with text_pattern_ops
            # serves as a range (0.1 ms for a whole number at 600,000 contacts, against 20 ms on
            # the trigram index); on exactly the expressions the search compiles to.
            models.Index(
                "channel",
                OpClass(KT("profile__mobileNumber"), name="text_pattern_ops"),
                name="contact_mobile_prefix",
            ),
            models.Index(
                "channel",
                OpClass(Upper(KT("profile__email")), name="text_pattern_ops"),
                name="contact_email_prefix",
            ),
            # Substrings of name, email, phone: quick search for a name or digits from the
            # middle of a number, and the filters' `contains`.
            GinIndex(
                "channel", OpClass(Upper("name"), name="gin_trgm_ops"), name="contact_name_trgm"
            ),
            GinIndex(
                "channel",
                OpClass(Upper(KT("profile__email")), name="gin_trgm_ops"),
                name="contact_email_trgm",
            ),
            GinIndex(
                "channel",
                OpClass(KT("profile__mobileNumber"), name="gin_trgm_ops"),
                name="contact_mobile_trgm",
            ),
        ]

    def __str__(self) -> str:
        # Never a value: the admin writes this into its history (LogEntry), its titles and
        # its confirmations, for every manager, whatever the name's or member id's masking.
        return f"Contact #{self.pk}"


class Tag(models.Model):
    """A tag in the channel's catalogue (at most 1,000 per channel)."""

    # No index of its own: the unique (channel, name) key leads with it.
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="tags", db_index=False
    )
    name = models.CharField(max_length=TAG_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "name"], name="tag_name_per_channel"),
            models.CheckConstraint(
                condition=models.Q(name__regex=r"^[^.$/\\\sA-Z]+$"),
                name="tag_name_allowed_characters",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Event(models.Model):
    """Something a contact did (a page view, a checkout), with its properties."""

    # No index of its own: both event indexes lead with it.
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+", db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=EVENT_NAME_MAX_LENGTH)
    properties = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["channel", "contact", "-created_at", "-id"], name="event_contact_time_idx"
            ),
            models.Index(fields=["channel", "name", "-created_at"], name="event_name_time_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class ContactActivity(models.Model):
    """A month in which a contact's data changed: the ledger behind monthly active users."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="The first day of the month, in the channel's time zone.")

    class Meta:
        verbose_name_plural = "contact activity"
        ordering = ["channel_id", "-month"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "month", "contact"], name="contact_activity_once_a_month"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} active in {self.month:%Y-%m}"


class Segment(models.Model):
    """A saved filter of a channel, usable wherever a filter is (lists, exports, audiences)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=100)
    filter = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "name"], name="segment_name_per_channel")
        ]

    def __str__(self) -> str:
        return self.name
