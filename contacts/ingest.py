"""Writes that come from websites and apps: boot, updateUser, track, tags (API.md /sdk/v1)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contacts import merging
from contacts.activity import activity_record, month_of
from contacts.atomic import ContactChange, contact_update_atomic, contact_upsert_returning
from contacts.models import Contact
from contacts.sdk.context import VisitContext
from contacts.services import tag_catalogue_ensure, tags_clean
from crm.errors import AuthenticationFailed, InvalidInput, Problem
from crm.models import Channel
from profile_schema.locks import ChannelGone, schema_read_lock
from profile_schema.models import ProfileField
from profile_schema.validation import (
    ProfileValidationError,
    profile_fields_by_key,
    profile_values_clean,
)

SESSION_TOKEN_SALT = "contacts.sdk.session"  # noqa: S105 - a signing namespace
SESSION_TOKEN_MAX_AGE = 60 * 60 * 24 * 30


@dataclass(frozen=True)
class BootResult:
    contact: Contact
    veil_id: str | None
    session_token: str
    created: bool


# How long a process trusts a channel it looked up by plugin key. The settings a boot reads
# (member-hash secret and requirement, time zone) reach every process within this time; the
# schema version is read afresh under the lock on every write.
CHANNEL_CACHE_SECONDS = 10.0
CHANNEL_CACHE_SIZE = 4096
_channels: dict[str, tuple[float, Channel]] = {}


def channel_by_plugin_key(plugin_key: str) -> Channel | None:
    """The channel of PLUGIN_KEY, from this process's cache when looked up in the last seconds.

    Each caller gets its own copy, since writes refresh the copy's schema version. An unknown
    key is never cached: a channel created a moment ago boots at once."""
    now = time.monotonic()
    cached = _channels.get(plugin_key)
    if cached is not None and cached[0] > now:
        return copy.copy(cached[1])
    channel = Channel.objects.filter(plugin_key=plugin_key).first()
    if channel is None:
        _channels.pop(plugin_key, None)
        return None
    if len(_channels) >= CHANNEL_CACHE_SIZE:
        _channels.clear()
    _channels[plugin_key] = (now + CHANNEL_CACHE_SECONDS, copy.copy(channel))
    return channel


def channel_cache_clear() -> None:
    """Forget every cached channel (tests; a process that must see a change at once)."""
    _channels.clear()


def member_hash(*, secret: str, member_id: str) -> str:
    """hex(HMAC-SHA256(key=bytes.fromhex(secret), msg=member_id))."""
    return hmac.new(bytes.fromhex(secret), member_id.encode(), hashlib.sha256).hexdigest()


def member_hash_check(*, channel: Channel, member_id: str, given: str | None) -> None:
    """Refuse a wrong hash always, and a missing one when the channel requires it."""
    if not given:
        if channel.require_member_hash:
            raise AuthenticationFailed("This channel requires a memberHash with a memberId.")
        return
    expected = member_hash(secret=channel.member_hash_secret, member_id=member_id)
    if not hmac.compare_digest(expected, given.strip().lower()):
        raise AuthenticationFailed("The memberHash does not match the memberId.")


def session_token_issue(contact: Contact) -> str:
    """A signed token naming the contact, for the SDK calls after a boot."""
    return signing.dumps({"ch": contact.channel_id, "c": contact.pk}, salt=SESSION_TOKEN_SALT)


def session_contact(token: str | None) -> Contact:
    """The contact a session token names; AuthenticationFailed when invalid, old or gone."""
    if not token:
        raise AuthenticationFailed("The x-session-token header is missing; boot first.")
    try:
        data = signing.loads(token, salt=SESSION_TOKEN_SALT, max_age=SESSION_TOKEN_MAX_AGE)
    except signing.BadSignature as error:
        raise AuthenticationFailed(
            "The session token is invalid or expired; boot again."
        ) from error
    contact = (
        Contact.objects.select_related("channel")
        .filter(pk=data["c"], channel_id=data["ch"])
        .first()
    )
    if contact is None:
        raise AuthenticationFailed("The session's contact no longer exists; boot again.")
    return contact


def _clean_profiles(
    channel: Channel,
    profile: Mapping[str, Any],
    profile_once: Mapping[str, Any],
    fields: Mapping[str, ProfileField] | None = None,
) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
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


def _visit_profile(
    channel: Channel, values: dict[str, str], fields: Mapping[str, ProfileField]
) -> dict[str, Any]:
    """The visit's UTM and referrer values that the channel's fields accept; the rest is dropped.

    A visit never fails a boot: a key the channel no longer defines, or a value its field
    refuses, is left out."""
    kept = {key: value for key, value in values.items() if key in fields}
    try:
        return profile_values_clean(
            channel=channel, values=kept, allow_removal=False, fields=fields
        )
    except ProfileValidationError as error:
        refused = {p.key.removeprefix("profile.") for p in error.problems}
        kept = {key: value for key, value in kept.items() if key not in refused}
    try:
        return profile_values_clean(
            channel=channel, values=kept, allow_removal=False, fields=fields
        )
    except ProfileValidationError:
        return {}


def _tags(raw: Any, key: str = "tags") -> list[str]:
    try:
        return tags_clean(raw or [])
    except ValidationError as error:
        raise InvalidInput(
            [Problem(key, "invalid_tag", message) for message in error.message_dict["tags"]]
        ) from error


def _all_problems(*steps: Any) -> list[Any]:
    """Run every validation step; refuse with the problems of all of them together."""
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


@dataclass(frozen=True)
class BootInput:
    """A boot request, shape already checked by the API layer."""

    member_id: str | None = None
    member_hash: str | None = None
    veil_id: str | None = None
    profile: Mapping[str, Any] | None = None
    profile_once: Mapping[str, Any] | None = None
    language: str | None = None
    unsubscribe_email: bool | None = None
    unsubscribe_texting: bool | None = None
    tags: list[str] | None = None


def boot_change(channel: Channel, boot: BootInput, visit: VisitContext) -> ContactChange:
    """The change a boot makes: profile (first touch / last touch rules), tags, visit, device."""
    wanted = boot.profile or boot.profile_once or visit.profile_once or visit.profile_set
    fields = profile_fields_by_key(channel) if wanted else {}
    cleaned, tags = _all_problems(
        lambda: _clean_profiles(channel, boot.profile or {}, boot.profile_once or {}, fields),
        lambda: _tags(boot.tags),
    )
    profile, removed, once = cleaned
    visit_once = _visit_profile(channel, visit.profile_once, fields)
    visit_last = _visit_profile(channel, visit.profile_set, fields)
    return ContactChange(
        now=timezone.now(),
        profile_set={**visit_last, **profile},
        profile_once={**visit_once, **once},
        profile_remove=removed,
        tags_add=tags,
        language=(boot.language or "")[:16] or None,
        unsubscribe_email=True if boot.unsubscribe_email else None,
        unsubscribe_texting=True if boot.unsubscribe_texting else None,
        unsubscribe_only_on=True,
        columns=dict(visit.columns),
        visit=visit.platform,
    )


def contact_boot(*, channel: Channel, boot: BootInput, visit: VisitContext) -> BootResult:
    """Find or create the visitor (by member id, else by device id), record the visit, merge.

    An anonymous contact or lead on the same device is merged into the member it becomes.
    Usually three statements: the schema lock, then one upsert that also records the month's
    activity and returns the row, then the commit (ARCHITECTURE rule 3)."""
    if boot.member_id:
        member_hash_check(channel=channel, member_id=boot.member_id, given=boot.member_hash)
    veil_id = None if boot.member_id else (boot.veil_id or uuid.uuid4().hex)
    with transaction.atomic():
        try:
            schema_read_lock(channel)
        except ChannelGone:
            _channels.pop(channel.plugin_key, None)
            raise AuthenticationFailed("Unknown pluginKey.") from None
        change = boot_change(channel, boot, visit)
        tag_catalogue_ensure(channel=channel, tags=change.tags_add)
        identity, value = ("member_id", boot.member_id) if boot.member_id else ("veil_id", veil_id)
        assert value is not None
        upserted = contact_upsert_returning(
            channel_id=channel.pk,
            identity=identity,
            value=value,
            change=change,
            activity_month=month_of(channel, change.now),
            device_veil_id=boot.veil_id if boot.member_id else None,
        )
        contact = upserted.contact
        merged = (
            upserted.device_contact_id is not None
            and boot.veil_id is not None
            and merging.contact_merge_device_into_member(
                channel=channel, member_contact_id=contact.pk, veil_id=boot.veil_id, now=change.now
            )
        )
        if merged:
            activity_record(channel=channel, contact_id=contact.pk, moment=change.now)
            contact = Contact.objects.get(pk=contact.pk)
    contact.channel = channel
    return BootResult(
        contact=contact,
        veil_id=boot.veil_id or veil_id,
        session_token=session_token_issue(contact),
        created=upserted.created,
    )


@transaction.atomic
def contact_sdk_update(*, contact: Contact, data: Mapping[str, Any]) -> Contact:
    """updateUser from the SDK: profile, profileOnce, tags (replace), language, opt-outs (on)."""
    channel = contact.channel
    schema_read_lock(channel)
    cleaned, tags = _all_problems(
        lambda: _clean_profiles(channel, data.get("profile") or {}, data.get("profileOnce") or {}),
        lambda: _tags(data["tags"]) if data.get("tags") is not None else None,
    )
    profile, removed, once = cleaned
    change = ContactChange(
        now=timezone.now(),
        profile_set=profile,
        profile_once=once,
        profile_remove=removed,
        tags_replace=tags,
        language=(data.get("language") or "")[:16] or None,
        unsubscribe_email=True if data.get("unsubscribeEmail") else None,
        unsubscribe_texting=True if data.get("unsubscribeTexting") else None,
        unsubscribe_only_on=True,
    )
    return _apply(contact, change)


def contact_sdk_tags(*, contact: Contact, add: list[Any], remove: list[Any]) -> Contact:
    """addTags / removeTags from the SDK, merged into the stored tags atomically."""
    added, removed = _all_problems(lambda: _tags(add, "add"), lambda: _tags(remove, "remove"))
    change = ContactChange(now=timezone.now(), tags_add=added, tags_remove=removed)
    return _apply(contact, change)


def _apply(contact: Contact, change: ContactChange) -> Contact:
    with transaction.atomic():
        tag_catalogue_ensure(
            channel=contact.channel, tags=change.tags_add + (change.tags_replace or [])
        )
        if contact_update_atomic(
            channel_id=contact.channel_id, contact_id=contact.pk, change=change
        ):
            activity_record(channel=contact.channel, contact_id=contact.pk, moment=change.now)
    return Contact.objects.select_related("channel").get(pk=contact.pk)
