"""The leak walk: a contact whose sensitive values are unique markers, then every way out walked
as a basic manager, a basic API credential, an owner and an owner's credential — every admin
page reachable by links, every desk page, every API read of the contact, its events, its
conversations and its outbox row, and everything the server logged meanwhile. No marker may show
anywhere; an owner sees one only in a reveal's answer, and each reveal leaves exactly one audit
record, which holds no value."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from html import escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, quote_plus, urldefrag, urljoin, urlsplit

import pytest
from django.test import Client

from contacts.models import Contact
from conversations.models import Medium, OutboxMessage
from crm.models import AuditAction, AuditEvent, Channel
from profile_schema.models import Masking, ProfileField
from tests.api_clients import credential_client
from tests.contacts.factories import EventFactory, MemberFactory
from tests.crm.factories import ChannelFactory, manager_client
from tests.profile_schema.factories import field_in

pytestmark = pytest.mark.django_db

EMAIL = "qx7leakmail@hidden-marker.example"
PHONE = "+821047295813"
SECRET = "SECRETMARKER-ZK31"
NAME = "Marker Kimname"
# What must never show: the email's local part past its kept characters, the phone's hidden
# digits in any grouping, the secret code, the family name.
MARKERS = (
    "qx7leakmail",
    "leakmail",
    "47295813",
    "4729-5813",
    "4729 5813",
    "SECRETMARKER",
    "Kimname",
)
REVEALED = {
    "profile.email": EMAIL,
    "profile.mobileNumber": PHONE,
    "profile.secretCode": SECRET,
    "profile.name": NAME,
}
FREE_TEXT = f"Call me on 010-4729-5813 or write to {EMAIL}; my code is {SECRET}."
MAX_PAGES = 400
# What the walker types into search boxes: whole values, which find the customer.
TYPED = ("010-4729-5813", EMAIL)


def _domain_upper(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local}@{domain.upper()}"  # normalised as stored: the domain lowercased


def _typed_forms(term: str) -> tuple[str, ...]:
    return (term, quote(term), quote(quote(term)), quote_plus(term), escape(term))


def _typed_in(url: str) -> bool:
    return any(form in url for term in TYPED for form in _typed_forms(term)[1:])


def _typed_removed(page: str) -> str:
    """PAGE without the search terms the walker typed itself, on a page whose address carries
    them: the admin's search box and its links hold what the manager typed (the whole number a
    customer gave on the phone). Every page without them is checked whole."""
    for term in TYPED:
        for form in _typed_forms(term):
            page = page.replace(form, "")
    return page


def _leaks(text: str) -> list[str]:
    return [marker for marker in MARKERS if marker in text]


@pytest.fixture
def world(db: None) -> dict[str, Any]:
    channel: Channel = ChannelFactory(name="Leak walk")
    Channel.objects.filter(pk=channel.pk).update(phone_number="+8215881234")
    channel.refresh_from_db()
    field_in(channel, "profile.secretCode", sensitive=True)
    ProfileField.objects.filter(channel=channel, key="profile.name").update(
        sensitive=True, masking=Masking.FULL
    )
    contact = MemberFactory(
        channel=channel,
        member_id="m-leak-1",
        profile={"name": NAME, "email": EMAIL, "mobileNumber": PHONE, "secretCode": SECRET},
        tags=["vip"],
    )
    EventFactory(contact=contact, name="Inquiry", properties={"note": FREE_TEXT, "n": 2})
    owner_api = credential_client(channel, "owner")
    started = owner_api.post(
        f"/open/v5/users/{contact.pk}/user-chats",
        {"medium": Medium.PHONE, "message": {"plainText": FREE_TEXT}},
        content_type="application/json",
    )
    assert started.status_code == 201, started.content
    assert OutboxMessage.objects.filter(channel_id=channel.pk).exists()
    return {"channel": channel, "contact": contact, "owner_api": owner_api}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "href" and value:
                self.links.append(value)


def _crawl(client: Client, starts: list[str]) -> Iterator[tuple[str, str]]:
    """Every page reachable by links from STARTS inside /admin/ and /desk/, GET only."""
    seen: set[str] = set()
    queue = list(starts)
    while queue and len(seen) < MAX_PAGES:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url, follow=True)
        raw = (
            b"".join(response.streaming_content)  # a CSV download
            if response.streaming
            else response.content
        )
        body = raw.decode("utf-8", "replace")
        shown = body + "\n" + json.dumps(dict(response.headers))
        yield url, _typed_removed(shown) if _typed_in(url) else shown
        if "html" not in response.headers.get("Content-Type", ""):
            continue
        parser = _Links()
        parser.feed(body)
        for link in parser.links:
            target, _ = urldefrag(urljoin(url, link))
            parts = urlsplit(target)
            if parts.netloc not in ("", "testserver"):
                continue
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if not path.startswith(("/admin/", "/desk/")) or "logout" in path:
                continue
            queue.append(path)
    assert len(seen) > 20, "the crawl reached too few pages to mean anything"


def _api_reads(client: Client, contact: Contact) -> Iterator[tuple[str, str]]:
    """Every API read that can carry the contact, its events, conversations or segments."""
    gets = [
        "/open/v5/users",
        f"/open/v5/users/{contact.pk}",
        f"/open/v5/users/@{contact.member_id}",
        f"/open/v5/users/{contact.pk}/events",
        f"/open/v5/users/{contact.pk}/user-chats",
        "/open/v5/users?query=010-4729-5813",
        f"/open/v5/users?query={EMAIL}",
        "/open/v5/segments",
        "/open/v5/profile-fields",
        "/open/v5/user-tags",
    ]
    for url in gets:
        response = client.get(url)
        assert response.status_code == 200, (url, response.content)
        yield url, response.content.decode() + json.dumps(dict(response.headers))
    found = client.get("/open/v5/users?query=010-4729-5813").json()["users"]
    assert [u["id"] for u in found] == [str(contact.pk)]  # the whole number still finds them
    for body in (
        {"query": PHONE},
        {"filter": {"key": "profile.mobileNumber", "operator": "eq", "values": ["01047295813"]}},
        {"filter": {"key": "profile.email", "operator": "in", "values": [_domain_upper(EMAIL)]}},
    ):
        response = client.post("/open/v5/users/search", body, content_type="application/json")
        assert response.status_code == 200, (body, response.content)
        assert [u["id"] for u in response.json()["users"]] == [str(contact.pk)]
        yield "search", response.content.decode()
    # Writes answer the user object too; a refused one names the key, never the value.
    for method, url, body in (
        ("patch", f"/open/v5/users/{contact.pk}", {"profile": {"description": "called"}}),
        ("post", f"/open/v5/users/{contact.pk}/touch", {}),
        ("patch", f"/open/v5/users/{contact.pk}", {"profile": {"email": f"{EMAIL}@bad"}}),
        ("patch", f"/open/v5/users/{contact.pk}", {"profile": {"mobileNumber": "+8247295813xx"}}),
    ):
        response = getattr(client, method)(url, body, content_type="application/json")
        assert response.status_code in (200, 400), (url, response.content)
        yield f"{method} {url}", response.content.decode()


@pytest.fixture
def server_log() -> Iterator[list[str]]:
    """Every record any logger emits during the walk, formatted, at every level."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record) + repr(getattr(record, "args", "")))

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lines
    root.removeHandler(handler)
    root.setLevel(previous)


