"""What an SDK call that proves nothing may do to a member, and what it learns.

A boot that names a `memberId` without a valid `memberHash` (allowed only where the channel does
not require the hash) is "unverified": anyone holding the public plugin key can send it. Its
session token stays unverified, so updateUser, track and tags after it follow the same rules:

- a profile value only fills a key the member has no value for; a stored value is kept (whether
  it differs or not, so the answer never tells a right guess from a wrong one), a removal (null)
  is ignored, tags are never added, replaced or removed; opt-outs may still be turned on (a
  withdrawal of consent is honoured whoever sends it);
- the visit is counted (last seen, sessions), but the device and place columns are only filled
  where empty, and no device contact is merged into the member;
- the answer carries only what the caller sent and this call wrote (never a stored value), and
  lists under `ignored` each part of the request it left out.

Every stored value the rules compare with is read under the contact's row lock, in the write's
transaction, so what the answer says was written is what was written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from django.db.models import Q

from contacts.models import Contact
from contacts.selectors.contacts import contacts_for_channel
from contacts.services.change import ContactChange
from crm.errors import Problem
from crm.models import Channel

NOT_VERIFIED = "without a valid memberHash"


@dataclass(frozen=True)
class Stored:
    """What a contact holds before an unverified write: its profile and the columns the write
    would set, read under the row lock."""

    profile: Mapping[str, Any]
    columns: Mapping[str, Any]


@dataclass(frozen=True)
class CallerView:
    """What an unverified answer may say: the profile keys this call wrote (as sent, which is
    as stored), the language it set, the opt-outs it turned on, and what it ignored."""

    written: dict[str, Any] = field(default_factory=dict)
    language: str | None = None
    unsubscribe_email: bool = False
    unsubscribe_texting: bool = False
    ignored: list[Problem] = field(default_factory=list)


def stored_lock(*, channel: Channel, where: Q, columns: Iterable[str]) -> Stored | None:
    """The profile and COLUMNS of CHANNEL's contact matching WHERE, locked for this transaction;
    None when there is no such contact yet."""
    row = (
        contacts_for_channel(channel=channel)
        .select_for_update()
        .filter(where)
        .values("profile", *columns)
        .first()
    )
    if row is None:
        return None
    profile = row.pop("profile")
    return Stored(profile=profile, columns=row)


def _filled(value: Any) -> bool:
    return value not in (None, "", False)


def tags_ignored(names: Iterable[str]) -> list[Problem]:
    """The problems saying that the tag changes asked under NAMES (request fields) were ignored."""
    return [
        Problem(name, "tags_not_allowed", f"{name}: a call {NOT_VERIFIED} changes no tag.")
        for name in names
    ]


def change_restrict(
    change: ContactChange, *, stored: Stored | None, asked: Iterable[str], tags_sent: Iterable[str]
) -> tuple[ContactChange, list[Problem]]:
    """CHANGE as an unverified caller may make it, and the problems naming what was ignored.

    Every profile value becomes fill-if-empty (the explicit ones win over the visit's), removals
    and tag changes are dropped, device and place columns fill empty ones only. ASKED are the
    profile keys the caller asked to set (`profile`, not `profileOnce`, which only ever fills);
    TAGS_SENT the request fields that asked for a tag change."""
    stored_profile = stored.profile if stored is not None else {}
    once = {**change.profile_once, **change.profile_set}
    ignored = [
        Problem(
            f"profile.{key}",
            "stored_value_kept",
            f"profile.{key}: a call {NOT_VERIFIED} only fills empty keys; the stored value "
            "is kept.",
        )
        for key in asked
        if key in stored_profile
    ]
    ignored += [
        Problem(
            f"profile.{key}",
            "removal_not_allowed",
            f"profile.{key}: a call {NOT_VERIFIED} removes nothing; null is ignored.",
        )
        for key in change.profile_remove
    ]
    ignored += tags_ignored(tags_sent)
    columns = dict(change.columns)
    if stored is not None:
        columns = {k: v for k, v in columns.items() if not _filled(stored.columns.get(k))}
    restricted = replace(
        change,
        profile_set={},
        profile_once=once,
        profile_remove=[],
        tags_add=[],
        tags_remove=[],
        tags_replace=None,
        columns=columns,
    )
    return restricted, ignored


def caller_view(
    *,
    change: ContactChange,
    stored: Stored | None,
    after: Contact,
    ignored: list[Problem],
    language: str | None = None,
) -> CallerView:
    """What the answer to an unverified write may say, from the restricted CHANGE, the contact
    as STORED before and AFTER it: a key counts as written when it was empty before and now
    holds the value sent."""
    before = stored.profile if stored is not None else {}
    written = {
        key: value
        for key, value in change.profile_once.items()
        if key not in before and after.profile.get(key) == _as_stored(value)
    }
    language_written = None
    if language and (stored is None or not stored.columns.get("language")):
        language_written = language if after.language == language else None
    return CallerView(
        written=written,
        language=language_written,
        unsubscribe_email=bool(change.unsubscribe_email) and after.unsubscribe_email,
        unsubscribe_texting=bool(change.unsubscribe_texting) and after.unsubscribe_texting,
        ignored=ignored,
    )


def _as_stored(value: Any) -> Any:
    """VALUE as it reads back from a jsonb column."""
    return json.loads(json.dumps(value, ensure_ascii=False))
