"""Which stored values convert when a field's type changes, and into what (SQL over jsonb).

A type change is allowed only when every stored value converts. A pair is listed here
when each value of the old type has one obvious reading in the new type:

- string -> number: when the text is a plain decimal, -?digits[.digits] with at most 15 digits
  on each side of the point and no leading zero ("007" blocks: it is a code, not a number).
- string -> boolean: when the text is "true" or "false".
- string -> date: when the text is YYYY-MM-DD and a real calendar day (kept as is).
- string -> list: always, as a one-item list.
- number -> string: always, as its digits ("42", "3.5").
- number -> boolean: when it is 0 (false) or 1 (true).
- number -> datetime: when it is a whole number from 0 to 253402300799999 (epoch ms).
- number -> listOfNumber: always, as a one-item list.
- boolean -> string: always, as "true" / "false".
- date -> string: always (the same text).
- date -> datetime: when midnight of that day in the channel's time zone is not before 1970;
  it becomes the epoch ms of that midnight.
- datetime -> number: always (the same epoch ms).
- datetime -> date: always: the day in the channel's time zone, "YYYY-MM-DD".
- datetime -> string: always: ISO 8601 in UTC, "2024-05-01T03:00:00.000Z".
- list -> string: when the list has exactly one item; it becomes that item.
- list -> listOfNumber: when every item converts as string -> number does.
- listOfNumber -> list: always, each number as its digits.
- listOfNumber -> number: when the list has exactly one item; it becomes that number.

Any other pair converts nothing: every contact holding a value blocks it (so it is allowed only
while no contact holds a value). The SQL reads the value as `v` (jsonb) and the channel's time
zone as `%(tz)s`; `converts` never raises for any jsonb input (casts sit behind CASE), so a stray
value only blocks, it never breaks the statement.
"""

from __future__ import annotations

from dataclasses import dataclass

from profile_schema.models import FieldType
from profile_schema.types import MAX_EPOCH_MS, MAX_STRING_LENGTH

_S, _N, _B, _D, _DT, _L, _LN = (
    FieldType.STRING,
    FieldType.NUMBER,
    FieldType.BOOLEAN,
    FieldType.DATE,
    FieldType.DATETIME,
    FieldType.LIST,
    FieldType.LIST_OF_NUMBER,
)


@dataclass(frozen=True)
class Conversion:
    """How values of SOURCE become values of TARGET: SQL over `v`, and the rule for people."""

    source: str
    target: str
    rule: str  # for people: "only when ...", "always (...)"
    converts: str  # SQL boolean
    result: str  # SQL jsonb

    @property
    def possible(self) -> bool:
        return self.converts != "false"


_TEXT = "(v #>> '{}')"
_IS = "jsonb_typeof(v) = '{}'"


def _is_decimal_text(var: str) -> str:
    """SQL: VAR is a jsonb string holding a plain decimal that float8 reads exactly enough."""
    pattern = "'^-?(0|[1-9][0-9]{0,14})([.][0-9]{1,15})?$'"
    text = f"({var} #>> '{{}}')"
    return f"CASE WHEN jsonb_typeof({var}) = 'string' THEN {text} ~ {pattern} ELSE false END"


_YEAR = f"substr({_TEXT}, 1, 4)::int"
_MONTH = f"substr({_TEXT}, 6, 2)::int"
_DAY = f"substr({_TEXT}, 9, 2)::int"
_LEAP = f"(mod({_YEAR}, 4) = 0 AND (mod({_YEAR}, 100) <> 0 OR mod({_YEAR}, 400) = 0))"
_DAYS_IN_MONTH = (
    f"CASE WHEN {_MONTH} = 2 THEN 28 + {_LEAP}::int WHEN {_MONTH} IN (4, 6, 9, 11) THEN 30 "
    "ELSE 31 END"
)
# Arithmetic, not a cast: casting '2023-02-30' to date would raise instead of answering false.
_IS_DATE_TEXT = (
    f"CASE WHEN {_IS.format('string')} AND {_TEXT} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$' "
    f"THEN {_YEAR} >= 1 AND {_MONTH} BETWEEN 1 AND 12 AND {_DAY} BETWEEN 1 AND {_DAYS_IN_MONTH} "
    "ELSE false END"
)
_EPOCH_RANGE = f"BETWEEN 0 AND {MAX_EPOCH_MS}"
_IS_EPOCH_MS = (
    f"CASE WHEN {_IS.format('number')} THEN v::numeric = trunc(v::numeric) "
    f"AND v::numeric {_EPOCH_RANGE} ELSE false END"
)
_LOCAL_TIME = "(to_timestamp(v::numeric / 1000) AT TIME ZONE %(tz)s)"
_MIDNIGHT_MS = f"(extract(epoch FROM ({_TEXT}::date::timestamp AT TIME ZONE %(tz)s)) * 1000)"
_ONE_ITEM = f"CASE WHEN {_IS.format('array')} THEN jsonb_array_length(v) = 1 ELSE false END"
_ITEMS = "jsonb_array_elements(v) WITH ORDINALITY AS item(e, n)"


