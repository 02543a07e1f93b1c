"""Compiling a parsed filter to a Django Q: every value a bound parameter, indexes in mind.

Equality, membership and list containment on profile keys compile to `profile @> {...}` or one
`profile @@ jsonpath` (the GIN jsonb_path_ops index); ranges and existence to
`(profile -> 'key') > value` / `IS NOT NULL` (jsonb ordering; the per-key expression index when
the field is indexed); tags to array overlap / containment (GIN). Negations are filters on top.
Relative dates use the channel's time zone.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce
from operator import and_, or_
from typing import Any

from django.db.models import BooleanField, F, Func, JSONField, Q, Value
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    IsNull,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
)
from django.utils import timezone

from contacts.filtering.parse import Condition, Group, Node
from crm.api import epoch_ms
from profile_schema.models import FieldType

NOTHING = Q(pk__in=[])


class JsonPathMatch(Func):
    """`profile @@ '<predicate>'`: a jsonpath predicate (served by the jsonb_path_ops index)."""

    template = "(%(expressions)s)"
    arg_joiner = " @@ "
    output_field = BooleanField()


def _jsonpath(path: str) -> Func:
    """A jsonpath, sent as a bound parameter and cast in SQL."""
    return Func(Value(path), template="%(expressions)s::jsonpath")


def _any_of(key: str, values: tuple[Any, ...]) -> Q:
    """KEY equals one of VALUES: one containment for one value, one index scan for many.

    The key is a validated camelCase name; values are JSON-encoded into the jsonpath, which
    travels as one bound parameter."""
    if len(values) == 1:
        return Q(profile__contains={key: values[0]})
    predicate = " || ".join(f'$."{key}" == {json.dumps(v)}' for v in values)
    return Q(JsonPathMatch(F("profile"), _jsonpath(predicate)))


def filter_compile(node: Node | None, *, tz: str) -> Q:
    """The Q of a parsed filter; TZ is the channel's time zone for days and relative dates."""
    if node is None:
        return Q()
    if isinstance(node, Group):
        return _group(node, tz)
    return _condition(node, tz)


def _group(group: Group, tz: str) -> Q:
    parts = [filter_compile(child, tz=tz) for child in group.children]
    if group.op == "not":
        return ~reduce(and_, parts) if parts else NOTHING
    if not parts:
        return Q()
    return reduce(and_ if group.op == "and" else or_, parts)


def _condition(condition: Condition, tz: str) -> Q:
    kind = condition.spec.kind
    if kind == "profile":
        return _profile(condition, tz)
    if kind == "tags":
        return _tags(condition)
    if kind == "member":
        is_member = condition.values[0] == (condition.operator == "eq")
        return Q(member_id__isnull=not is_member)
    return _column(condition, tz)


def _tags(condition: Condition) -> Q:
    values = list(condition.values)
    return {
        "hasAny": lambda: Q(tags__overlap=values),
        "hasAll": lambda: Q(tags__contains=values),
        "hasNone": lambda: ~Q(tags__overlap=values),
        "exists": lambda: ~Q(tags=[]),
        "notExists": lambda: Q(tags=[]),
    }[condition.operator]()


def _column(condition: Condition, tz: str) -> Q:
    spec, op, values = condition.spec, condition.operator, condition.values
    column = spec.column
    text = spec.type == FieldType.STRING
    if op == "exists":
        return Q(**{f"{column}__isnull": False}) & (~Q(**{column: ""}) if text else Q())
    if op == "notExists":
        return Q(**{f"{column}__isnull": True}) | (Q(**{column: ""}) if text else NOTHING)
    if spec.type == FieldType.DATETIME:
        return _in_range(F(column), *_time_range(op, values, tz), wrap=Value)
    return _compare(op, F(column), values, Value)


def _profile(condition: Condition, tz: str) -> Q:
    spec, op, values = condition.spec, condition.operator, condition.values
    key = spec.column
    if op in ("exists", "notExists"):
        # (profile -> 'key') IS NOT NULL: served by the per-key index when the field has one;
        # jsonb_path_ops holds path+value hashes, so it cannot answer "has this key" alone.
        present = Q(IsNull(KeyTransform(key, "profile"), False))
        return present if op == "exists" else ~present
    if spec.type in (FieldType.LIST, FieldType.LIST_OF_NUMBER):
        return _profile_list(key, op, values)
    if op in ("contains", "notContains", "startsWith"):
        return _compare(op, KeyTextTransform(key, "profile"), values, Value)
    if spec.type == FieldType.DATETIME:
        low, high, negate = _time_range(op, values, tz)
        return _in_range(
            KeyTransform(key, "profile"), epoch_ms(low), epoch_ms(high), negate, wrap=_json
        )
    if spec.type == FieldType.DATE:
        op, values = _date_operands(op, values, tz)
    if op in ("eq", "neq", "in"):
        matches = _any_of(key, values)
        return ~matches if op == "neq" else matches
    return _compare(op, KeyTransform(key, "profile"), values, _json)


