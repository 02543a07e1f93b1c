"""The checks the field services share: key, type, masking, name, order and the index flag.

Each refusal names the field and what is allowed. Only the services of this package call these.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

from crm.jobs.models import JobKind
from crm.jobs.selectors import job_active_on
from crm.jobs.services import job_in_the_way
from crm.models import Channel
from profile_schema.indexes import index_build_start, index_name_for, index_supported
from profile_schema.models import PROFILE_PREFIX, FieldType, IndexState, Masking, ProfileField
from profile_schema.presets import BUILT_IN_KEYS, PROFILE_PRESETS
from profile_schema.rules import KEY_RULES
from profile_schema.types import TYPES

PROFILE_KEY = re.compile(r"^[a-z][a-zA-Z0-9]{0,62}$")
NAME_MAX_LENGTH = 100
MAX_INDEXED_FIELDS = 20
# The jobs that rewrite a field's stored values: while one works, neither may start again.
FIELD_JOB_KINDS = (JobKind.FIELD_DELETE, JobKind.TYPE_CHANGE)
_PRESET_KEYS = frozenset(p.key.removeprefix(PROFILE_PREFIX) for p in PROFILE_PRESETS)
RESERVED_KEYS: frozenset[str] = frozenset(k.split(".")[0] for k in BUILT_IN_KEYS) - _PRESET_KEYS
"""Bare keys a profile field may not take: the built-in fields' names (and 'web', 'mobile')."""
# A field's attributes as the API and the audit log name them.
API_NAMES = {
    "name": "name",
    "type": "type",
    "order": "order",
    "indexed": "indexed",
    "shown_in_profile": "shownInProfile",
    "sensitive": "sensitive",
    "masking": "masking",
}


def new_key_clean(key: str) -> str:
    """The bare key of a new field's KEY (with or without `profile.`), or a refusal."""
    bare = key.strip().removeprefix(PROFILE_PREFIX)
    if not PROFILE_KEY.match(bare):
        raise ValidationError(
            {
                "key": f"{key!r}: a data key is camelCase letters and digits, starting with a "
                "lowercase letter, at most 63 characters (e.g. 'birthDate' or 'profile.birthDate')."
            }
        )
    if bare in RESERVED_KEYS:
        raise ValidationError(
            {"key": f"{bare!r} is the name of a built-in field; choose another data key."}
        )
    return bare


def type_known(type: str) -> None:
    if type not in TYPES:
        raise ValidationError(
            {"type": f"{type!r} is not a type; types: {', '.join(FieldType.values)}."}
        )


def type_check(bare: str, type: str) -> None:
    """Refuse TYPE for the bare key: an unknown type, or not String for a key with a rule."""
    type_known(type)
    if bare in KEY_RULES and type != FieldType.STRING:
        raise ValidationError(
            {"type": f"profile.{bare} has a rule for its values and stays a String field."}
        )


def masking_check(type: str, masking: str) -> None:
    if masking not in Masking.values:
        raise ValidationError(
            {"masking": f"{masking!r} is not a masking; maskings: {', '.join(Masking.values)}."}
        )
    allowed = TYPES[type].maskings
    if Masking(masking) not in allowed:
        allowed_names = " or ".join(m.value for m in allowed)
        raise ValidationError(
            {"masking": f"A {type} field masks {allowed_names}; partial masking is for strings."}
        )


def name_clean(name: str) -> str:
    clean = name.strip()
    if not clean or len(clean) > NAME_MAX_LENGTH:
        raise ValidationError(
            {"name": f"A display name is 1 to {NAME_MAX_LENGTH} characters; got {len(clean)}."}
        )
    return clean


def changes_check(field: ProfileField, changes: dict[str, object]) -> None:
    """Refuse CHANGES (name, order, masking...) that FIELD, as its type is now, cannot take;
    the name is cleaned in place."""
    if "name" in changes:
        if field.built_in and changes["name"] != field.name:
            raise ValidationError(
                {"name": f"{field.key} is a built-in field; its display name is fixed."}
            )
        changes["name"] = name_clean(str(changes["name"]))
    if "masking" in changes:
        masking_check(field.type, str(changes["masking"]))
    order = changes.get("order")
    if isinstance(order, int) and order < 0:
        raise ValidationError({"order": f"An order is 0 or more; got {order}."})


def field_busy_check(field: ProfileField) -> None:
    """Refuse to delete or retype FIELD while a delete or type change job works on its values
    (a Conflict naming the job)."""
    job = job_active_on(
        channel_id=field.channel_id, kinds=FIELD_JOB_KINDS, params={"fieldId": field.pk}
    )
    if job is not None:
        raise job_in_the_way(job=job, subject=field.key, key="key")


def index_flag_set(field: ProfileField, *, indexed: bool) -> list[str]:
    """Record INDEXED on FIELD as pending, with the job that syncs it; the attributes to save."""
    if indexed:
        index_kind_check(field)  # even when already marked: FIELD may have a new type
    if indexed == field.indexed and field.index_state != IndexState.FAILED:
        return []
    if indexed:
        index_allowed(field)
    field.indexed, field.index_state, field.index_error = indexed, IndexState.PENDING, ""
    field.index_name = field.index_name or index_name_for(
        channel_id=field.channel_id, key=field.key
    )
    index_build_start(field=field)
    return ["indexed", "index_state", "index_name", "index_error"]


def index_allowed(field: ProfileField) -> None:
    """Refuse an index on FIELD: a built-in, a type that gains nothing, or one too many."""
    index_kind_check(field)
    # The channel row lock serialises markings, so the limit holds under concurrency.
    channel_lock(field.channel_id)
    marked = ProfileField.objects.filter(channel_id=field.channel_id, indexed=True)
    if marked.exclude(pk=field.pk).count() >= MAX_INDEXED_FIELDS:
        message = (
            f"A channel indexes at most {MAX_INDEXED_FIELDS} fields (each index slows every "
            "write of its contacts); unmark one first."
        )
        raise ValidationError({"indexed": ValidationError(message, code="too_many_indexes")})


def index_kind_check(field: ProfileField) -> None:
    """Refuse an index on FIELD as it is now: a built-in, or a type that gains nothing."""
    if field.built_in:
        message = (
            f"{field.key} is a built-in field: a column with indexes of its own. Per-key "
            "indexes are for profile.* fields."
        )
        raise ValidationError({"indexed": ValidationError(message, code="built_in")})
    if not index_supported(field.type):
        kinds = ", ".join(FieldType(t).label for t in TYPES if index_supported(t))
        message = (
            f"{field.key} is a {FieldType(field.type).label} field, whose filters use the "
            f"profile index already; per-key indexes serve ranges and sorting of {kinds} fields."
        )
        raise ValidationError({"indexed": ValidationError(message, code="not_indexable")})


def channel_lock(channel_id: int) -> None:
    """Hold the channel's row until commit: creations and markings of a channel queue here."""
    Channel.objects.select_for_update().filter(pk=channel_id).first()
