"""The SDK's boot (POST /sdk/v1/boot) and the session tokens of the calls after it.

A boot finds or creates the visitor (by member id, else by device id), records the visit and
merges a device's anonymous contact into the member it turns out to be. It is the hottest
request of the product: usually three statements, no second read of the contact.

A boot that names a member without a valid member hash (where the channel allows it) is
unverified: it follows contacts.services.unverified (fill empty keys only, merge nothing, answer
nothing stored), and so does every call made with its session token."""

from __future__ import annotations

import copy
import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact
from contacts.sdk.context import VisitContext
from contacts.services.activity import activity_record, month_of
from contacts.services.atomic import contact_upsert_returning
from contacts.services.change import ContactChange
from contacts.services.merge import contact_merge_device_into_member
from contacts.services.tags import tag_catalogue_ensure
from contacts.services.unverified import CallerView, caller_view, change_restrict, stored_lock
from contacts.services.values import problems_collect, profile_input_clean, tags_input_clean
from crm.errors import AuthenticationFailed
from crm.models import Channel
from profile_schema.locks import ChannelGone, schema_read_lock
from profile_schema.models import PROFILE_PREFIX, ProfileField
from profile_schema.validation import (
    ProfileValidationError,
    profile_fields_by_key,
    profile_values_clean,
)

SESSION_TOKEN_SALT = "contacts.sdk.session"  # noqa: S105 - a signing namespace
SESSION_TOKEN_MAX_AGE = 60 * 60 * 24 * 30


@dataclass(frozen=True)
class BootResult:
    """The booted contact as stored, its device's veil id, the session token, whether new.

    An unverified boot (a member id without a valid hash) carries CALLER, what its answer may
    say; a verified one has none and answers the contact in full."""

    contact: Contact
    veil_id: str | None
    session_token: str
    created: bool
    caller: CallerView | None = None

    @property
    def verified(self) -> bool:
        return self.caller is None


@dataclass(frozen=True)
class SdkSession:
    """The contact a session token names, and whether the boot that issued it proved it.

    A session is verified when its boot was a device's own (found by the veil id the device
    holds) or a member's with a valid member hash; it is unverified when the boot named a member
    without one. Unverified sessions follow contacts.services.unverified and reach none of the
    member's conversations."""

    contact: Contact
    verified: bool


# How long a process trusts a channel it looked up by plugin key. The settings a boot reads
# (member-hash secret and requirement, time zone) reach every process within this time; the
# schema version is read afresh under the lock on every write.
CHANNEL_CACHE_SECONDS = 10.0
CHANNEL_CACHE_SIZE = 4096
_channels: dict[str, tuple[float, Channel]] = {}


def channel_get_by_plugin_key(*, plugin_key: str) -> Channel | None:
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


def member_hash_check(*, channel: Channel, member_id: str, given: str | None) -> bool:
    """Refuse a wrong hash always, and a missing one when the channel requires it; True when the
    hash proves the member id, False for a boot the channel lets through unverified."""
    if not given:
        if channel.require_member_hash:
            raise AuthenticationFailed("This channel requires a memberHash with a memberId.")
        return False
    expected = member_hash(secret=channel.member_hash_secret, member_id=member_id)
    if not hmac.compare_digest(expected, given.strip().lower()):
        raise AuthenticationFailed("The memberHash does not match the memberId.")
    return True


def session_token_issue(*, contact: Contact, verified: bool) -> str:
    """A signed token naming the contact and whether its boot was verified, for the SDK calls
    after a boot."""
    payload = {"ch": contact.channel_id, "c": contact.pk, "v": 1 if verified else 0}
    return signing.dumps(payload, salt=SESSION_TOKEN_SALT)


def session_get(*, token: str | None) -> SdkSession:
    """The session a token names; AuthenticationFailed when invalid, old or its contact gone.

    A token without the verified mark (issued before sessions carried it) is verified when it
    names a contact that is no member (only a device's own boot issued those) and unverified
    when it names a member: the next boot, on the next page view, issues a marked one."""
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
    verified = data["v"] == 1 if "v" in data else contact.member_id is None
    return SdkSession(contact=contact, verified=verified)


def session_is_verified(*, token: str | None) -> bool:
    """Whether the session token is valid and its boot proved its contact (see SdkSession)."""
    return session_get(token=token).verified


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