def _each_item(condition_on_e: str) -> str:
    """SQL: V is an array and every item E meets CONDITION_ON_E."""
    failing = f"SELECT 1 FROM {_ITEMS} WHERE NOT ({condition_on_e})"  # noqa: S608 -- constants
    return f"CASE WHEN {_IS.format('array')} THEN NOT EXISTS ({failing}) ELSE false END"


def _map_items(expression_on_e: str) -> str:
    """SQL: the array V with each item E replaced by EXPRESSION_ON_E, order kept."""
    mapped = f"coalesce(jsonb_agg({expression_on_e} ORDER BY n), '[]')"
    return f"(SELECT {mapped} FROM {_ITEMS})"  # noqa: S608 -- constants of this module


_TABLE: tuple[Conversion, ...] = (
    Conversion(
        _S,
        _N,
        "only when the text is a plain decimal number such as '42' or '-3.5' (at most 15 "
        "digits on each side of the point, no leading zero)",
        _is_decimal_text("v"),
        f"to_jsonb({_TEXT}::float8)",
    ),
    Conversion(
        _S,
        _B,
        "only when the text is 'true' or 'false'",
        "v IN ('\"true\"'::jsonb, '\"false\"'::jsonb)",
        f"to_jsonb({_TEXT}::boolean)",
    ),
    Conversion(_S, _D, "only when the text is a real day written YYYY-MM-DD", _IS_DATE_TEXT, "v"),
    Conversion(_S, _L, "always (a one-item list)", _IS.format("string"), "jsonb_build_array(v)"),
    Conversion(
        _N,
        _S,
        "always (the number's digits)",
        f"{_IS.format('number')} AND length({_TEXT}) <= {MAX_STRING_LENGTH}",
        f"to_jsonb({_TEXT})",
    ),
    Conversion(
        _N,
        _B,
        "only when the number is 0 or 1",
        "v IN ('0'::jsonb, '1'::jsonb)",
        "to_jsonb(v = '1')",
    ),
    Conversion(
        _N,
        _DT,
        f"only when the number is a whole number from 0 to {MAX_EPOCH_MS} (epoch milliseconds)",
        _IS_EPOCH_MS,
        "to_jsonb(v::numeric::bigint)",
    ),
    Conversion(_N, _LN, "always (a one-item list)", _IS.format("number"), "jsonb_build_array(v)"),
    Conversion(_B, _S, "always ('true' or 'false')", _IS.format("boolean"), f"to_jsonb({_TEXT})"),
    Conversion(_D, _S, "always (the same text)", _IS.format("string"), "v"),
    Conversion(
        _D,
        _DT,
        "only when midnight of the day, in the channel's time zone, is in 1970 or later",
        f"CASE WHEN {_IS_DATE_TEXT} THEN {_MIDNIGHT_MS} {_EPOCH_RANGE} ELSE false END",
        f"to_jsonb({_MIDNIGHT_MS}::bigint)",
    ),
    Conversion(_DT, _N, "always (the same epoch milliseconds)", _IS.format("number"), "v"),
    Conversion(
        _DT,
        _D,
        "always (the day in the channel's time zone)",
        f"CASE WHEN {_IS_EPOCH_MS} THEN to_char({_LOCAL_TIME}, 'YYYY') ~ '^[0-9]{{4}}$' "
        "ELSE false END",
        f"to_jsonb(to_char({_LOCAL_TIME}, 'YYYY-MM-DD'))",
    ),
    Conversion(
        _DT,
        _S,
        "always (ISO 8601 in UTC, e.g. '2024-05-01T03:00:00.000Z')",
        _IS_EPOCH_MS,
        "to_jsonb(to_char(to_timestamp(v::numeric / 1000) AT TIME ZONE 'UTC', "
        '\'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"\'))',
    ),
    Conversion(_L, _S, "only when the list has exactly one item", _ONE_ITEM, "v -> 0"),
    Conversion(
        _L,
        _LN,
        "only when every item is a plain decimal number such as '42' or '-3.5'",
        _each_item(_is_decimal_text("e")),
        _map_items("to_jsonb((e #>> '{}')::float8)"),
    ),
    Conversion(
        _LN,
        _L,
        "always (each number's digits)",
        _each_item(f"jsonb_typeof(e) = 'number' AND length(e #>> '{{}}') <= {MAX_STRING_LENGTH}"),
        _map_items("to_jsonb(e #>> '{}')"),
    ),
    Conversion(_LN, _N, "only when the list has exactly one item", _ONE_ITEM, "v -> 0"),
)
CONVERSIONS: dict[tuple[str, str], Conversion] = {(c.source, c.target): c for c in _TABLE}


def conversion_for(source: str, target: str) -> Conversion:
    """How SOURCE values become TARGET values; a pair not in the table converts nothing."""
    found = CONVERSIONS.get((source, target))
    if found is not None:
        return found
    rule = "there is no conversion between these types"
    return Conversion(source, target, rule, "false", "v")
