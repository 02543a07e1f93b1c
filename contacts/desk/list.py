"""The desk's contact list: GET /desk/<channel>/contacts/ with the quick search (`q`), the sort
(`sort`), the "withdrawn customers excluded" chip (`withdrawn=hide`) and keyset pages (`since`,
with `back` holding the cursors of the pages before, for "previous"). Every value goes through
the viewer's masking policy; the rows come from `contact_list_page`, as the API's do.

The search box POSTs: a phone number, an email, or any value of a key masked for the manager is
kept in the manager's session and the URL carries its token (`s`), so it never lands in a URL,
a server log or the browser's history (a `q` of one is moved there too); a name goes into `q`
as is."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.views.decorators.http import require_http_methods

from contacts.desk.access import desk_viewer
from contacts.filtering.search import MAX_QUERY, searched_key
from contacts.listing import ContactPage, contact_list_page, fields_by_key, masking_policy
from contacts.models import Contact
from crm.counting import BoundedCount
from crm.errors import InvalidInput, RateLimited
from masking.policy import MaskingPolicy
from profile_schema.models import ProfileField
from profile_schema.presets import BUILT_IN_FIELDS, PROFILE_PRESETS

PAGE_ROWS = 25
PAGE_SIZES = (25, 50, 100)
# How many earlier pages "previous" remembers (each a cursor in the URL); past it, previous
# goes back as far as it remembers.
BACK_DEPTH = 20
# The list's columns: the key whose value each shows (and whose masking applies); the last,
# a time, is the one the list is sorted by.
COLUMNS = ("name", "memberId", "profile.mobileNumber", "profile.email", "tags")
# The sorts an index serves, offered as choices (contacts.listing.SORT_COLUMNS).
SORTS = {
    "-lastSeenAt": pgettext_lazy("sort", "Last seen, newest first"),
    "lastSeenAt": pgettext_lazy("sort", "Last seen, oldest first"),
    "-createdAt": pgettext_lazy("sort", "First seen, newest first"),
    "createdAt": pgettext_lazy("sort", "First seen, oldest first"),
}
# Searches kept out of URLs (phone numbers, emails): the last few, by token, in the session.
SEARCHES_KEPT = 20
SEARCHES_SESSION_KEY = "desk_list_searches"
PRIVATE_SEARCH_KEYS = frozenset({"profile.mobileNumber", "profile.email"})
WITHDRAWN_TAG = "withdrawn"
WITHDRAWN_EXCLUDED = {"key": "tags", "operator": "hasNone", "values": [WITHDRAWN_TAG]}
_DEFAULT_NAMES = {preset.key: preset.name for preset in (*BUILT_IN_FIELDS, *PROFILE_PRESETS)}


@dataclass(frozen=True)
class Cell:
    """One value of one row as the viewer sees it: KIND says how it is drawn (text, tags,
    time, masked); REVEALABLE, the eye button beside a masked value."""

    key: str
    kind: str
    value: Any
    revealable: bool = False
    title: str = ""
    label: str = ""


@dataclass(frozen=True)
class Row:
    contact_id: int
    name: Cell
    cells: list[Cell]
    blocked: bool


@dataclass(frozen=True)
class ListState:
    """What the URL asks for: the search, the sort, the withdrawn chip, the page's cursors."""

    query: str
    sort: str
    hide_withdrawn: bool
    since: str
    back: list[str]
    per_page: int = PAGE_ROWS
    token: str = ""  # the session's key of a search kept out of the URL
    expired: bool = False  # the token names no search the session keeps

    @classmethod
    def from_query(cls, params: QueryDict, session: SessionBase | None = None) -> ListState:
        sort = params.get("sort", "")
        token = params.get("s", "") if session is not None else ""
        kept = search_read(session, token) if session is not None and token else None
        return cls(
            query=kept if kept is not None else params.get("q", "").strip(),
            sort=sort if sort in SORTS else "-lastSeenAt",
            hide_withdrawn=params.get("withdrawn") == "hide",
            per_page=_per_page(params.get("per")),
            since=params.get("since", ""),
            back=[cursor for cursor in params.getlist("back") if cursor][-BACK_DEPTH:],
            token=token if kept is not None else "",
            expired=bool(token) and kept is None,
        )

    def url(self, **changes: Any) -> str:
        """This state's query string with CHANGES (a new search, sort or chip starts at page 1)."""
        query = changes.get("query", self.query)
        sort = changes.get("sort", self.sort)
        hide = changes.get("hide_withdrawn", self.hide_withdrawn)
        per_page = changes.get("per_page", self.per_page)
        pairs: list[tuple[str, str]] = []
        if self.token and query == self.query:
            pairs.append(("s", self.token))
        elif query:
            pairs.append(("q", query))
        if sort != "-lastSeenAt":
            pairs.append(("sort", sort))
        if hide:
            pairs.append(("withdrawn", "hide"))
        if per_page != PAGE_ROWS:
            pairs.append(("per", str(per_page)))
        if changes.get("since"):
            pairs.append(("since", changes["since"]))
            pairs.extend(("back", cursor) for cursor in changes.get("back", []))
        return "?" + urlencode(pairs) if pairs else "?"

    def filter(self) -> Any:
        return WITHDRAWN_EXCLUDED if self.hide_withdrawn else None


