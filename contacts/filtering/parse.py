"""Parsing and validating a filter tree; every problem is reported with its path in the tree."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

from contacts.filtering.keys import TYPE_VALUES, KeySpec, key_resolve
from crm.errors import InvalidInput, Problem
from crm.ids import id_parse
from crm.permissions import Viewer
from masking.lookups import masked_lookups_charge
from masking.policy import MaskingPolicy, Visibility, policy_for_fields
from profile_schema.models import FieldType, ProfileField
from profile_schema.rules import key_rule
from profile_schema.types import ValueRefused, type_spec

MAX_DEPTH = 6
MAX_CONDITIONS = 100
MAX_IN_VALUES = 1000
MAX_DAYS = 36500
EXISTENCE = ("exists", "notExists")
SINGLE = (
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "before",
    "after",
    "contains",
    "notContains",
    "startsWith",
)
TEXT_MATCH = ("contains", "notContains", "startsWith")
BUILT_IN_OPERATORS = {
    "boolean": ("eq", "neq"),
    "member": ("eq", "neq"),
    "id": ("eq", "in"),
    "type": ("eq", "neq", "in"),
    "segment": ("eq", "neq"),
}


@dataclass(frozen=True)
class Condition:
    path: str
    spec: KeySpec
    operator: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Group:
    path: str
    op: str  # "and" | "or"
    children: tuple[Node, ...]


Node = Union[Condition, Group]  # noqa: UP007 - a forward-referenced alias


class _Context:
    """What parsing one tree needs: the channel's fields, the viewer's masking policy (None:
    no viewer, nothing is masked), a segment loader."""

    def __init__(
        self,
        fields: Mapping[str, ProfileField],
        policy: MaskingPolicy | None,
        segment_filter: Callable[[int], Any] | None,
    ) -> None:
        self.fields = fields
        self.policy = policy
        self.segment_filter = segment_filter
        self.problems: list[Problem] = []
        self.conditions = 0
        self.segments_open: list[int] = []
        # Whole values looked up on keys masked for the viewer (masking.lookups' budget).
        self.masked_values = 0

    @property
    def masking(self) -> MaskingPolicy | None:
        """The policy the conditions written here answer to: none inside a saved segment, which
        is the channel's and is compiled as it was stored."""
        return None if self.segments_open else self.policy

    def refuse(self, path: str, code: str, message: str) -> None:
        self.problems.append(Problem(path, code, f"{path}: {message}"))


def filter_parse(
    data: Any,
    *,
    fields: Mapping[str, ProfileField],
    viewer: Viewer | None = None,
    segment_filter: Callable[[int], Any] | None = None,
    path: str = "filter",
    charged: bool = True,
) -> Node | None:
    """A validated tree for DATA (None for an empty filter); InvalidInput lists every problem.

    The whole values it looks up on keys masked for VIEWER count against the viewer's budget
    (masking.lookups; a second parse of the same request passes CHARGED=False).

    FIELDS are the channel's field definitions by full key; SEGMENT_FILTER(id) returns a saved
    segment's filter JSON (or None when the channel has no such segment). A key VIEWER may not
    see (masking.policy) is filtered only with `eq` / `in` on whole values; inside a saved
    segment the conditions are the channel's, compiled as stored."""
    if data in (None, {}, ""):
        return None
    policy = None if viewer is None else policy_for_fields(viewer, fields.values())
    context = _Context(fields, policy, segment_filter)
    node = _node(data, path, 0, context)
    if context.conditions > MAX_CONDITIONS:
        context.refuse(
            path, "too_many_conditions", f"a filter has at most {MAX_CONDITIONS} conditions."
        )
    if context.problems:
        raise InvalidInput(context.problems)
    if charged and viewer is not None:
        masked_lookups_charge(viewer=viewer, count=context.masked_values)
    return node


