"""How the desk's contact pages show a value: the display names of the built-in fields in the
manager's language, values formatted for their type, and a masked value with its eye button."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy

from contacts.models import ContactType
from masking.policy import MaskingPolicy
from profile_schema.models import FieldType, ProfileField
from profile_schema.presets import PROFILE_PRESETS

# The built-in fields' names are fixed (profile_schema.presets), so their labels are
# translated here; a profile field's own `name` is its label, as the channel wrote it.
PRESET_NAMES = {preset.key: preset.name for preset in PROFILE_PRESETS}
BUILT_IN_LABELS: dict[str, Promise] = {
    "id": gettext_lazy("Internal id"),
    "memberId": gettext_lazy("Member id"),
    "name": gettext_lazy("Name"),
    "member": gettext_lazy("Member"),
    "tags": gettext_lazy("Customer tags"),
    "city": gettext_lazy("City"),
    "country": gettext_lazy("Country"),
    "language": gettext_lazy("Language"),
    "sessionsCount": gettext_lazy("Sessions"),
    "lastSeenAt": gettext_lazy("Last seen"),
    "createdAt": gettext_lazy("First seen"),
    "updatedAt": gettext_lazy("Last updated"),
    "web.browser": gettext_lazy("Web browser"),
    "web.browserName": gettext_lazy("Web browser name"),
    "web.os": gettext_lazy("Web OS"),
    "web.osName": gettext_lazy("Web OS name"),
    "web.device": gettext_lazy("Web device"),
    "web.lastSeenAt": gettext_lazy("Web last seen"),
    "web.sessionsCount": gettext_lazy("Web sessions"),
    "mobile.appName": gettext_lazy("App name"),
    "mobile.appVersion": gettext_lazy("App version"),
    "mobile.os": gettext_lazy("App OS"),
    "mobile.osName": gettext_lazy("App OS name"),
    "mobile.device": gettext_lazy("App device"),
    "mobile.lastSeenAt": gettext_lazy("App last seen"),
    "mobile.sessionsCount": gettext_lazy("App sessions"),
    "hasPushToken": gettext_lazy("Push token"),
    "unsubscribeEmail": gettext_lazy("Email opt-out"),
    "unsubscribeTexting": gettext_lazy("SMS opt-out"),
    "hasChat": gettext_lazy("Has chat"),
    "blocked": gettext_lazy("Blocked"),
}

TYPE_LABELS: dict[str, Promise] = {
    ContactType.MEMBER: gettext_lazy("Member"),
    ContactType.LEAD: gettext_lazy("Lead"),
    ContactType.ANONYMOUS: gettext_lazy("Anonymous"),
}


@dataclass(frozen=True)
class ShownValue:
    """One value as a manager sees it: KEY, the text (None: no value), whether it is masked
    and whether this manager may reveal it with the eye button."""

    key: str
    text: str | None
    masked: bool = False
    revealable: bool = False


def field_label(row: ProfileField) -> str:
    """ROW's display name: a built-in's in the manager's language; a profile field's own name,
    in the manager's language while it is the name the product gave it (a preset's)."""
    label = BUILT_IN_LABELS.get(row.key) if row.built_in else None
    if label is not None:
        return str(label)
    return gettext(row.name) if row.name == PRESET_NAMES.get(row.key) else row.name


def user_value(user: dict[str, Any], key: str) -> Any:
    """KEY's value in the API's user object USER ("profile.age", "web.os", "lastSeenAt")."""
    top, _, rest = key.partition(".")
    if rest and top in ("profile", "web", "mobile"):
        holder = user.get(top)
        return holder.get(rest) if isinstance(holder, dict) else None
    return user.get(key)


def value_text(field_type: str, value: Any) -> str | None:
    """VALUE formatted for FIELD_TYPE in the manager's language (None: no value)."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if field_type == FieldType.DATETIME and isinstance(value, int | float):
        moment = timezone.localtime(datetime.fromtimestamp(value / 1000, tz=UTC))
        return formats.date_format(moment, "DATETIME_FORMAT")
    if field_type == FieldType.DATE and isinstance(value, str):
        try:
            return formats.date_format(date.fromisoformat(value), "DATE_FORMAT")
        except ValueError:
            return value
    if isinstance(value, int | float):
        return formats.number_format(value, use_l10n=True, force_grouping=True)
    if isinstance(value, list):
        return ", ".join(str(value_text(field_type, item) or "") for item in value)
    return str(value)


def shown_value(
    policy: MaskingPolicy, user: dict[str, Any], key: str, field_type: str
) -> ShownValue:
    """KEY's value in USER (the user object POLICY masked) as shown: a masked one as its mask,
    with the eye button when POLICY's viewer may reveal it."""
    masked_value = user_value(user, key)
    if key in user["masked"]:
        return ShownValue(
            key=key, text=str(masked_value), masked=True, revealable=policy.may_reveal(key)
        )
    return ShownValue(key=key, text=value_text(field_type, masked_value))