@dataclass(frozen=True)
class BootInput:
    """A boot request, its shape checked by the SDK layer (contacts.sdk.shapes); the values are
    checked by boot_change."""

    member_id: str | None = None
    member_hash: str | None = None
    veil_id: str | None = None
    profile: Mapping[str, Any] | None = None
    profile_once: Mapping[str, Any] | None = None
    language: str | None = None
    unsubscribe_email: bool | None = None
    unsubscribe_texting: bool | None = None
    tags: Sequence[object] | None = None


def boot_change(channel: Channel, boot: BootInput, visit: VisitContext) -> ContactChange:
    """The change a boot makes: profile (first touch / last touch rules), tags, visit, device."""
    wanted = boot.profile or boot.profile_once or visit.profile_once or visit.profile_set
    fields = profile_fields_by_key(channel) if wanted else {}
    cleaned, tags = problems_collect(
        lambda: profile_input_clean(channel, boot.profile or {}, boot.profile_once or {}, fields),
        lambda: tags_input_clean(boot.tags),
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


def _identity(boot: BootInput) -> tuple[str, str]:
    """The column and value the visitor is found by: the member id, else the device's veil id
    (a new one for a device that has none yet)."""
    if boot.member_id:
        return "member_id", boot.member_id
    return "veil_id", boot.veil_id or uuid.uuid4().hex


def contact_boot(*, channel: Channel, boot: BootInput, visit: VisitContext) -> BootResult:
    """Find or create the visitor (by member id, else by device id), record the visit, merge.

    An anonymous contact or lead on the same device is merged into the member it becomes.
    Usually three statements: the schema lock, then one upsert that also records the month's
    activity and returns the row, then the commit (docs/ARCHITECTURE.md rule 3). A member boot
    without a valid hash, where the channel allows it, is written by the unverified rules."""
    verified = True
    if boot.member_id:
        verified = member_hash_check(
            channel=channel, member_id=boot.member_id, given=boot.member_hash
        )
    identity, value = _identity(boot)
    caller = None
    with transaction.atomic():
        try:
            schema_read_lock(channel)
        except ChannelGone:
            _channels.pop(channel.plugin_key, None)
            raise AuthenticationFailed("Unknown pluginKey.") from None
        change = boot_change(channel, boot, visit)
        if verified:
            contact, created = _boot_write(channel, boot, change, identity, value)
        else:
            contact, created, caller = _unverified_boot_write(channel, boot, change, value)
    contact.channel = channel
    return BootResult(
        contact=contact,
        veil_id=value if identity == "veil_id" else boot.veil_id,
        session_token=session_token_issue(contact=contact, verified=verified),
        created=created,
        caller=caller,
    )


def _boot_write(
    channel: Channel, boot: BootInput, change: ContactChange, identity: str, value: str
) -> tuple[Contact, bool]:
    """The boot's write as the visitor's own: one upsert, then the device's contact merged into
    the member it turns out to be; (contact as stored, created)."""
    tag_catalogue_ensure(channel=channel, tags=change.tags_add)
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
        and contact_merge_device_into_member(
            channel=channel, member_contact_id=contact.pk, veil_id=boot.veil_id, now=change.now
        )
    )
    if merged:
        activity_record(channel=channel, contact_id=contact.pk, moment=change.now)
        contact = Contact.objects.get(pk=contact.pk)
    return contact, upserted.created


def _unverified_boot_write(
    channel: Channel, boot: BootInput, change: ContactChange, member_id: str
) -> tuple[Contact, bool, CallerView]:
    """The boot of member MEMBER_ID without a valid hash: the member's row locked and read,
    then one upsert that only fills empty values; no tag, no merge. (contact, created, what the
    answer may say)."""
    stored = stored_lock(
        channel=channel, where=Q(member_id=member_id), columns=[*change.columns, "language"]
    )
    asked = [
        str(key).removeprefix(PROFILE_PREFIX)
        for key, value in (boot.profile or {}).items()
        if value is not None
    ]
    restricted, ignored = change_restrict(
        change, stored=stored, asked=asked, tags_sent=["tags"] if boot.tags else []
    )
    upserted = contact_upsert_returning(
        channel_id=channel.pk,
        identity="member_id",
        value=member_id,
        change=restricted,
        activity_month=month_of(channel, change.now),
    )
    caller = caller_view(
        change=restricted,
        stored=stored,
        after=upserted.contact,
        ignored=ignored,
        language=restricted.language,
    )
    return upserted.contact, upserted.created, caller
