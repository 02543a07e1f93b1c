"""What a filter key is: a built-in column, the tags, a profile key, or a saved segment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from profile_schema.models import FieldType, ProfileField
from profile_schema.presets import BUILT_IN_FIELDS

# Built-in keys that are not plain columns of the same (snake_case) name.
SPECIAL_KEYS = {
    "id": "id",
    "member": "member",
    "tags": "tags",
    "type": "type",
    "segment": "segment",
}
NULLABLE_COLUMNS = frozenset(
    {"member_id", "last_seen_at", "web_last_seen_at", "mobile_last_seen_at"}
)
TYPE_VALUES = ("anonymous", "lead", "member")


@dataclass(frozen=True)
class KeySpec:
    """A filterable key: where its value lives and its type."""

    key: str
    type: str  # a FieldType value
    kind: str  # column | member | tags | profile | segment | id | type
    column: str = ""  # the model field for columns; the bare key for profile keys
    field: ProfileField | None = None

    @property
    def sensitive(self) -> bool:
        return bool(self.field and self.field.sensitive)

    @property
    def nullable(self) -> bool:
        return self.column in NULLABLE_COLUMNS


def column_of(key: str) -> str:
    """'web.browserName' -> 'web_browser_name'."""
    return re.sub(r"([A-Z])", r"_\1", key.replace(".", "_")).lower()


BUILT_IN_TYPES: Mapping[str, str] = {preset.key: preset.type for preset in BUILT_IN_FIELDS}


def key_resolve(key: str, fields: Mapping[str, ProfileField]) -> KeySpec | None:
    """The KeySpec of KEY for a channel whose field definitions are FIELDS (by full key)."""
    field = fields.get(key)
    if key.startswith("profile."):
        if field is None:
            return None
        return KeySpec(key, field.type, "profile", key.removeprefix("profile."), field)
    if key == "segment":
        return KeySpec(key, FieldType.NUMBER, "segment")
    if key == "type":
        return KeySpec(key, FieldType.STRING, "type", "type")
    if key not in BUILT_IN_TYPES:
        return None
    kind = SPECIAL_KEYS.get(key, "column")
    column = "pk" if key == "id" else column_of(key)
    return KeySpec(key, BUILT_IN_TYPES[key], kind, column, field)