def _node(data: Any, path: str, depth: int, context: _Context) -> Node | None:
    if not isinstance(data, Mapping):
        context.refuse(
            path, "invalid_type", "a filter node is an object: a condition or an and/or group."
        )
        return None
    if depth > MAX_DEPTH:
        context.refuse(path, "too_deep", f"groups nest at most {MAX_DEPTH} levels.")
        return None
    groups = [op for op in ("and", "or") if op in data]
    if groups:
        return _group(data, groups, path, depth, context)
    return _condition(data, path, context)


def _group(
    data: Mapping[str, Any], ops: list[str], path: str, depth: int, context: _Context
) -> Node | None:
    if len(ops) > 1 or len(data) > 1:
        context.refuse(path, "invalid_group", "a group has exactly one key, 'and' or 'or'.")
        return None
    op = ops[0]
    items = data[op]
    if not isinstance(items, list) or not items:
        context.refuse(f"{path}.{op}", "invalid_group", "a group holds a non-empty list of nodes.")
        return None
    children = [
        _node(item, f"{path}.{op}[{i}]", depth + 1, context) for i, item in enumerate(items)
    ]
    return Group(path, op, tuple(c for c in children if c is not None))


def _condition(data: Mapping[str, Any], path: str, context: _Context) -> Node | None:
    context.conditions += 1
    unknown = sorted(set(data) - {"key", "operator", "values"})
    if unknown:
        context.refuse(
            path,
            "unknown_field",
            f"a condition has key, operator and values; not {', '.join(unknown)}.",
        )
    key, operator = data.get("key"), data.get("operator")
    spec = key_resolve(key, context.fields) if isinstance(key, str) else None
    if spec is None:
        context.refuse(f"{path}.key", "unknown_key", f"{key!r} is not a field of this channel.")
        return None
    allowed = operators_for(spec)
    if operator not in allowed:
        context.refuse(
            f"{path}.operator",
            "invalid_operator",
            f"{operator!r} does not apply to {key} ({spec.type}); allowed: {', '.join(allowed)}.",
        )
        return None
    policy = context.masking
    if policy is not None and not policy.may_filter(spec.key, str(operator)):
        whole = [op for op in allowed if policy.may_filter(spec.key, op)]
        context.refuse(
            f"{path}.operator",
            "masked_key",
            f"{key} is masked for you, so it is matched only on whole values"
            f" ({', '.join(whole) or 'no operator applies'}), not with {operator}.",
        )
        return None
    values = data.get("values", [])
    if not isinstance(values, list):
        context.refuse(f"{path}.values", "invalid_type", "values is a list.")
        return None
    cleaned = _values(spec, operator, values, f"{path}.values", context)
    if cleaned is None:
        return None
    if spec.kind == "segment":
        return _segment(path, operator, cleaned[0], context)
    return Condition(path, spec, operator, cleaned)


def _is_masked_form(policy: MaskingPolicy, key: str, value: Any) -> bool:
    """VALUE is what a viewer who may not see KEY is shown (`********`, `l**@shop.example`),
    sent back as if it were data: it would match nothing, or overwrite a segment's value."""
    if policy.visibility(key) is not Visibility.MASKED or not isinstance(value, str):
        return False
    return "*" in value and policy.mask(key, value) == value


def operators_for(spec: KeySpec) -> tuple[str, ...]:
    """The operators KEY allows: the type registry's, narrowed for some built-in keys."""
    if spec.kind in BUILT_IN_OPERATORS:
        return BUILT_IN_OPERATORS[spec.kind]
    if spec.kind == "column" and spec.type == FieldType.BOOLEAN:
        return BUILT_IN_OPERATORS["boolean"]
    return tuple(type_spec(spec.type).operators)


def _count_rule(operator: str, count: int) -> str | None:
    if operator in EXISTENCE:
        return None if count == 0 else "takes no values"
    if operator in SINGLE or operator in ("withinLastDays", "moreThanDaysAgo"):
        return None if count == 1 else "takes exactly one value"
    if operator == "between":
        return None if count == 2 else "takes two values: from and to"
    limit = MAX_IN_VALUES if operator == "in" else 200
    return None if 1 <= count <= limit else f"takes 1 to {limit} values"


