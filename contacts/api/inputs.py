"""What a /open/v5/users… request asks for, read from its body or query string.

Each parser checks the request's shape (a JSON object, known keys, JSON types, lengths) and
returns typed values for the services. The values themselves (profile values against the
channel's fields, tags) are the services' to check, under the channel's schema lock. A refusal
lists every problem at once: when the shape is refused, the values' problems are listed with
it, in the same order as when the service refuses them (keys, profile, tags, opt-outs)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from contacts.models import Contact
from contacts.selectors.events import SORT_ORDERS, events_cursor_scope
from contacts.services.events import event_values_clean
from contacts.services.values import ContactInput, contact_values_problems, problems_collect
from crm.api import page_limit
from crm.cursors import cursor_decode
from crm.errors import InvalidInput, Problem
from crm.models import Channel
from crm.permissions import Viewer

WRITE_KEYS = ("profile", "profileOnce", "tags", "unsubscribeEmail", "unsubscribeTexting")
BLOCK_KEYS = ("reason",)
EVENT_KEYS = ("name", "property")
# A new lead is reached by one of these: POST users needs an email or a mobile number.
REACH_KEYS = ("email", "mobileNumber")
MEMBER_ID_MAX_LENGTH = 255
BLOCK_REASON_MAX_LENGTH = 300
_T = TypeVar("_T")


def _refuse(key: str, code: str, message: str) -> InvalidInput:
    return InvalidInput([Problem(key, code, message)])


def _body(data: object) -> Mapping[str, Any]:
    """DATA when it is a JSON object (an empty body counts as {})."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise _refuse("body", "invalid_type", "The body must be a JSON object.")
    return data