def _per_page(raw: str | None) -> int:
    return int(raw) if raw in {str(size) for size in PAGE_SIZES} else PAGE_ROWS


def search_keep(session: SessionBase, query: str) -> str:
    """Keep QUERY in SESSION (the last SEARCHES_KEPT) and return its token."""
    kept = dict(session.get(SEARCHES_SESSION_KEY, {}))
    token = secrets.token_urlsafe(9)
    kept[token] = query
    session[SEARCHES_SESSION_KEY] = dict(list(kept.items())[-SEARCHES_KEPT:])
    return token


def search_read(session: SessionBase, token: str) -> str | None:
    """The search kept under TOKEN, or None when the session no longer keeps it."""
    value = session.get(SEARCHES_SESSION_KEY, {}).get(token)
    return value if isinstance(value, str) else None


def field_label(key: str, fields: dict[str, ProfileField]) -> str:
    """KEY's display name: its field's name (a profile field's own), in the manager's
    language while it is the name the product gave it."""
    field = fields.get(key)
    name = field.name if field is not None else _DEFAULT_NAMES.get(key, key)
    return gettext(name) if name == _DEFAULT_NAMES.get(key) else name


def _value_of(contact: Contact, key: str) -> Any:
    if key.startswith("profile."):
        return contact.profile.get(key.removeprefix("profile."))
    return {
        "name": contact.name,
        "memberId": contact.member_id,
        "tags": list(contact.tags),
        "lastSeenAt": contact.last_seen_at,
        "createdAt": contact.created_at,
    }[key]


def cell_of(contact: Contact, key: str, policy: MaskingPolicy, label: str = "") -> Cell:
    """CONTACT's KEY as POLICY's viewer sees it (LABEL names the key on its eye button)."""
    value = _value_of(contact, key)
    if value in (None, "", []):
        return Cell(key, "empty", None)
    if policy.is_masked(key):
        masked = policy.mask(key, value)
        return Cell(key, "masked", masked, revealable=policy.may_reveal(key), label=label)
    if key == "tags":
        return Cell(key, "tags", value)
    if isinstance(value, datetime):
        shown = formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
        return Cell(key, "time", relative_time(value), title=shown)
    return Cell(key, "text", value if isinstance(value, str) else str(value))


def rows_of(
    page: ContactPage, policy: MaskingPolicy, labels: dict[str, str], columns: tuple[str, ...]
) -> list[Row]:
    """The page's contacts as rows of cells, one per column."""
    rows = []
    for contact in page.contacts:
        cells = [cell_of(contact, key, policy, labels[key]) for key in columns]
        blocked = contact.blocked and not policy.is_masked("blocked")
        rows.append(Row(contact.pk, cells[0], cells[1:], blocked))
    return rows


def count_text(count: BoundedCount) -> str:
    """'12,313 contacts', or 'about 12,300 contacts' for an estimate (three figures kept)."""
    value = count.value
    if not count.exact and value >= 1000:
        step = 10 ** (len(str(value)) - 3)
        value = round(value / step) * step
    number = formats.number_format(value, force_grouping=True)
    if count.exact:
        return ngettext("%(count)s contact", "%(count)s contacts", value) % {"count": number}
    return gettext("about %(count)s contacts") % {"count": number}


