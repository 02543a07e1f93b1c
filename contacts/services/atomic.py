"""Atomic contact writes: one SQL statement that merges a change into the stored row.

Never read-modify-write (docs/ARCHITECTURE.md rule 3). A change is turned into one expression
per column, computed from the row as stored at write time (`c`), so concurrent writers merge
instead of overwriting each other. The same expressions serve the upsert of a boot (INSERT …
ON CONFLICT DO UPDATE) and the update of a known contact; the update is skipped when nothing
would change, so a repeated boot writes nothing.

Values are always bound parameters; the only names written into the text are column names,
each checked against the model (`_identity_checked`, `_columns_checked`) before it is used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import JSONField

from contacts.models import Contact
from contacts.services.change import PLATFORMS, ContactChange, database_limits
from crm.prepared import server_bound_cursor

# The columns a contact is found by in an upsert; each has a partial unique index
# (channel_id, <column>) WHERE <column> IS NOT NULL that ON CONFLICT names.
IDENTITIES = frozenset({"member_id", "veil_id"})


def _identity_checked(identity: str) -> str:
    """IDENTITY when a contact can be found by it; ValueError otherwise.

    The name goes into the statement's text, so it is checked for real (an assert would vanish
    under `python -O`)."""
    if identity not in IDENTITIES:
        raise ValueError(f"{identity!r} is not a contact identity; use member_id or veil_id.")
    return identity


@lru_cache(maxsize=1)
def _writable_columns() -> frozenset[str]:
    """The contact table's columns a change may set directly (not the id, not generated ones)."""
    return frozenset(
        model_field.column
        for model_field in Contact._meta.concrete_fields
        if not (model_field.primary_key or model_field.generated)
    )


def _columns_checked(columns: Iterable[str]) -> None:
    """ValueError unless every name of COLUMNS is a writable column of the contact table."""
    unknown = sorted(set(columns) - _writable_columns())
    if unknown:
        raise ValueError(f"Not columns a change may set: {', '.join(map(repr, unknown))}.")


def _profile_expr() -> str:
    return "(((%(p_once)s::jsonb || c.profile) || %(p_set)s::jsonb) - %(p_remove)s::text[])"


def _tags_expr(change: ContactChange) -> str | None:
    if change.tags_replace is not None:
        return "%(t_replace)s::varchar[]"
    if not (change.tags_add or change.tags_remove):
        return None
    return (
        "ARRAY(SELECT t FROM unnest(c.tags || ARRAY(SELECT a FROM unnest(%(t_add)s::varchar[])"
        " AS a WHERE a <> ALL(c.tags))) WITH ORDINALITY AS x(t, n)"
        " WHERE t <> ALL(%(t_remove)s::varchar[]) ORDER BY n)"
    )


def _unsubscribe_expr(change: ContactChange, column: str, param: str) -> str | None:
    if getattr(change, column) is None:
        return None
    if change.unsubscribe_only_on:
        return f"(c.{column} OR %({param})s)"
    return f"%({param})s"


def data_expressions(change: ContactChange) -> dict[str, str]:
    """Column -> SQL expression over the stored row `c`, for the data the change carries."""
    exprs = {"profile": _profile_expr()}
    tags = _tags_expr(change)
    if tags:
        exprs["tags"] = tags
    if change.language:
        exprs["language"] = "CASE WHEN c.language = '' THEN %(language)s ELSE c.language END"
    for column, param in (("unsubscribe_email", "u_email"), ("unsubscribe_texting", "u_texting")):
        expr = _unsubscribe_expr(change, column, param)
        if expr:
            exprs[column] = expr
    _columns_checked(change.columns)
    for name in change.columns:
        exprs[name] = f"%(col_{name})s"
    return exprs


def visit_expressions(platform: str) -> dict[str, str]:
    """Column -> SQL expression counting a visit on PLATFORM now (30 idle minutes: new session)."""
    if platform not in PLATFORMS:
        raise ValueError(f"{platform!r} is not a platform; use web or mobile.")
    new_session = (
        f"(CASE WHEN c.{platform}_last_seen_at IS NULL"
        f" OR c.{platform}_last_seen_at < %(idle_before)s THEN 1 ELSE 0 END)"
    )
    return {
        "sessions_count": f"c.sessions_count + {new_session}",
        f"{platform}_sessions_count": f"c.{platform}_sessions_count + {new_session}",
        f"{platform}_last_seen_at": "%(now)s",
        "last_seen_at": "%(now)s",
    }


def update_sql(change: ContactChange) -> tuple[str, str]:
    """(SET list, WHERE condition that is true only when the row would change)."""
    data = data_expressions(change)
    assignments = dict(data)
    changed = (
        f"({', '.join(f'c.{column}' for column in data)})"
        f" IS DISTINCT FROM ({', '.join(data.values())})"
    )
    if change.visit in PLATFORMS:
        assignments.update(visit_expressions(change.visit))
        changed = f"({changed} OR c.last_seen_at IS NULL OR c.last_seen_at < %(seen_before)s)"
    assignments["updated_at"] = "%(now)s"
    set_list = ", ".join(f"{column} = {expr}" for column, expr in assignments.items())
    return set_list, changed