def _json(value: Any) -> Value:
    return Value(value, output_field=JSONField())


def _profile_list(key: str, op: str, values: tuple[Any, ...]) -> Q:
    if op == "hasAll":
        return Q(profile__contains={key: list(values)})
    if len(values) == 1:
        anyof = Q(profile__contains={key: [values[0]]})
    else:
        predicate = " || ".join(f'$."{key}"[*] == {json.dumps(v)}' for v in values)
        anyof = Q(JsonPathMatch(F("profile"), _jsonpath(predicate)))
    return ~anyof if op == "hasNone" else anyof


def _compare(op: str, lhs: Any, values: tuple[Any, ...], wrap: Callable[[Any], Any]) -> Q:
    """LHS compared with the condition's values; WRAP types a value for the lhs."""
    one = values[0] if values else None
    if op in ("eq", "neq"):
        q = Q(Exact(lhs, wrap(one)))
        # "is not" / "does not contain" include the contacts that have no value at all.
        return (~q | Q(IsNull(lhs, True))) if op == "neq" else q
    if op == "in":
        return reduce(or_, [Q(Exact(lhs, wrap(v))) for v in values])
    if op in ("contains", "notContains"):
        q = Q(IContains(lhs, one))
        return (~q | Q(IsNull(lhs, True))) if op == "notContains" else q
    if op == "startsWith":
        return Q(IStartsWith(lhs, one))
    if op == "between":
        return Q(GreaterThanOrEqual(lhs, wrap(values[0]))) & Q(
            LessThanOrEqual(lhs, wrap(values[1]))
        )
    lookup = {
        "gt": GreaterThan,
        "after": GreaterThan,
        "gte": GreaterThanOrEqual,
        "lt": LessThan,
        "before": LessThan,
        "lte": LessThanOrEqual,
    }[op]
    return Q(lookup(lhs, wrap(one)))


def _in_range(lhs: Any, low: Any, high: Any, negate: bool, *, wrap: Callable[[Any], Any]) -> Q:
    """low <= lhs < high (either end open when None); negated for "not on that day"."""
    q = Q()
    if low is not None:
        q &= Q(GreaterThanOrEqual(lhs, wrap(low)))
    if high is not None:
        q &= Q(LessThan(lhs, wrap(high)))
    return ~q if negate else q


def _local_midnight(day: date, tz: str) -> datetime:
    """Midnight of DAY in the zone, in UTC; days at the ends of the calendar are clamped."""
    try:
        return datetime.combine(day, time.min, tzinfo=zoneinfo.ZoneInfo(tz)).astimezone(UTC)
    except OverflowError:
        return (
            datetime.min.replace(tzinfo=UTC) if day.year < 2 else datetime.max.replace(tzinfo=UTC)
        )


def _today(tz: str) -> date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(tz)).date()


def _bounds(value: int | str, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of a Datetime operand: a calendar day in the channel's zone, or one ms."""
    if isinstance(value, str):
        day = date.fromisoformat(value)
        start = _local_midnight(day, tz)
        end = _local_midnight(day + timedelta(days=1), tz) if day < date.max else start
        return start, end
    start = datetime.fromtimestamp(value / 1000, tz=UTC)
    return start, start + timedelta(milliseconds=1)


def _time_range(
    op: str, values: tuple[Any, ...], tz: str
) -> tuple[datetime | None, datetime | None, bool]:
    """(from, until, negate) of a Datetime condition: from inclusive, until exclusive."""
    if op in ("withinLastDays", "moreThanDaysAgo"):
        since = _local_midnight(_today(tz) - timedelta(days=values[0]), tz)
        return (since, None, False) if op == "withinLastDays" else (None, since, False)
    first = _bounds(values[0], tz)
    ranges: dict[str, tuple[datetime | None, datetime | None, bool]] = {
        "eq": (first[0], first[1], False),
        "neq": (first[0], first[1], True),
        "gt": (first[1], None, False),
        "after": (first[1], None, False),
        "gte": (first[0], None, False),
        "lt": (None, first[0], False),
        "before": (None, first[0], False),
        "lte": (None, first[1], False),
    }
    if op == "between":
        return first[0], _bounds(values[1], tz)[1], False
    return ranges[op]


def _date_operands(op: str, values: tuple[Any, ...], tz: str) -> tuple[str, tuple[Any, ...]]:
    """A Date condition's relative days as calendar days in the channel's zone."""
    if op in ("withinLastDays", "moreThanDaysAgo"):
        since = (_today(tz) - timedelta(days=values[0])).isoformat()
        return ("gte" if op == "withinLastDays" else "lt"), (since,)
    return op, values
