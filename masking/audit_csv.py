"""The audit log as CSV, for owners to download: one row per record, never a value.

Actor names, user agents and an export's reason are anyone's text, and a spreadsheet runs a
cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as a formula: such a cell
is written with a leading `'`, which spreadsheets show as text. The file starts with a byte
order mark so that Excel reads it as UTF-8 (Korean names included)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from crm.models import AuditEvent

BOM = "\ufeff"
HEADER = (
    "time",
    "action",
    "actor type",
    "actor id",
    "actor name",
    "target user id",
    "keys",
    "address",
    "user agent",
    "detail",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell_safe(value: Any) -> str:
    """VALUE as a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def audit_row(event: AuditEvent) -> list[str]:
    """EVENT's cells, in the order of HEADER."""
    cells = (
        event.created_at.isoformat(),
        event.action,
        event.actor_type,
        event.actor_id,
        event.actor_name,
        event.target_user_id,
        ", ".join(event.keys),
        event.address,
        event.user_agent,
        json.dumps(event.detail, ensure_ascii=False, sort_keys=True) if event.detail else "",
    )
    return [cell_safe(cell) for cell in cells]


class _Line:
    """A file-like object whose write returns what it is given: csv.writer then makes lines."""

    def write(self, text: str) -> str:
        return text


def audit_csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """The CSV text of EVENTS, a line at a time: the byte order mark, the header, the rows."""
    writer = csv.writer(_Line())
    yield BOM + writer.writerow(HEADER)
    for event in events:
        yield writer.writerow(audit_row(event))
