"""Profile field definitions: the keys of `profile.*` and the built-in fields, per channel."""

from __future__ import annotations

from django.db import models

from crm.models import Channel

# A profile field's key: this prefix, then its data key in the contact's `profile` (the bare key).
PROFILE_PREFIX = "profile."


class FieldType(models.TextChoices):
    BOOLEAN = "boolean", "Boolean"
    STRING = "string", "String"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    DATETIME = "datetime", "Datetime"
    LIST = "list", "List"
    LIST_OF_NUMBER = "listOfNumber", "List of number"


# The type names as the API writes them (the OpenAPI enum "FieldTypeEnum").
FIELD_TYPE_NAMES = list(FieldType.values)


class Masking(models.TextChoices):
    FULL = "full", "Full: the whole value hidden"
    PARTIAL = "partial", "Partial: phone numbers and emails keep some characters"


class IndexState(models.TextChoices):
    """Where a field's per-key index stands against its `indexed` flag."""

    NONE = "none", "None: no index"
    PENDING = "pending", "Pending: being built or dropped"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed: see the error; mark it again or run profile_indexes_sync"


class ProfileField(models.Model):
    """One field of a channel's contacts: a `profile.*` key, or a built-in field (read-only).

    A change of a definition column gives the channel a new schema version (a trigger, see
    migration 0004; profile_schema.cache): a column added here that writes or filters read
    belongs in that trigger's list too."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="profile_fields")
    key = models.CharField(
        max_length=80, help_text="The full key: 'profile.age', or a built-in like 'lastSeenAt'."
    )
    name = models.CharField(max_length=100, help_text="What managers see.")
    type = models.CharField(max_length=16, choices=FieldType.choices)
    built_in = models.BooleanField(default=False, editable=False)
    sensitive = models.BooleanField(default=False)
    masking = models.CharField(max_length=8, choices=Masking.choices, default=Masking.FULL)
    shown_in_profile = models.BooleanField(default=True)
    order = models.PositiveIntegerField(default=0)
    # Ranges and sorting on this key use a B-tree expression index (ARCHITECTURE rule 5), built
    # CONCURRENTLY after commit by profile_schema.indexes; the state says where that stands.
    indexed = models.BooleanField(
        default=False,
        help_text="Build an index so that ranges and sorting on this key stay fast on large "
        "channels (built in the background; each index slows writes a little).",
    )
    index_state = models.CharField(
        max_length=8, choices=IndexState.choices, default=IndexState.NONE, editable=False
    )
    index_name = models.CharField(max_length=63, blank=True, editable=False)
    index_error = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel_id", "order", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "key"], name="profile_field_key_per_channel"
            ),
            models.CheckConstraint(
                condition=models.Q(type__in=FieldType.values), name="profile_field_type_known"
            ),
            models.CheckConstraint(
                condition=models.Q(masking__in=Masking.values), name="profile_field_masking_known"
            ),
            # Partial masking keeps parts of phone numbers and emails: String fields only.
            models.CheckConstraint(
                condition=models.Q(masking=Masking.FULL) | models.Q(type=FieldType.STRING),
                name="profile_field_partial_masking_string",
            ),
            models.CheckConstraint(
                condition=models.Q(index_state__in=IndexState.values),
                name="profile_field_index_state_known",
            ),
            # Built-in fields are columns with their own indexes.
            models.CheckConstraint(
                condition=models.Q(built_in=False) | models.Q(indexed=False),
                name="profile_field_built_in_not_indexed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"