def _values(
    spec: KeySpec, operator: str, values: list[Any], path: str, context: _Context
) -> tuple[Any, ...] | None:
    problem = _count_rule(operator, len(values))
    if problem:
        context.refuse(path, "invalid_values", f"{operator} {problem}; got {len(values)}.")
        return None
    parse = _value_parser(spec, operator)
    # A value of a sensitive key is never echoed back, whoever sent it: messages reach logs.
    hidden = spec.sensitive or (context.policy is not None and context.policy.is_masked(spec.key))
    masking = context.masking
    cleaned, before = [], len(context.problems)
    for index, value in enumerate(values):
        if masking is not None and _is_masked_form(masking, spec.key, value):
            context.refuse(
                f"{path}[{index}]",
                "masked_value",
                f"this is a masked value, as answers show {spec.key}; a filter on it matches"
                " whole values, so send the whole value.",
            )
            continue
        try:
            cleaned.append(parse(value))
        except ValueRefused as refused:
            got = "a value not shown (the field is sensitive)" if hidden else repr(value)
            message = f"must be {refused.expected}; got {got}."
            context.refuse(f"{path}[{index}]", refused.code, message)
    if len(context.problems) > before:
        return None
    if masking is not None and masking.visibility(spec.key) is Visibility.MASKED:
        context.masked_values += len(cleaned)
    if operator == "between" and cleaned[0] > cleaned[1]:
        context.refuse(path, "invalid_range", "between takes [from, to] with from ≤ to.")
        return None
    return tuple(cleaned)


def _value_parser(spec: KeySpec, operator: str) -> Callable[[Any], Any]:
    if operator in ("withinLastDays", "moreThanDaysAgo"):
        return _days
    if spec.kind in ("id", "segment"):
        return _positive_int
    if spec.kind == "type":
        return _contact_type
    if operator in TEXT_MATCH:
        return _search_text
    if spec.type == FieldType.DATETIME:
        return _moment
    if spec.type in (FieldType.LIST, FieldType.LIST_OF_NUMBER):
        item = FieldType.STRING if spec.type == FieldType.LIST else FieldType.NUMBER
        return type_spec(item).parse
    parse = type_spec(spec.type).parse
    rule = key_rule(spec.column) if spec.kind == "profile" else None
    if rule is None:
        return parse
    return lambda value: rule(str(parse(value)))


def _days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        raise ValueRefused("invalid_days", f"a whole number of days from 0 to {MAX_DAYS}")
    return value


def _positive_int(value: Any) -> int:
    parsed = id_parse(value)
    if parsed is None:
        raise ValueRefused("invalid_id", "an id (digits)")
    return parsed


def _contact_type(value: Any) -> str:
    if value not in TYPE_VALUES:
        raise ValueRefused("invalid_choice", f"one of {', '.join(TYPE_VALUES)}")
    return str(value)


def _search_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 512:
        raise ValueRefused("invalid_text", "a non-empty string of at most 512 characters")
    return value


def _moment(value: Any) -> int | str:
    """A Datetime value: epoch milliseconds, or a calendar day 'YYYY-MM-DD' (the channel's)."""
    if isinstance(value, str):
        return str(type_spec(FieldType.DATE).parse(value))
    return int(type_spec(FieldType.DATETIME).parse(value))  # type: ignore[call-overload]


def _segment(path: str, operator: str, segment_id: int, context: _Context) -> Node | None:
    """A saved segment's filter, parsed in place (a segment may not include itself)."""
    found = context.segment_filter(segment_id) if context.segment_filter else None
    if found is None:
        context.refuse(
            f"{path}.values[0]", "unknown_segment", f"no segment {segment_id} in this channel."
        )
        return None
    if segment_id in context.segments_open:
        context.refuse(
            f"{path}.values[0]", "segment_cycle", f"segment {segment_id} includes itself."
        )
        return None
    context.segments_open.append(segment_id)
    inner = _node(found, f"{path}<segment {segment_id}>", 1, context) if found else None
    context.segments_open.pop()
    if inner is None:
        return Group(path, "and", ()) if operator == "eq" else Group(path, "not", ())
    return inner if operator == "eq" else Group(path, "not", (inner,))
