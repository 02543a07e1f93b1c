"""The one masking policy: for a viewer and a key, is a value shown, masked, or masked and
revealable? Every surface asks it (the API's objects, the admin, the desk, exports, webhooks,
logs); nothing decides masking anywhere else (ARCHITECTURE rule 7).

- A key whose field is not sensitive is **shown**.
- A sensitive key is **masked** for a viewer without `sensitive_view`, and **masked and
  revealable** for one with it: the value is masked on the way out all the same, and the viewer
  may ask for it one value at a time (the reveal, written to the audit log).
- A viewer who may not reveal a key cannot sort by it, nor filter by it except on whole values
  (`eq` / `in`), nor find it by part of its value (`may_match_partially`).
- The built-in `name` is a copy of `profile.name`: it is masked when either field is sensitive,
  with the stricter of their modes. The built-in `id` is never masked: it addresses the contact.

Free text (event properties, messages, form answers) is masked by `text_mask`: when the channel
marks `profile.mobileNumber` or `profile.email` sensitive, every phone number or email address
found in the text is masked by the same rule, and so is any sensitive value of the contact's own
found in it (two characters or more), for every viewer (free text has no reveal).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import phonenumbers

from crm.permissions import Permission, Viewer
from masking.maskers import FULL_MASK, email_mask, full_mask, phone_mask
from profile_schema.models import PROFILE_PREFIX, Masking, ProfileField

NEVER_MASKED = frozenset({"id"})
PHONE_KEYS = frozenset({"profile.mobileNumber", "profile.landlineNumber"})
EMAIL_KEYS = frozenset({"profile.email"})
# Sub-objects of the user object whose keys are written "web.os", "mobile.appName".
NESTED = ("web", "mobile")
EMAIL_PATTERN = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\u00a0-\uffff-]+@[A-Za-z0-9\u00a0-\uffff-]+"
    r"(?:\.[A-Za-z0-9\u00a0-\uffff-]+)+"
)
_FILTER_WHOLE_VALUE = frozenset({"eq", "in"})


class Visibility(enum.Enum):
    SHOWN = "shown"
    MASKED = "masked"
    REVEALABLE = "revealable"


def value_mask(key: str, mode: str, value: Any) -> str:
    """VALUE of KEY masked in MODE: partial keeps part of a phone number or an email (by the
    key's kind, else by the value's look); full, and any non-string, is the fixed mask."""
    if mode != Masking.PARTIAL or not isinstance(value, str):
        return full_mask(value)
    if key in EMAIL_KEYS or (key not in PHONE_KEYS and "@" in value):
        return email_mask(value)
    return phone_mask(value)


@dataclass(frozen=True)
class MaskingPolicy:
    """What one viewer sees of one channel's contacts."""

    channel_id: int
    can_reveal: bool
    # The sensitive keys and their masking mode ("full" or "partial").
    modes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def masks_anything(self) -> bool:
        return bool(self.modes)

    def visibility(self, key: str) -> Visibility:
        if key not in self.modes:
            return Visibility.SHOWN
        return Visibility.REVEALABLE if self.can_reveal else Visibility.MASKED

    def is_masked(self, key: str) -> bool:
        """KEY's values are masked on the way out (masked, or masked and revealable)."""
        return key in self.modes

    def may_reveal(self, key: str) -> bool:
        return key in self.modes and self.can_reveal

    def may_sort(self, key: str) -> bool:
        return self.visibility(key) is not Visibility.MASKED

    def may_filter(self, key: str, operator: str) -> bool:
        """KEY may be filtered with OPERATOR: any operator on a key the viewer may see; only
        whole values (`eq`, `in`) on one it may not."""
        return self.visibility(key) is not Visibility.MASKED or operator in _FILTER_WHOLE_VALUE

    def may_match_partially(self, key: str) -> bool:
        """A quick search may match part of KEY's values (else only the whole value)."""
        return self.visibility(key) is not Visibility.MASKED

    def mask(self, key: str, value: Any) -> Any:
        """VALUE of KEY as this viewer sees it (None, an absent value, stays None)."""
        mode = self.modes.get(key)
        if mode is None or value in (None, ""):
            return value
        return value_mask(key, mode, value)

    # The API's user object -------------------------------------------------------------

    def user_object(self, user: dict[str, Any]) -> dict[str, Any]:
        """USER (the API's user object, built unmasked) with its sensitive values masked, and
        `masked` listing the keys masked in it. Changes USER in place and returns it."""
        masked: list[str] = []
        if self.modes:
            for key, mode in self.modes.items():
                if self._user_value_mask(user, key, mode):
                    masked.append(key)
        user["masked"] = masked
        return user

    def _user_value_mask(self, user: dict[str, Any], key: str, mode: str) -> bool:
        if key.startswith(PROFILE_PREFIX):
            holder = user.get("profile")
            name = key[len(PROFILE_PREFIX) :]
        else:
            top, _, rest = key.partition(".")
            holder, name = (user.get(top), rest) if top in NESTED and rest else (user, key)
        if not isinstance(holder, dict) or holder.get(name) in (None, ""):
            return False  # no value: nothing to hide
        holder[name] = value_mask(key, mode, holder[name])
        return True

    # Free text ---------------------------------------------------------------------------

    def text_mask(self, text: str, *, own_values: Iterable[str] = ()) -> str:
        """TEXT with the phone numbers and emails in it masked (when the channel marks its phone
        or email field sensitive) and any of OWN_VALUES (the contact's own sensitive values)."""
        return text_mask(text, modes=self.modes, own_values=own_values)

    def free_value(self, value: Any, *, own_values: Iterable[str] = ()) -> Any:
        """A free-form JSON VALUE (event properties, form answers) with every string in it
        masked like free text."""
        own = tuple(own_values)
        if not self.modes or not (own or _masks_text(self.modes)):
            return value
        return _walk(value, lambda text: text_mask(text, modes=self.modes, own_values=own))

    # Filters ------------------------------------------------------------------------------

    def filter_object(self, tree: Any) -> Any:
        """A stored filter tree as this viewer sees it: a condition's values on a key it may
        not see are masked (its own searches, for a viewer who may reveal, are shown)."""
        if not self.modes or self.can_reveal:
            return tree
        return _filter_mask(tree, self)


