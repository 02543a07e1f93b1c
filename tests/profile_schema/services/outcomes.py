"""What the service tests compare before and after: the channel's field definitions, the
contacts' profiles, and the messages of a refusal."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from contacts.models import Contact
from crm.models import Channel
from profile_schema.models import ProfileField


def field_snapshot(channel: Channel) -> list[tuple[Any, ...]]:
    return list(
        ProfileField.objects.filter(channel=channel)
        .order_by("key")
        .values_list("key", "name", "type", "sensitive", "masking", "shown_in_profile", "order")
    )


def profiles(channel: Channel) -> list[dict[str, Any]]:
    return list(
        Contact.objects.filter(channel=channel).order_by("id").values_list("profile", flat=True)
    )


def error_of(call: Any, **kwargs: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        call(**kwargs)
    return caught.value.message_dict
