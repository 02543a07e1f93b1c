"""How the admin shows a contact's values: each through the masking policy of the contact's
channel, by its field's display name; beside a masked value, an eye button for a manager who
may reveal it (a POST of the page's form, with its CSRF token, to the audited reveal)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import display_for_value
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from contacts.filtering.keys import column_of
from contacts.models import Contact
from contacts.representation import own_sensitive_values
from masking.policy import NEVER_MASKED, MaskingPolicy
from profile_schema.models import PROFILE_PREFIX, ProfileField
from profile_schema.presets import BUILT_IN_FIELDS

EMPTY = "-"
_CONTACT_COLUMNS = frozenset(f.name for f in Contact._meta.get_fields() if f.concrete)
# The built-in keys held in a column of the same name (`memberId` in member_id).
_OWN_COLUMNS = {
    column_of(preset.key): preset.key
    for preset in BUILT_IN_FIELDS
    if column_of(preset.key) in _CONTACT_COLUMNS and preset.key not in NEVER_MASKED
}
COLUMN_KEYS: Mapping[str, str] = MappingProxyType(
    # Who blocked, when and why go with `blocked`: masked when it is.
    {**_OWN_COLUMNS, "blocked_at": "blocked", "blocked_by": "blocked", "blocked_reason": "blocked"}
)
# What a column is called: its field's display name (built-in fields keep theirs).
COLUMN_LABELS: Mapping[str, str] = MappingProxyType(
    {column_of(preset.key): preset.name for preset in BUILT_IN_FIELDS}
)
# Columns of free text, where phone numbers, emails and the contact's own sensitive values are
# masked even when the column itself is shown.
FREE_TEXT_COLUMNS = frozenset({"blocked_reason"})


def value_shown(value: Any) -> Any:
    """VALUE as the admin writes it (a boolean as its icon, a list joined, a time localized)."""
    return display_for_value(value, EMPTY, boolean=isinstance(value, bool))


def profile_value_text(value: Any) -> str:
    """A profile value as text: a string as is, a list joined, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(item if isinstance(item, str) else json.dumps(item) for item in value)
    return json.dumps(value, ensure_ascii=False)


# An eye drawn in SVG: an emoji needs a font that many servers' and phones' browsers lack.
EYE_ICON = (
    '<svg width="14" height="14" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
    'stroke-width="2" aria-hidden="true" focusable="false">'
    '<path d="M1 12s4-7 11-7 11 7 11 7-4 7-11 7S1 12 1 12z"/><circle cx="12" cy="12" r="3"/>'
    "</svg>"
)


def reveal_button(key: str, label: str, reveal_url: str) -> SafeString:
    """The eye button beside KEY's masked value: it posts the change form (its CSRF token
    with it) to the reveal, which answers the value and records who saw it."""
    return format_html(
        '<button type="submit" class="reveal-button" formaction="{}" formmethod="post" '
        'formnovalidate name="reveal" value="{}" title="Reveal {}" aria-label="Reveal {}">'
        f"{EYE_ICON} Show</button>",
        reveal_url,
        key,
        label,
        label,
    )


def masked_shown(policy: MaskingPolicy, key: str, value: Any, label: str, reveal_url: str) -> Any:
    """VALUE of KEY masked, with the eye button when there is a value POLICY may reveal."""
    shown = policy.mask(key, value)
    if shown is None:
        return EMPTY
    if reveal_url and policy.may_reveal(key):
        return format_html("{} {}", shown, reveal_button(key, label, reveal_url))
    return shown


def column_shown(contact: Contact, column: str, policy: MaskingPolicy, reveal_url: str) -> Any:
    """CONTACT's COLUMN as POLICY's viewer sees it; REVEAL_URL ("" for none) for the eye."""
    key = COLUMN_KEYS.get(column)
    value = getattr(contact, column)
    if key is None or not policy.is_masked(key):
        if column in FREE_TEXT_COLUMNS and value:
            value = policy.text_mask(value, own_values=own_sensitive_values(contact, policy))
        return value_shown(value)
    # Only a column holding a key's own value offers its reveal (not blocked_at for `blocked`).
    revealing = reveal_url if column_of(key) == column else ""
    return masked_shown(policy, key, value, COLUMN_LABELS.get(column, column), revealing)


def column_display(
    column: str, *, in_form: bool, ordering: str | None = None
) -> Callable[[Any, Contact], Any]:
    """An admin display method of the contact's COLUMN, masked by the row's policy; IN_FORM,
    the change form's, with the eye button."""

    def shown(model_admin: Any, contact: Contact) -> Any:
        reveal_url = model_admin.reveal_url(contact) if in_form else ""
        return column_shown(contact, column, model_admin.policy_of(contact), reveal_url)

    label = COLUMN_LABELS.get(column) or str(
        getattr(Contact._meta.get_field(column), "verbose_name", column)
    )
    shown.__name__ = f"{column}_{'shown' if in_form else 'listed'}"
    return admin.display(description=label, ordering=ordering)(shown)


def profile_rows(
    contact: Contact, policy: MaskingPolicy, fields: tuple[ProfileField, ...], reveal_url: str
) -> list[tuple[str, Any]]:
    """CONTACT's profile values as (display name, shown value), in the order of FIELDS (the
    channel's definitions); a key without a definition follows, under its own name."""
    rows: list[tuple[str, Any]] = []
    seen: set[str] = set()
    profile = contact.profile
    for field in fields:
        bare = field.key.removeprefix(PROFILE_PREFIX)
        if field.key.startswith(PROFILE_PREFIX) and profile.get(bare) is not None:
            rows.append(
                (
                    field.name,
                    _profile_value(policy, field.key, field.name, profile[bare], reveal_url),
                )
            )
            seen.add(bare)
    for bare, value in profile.items():
        if bare not in seen and value is not None:
            key = f"{PROFILE_PREFIX}{bare}"
            rows.append((bare, _profile_value(policy, key, bare, value, reveal_url)))
    return rows


def _profile_value(policy: MaskingPolicy, key: str, label: str, value: Any, reveal_url: str) -> Any:
    if policy.is_masked(key):
        return masked_shown(policy, key, value, label, reveal_url)
    return profile_value_text(value)


def profile_table(rows: list[tuple[str, Any]]) -> SafeString:
    """The profile as a table of display names and values (never its raw JSON)."""
    if not rows:
        return format_html("<p>{}</p>", "No profile values.")
    body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
    return format_html('<table class="contact-profile"><tbody>{}</tbody></table>', body)
