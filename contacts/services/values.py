"""The checks every write's values pass: profile values against the channel's fields, tags by
the tag rules. A refusal lists every problem at once and changes nothing.

The API and the SDK check a request's shape (which keys, which JSON types) and hand the values
over as a ContactInput; the services check the values here, under the channel's schema lock
(profile_schema.locks), so no value checked against a definition commits after it changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from contacts.models import MAX_TAGS_PER_CONTACT, TAG_MAX_LENGTH
from crm.errors import InvalidInput, Problem
from crm.models import Channel
from profile_schema.models import ProfileField
from profile_schema.validation import (
    ProfileValidationError,
    profile_fields_by_key,
    profile_values_clean,
)

TAG_FORBIDDEN = re.compile(r"[.$/\\\s]")
# (values to set, keys to remove, write-once values)
CleanProfile = tuple[dict[str, Any], list[str], dict[str, Any]]


@dataclass(frozen=True)
class ContactInput:
    """The values a request writes to a contact: shape checked, values not yet.

    PROFILE sets keys (None removes one), PROFILE_ONCE fills keys still empty, TAGS replaces
    the whole set (None leaves the tags alone); an opt-out left None stays as it is."""

    profile: Mapping[str, object] = field(default_factory=dict)
    profile_once: Mapping[str, object] = field(default_factory=dict)
    tags: Sequence[object] | None = None
    language: str | None = None
    unsubscribe_email: bool | None = None
    unsubscribe_texting: bool | None = None


def problems_collect(*steps: Callable[[], Any]) -> list[Any]:
    """Run every check of STEPS; refuse with the problems of all of them together, in order.

    Returns each step's result (None for a step that found problems)."""
    results, problems = [], []
    for step in steps:
        try:
            results.append(step())
        except InvalidInput as error:
            problems += error.problems
            results.append(None)
    if problems:
        raise InvalidInput(problems)
    return results


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


def tags_input_clean(raw: Iterable[object] | None, key: str = "tags") -> list[str]:
    """tags_clean as a refusal of the request: each problem under KEY, code invalid_tag."""
    try:
        return tags_clean(raw or [])
    except ValidationError as error:
        raise InvalidInput(
            [Problem(key, "invalid_tag", message) for message in error.message_dict["tags"]]
        ) from error


def profile_input_clean(
    channel: Channel,
    profile: Mapping[str, Any],
    profile_once: Mapping[str, Any],
    fields: Mapping[str, ProfileField] | None = None,
) -> CleanProfile:
    """(values to set, keys to remove, write-once values); every problem of both at once."""
    if fields is None and (profile or profile_once):
        fields = profile_fields_by_key(channel)
    problems: list[Problem] = []
    cleaned: dict[str, Any] = {}
    once: dict[str, Any] = {}
    try:
        cleaned = profile_values_clean(channel=channel, values=profile, fields=fields)
    except ProfileValidationError as error:
        problems += error.problems
    try:
        once = profile_values_clean(
            channel=channel, values=profile_once, allow_removal=False, fields=fields
        )
    except ProfileValidationError as error:
        problems += [
            Problem(p.key.replace("profile.", "profileOnce.", 1), p.code, p.message)
            for p in error.problems
        ]
    if problems:
        raise InvalidInput(problems)
    removed = [key for key, value in cleaned.items() if value is None]
    return {k: v for k, v in cleaned.items() if v is not None}, removed, once


def contact_values_clean(
    *, channel: Channel, values: ContactInput
) -> tuple[CleanProfile, list[str] | None]:
    """VALUES' profile (CleanProfile) and tags (None: left alone), checked; InvalidInput
    listing the profile's problems, then the tags'."""
    profile, tags = problems_collect(
        lambda: profile_input_clean(channel, values.profile, values.profile_once),
        lambda: None if values.tags is None else tags_input_clean(values.tags),
    )
    return profile, tags


def contact_values_problems(*, channel: Channel, values: ContactInput) -> list[Problem]:
    """Every problem contact_values_clean finds in VALUES ([] when none).

    For a request refused for its shape already, so that one answer lists everything: nothing
    is written, so it needs no schema lock."""
    try:
        contact_values_clean(channel=channel, values=values)
    except InvalidInput as refused:
        return refused.problems
    return []