@pytest.mark.parametrize("role", ["basic", "owner"])
def test_no_marker_on_any_admin_or_desk_page(
    world: dict[str, Any], role: str, server_log: list[str]
) -> None:
    client = manager_client(world["channel"], role)
    contact = world["contact"]
    starts = [
        "/admin/",
        "/desk/",
        f"/admin/contacts/contact/{contact.pk}/change/",
        f"/admin/contacts/contact/{contact.pk}/history/",
        f"/admin/contacts/contact/{contact.pk}/delete/",
        "/admin/contacts/contact/?q=010-4729-5813",
        f"/admin/contacts/contact/?q={EMAIL}",
        "/admin/contacts/contact/?q=qx7leak",
        "/admin/contacts/contact/?profile__email__startswith=qx7",
    ]
    leaked = {url: _leaks(body) for url, body in _crawl(client, starts)}
    assert {url: found for url, found in leaked.items() if found} == {}
    assert _leaks("\n".join(server_log)) == []


@pytest.mark.parametrize("role", ["basic", "owner"])
def test_no_marker_in_any_api_answer(
    world: dict[str, Any], role: str, server_log: list[str]
) -> None:
    client = world["owner_api"] if role == "owner" else credential_client(world["channel"], role)
    leaked = {url: _leaks(body) for url, body in _api_reads(client, world["contact"])}
    assert {url: found for url, found in leaked.items() if found} == {}
    assert _leaks("\n".join(server_log)) == []


def test_an_owner_sees_a_marker_only_in_a_reveal_each_audited_once(world: dict[str, Any]) -> None:
    owner, contact = world["owner_api"], world["contact"]
    before = AuditEvent.objects.filter(action=AuditAction.REVEAL).count()
    for key, value in REVEALED.items():
        response = owner.post(
            f"/open/v5/users/{contact.pk}/reveal", {"key": key}, content_type="application/json"
        )
        assert response.status_code == 200, response.content
        assert response.json() == {"key": key, "value": value}
    records = AuditEvent.objects.filter(action=AuditAction.REVEAL).order_by("id")
    assert records.count() - before == len(REVEALED)
    assert sorted(r.keys[0] for r in records) == sorted(REVEALED)
    assert {r.target_user_id for r in records} == {contact.pk}
    stored = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert _leaks(stored) == []
    listed = owner.get("/open/v5/audit-events").content.decode()
    assert _leaks(listed) == [] and "reveal" in listed


def test_a_basic_credential_cannot_reveal(world: dict[str, Any]) -> None:
    basic = credential_client(world["channel"], "basic")
    response = basic.post(
        f"/open/v5/users/{world['contact'].pk}/reveal",
        {"key": "profile.mobileNumber"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert _leaks(response.content.decode()) == []
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL).exists()


def test_partial_guesses_find_nothing(world: dict[str, Any]) -> None:
    basic = credential_client(world["channel"], "basic")
    for guess in ("qx7", "4729", "010-4729", "hidden-marker"):
        listed = basic.get(f"/open/v5/users?query={guess}").json()["users"]
        assert listed == [], guess
    refused = basic.post(
        "/open/v5/users/search",
        {"filter": {"key": "profile.email", "operator": "startsWith", "values": ["qx7"]}},
        content_type="application/json",
    )
    assert refused.status_code == 400 and "profile.email" in refused.content.decode()
    admin = manager_client(world["channel"], "basic")
    page = admin.get("/admin/contacts/contact/?profile__email__startswith=qx7", follow=True)
    assert not re.search(r"\b1 (result|contact)", page.content.decode())
