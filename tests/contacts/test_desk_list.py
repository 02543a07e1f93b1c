"""The desk's contact list: GET /desk/<channel>/contacts/ searches, pages and masks like the
API; the eye button only for a role that may reveal; another channel is a 404."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from contacts.models import Contact
from crm.models import Channel
from tests.contacts.factories import ContactFactory, MemberFactory
from tests.crm.factories import manager_client, manager_in

pytestmark = pytest.mark.django_db

PHONE = "+821047295813"
EMAIL = "minseo.kim@shop.example"


def _url(channel: Channel, query: str = "") -> str:
    return f"/desk/{channel.pk}/contacts/{query}"


def _kim(channel: Channel, **fields: Any) -> Contact:
    profile = {"name": "김민서", "mobileNumber": PHONE, "email": EMAIL}
    return MemberFactory(channel=channel, member_id="m-10293", profile=profile, **fields)


def _search(client: Client, channel: Channel, query: str) -> Any:
    """The list after typing QUERY in the search box (a POST, then the page it leads to)."""
    return client.get(_url(channel, client.post(_url(channel), {"q": query}).url))


def _names(response: Any) -> list[str]:
    return [row.name.value for row in response.context["rows"]]


def test_a_basic_manager_sees_the_list_masked_without_the_eye(channel: Channel) -> None:
    _kim(channel)

    response = manager_client(channel, "basic").get(_url(channel))

    html = response.content.decode()
    assert response.status_code == 200
    assert "김민서" in html and "m-10293" in html
    assert "010-****-5813" in html and "min*******@shop.example" in html
    assert PHONE not in html and "4729" not in html and EMAIL not in html
    assert 'class="eye"' not in html and "hx-post" not in html


def test_an_owner_sees_the_values_masked_with_the_eye_to_reveal_them(channel: Channel) -> None:
    kim = _kim(channel)

    html = manager_client(channel, "owner").get(_url(channel)).content.decode()

    assert PHONE not in html and EMAIL not in html
    assert html.count('class="eye"') == 2
    reveal = f'hx-post="/desk/{channel.pk}/contacts/{kim.pk}/reveal/"'
    assert reveal in html
    assert '"key": "profile.mobileNumber"' in html and '"key": "profile.email"' in html


@pytest.mark.parametrize("role", ["basic", "owner"])
def test_no_marker_shows_unmasked_for_any_role(channel: Channel, role: str) -> None:
    from tests.masking.admin_markers import MARKERS, NAME, marked_channel

    marked = marked_channel(channel)
    client = manager_client(channel, role)

    by_name = client.get(_url(channel, f"?q={NAME}"))  # a masked key's search: moved out
    by_phone = client.post(_url(channel), {"q": "010-5551-2345"})
    assert by_name.status_code == 302 and NAME not in by_name.url
    pages = [
        client.get(_url(channel)),
        client.get(_url(channel, by_name.url)),  # a whole masked name finds its contact
        client.get(_url(channel, by_phone.url)),
    ]

    for page in pages:
        assert [row.contact_id for row in page.context["rows"]] == [marked.contact.pk]
        # The box shows what the manager typed; nothing else shows a marker.
        html = page.content.decode()
        html = html.replace('value="010-5551-2345"', "").replace(f'value="{NAME}"', "")
        assert [marker for marker in MARKERS if marker in html] == []
    eyes = pages[0].content.decode().count('class="eye"')
    assert eyes == (4 if role == "owner" else 0)  # name, member id, mobile number, email


def test_the_row_links_to_the_profile_and_shows_tags_and_the_blocked_badge(
    channel: Channel,
) -> None:
    kim = _kim(channel, tags=["vip", "gold"], blocked=True, blocked_at=timezone.now())

    response = manager_client(channel, "basic").get(_url(channel))

    [row] = response.context["rows"]
    assert (row.contact_id, row.blocked) == (kim.pk, True)
    assert [(c.key, c.kind, c.value) for c in row.cells[:4]] == [
        ("memberId", "text", "m-10293"),
        ("profile.mobileNumber", "masked", "010-****-5813"),
        ("profile.email", "masked", "min*******@shop.example"),
        ("tags", "tags", ["vip", "gold"]),
    ]
    html = response.content.decode()
    assert f'href="/desk/{channel.pk}/contacts/{kim.pk}/"' in html
    assert 'class="badge badge--blocked"' in html


def test_a_phone_typed_with_dashes_finds_the_contact(channel: Channel) -> None:
    _kim(channel)
    ContactFactory.create_batch(3, channel=channel)
    basic = manager_client(channel, "basic")

    found = _search(basic, channel, "010-4729-5813")
    part = _search(basic, channel, "010-4729")

    assert _names(found) == ["김민서"]
    assert found.context["count"] == "1 contact"
    # A masked number is found by its whole value only: part of it tells nothing.
    assert _names(part) == []
    assert "No contacts match." in part.content.decode()


def test_a_phone_or_email_searched_in_the_box_never_goes_into_the_url(channel: Channel) -> None:
    _kim(channel)
    basic = manager_client(channel, "basic")

    by_phone = basic.post(_url(channel), {"q": "010-4729-5813", "withdrawn": "hide"})
    by_name = basic.post(_url(channel), {"q": "김민서"})

    location = by_phone.headers["Location"]
    assert by_phone.status_code == 302 and "4729" not in location and "010" not in location
    assert location.startswith("?s=") and location.endswith("&withdrawn=hide")
    found = basic.get(_url(channel, location))
    assert _names(found) == ["김민서"]
    assert 'value="010-4729-5813"' in found.content.decode()  # the box still shows it
    assert found.context["withdrawn_toggle_url"] == location.removesuffix("&withdrawn=hide")
    assert found.context["clear_url"] == "?withdrawn=hide"
    assert by_name.headers["Location"] == "?q=%EA%B9%80%EB%AF%BC%EC%84%9C"


def test_a_search_token_the_session_does_not_keep_is_refused_in_place(channel: Channel) -> None:
    _kim(channel)
    owner_search = manager_client(channel, "owner").post(_url(channel), {"q": EMAIL})

    elsewhere = manager_client(channel, "owner").get(
        _url(channel, owner_search.headers["Location"])
    )

    assert elsewhere.status_code == 400
    assert "That search is no longer kept; search again." in elsewhere.content.decode()
    assert EMAIL not in elsewhere.content.decode()


def test_an_owner_finds_by_part_of_a_number_and_an_email(channel: Channel) -> None:
    _kim(channel)
    ContactFactory.create_batch(2, channel=channel)
    owner = manager_client(channel, "owner")

    assert _names(_search(owner, channel, "010 4729")) == ["김민서"]
    assert _names(_search(owner, channel, "minseo.kim@")) == ["김민서"]
    assert _names(owner.get(_url(channel, "?q=민서"))) == ["김민서"]


def test_a_too_long_search_is_refused_in_place(channel: Channel) -> None:
    response = manager_client(channel, "basic").get(_url(channel, "?q=" + "가" * 101))

    assert response.status_code == 400
    assert "The search takes at most 100 characters" in response.content.decode()
    assert 'id="contact-search"' in response.content.decode()


def test_a_bad_cursor_is_refused_in_place(channel: Channel) -> None:
    response = manager_client(channel, "basic").get(_url(channel, "?since=forged"))

    assert response.status_code == 400
    assert "The cursor is not valid." in response.content.decode()


def test_customer_text_is_escaped(channel: Channel) -> None:
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>{{ x }}{% now "Y" %}'
    MemberFactory(
        channel=channel, member_id="<b>m</b>", tags=["<i>t</i>"], profile={"name": hostile}
    )

    html = manager_client(channel, "owner").get(_url(channel)).content.decode()

    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x" in html
    assert "<b>m</b>" not in html and "&lt;b&gt;m&lt;/b&gt;" in html
    assert "&lt;i&gt;t&lt;/i&gt;" in html
    assert "{{ x }}{% now &quot;Y&quot; %}" in html


def test_pages_go_next_and_back_by_cursor(channel: Channel) -> None:
    now = timezone.now()
    for n in range(30):
        ContactFactory(channel=channel, name=f"c{n:02}", last_seen_at=now - timedelta(minutes=n))
    basic = manager_client(channel, "basic")

    first = basic.get(_url(channel))
    second = basic.get(_url(channel, first.context["next_url"]))
    back = basic.get(_url(channel, second.context["previous_url"]))

    assert _names(first) == [f"c{n:02}" for n in range(25)]
    assert _names(second) == [f"c{n:02}" for n in range(25, 30)]
    assert second.context["next_url"] is None
    assert _names(back) == _names(first) and back.context["previous_url"] is None


def test_a_manager_picks_50_rows_a_page_and_paging_keeps_it(channel: Channel) -> None:
    now = timezone.now()
    for n in range(60):
        ContactFactory(channel=channel, name=f"c{n:02}", last_seen_at=now - timedelta(minutes=n))
    basic = manager_client(channel, "basic")

    first = basic.get(_url(channel, "?per=50"))
    second = basic.get(_url(channel, first.context["next_url"]))
    odd = basic.get(_url(channel, "?per=7"))

    assert len(first.context["rows"]) == 50
    assert first.context["next_url"].startswith("?per=50&since=")
    assert _names(second) == [f"c{n:02}" for n in range(50, 60)]
    assert len(odd.context["rows"]) == 25  # only the offered sizes


def test_the_sort_and_the_withdrawn_chip_live_in_the_url(channel: Channel) -> None:
    now = timezone.now()
    ContactFactory(channel=channel, name="old", last_seen_at=now - timedelta(days=3))
    ContactFactory(channel=channel, name="new", last_seen_at=now)
    ContactFactory(channel=channel, name="gone", last_seen_at=now, tags=["withdrawn"])
    basic = manager_client(channel, "basic")

    oldest = basic.get(_url(channel, "?sort=lastSeenAt&withdrawn=hide"))

    assert _names(oldest) == ["old", "new"]
    assert oldest.context["withdrawn_toggle_url"] == "?sort=lastSeenAt"
    assert "gone" in _names(basic.get(_url(channel)))


def test_the_time_column_follows_the_sort_and_its_header_reverses_it(channel: Channel) -> None:
    ContactFactory(channel=channel, name="kim")
    basic = manager_client(channel, "basic")

    latest = basic.get(_url(channel))
    first_seen = basic.get(_url(channel, "?sort=createdAt"))

    assert latest.context["headers"] == ["Member id", "Mobile number", "Email", "Tags"]
    assert (latest.context["time_label"], latest.context["time_sort_url"]) == (
        "Last seen",
        "?sort=lastSeenAt",
    )
    assert (first_seen.context["time_label"], first_seen.context["time_sort_url"]) == (
        "First seen",
        "?sort=-createdAt",
    )
    assert [c.kind for c in first_seen.context["rows"][0].cells][-1] == "time"


def test_an_unknown_sort_falls_back_to_the_default(channel: Channel) -> None:
    response = manager_client(channel, "basic").get(_url(channel, "?sort=profile.email"))

    assert response.status_code == 200 and response.context["state"].sort == "-lastSeenAt"


def test_the_empty_list_says_what_to_do(channel: Channel) -> None:
    html = manager_client(channel, "basic").get(_url(channel)).content.decode()

    assert "No contacts yet." in html and "SDK" in html


def test_a_page_costs_the_same_queries_for_5_rows_or_25(
    channel: Channel, django_assert_max_num_queries: Any
) -> None:
    client = manager_client(channel, "owner")
    MemberFactory.create_batch(5, channel=channel, profile={"mobileNumber": PHONE})
    client.get(_url(channel))  # the field definitions' per-process cache warmed

    with django_assert_max_num_queries(16) as few:
        client.get(_url(channel))
    MemberFactory.create_batch(25, channel=channel, tags=["vip"], profile={"email": EMAIL})
    with django_assert_max_num_queries(16) as many:
        client.get(_url(channel))

    assert len(many.captured_queries) == len(few.captured_queries)


def test_another_channel_is_not_found_and_a_stranger_must_log_in(
    channel: Channel, other_channel: Channel
) -> None:
    _kim(other_channel)

    ours = manager_client(channel, "owner")
    anonymous = Client().get(_url(channel))

    assert ours.get(_url(other_channel)).status_code == 404
    assert anonymous.status_code == 302 and "/desk/login/" in anonymous.headers["Location"]


def test_a_role_without_contacts_view_is_refused(channel: Channel) -> None:
    from crm import services

    silent = services.role_create(channel=channel, name="silent", permissions=[])
    user = manager_in(channel, "basic").user
    user.memberships.update(role=silent)
    client = Client()
    client.force_login(user)

    assert client.get(_url(channel)).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_in_a_browser_a_dashed_phone_finds_the_row_masked_and_an_owner_reveals_it(
    page: Any, live_server: Any
) -> None:
    from crm.provisioning import channel_provision
    from tests.crm.test_desk_home import kim_joins, log_in

    shop = channel_provision(name="Seoul Shop", plan="paid")
    _kim(shop)
    ContactFactory.create_batch(4, channel=shop)
    kim_joins(shop, "owner")

    log_in(page, live_server, "kim@shop.example")
    page.wait_for_selector(".contact-table")
    page.wait_for_load_state("load")  # list.js (deferred) listens for "/" from here on
    page.keyboard.press("/")
    page.keyboard.type("010-4729-5813")
    page.keyboard.press("Enter")
    page.wait_for_selector("#contact-count:has-text('1 contact')")

    row = page.locator(".contact-table tbody tr")
    assert row.count() == 1
    phone = row.locator("td[data-key='profile.mobileNumber']")
    assert phone.inner_text() == "010-****-5813"
    row.hover()
    phone.locator("button.eye").click()
    page.wait_for_selector("td[data-key='profile.mobileNumber'] .revealed")
    assert phone.inner_text() == PHONE
    assert row.locator("td[data-key='profile.email']").inner_text() == "min*******@shop.example"


@pytest.mark.parametrize(
    ("value", "exact", "shown"),
    [
        (1, True, "1 contact"),
        (2000, True, "2,000 contacts"),
        (12313, False, "about 12,300 contacts"),
        (1234567, False, "about 1,230,000 contacts"),
        (26, False, "about 26 contacts"),
    ],
)
def test_the_count_is_grouped_and_an_estimate_says_about(
    value: int, exact: bool, shown: str
) -> None:
    from contacts.desk.list import count_text
    from crm.counting import BoundedCount

    assert count_text(BoundedCount(value=value, exact=exact)) == shown
