"""What one write does to a contact (ContactChange), and the database limits it may run into.

A change holds values already checked and normalised; contacts.services.atomic turns it into
one SQL statement."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError

from contacts.models import MAX_TAGS_PER_CONTACT
from crm.errors import InvalidInput, Problem
from profile_schema.validation import MAX_PROFILE_BYTES, MAX_PROFILE_KEYS

SESSION_IDLE = timedelta(minutes=30)
# lastSeenAt is kept to this resolution, so boots in quick succession write nothing new.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
PLATFORMS = ("web", "mobile")
CONSTRAINT_PROBLEMS = {
    "contact_tags_at_most_20": Problem(
        "tags", "too_many_tags", f"A contact has at most {MAX_TAGS_PER_CONTACT} tags."
    ),
    "contact_profile_at_most_256_keys": Problem(
        "profile", "too_many_keys", f"A profile holds at most {MAX_PROFILE_KEYS} keys."
    ),
    "contact_profile_at_most_15kb": Problem(
        "profile", "too_large", f"A profile is at most {MAX_PROFILE_BYTES} bytes as JSON."
    ),
}


@dataclass
class ContactChange:
    """What one write does to a contact; every value already validated and normalised."""

    now: datetime
    profile_set: dict[str, Any] = field(default_factory=dict)
    profile_once: dict[str, Any] = field(default_factory=dict)
    profile_remove: list[str] = field(default_factory=list)
    tags_add: list[str] = field(default_factory=list)
    tags_remove: list[str] = field(default_factory=list)
    tags_replace: list[str] | None = None
    language: str | None = None
    # SDK writes may only turn opt-outs on; managers and API clients set them either way.
    unsubscribe_email: bool | None = None
    unsubscribe_texting: bool | None = None
    unsubscribe_only_on: bool = False
    columns: dict[str, Any] = field(default_factory=dict)
    visit: str | None = None  # "web" or "mobile": count a visit now

    def params(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "idle_before": self.now - SESSION_IDLE,
            "seen_before": self.now - LAST_SEEN_RESOLUTION,
            "p_set": json.dumps(self.profile_set, ensure_ascii=False),
            "p_once": json.dumps(self.profile_once, ensure_ascii=False),
            "p_remove": list(self.profile_remove),
            "t_add": list(self.tags_add),
            "t_remove": list(self.tags_remove),
            "t_replace": self.tags_replace,
            "language": self.language or "",
            "u_email": self.unsubscribe_email,
            "u_texting": self.unsubscribe_texting,
            **{f"col_{name}": value for name, value in self.columns.items()},
        }


@contextmanager
def database_limits() -> Iterator[None]:
    """A database limit (tags, profile size, key count) hit inside becomes a refusal naming it."""
    try:
        yield
    except IntegrityError as error:
        constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
        if constraint in CONSTRAINT_PROBLEMS:
            raise InvalidInput([CONSTRAINT_PROBLEMS[constraint]]) from error
        raise
