"""The one validator every write of profile values passes through (ARCHITECTURE rule 2).

`profile_values_clean` checks incoming values against the channel's profile fields: the field's
type (profile_schema.types), then the rule of its key (profile_schema.rules), then the limits of a
whole profile. It reports every problem at once and stores nothing.

The unknown-key rule: a key that no profile field of the channel defines is REFUSED
with code `unknown_key`. Nothing is stored and no field is created on the fly: an admin defines
the key under profile fields first (settings -> profile fields, or the Django admin). Reason:
every stored value then matches a declared type, so filters never meet a value they cannot
compare, and a typo in an SDK call cannot grow the schema.

Messages name the key, the rule and the value received (truncated). A sensitive field's value
is never echoed back: the message says what is wrong and what is allowed, and of the value only
whether it was a string, since messages reach logs and import reports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

from crm.errors import InvalidInput, Problem
from crm.models import Channel
from profile_schema.cache import channel_profile_fields, channel_version
from profile_schema.models import PROFILE_PREFIX, FieldType, ProfileField
from profile_schema.presets import BUILT_IN_KEYS
from profile_schema.rules import key_rule
from profile_schema.types import MAX_LIST_ITEMS, MAX_STRING_LENGTH, ValueRefused, type_spec

__all__ = [
    "MAX_LIST_ITEMS",
    "MAX_PROFILE_BYTES",
    "MAX_PROFILE_KEYS",
    "MAX_STRING_LENGTH",
    "ProfileProblem",
    "ProfileValidationError",
    "profile_fields_by_key",
    "profile_limits_check",
    "profile_size",
    "profile_values_clean",
]

MAX_PROFILE_KEYS = 256
MAX_PROFILE_BYTES = 15 * 1024
_PREVIEW_CHARACTERS = 40


# One thing wrong with a write: the full key, a machine code and a sentence for a person.
ProfileProblem = Problem


class ProfileValidationError(InvalidInput):
    """Refused profile values, listing every problem found (an API 400 wherever it surfaces)."""

    def __init__(self, problems: list[ProfileProblem]) -> None:
        super().__init__(problems)


def profile_values_clean(
    *,
    channel: Channel,
    values: Mapping[str, object],
    allow_removal: bool = True,
    fields: Mapping[str, ProfileField] | None = None,
) -> dict[str, object | None]:
    """VALUES checked and normalised for CHANNEL, by bare key; None removes a key.

    FIELDS (from profile_fields_by_key) saves the lookup when one write cleans several sets."""
    if not values:
        return {}
    fields = profile_fields_by_key(channel) if fields is None else fields
    cleaned: dict[str, object | None] = {}
    problems: list[ProfileProblem] = []
    kept_keys = 0
    for raw_key, value in values.items():
        bare = str(raw_key).removeprefix(PROFILE_PREFIX)
        if bare in cleaned or _refused_earlier(bare, problems):
            problems.append(_duplicate_problem(bare))
            continue
        kept_keys += value is not None
        try:
            cleaned[bare] = _value_clean(fields.get(bare), bare, value, allow_removal)
        except _Refused as refused:
            problems.append(refused.problem)
    kept = {key: value for key, value in cleaned.items() if value is not None}
    problems += _limit_problems(keys=kept_keys, size=profile_size(kept))
    if problems:
        raise ProfileValidationError(problems)
    return cleaned


def profile_size(profile: Mapping[str, object]) -> int:
    """Bytes of PROFILE as PostgreSQL prints jsonb: octet_length(profile::text)."""
    return _jsonb_text_bytes(profile)


def profile_limits_check(profile: Mapping[str, object]) -> None:
    """Raise ProfileValidationError when PROFILE passes 256 keys or 15 KB."""
    problems = _limit_problems(keys=len(profile), size=profile_size(profile))
    if problems:
        raise ProfileValidationError(problems)


class _Refused(Exception):
    def __init__(self, problem: ProfileProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def profile_fields_by_key(channel: Channel) -> Mapping[str, ProfileField]:
    """The channel's profile field definitions by bare key, as of its schema version.

    A write takes `locks.schema_read_lock(channel)` first, which refreshes the version."""
    return channel_profile_fields(channel_id=channel.pk, version=channel_version(channel))


def _value_clean(
    field: ProfileField | None, bare: str, value: object, allow_removal: bool
) -> object | None:
    key = PROFILE_PREFIX + bare
    if field is None:
        raise _Refused(ProfileProblem(key, "unknown_key", _unknown_key_message(bare)))
    if value is None:
        if allow_removal:
            return None
        message = f"{key} cannot be removed here (null); send {type_spec(field.type).expects}."
        raise _Refused(ProfileProblem(key, "not_removable", message))
    try:
        return _normalised(field, bare, value)
    except ValueRefused as refused:
        message = _refusal_message(key, refused, value, sensitive=field.sensitive)
        raise _Refused(ProfileProblem(key, refused.code, message)) from None


def _normalised(field: ProfileField, bare: str, value: object) -> object:
    """VALUE in its stored form: the type's parser, then the key's rule (String fields)."""
    normal = type_spec(field.type).parse(value)
    rule = key_rule(bare)
    if rule is None or field.type != FieldType.STRING or not isinstance(normal, str):
        return normal
    return rule(normal)


def _refused_earlier(bare: str, problems: list[ProfileProblem]) -> bool:
    key = PROFILE_PREFIX + bare
    return any(problem.key == key and problem.code != "duplicate_key" for problem in problems)


def _duplicate_problem(bare: str) -> ProfileProblem:
    key = PROFILE_PREFIX + bare
    message = f"{key} was sent twice (as '{bare}' and as '{key}'); send it once."
    return ProfileProblem(key, "duplicate_key", message)


def _unknown_key_message(bare: str) -> str:
    key = PROFILE_PREFIX + bare
    message = (
        f"{key} is not a profile field of this channel; an admin must define it under "
        "profile fields (settings -> profile fields) before values can be stored."
    )
    if bare in BUILT_IN_KEYS:
        message += f" '{bare}' is a built-in field, maintained by the system, not a profile key."
    return message


def _refusal_message(key: str, refused: ValueRefused, value: object, *, sensitive: bool) -> str:
    received = _sensitive_preview(value) if sensitive else _preview(value)
    detail = f", {refused.detail}" if refused.detail else ""
    hint = f" {refused.hint}" if refused.hint else ""
    return f"{key} must be {refused.expected}; received {received}{detail}.{hint}"


def _preview(value: object) -> str:
    """VALUE as a person reads it in an error message, cut to about 40 characters."""
    if isinstance(value, str):
        if len(value) <= _PREVIEW_CHARACTERS:
            return json.dumps(value, ensure_ascii=False)
        cut = json.dumps(value[:_PREVIEW_CHARACTERS], ensure_ascii=False)
        return f'{cut[:-1]}…" ({len(value)} characters)'
    if isinstance(value, list | tuple):
        text = _json_text(value)
        if len(text) <= _PREVIEW_CHARACTERS:
            return text
        return f"a list of {len(value)} items"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, bool | int | float):
        return _json_text(value)
    return f"a {type(value).__name__}"


def _sensitive_preview(value: object) -> str:
    """What a refusal says of a sensitive field's VALUE: its JSON kind, never the value nor
    its length (a too-long value's refusal says how long it is: that is what is wrong)."""
    kind = "a string" if isinstance(value, str) else "a value"
    return f"{kind} that is not shown (the field is sensitive)"


def _json_text(value: object) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=True, separators=(", ", ": "))
    except (TypeError, ValueError):
        return f"a {type(value).__name__}"


