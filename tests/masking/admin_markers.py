"""A channel whose sensitive values are unique marker strings, held in every place the admin
shows: the contact's columns and profile, an event, a Kakao conversation with its outbox row,
a segment filtering on them; and the admin pages to walk."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from django.test import Client

from contacts.models import Contact, Segment
from contacts.services.events import contact_event_track
from contacts.services.segments import segment_create
from conversations import services as conversation_services
from conversations.models import Conversation
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS, Viewer
from profile_schema.models import Masking, ProfileField
from tests.contacts.factories import ContactFactory
from tests.conversations.factories import KakaoTemplateFactory, channel_connect, manager_viewer
from tests.profile_schema.factories import field_in

EMAIL = "zq9leakmark@example.com"
MOBILE = "+821055512345"
NAME = "Zq9Markname"
MEMBER_ID = "zq9-member-marker"
CITY = "Zq9Citymarker"
SECRET = "zq9secretvalue"
# What must never show: each marker, and a phone number's middle digits in any form.
MARKERS = (
    "zq9leakmark",
    MOBILE,
    "01055512345",
    "5551-2345",
    "55512345",
    NAME,
    MEMBER_ID,
    CITY,
    SECRET,
)
# A segment's own search values: masked for a manager who may not reveal; shown to one who may
# (masking.policy.MaskingPolicy.filter_object).
FILTER_MARKERS = ("zq9segmentstart", "zq9segmentcode")


@dataclass(frozen=True)
class Marked:
    channel: Channel
    contact: Contact
    conversation: Conversation
    segment: Segment


def marked_channel(channel: Channel) -> Marked:
    """CHANNEL with name, member id, city and a secret code sensitive (full), email and mobile
    number sensitive (partial, as every channel starts), and a contact holding markers."""
    ProfileField.objects.filter(
        channel=channel, key__in=["profile.name", "memberId", "city"]
    ).update(sensitive=True, masking=Masking.FULL)
    field_in(channel, "secretCode", name="Secret code", sensitive=True, masking=Masking.FULL)
    contact = ContactFactory(
        channel=channel,
        member_id=MEMBER_ID,
        city=CITY,
        profile={
            "name": NAME,
            "email": EMAIL,
            "mobileNumber": MOBILE,
            "secretCode": SECRET,
            "utmSource": "newsletter",
        },
    )
    contact_event_track(
        contact=contact,
        name="Checkout",
        properties={"note": f"call {NAME} at 010-5551-2345 or {EMAIL}", "code": SECRET},
    )
    channel_connect(channel)
    KakaoTemplateFactory(channel=channel, code="order-shipped")
    conversation = conversation_services.conversation_start(
        viewer=manager_viewer(channel, "owner"),
        contact=contact,
        medium="kakaoAlimtalk",
        message_text="",
        template_code="order-shipped",
        variables={"name": NAME, "orderId": f"{SECRET}-1"},
    ).conversation
    segment = segment_create(
        viewer=Viewer(channel=channel, permissions=ALL_PERMISSIONS),
        name="Marked customers",
        filter={
            "and": [
                {"key": "profile.email", "operator": "startsWith", "values": ["zq9segmentstart"]},
                {"key": "profile.secretCode", "operator": "eq", "values": ["zq9segmentcode"]},
                {"key": "tags", "operator": "hasAny", "values": ["vip"]},
            ]
        },
    )
    contact.refresh_from_db()
    return Marked(channel=channel, contact=contact, conversation=conversation, segment=segment)


def leaked(body: str, markers: tuple[str, ...] = MARKERS) -> list[str]:
    """The MARKERS found in BODY."""
    return [marker for marker in markers if marker.lower() in body.lower()]


_LINK = re.compile(r'href="([^"#]*)"')
# Never followed: logging out, and links that change something on GET (none should).
_SKIPPED = ("/admin/logout/", "/admin/password_change/")


def admin_walk(
    client: Client, start: str = "/admin/", limit: int = 600
) -> Iterator[tuple[str, str]]:
    """Every admin page reachable from START by its links, as (url, body), each once. A link
    is followed without the filters its page keeps for the way back, and not with more than
    one query parameter or a sort by several columns: each filter, sort and page is visited
    on its own, not in every combination."""
    queue, seen = [start], {start}
    while queue:
        url = queue.pop(0)
        body = _page(client, url)
        yield url, body
        for link in _links(url, body, seen):
            seen.add(link)
            queue.append(link)
        assert len(seen) <= limit, "the walk found more pages than expected"


def _page(client: Client, url: str) -> str:
    response = client.get(url)
    if response.status_code != 200:
        return ""
    if response.streaming:  # the audit log's CSV
        return b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return response.content.decode()


def _links(url: str, body: str, seen: set[str]) -> Iterator[str]:
    for href in _LINK.findall(body):
        parts = urlsplit(urljoin(url, href.replace("&amp;", "&")))
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "_changelist_filters"]
        link = parts.path + (f"?{urlencode(query)}" if query else "")
        if (
            parts.path.startswith("/admin/")
            and not parts.path.startswith(_SKIPPED)
            and link not in seen
            and len(query) <= 1
            and not any(k == "o" and "." in v for k, v in query)
        ):
            yield link