def _known_keys(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """Every key of BODY that the request does not define is a problem of its own."""
    unknown = [str(key) for key in body if key not in allowed]
    if unknown:
        fields = ", ".join(allowed)
        raise InvalidInput(
            Problem(key, "unknown_field", f"{key} is not a field of this request; send {fields}.")
            for key in unknown
        )


def _received(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else f"{text[:40]}…"


def _profile_objects(body: Mapping[str, Any]) -> None:
    """profile and profileOnce, when given, are objects of keys and values."""
    problems = [
        Problem(key, "invalid_type", f"{key} must be an object of profile keys and values.")
        for key in ("profile", "profileOnce")
        if key in body and not isinstance(body[key], Mapping)
    ]
    if problems:
        raise InvalidInput(problems)


def _object(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    part = body.get(key)
    return part if isinstance(part, Mapping) else {}


def _tag_list(body: Mapping[str, Any]) -> list[Any] | None:
    """The whole new tag set as sent, or None when the body leaves the tags alone."""
    if "tags" not in body:
        return None
    if not isinstance(body["tags"], list):
        raise _refuse("tags", "invalid_type", "tags must be a list of tags (the whole new set).")
    return list(body["tags"])


def _flag(body: Mapping[str, Any], key: str) -> bool | None:
    if key not in body:
        return None
    if not isinstance(body[key], bool):
        message = f"{key} must be true or false; received {_received(body[key])}."
        raise _refuse(key, "invalid_type", message)
    return bool(body[key])


def _reachable(body: Mapping[str, Any]) -> None:
    """A new lead needs an email or a mobile number (in profile or profileOnce)."""
    for part in (body.get("profile"), body.get("profileOnce")):
        if not isinstance(part, Mapping):
            continue
        for key in REACH_KEYS:
            if part.get(key) is not None or part.get(f"profile.{key}") is not None:
                return
    message = "A new user needs profile.email or profile.mobileNumber to be reached by."
    raise _refuse("profile", "required", message)


def _member_id_check(member_id: str) -> None:
    if len(member_id) > MEMBER_ID_MAX_LENGTH:
        message = (
            f"A member id has at most {MEMBER_ID_MAX_LENGTH} characters; got {len(member_id)}."
        )
        raise _refuse("memberId", "too_long", message)


def _checked(step: Callable[[], _T]) -> tuple[_T | None, list[Problem]]:
    """STEP's result and no problems, or None and the problems it refused with."""
    try:
        return step(), []
    except InvalidInput as refused:
        return None, refused.problems


def contact_input_parse(
    *, channel: Channel, body: object, creating: bool = False, member_id: str | None = None
) -> ContactInput:
    """The values a POST, PATCH or PUT body writes; InvalidInput listing every problem.

    CREATING: a new lead, which needs an email or a mobile number. MEMBER_ID: the member id of
    a PUT, whose problem joins the body's."""
    data = _body(body)
    _, keys = _checked(lambda: _known_keys(data, WRITE_KEYS))
    _, objects = _checked(lambda: _profile_objects(data))
    tags, tags_shape = _checked(lambda: _tag_list(data))
    email, email_shape = _checked(lambda: _flag(data, "unsubscribeEmail"))
    texting, texting_shape = _checked(lambda: _flag(data, "unsubscribeTexting"))
    _, reach = _checked(lambda: _reachable(data) if creating else None)
    _, member = _checked(lambda: None if member_id is None else _member_id_check(member_id))
    values = ContactInput(
        profile=_object(data, "profile"),
        profile_once=_object(data, "profileOnce"),
        tags=tags,
        unsubscribe_email=email,
        unsubscribe_texting=texting,
    )
    # One answer lists everything, the values' problems where they have always stood: after the
    # unknown keys and the profile objects' types, before the rest. Nothing is written, so the
    # values are checked without the schema lock the service takes.
    before = [*keys, *objects]
    after = [*tags_shape, *email_shape, *texting_shape, *reach, *member]
    if before or after:
        raise InvalidInput(
            [*before, *contact_values_problems(channel=channel, values=values), *after]
        )
    return values


def _reason(body: Mapping[str, Any]) -> str:
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise _refuse("reason", "invalid_type", "reason must be a string (or null).")
    reason = (reason or "").strip()
    if len(reason) > BLOCK_REASON_MAX_LENGTH:
        message = f"A reason has at most {BLOCK_REASON_MAX_LENGTH} characters; got {len(reason)}."
        raise _refuse("reason", "too_long", message)
    return reason


def block_reason_parse(*, body: object) -> str:
    """The reason a block body gives ('' for none), trimmed; InvalidInput listing every problem."""
    data = _body(body)
    _, reason = problems_collect(lambda: _known_keys(data, BLOCK_KEYS), lambda: _reason(data))
    return str(reason)


def event_input_parse(*, body: object) -> tuple[str, dict[str, Any]]:
    """(name, properties) of an event body {"name", "property"}; InvalidInput listing every
    problem."""
    data = _body(body)
    _, event = problems_collect(
        lambda: _known_keys(data, EVENT_KEYS),
        lambda: event_values_clean(name=data.get("name"), properties=data.get("property")),
    )
    name, properties = event
    return name, properties


def _sort_order(raw: str | None) -> str:
    if raw is None or raw == "":
        return "desc"
    if raw not in SORT_ORDERS:
        raise _refuse("sortOrder", "invalid", f"sortOrder is desc or asc; received {raw!r}.")
    return raw


def _position(since: str | None, scope: str | None) -> tuple[datetime, int] | None:
    """The (created_at, id) the cursor SINCE stopped at; None for the first page."""
    if not since or scope is None:
        return None
    position = cursor_decode(since, scope=scope)
    try:
        moment, event_id = datetime.fromisoformat(position[0]), int(position[1])
    except (IndexError, TypeError, ValueError) as error:
        raise _refuse("since", "invalid_cursor", "The cursor is not valid.") from error
    return moment, event_id


def events_page_parse(
    *, viewer: Viewer, contact: Contact, params: Mapping[str, str]
) -> tuple[str, int, tuple[datetime, int] | None]:
    """(order, limit, position after which the page starts) of ?sortOrder, ?limit and ?since;
    InvalidInput listing every problem."""
    raw_order = params.get("sortOrder")
    scope = (
        events_cursor_scope(viewer=viewer, contact=contact, order=raw_order or "desc")
        if raw_order in (None, "", *SORT_ORDERS)
        else None
    )
    order, limit, position = problems_collect(
        lambda: _sort_order(raw_order),
        lambda: page_limit(params.get("limit")),
        lambda: _position(params.get("since"), scope),
    )
    return order, limit, position
