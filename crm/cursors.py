"""Opaque, tamper-proof cursors for keyset pagination (docs/api.md: `?since=`, `next`)."""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.http import Http404

from crm.errors import InvalidInput, Problem

CURSOR_SALT = "crm.cursor"


def cursor_encode(*, scope: str, position: list[Any]) -> str:
    """A signed cursor for POSITION (the sort values of the last row) within SCOPE.

    SCOPE starts with the channel id ("<channel id>:<list>:<order>")."""
    return signing.dumps({"s": scope, "p": position}, salt=CURSOR_SALT, compress=True)


def cursor_decode(cursor: str, *, scope: str) -> list[Any]:
    """The position inside CURSOR; refused when tampered with or made for another list."""
    try:
        data = signing.loads(cursor, salt=CURSOR_SALT)
    except signing.BadSignature as error:
        raise InvalidInput(
            [Problem("since", "invalid_cursor", "The cursor is not valid.")]
        ) from error
    if str(data.get("s", "")).split(":", 1)[0] != scope.split(":", 1)[0]:
        # Another channel's cursor: as for any id of another channel, nothing is there.
        raise Http404("No such cursor in this channel.")
    if data.get("s") != scope:
        raise InvalidInput(
            [Problem("since", "invalid_cursor", "The cursor belongs to another list or order.")]
        )
    position = data.get("p")
    if not isinstance(position, list):
        raise InvalidInput([Problem("since", "invalid_cursor", "The cursor is not valid.")])
    return position
