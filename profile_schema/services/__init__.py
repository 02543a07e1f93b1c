"""Writes for profile field definitions: the one place they are created, changed and deleted.

fields: create, reorder, presets; change: name, flags, order, index flag and type at once;
delete: with the confirmed count of contacts holding a value; checks: what they share. A type
change and a deletion touch the contacts' values in batches, each its own transaction: the
`*_start` services switch or check the definition and start the job that runs the batches
(profile_schema.jobs); every service but the one-call loops is atomic. The decisions are in
docs/ARCHITECTURE.md.
"""

from profile_schema.services.change import (
    FieldTypeChanged,
    TypeChangeBlocked,
    profile_field_change,
    profile_field_change_save,
    profile_field_change_start,
    profile_field_convert_batch,
    profile_field_type_change,
    profile_field_type_change_blockers,
    profile_field_update,
)
from profile_schema.services.checks import (
    MAX_INDEXED_FIELDS,
    NAME_MAX_LENGTH,
    PROFILE_KEY,
    RESERVED_KEYS,
)
from profile_schema.services.delete import (
    StaleConfirmation,
    profile_field_delete,
    profile_field_delete_check,
    profile_field_delete_finish,
    profile_field_delete_preview,
    profile_field_delete_start,
    profile_field_remove_batch,
)
from profile_schema.services.fields import (
    profile_field_create,
    profile_fields_install_presets,
    profile_fields_reorder,
)

__all__ = [
    "MAX_INDEXED_FIELDS",
    "NAME_MAX_LENGTH",
    "PROFILE_KEY",
    "RESERVED_KEYS",
    "FieldTypeChanged",
    "StaleConfirmation",
    "TypeChangeBlocked",
    "profile_field_change",
    "profile_field_change_save",
    "profile_field_change_start",
    "profile_field_convert_batch",
    "profile_field_create",
    "profile_field_delete",
    "profile_field_delete_check",
    "profile_field_delete_finish",
    "profile_field_delete_preview",
    "profile_field_delete_start",
    "profile_field_remove_batch",
    "profile_field_type_change",
    "profile_field_type_change_blockers",
    "profile_field_update",
    "profile_fields_install_presets",
    "profile_fields_reorder",
]