def _masks_text(modes: Mapping[str, str]) -> bool:
    return any(key in modes for key in PHONE_KEYS | EMAIL_KEYS)


def _walk(value: Any, on_text: Any) -> Any:
    if isinstance(value, str):
        return on_text(value)
    if isinstance(value, list):
        return [_walk(item, on_text) for item in value]
    if isinstance(value, dict):
        return {key: _walk(item, on_text) for key, item in value.items()}
    return value


def text_mask(text: str, *, modes: Mapping[str, str], own_values: Iterable[str] = ()) -> str:
    """TEXT with phone numbers, emails and OWN_VALUES masked, per the sensitive keys' MODES."""
    if not text:
        return text
    for own in sorted({v for v in own_values if isinstance(v, str) and len(v) >= 2}, key=len)[::-1]:
        text = text.replace(own, FULL_MASK)
    if any(key in modes for key in EMAIL_KEYS):
        partial = modes.get("profile.email") == Masking.PARTIAL
        text = EMAIL_PATTERN.sub(lambda m: email_mask(m.group(0)) if partial else FULL_MASK, text)
    phone_modes = [modes[key] for key in PHONE_KEYS if key in modes]
    if phone_modes:
        partial = all(mode == Masking.PARTIAL for mode in phone_modes)
        text = _phones_mask(text, partial=partial)
    return text


def _phones_mask(text: str, *, partial: bool) -> str:
    spans = [
        (match.start, match.end, match.number)
        for match in phonenumbers.PhoneNumberMatcher(
            text, "KR", leniency=phonenumbers.Leniency.VALID
        )
    ]
    for start, end, number in reversed(spans):
        shown = (
            phone_mask(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
            if partial
            else FULL_MASK
        )
        text = text[:start] + shown + text[end:]
    return text


def _filter_mask(node: Any, policy: MaskingPolicy) -> Any:
    if not isinstance(node, dict):
        return node
    for op in ("and", "or"):
        if op in node and isinstance(node[op], list):
            return {**node, op: [_filter_mask(child, policy) for child in node[op]]}
    key = node.get("key")
    if isinstance(key, str) and policy.visibility(key) is Visibility.MASKED:
        values = node.get("values")
        if isinstance(values, list):
            return {**node, "values": [policy.mask(key, value) for value in values]}
    return node


def modes_from_fields(fields: Iterable[ProfileField]) -> Mapping[str, str]:
    """The sensitive keys among FIELDS, with their masking mode (the built-in `name` follows
    `profile.name`)."""
    modes = {
        row.key: row.masking for row in fields if row.sensitive and row.key not in NEVER_MASKED
    }
    if "profile.name" in modes:
        modes["name"] = _stricter(modes.get("name"), modes["profile.name"])
    elif "name" in modes:
        modes["profile.name"] = modes["name"]
    return MappingProxyType(modes)


def _stricter(a: str | None, b: str) -> str:
    return Masking.FULL if Masking.FULL in (a, b) else b


def policy_build(
    *, channel_id: int, fields: Iterable[ProfileField], can_reveal: bool
) -> MaskingPolicy:
    return MaskingPolicy(
        channel_id=channel_id, can_reveal=can_reveal, modes=modes_from_fields(fields)
    )


def policy_for(viewer: Viewer) -> MaskingPolicy:
    """The policy of VIEWER (a manager with a role, or an API credential with a role) in its
    channel, from the channel's field definitions as of the version it read."""
    from profile_schema.cache import channel_fields, channel_version

    channel = viewer.channel
    fields = channel_fields(channel_id=channel.pk, version=channel_version(channel))
    return policy_for_fields(viewer, fields)


def policy_for_fields(viewer: Viewer, fields: Iterable[ProfileField]) -> MaskingPolicy:
    return policy_build(
        channel_id=viewer.channel.pk,
        fields=fields,
        can_reveal=viewer.can(Permission.SENSITIVE_VIEW),
    )


def unmasked(channel_id: int) -> MaskingPolicy:
    """The policy of the customer reading their own data (a verified SDK boot): nothing masked."""
    return MaskingPolicy(channel_id=channel_id, can_reveal=True)