def _limit_problems(*, keys: int, size: int) -> list[ProfileProblem]:
    problems = []
    if keys > MAX_PROFILE_KEYS:
        message = (
            f"A profile holds at most {MAX_PROFILE_KEYS} keys; this one would hold {keys}. "
            "Remove keys (send null) or leave some out."
        )
        problems.append(ProfileProblem("profile", "too_many_keys", message))
    if size > MAX_PROFILE_BYTES:
        message = (
            f"A profile is at most {MAX_PROFILE_BYTES} bytes (15 KB) as JSON; this one would be "
            f"{size} bytes. Shorten or remove values."
        )
        problems.append(ProfileProblem("profile", "too_large", message))
    return problems


def _jsonb_text_bytes(value: object) -> int:
    """UTF-8 bytes of VALUE in PostgreSQL's jsonb text: ", " and ": " separators, plain numbers.

    Without floats and with string keys only, Python's JSON with the same separators is the
    same text (the order of keys differs, not their bytes): one dumps instead of one a value."""
    if _plain_json(value):
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        return len(text.encode("utf-8"))
    return _jsonb_text_bytes_each(value)


def _plain_json(value: object) -> bool:
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_plain_json(item) for item in value)
    return value is None or isinstance(value, bool | int | str)


def _jsonb_text_bytes_each(value: object) -> int:
    if isinstance(value, Mapping):
        members = [
            _jsonb_text_bytes_each(str(k)) + 2 + _jsonb_text_bytes_each(v) for k, v in value.items()
        ]
        return 2 + sum(members) + 2 * max(len(members) - 1, 0)
    if isinstance(value, list | tuple):
        items = [_jsonb_text_bytes_each(item) for item in value]
        return 2 + sum(items) + 2 * max(len(items) - 1, 0)
    return len(_jsonb_scalar_text(value).encode("utf-8"))


def _jsonb_scalar_text(value: object) -> str:
    if isinstance(value, float):
        # jsonb keeps numbers as numeric, printed without an exponent: 1e16 -> 10000000000000000.
        return format(Decimal(repr(value + 0.0)), "f")
    if value is None or isinstance(value, bool | int | str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"A profile holds JSON values only, not {type(value).__name__}.")
