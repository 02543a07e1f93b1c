"""Recording events (track): name and typed properties, and the checkout time they imply."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import BigIntegerField, Func, JSONField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Greatest
from django.utils import timezone

from contacts.models import EVENT_NAME_MAX_LENGTH, Contact, Event
from contacts.services.activity import activity_record
from contacts.services.change import database_limits
from crm.errors import InvalidInput, Problem
from profile_schema.locks import schema_read_lock
from profile_schema.models import FieldType
from profile_schema.validation import profile_fields_by_key

STRING_PROPERTY_MAX_BYTES = 512
NESTED_PAYLOAD_MAX_BYTES = 4 * 1024
CHECKOUT_KEY = "lastCheckoutCompletedAt"


def checkout_event_name() -> str:
    """The event that marks a completed order (settings.CHECKOUT_EVENT_NAME)."""
    return str(getattr(settings, "CHECKOUT_EVENT_NAME", "CheckoutComplete"))


def event_problems(name: object, properties: object) -> list[Problem]:
    """Every problem with an event: its name, each property, the nested payload's size."""
    problems: list[Problem] = []
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem("name", "required", "An event needs a name (a non-empty string)."))
    elif len(name) > EVENT_NAME_MAX_LENGTH:
        problems.append(
            Problem(
                "name",
                "too_long",
                f"An event name has at most {EVENT_NAME_MAX_LENGTH} characters; got {len(name)}.",
            )
        )
    if not isinstance(properties, Mapping):
        problems.append(Problem("property", "invalid_type", "property must be an object."))
        return problems
    nested = False
    for key, value in properties.items():
        if isinstance(value, str) and len(value.encode()) > STRING_PROPERTY_MAX_BYTES:
            problems.append(
                Problem(
                    f"property.{key}",
                    "too_long",
                    f"property.{key} is {len(value.encode())} bytes; a string property has at "
                    f"most {STRING_PROPERTY_MAX_BYTES} bytes (UTF-8).",
                )
            )
        nested = nested or isinstance(value, list | dict)
    size = len(json.dumps(properties, ensure_ascii=False, separators=(",", ":")).encode())
    if nested and size > NESTED_PAYLOAD_MAX_BYTES:
        problems.append(
            Problem(
                "property",
                "too_large",
                f"Properties with lists or objects are at most {NESTED_PAYLOAD_MAX_BYTES} bytes "
                f"as JSON; got {size}.",
            )
        )
    return problems


def _checkout_time_record(contact: Contact, at: datetime, *, fill_only: bool) -> bool:
    """profile.lastCheckoutCompletedAt = the later of the stored value and AT, in one statement
    (with FILL_ONLY, only when the contact has none yet); whether it was written."""
    moment = int(at.timestamp() * 1000)
    stored = Cast(KT(f"profile__{CHECKOUT_KEY}"), BigIntegerField())
    later = Greatest(Func(stored, Value(0), function="COALESCE"), Value(moment))
    rows = Contact.objects.filter(pk=contact.pk)
    if fill_only:
        rows = rows.exclude(profile__has_key=CHECKOUT_KEY)
    written = rows.update(
        profile=Func(
            "profile",
            Value(f"{{{CHECKOUT_KEY}}}"),
            Func(later, function="to_jsonb", output_field=JSONField()),
            function="jsonb_set",
            output_field=JSONField(),
        ),
        updated_at=at,
    )
    return bool(written)


def event_values_clean(*, name: object, properties: object) -> tuple[str, dict[str, Any]]:
    """(name, properties) of an event as a request gave them, checked (missing properties are
    none); InvalidInput listing every problem."""
    properties = {} if properties is None else properties
    problems = event_problems(name, properties)
    # Without problems, NAME is a string and PROPERTIES an object: the type checks only say so.
    if problems or not isinstance(name, str) or not isinstance(properties, Mapping):
        raise InvalidInput(problems)
    return name.strip(), dict(properties)


def contact_event_track(
    *,
    contact: Contact,
    name: str,
    properties: Mapping[str, Any],
    at: datetime | None = None,
    fill_only: bool = False,
) -> Event:
    """Record event NAME (checked by event_values_clean) of CONTACT at AT (default now); a
    checkout event also updates the last checkout time. With FILL_ONLY (an unverified SDK
    session, which may only fill empty keys) the checkout time is set only when empty."""
    at = timezone.now() if at is None else at
    checkout = name == checkout_event_name()
    with transaction.atomic():
        if checkout:
            # A profile write like any other: the schema lock before any row lock, and the
            # value only while the field is the Datetime it was made as.
            schema_read_lock(contact.channel)
        event = Event.objects.create(
            channel_id=contact.channel_id,
            contact=contact,
            name=name,
            properties=dict(properties),
            created_at=at,
        )
        if checkout and _checkout_field_is_datetime(contact):
            with database_limits():
                written = _checkout_time_record(contact, at, fill_only=fill_only)
            if written:
                activity_record(channel=contact.channel, contact_id=contact.pk, moment=at)
    return event


def _checkout_field_is_datetime(contact: Contact) -> bool:
    field = profile_fields_by_key(contact.channel).get(CHECKOUT_KEY)
    return field is not None and field.type == FieldType.DATETIME