def relative_time(moment: datetime) -> str:
    """'3 minutes ago', in the manager's language ('just now' within the minute)."""
    if timezone.now() - moment < timedelta(minutes=1):
        return gettext("just now")
    return gettext("%(since)s ago") % {"since": timesince(moment, timezone.now(), depth=1)}


@login_required
@require_http_methods(["GET", "POST"])
def contact_list_view(request: HttpRequest, channel_id: int) -> HttpResponse:
    """The channel's contacts, searched, sorted and paged, masked for the manager's role; a
    POST of the search box answers with the list's URL for it."""
    viewer = desk_viewer(request, channel_id)
    fields = fields_by_key(viewer)
    policy = masking_policy(viewer, fields)
    if request.method == "POST":
        return _search_redirect(request, ListState.from_query(request.POST), policy)
    state = ListState.from_query(request.GET, request.session)
    if state.query and not state.token and _private(state.query, policy):
        return _search_redirect(request, state, policy)
    time_key = state.sort.removeprefix("-")
    columns = (*COLUMNS, time_key)
    labels = {key: field_label(key, fields) for key in columns}
    context: dict[str, Any] = {
        "channel_id": channel_id,
        "state": state,
        "max_query": MAX_QUERY,
        "sorts": [(value, label, state.url(sort=value)) for value, label in SORTS.items()],
        "name_label": labels["name"],
        "headers": [labels[key] for key in COLUMNS[1:]],
        "time_label": labels[time_key],
        "time_sort_url": state.url(sort=time_key if state.sort.startswith("-") else f"-{time_key}"),
        "withdrawn_toggle_url": state.url(hide_withdrawn=not state.hide_withdrawn),
        "clear_url": state.url(query=""),
    }
    status = 200
    try:
        if state.expired:
            message = gettext("That search is no longer kept; search again.")
            raise InvalidInput([], message)
        page = _page(viewer, state)
    except InvalidInput as refused:
        context["errors"] = [p.message for p in refused.problems] or [refused.message]
        status = 400
    except RateLimited as limited:
        context["errors"] = [str(limited)]
        status = 429
    else:
        context["rows"] = rows_of(page, policy, labels, columns)
        context.update(_page_context(page, state))
    return render(request, "contacts/desk/list.html", context, status=status)


def _private(query: str, policy: MaskingPolicy) -> bool:
    """QUERY searches a phone number, an email, or a key masked for POLICY's viewer."""
    key = searched_key(query)
    return key is not None and (key in PRIVATE_SEARCH_KEYS or policy.is_masked(key))


def _search_redirect(request: HttpRequest, state: ListState, policy: MaskingPolicy) -> HttpResponse:
    """To the list of STATE's search: one kept out of URLs (`_private`) by a session token."""
    if _private(state.query, policy):
        kept = replace(state, query="", token=search_keep(request.session, state.query))
        return HttpResponseRedirect(kept.url())
    return HttpResponseRedirect(state.url())


def _page(viewer: Any, state: ListState) -> ContactPage:
    if len(state.query) > MAX_QUERY:
        message = gettext("The search takes at most %(max)s characters; shorten it.")
        raise InvalidInput([], message % {"max": MAX_QUERY})
    return contact_list_page(
        viewer=viewer,
        filter=state.filter(),
        query=state.query,
        sort=state.sort,
        limit=state.per_page,
        since=state.since or None,
    )


def _page_context(page: ContactPage, state: ListState) -> dict[str, Any]:
    back = state.back + ([state.since] if state.since else [])
    previous_url = None
    if state.since:
        earlier = state.back
        previous_url = state.url(since=earlier[-1] if earlier else "", back=earlier[:-1])
    return {
        "count": count_text(page.count),
        "next_url": state.url(since=page.next, back=back[-BACK_DEPTH:]) if page.next else None,
        "previous_url": previous_url,
        "first_url": state.url() if state.since else None,
        "page_sizes": [(size, state.url(per_page=size)) for size in PAGE_SIZES],
    }