def execute(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run SQL; a database limit (tags, profile size) becomes a refusal naming it."""
    with database_limits(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


def contact_update_atomic(*, channel_id: int, contact_id: int, change: ContactChange) -> bool:
    """Merge CHANGE into one stored contact in a single statement; False when nothing changed."""
    set_list, changed = update_sql(change)
    sql = (
        f"UPDATE contacts_contact AS c SET {set_list}"  # noqa: S608 - composed from constants
        " WHERE c.id = %(contact_id)s AND c.channel_id = %(channel_id)s AND "
        + changed
        + " RETURNING c.id"
    )
    params = {**change.params(), "contact_id": contact_id, "channel_id": channel_id}
    return bool(execute(sql, params))


def _new_profile(change: ContactChange) -> str:
    profile = {**change.profile_once, **change.profile_set}
    for key in change.profile_remove:
        profile.pop(key, None)
    return json.dumps(profile, ensure_ascii=False)


def _new_tags(change: ContactChange) -> list[str]:
    tags = change.tags_replace if change.tags_replace is not None else change.tags_add
    return [t for t in tags if t not in change.tags_remove]


def _new_fields() -> list[Any]:
    """The model fields a new contact must fill (NOT NULL or defaulted), in column order."""
    return [
        model_field
        for model_field in Contact._meta.concrete_fields
        if not (model_field.primary_key or model_field.generated)
        and (model_field.has_default() or not model_field.null)
    ]


def contact_defaults() -> dict[str, Any]:
    """Column -> model default of every column a new contact must fill (NOT NULL or defaulted)."""
    return {model_field.column: model_field.get_default() for model_field in _new_fields()}


@lru_cache(maxsize=1)
def _default_values() -> dict[str, str]:
    """Column -> SQL literal of its model default, for the columns a new contact may leave.

    The defaults are the model's constants ('', 0, false, NULL, an empty array or object),
    never input, so they are written into the statement: its text then depends on the change's
    shape alone."""
    literals: dict[str, str] = {}
    for model_field in _new_fields():
        column, default = model_field.column, model_field.get_default()
        if default is None:
            literals[column] = "NULL"
        elif isinstance(default, bool):
            literals[column] = "true" if default else "false"
        elif isinstance(default, int):
            literals[column] = str(default)
        elif default == "":
            literals[column] = "''"
        elif default == [] and isinstance(model_field, ArrayField):
            literals[column] = "'{}'"
        elif default in ([], {}) and isinstance(model_field, JSONField):
            literals[column] = "'[]'::jsonb" if default == [] else "'{}'::jsonb"
        else:
            raise ValueError(f"{column}: no SQL literal for the default {default!r}")
    return literals


def _new_values(change: ContactChange, identity: str) -> dict[str, str]:
    """Column -> SQL expression of a contact created by CHANGE, every NOT NULL column filled."""
    values = dict(_default_values())
    values.update(
        channel_id="%(channel_id)s",
        profile="%(new_profile)s::jsonb",
        tags="%(new_tags)s::varchar[]",
        language="%(language)s",
        unsubscribe_email="%(new_u_email)s",
        unsubscribe_texting="%(new_u_texting)s",
        created_at="%(now)s",
        updated_at="%(now)s",
        **{column: f"%(col_{column})s" for column in change.columns},
    )
    values[identity] = "%(identity_value)s"
    if change.visit in PLATFORMS:
        values.update(
            sessions_count="1",
            last_seen_at="%(now)s",
            **{f"{change.visit}_sessions_count": "1", f"{change.visit}_last_seen_at": "%(now)s"},
        )
    return values


def _shape(change: ContactChange, identity: str) -> tuple[Any, ...]:
    """What the statement's text depends on: which parts the change has, never their values."""
    return (
        identity,
        tuple(change.columns),
        change.visit,
        change.tags_replace is not None,
        bool(change.tags_add or change.tags_remove),
        bool(change.language),
        change.unsubscribe_email is None,
        change.unsubscribe_texting is None,
        change.unsubscribe_only_on,
    )


def _upsert_text_build(change: ContactChange, identity: str) -> str:
    values = _new_values(change, identity)
    set_list, changed = update_sql(change)
    return (
        f"INSERT INTO contacts_contact AS c ({', '.join(values)})"  # noqa: S608 - constants
        f" VALUES ({', '.join(values.values())})"
        f" ON CONFLICT (channel_id, {identity}) WHERE {identity} IS NOT NULL"
        f" DO UPDATE SET {set_list} WHERE {changed}"
    )


def _upsert_sql(
    *, channel_id: int, identity: str, value: str, change: ContactChange
) -> tuple[str, dict[str, Any]]:
    """INSERT … ON CONFLICT DO UPDATE for the contact whose IDENTITY is VALUE (no RETURNING).

    The text depends only on the change's shape, so it is built once per shape and the
    statement is the same from boot to boot (prepared, see crm.prepared)."""
    sql = _upsert_text_for(change, _identity_checked(identity))
    params = {
        **change.params(),
        "channel_id": channel_id,
        "identity_value": value,
        "new_profile": _new_profile(change),
        "new_tags": _new_tags(change),
        "new_u_email": bool(change.unsubscribe_email),
        "new_u_texting": bool(change.unsubscribe_texting),
    }
    return sql, params


# The statement's text per shape: a handful of shapes occur (web or app visits, with or
# without tags, …); the bound keeps a caller with unusual changes from growing it forever.
_texts: dict[tuple[Any, ...], str] = {}
MAX_SHAPES = 512


def _upsert_text_for(change: ContactChange, identity: str) -> str:
    shape = _shape(change, identity)
    text = _texts.get(shape)
    if text is None:
        text = _upsert_text_build(change, identity)
        if len(_texts) < MAX_SHAPES:
            _texts[shape] = text
    return text


def contact_upsert_atomic(
    *, channel_id: int, identity: str, value: str, change: ContactChange
) -> tuple[int, bool, bool]:
    """Create the contact whose IDENTITY (member_id or veil_id) is VALUE, or merge CHANGE into it.

    One statement, safe under any number of concurrent callers; returns (id, created, written).
    """
    sql, params = _upsert_sql(channel_id=channel_id, identity=identity, value=value, change=change)
    returned = execute(sql + " RETURNING c.id, (c.xmax = 0) AS created", params)
    if returned:
        return int(returned[0][0]), bool(returned[0][1]), True
    found = execute(
        f"SELECT id FROM contacts_contact WHERE channel_id = %(channel_id)s"  # noqa: S608
        f" AND {identity} = %(identity_value)s",
        params,
    )
    return int(found[0][0]), False, False


@dataclass(frozen=True)
class Upserted:
    """The contact as the upsert left it, and what the upsert did."""

    contact: Contact
    created: bool
    written: bool
    # The device's non-member contact (same veil_id, no member id), when the caller asked.
    device_contact_id: int | None


def contact_upsert_returning(
    *,
    channel_id: int,
    identity: str,
    value: str,
    change: ContactChange,
    activity_month: date,
    device_veil_id: str | None = None,
) -> Upserted:
    """contact_upsert_atomic, plus the whole row back and the month's activity, in one statement.

    A data-modifying CTE writes the contact, records ACTIVITY_MONTH in the activity ledger when
    the contact was written, and returns every column, so the caller needs no second read. When
    nothing changed, one SELECT reads the row. With DEVICE_VEIL_ID, the same statement looks up
    the device's non-member contact, which the caller merges."""
    sql, params = _upsert_sql(channel_id=channel_id, identity=identity, value=value, change=change)
    columns = ", ".join(f"t.{f.column}" for f in Contact._meta.concrete_fields)
    device = "NULL::bigint"
    if device_veil_id:
        device = (
            "(SELECT d.id FROM contacts_contact AS d WHERE d.channel_id = %(channel_id)s"
            " AND d.veil_id = %(device_veil)s AND d.member_id IS NULL AND d.id <> t.id LIMIT 1)"
        )
    params.update(activity_month=activity_month, device_veil=device_veil_id)
    written = (
        f"WITH t AS ({sql} RETURNING c.*, (c.xmax = 0) AS created),"  # noqa: S608 - constants
        " activity AS (INSERT INTO contacts_contactactivity (channel_id, contact_id, month)"
        " SELECT t.channel_id, t.id, %(activity_month)s FROM t ON CONFLICT DO NOTHING)"
        f" SELECT {columns}, t.created, true AS written, {device} AS device_contact_id FROM t"
    )
    with server_bound_cursor() as cursor, database_limits():
        cursor.execute(written, params)
        row = cursor.fetchone()
        if row is None:
            unchanged = (
                f"SELECT {columns}, false AS created, false AS written,"  # noqa: S608 - constants
                f" {device} AS device_contact_id FROM contacts_contact AS t"
                f" WHERE t.channel_id = %(channel_id)s AND t.{identity} = %(identity_value)s"
            )
            cursor.execute(unchanged, params)
            row = cursor.fetchone()
    contact = contact_from_row(row)
    created, was_written, device_contact_id = row[-3:]
    return Upserted(
        contact=contact,
        created=bool(created),
        written=bool(was_written),
        device_contact_id=device_contact_id,
    )


def contact_from_row(row: tuple[Any, ...]) -> Contact:
    """A Contact from a row whose first columns are the model's, in field order."""
    fields = Contact._meta.concrete_fields
    values = list(row[: len(fields)])
    for index, model_field in enumerate(fields):
        if hasattr(model_field, "from_db_value") and values[index] is not None:
            values[index] = model_field.from_db_value(values[index], None, connection)
    return Contact.from_db(DEFAULT_DB_ALIAS, [f.attname for f in fields], values)
