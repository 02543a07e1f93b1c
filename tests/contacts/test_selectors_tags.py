"""Reads of the tag catalogue for a viewer: scoping, holders, counts within their timeout."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError, connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from contacts.selectors import tags as selectors
from contacts.selectors.tags import tag_holder_counts, tag_holders, tag_of, tags_of
from contacts.services.tags import tag_catalogue_ensure
from crm.counting import BoundedCount, count_estimate
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS, Viewer
from tests.contacts.factories import ContactFactory

pytestmark = pytest.mark.django_db


def viewer_of(channel: Channel) -> Viewer:
    return Viewer(channel=channel, permissions=ALL_PERMISSIONS)


def tagged(channel: Channel, *tags: str, **fields: Any) -> Contact:
    tag_catalogue_ensure(channel=channel, tags=tags)
    return ContactFactory(channel=channel, tags=list(tags), **fields)


def test_the_catalogue_and_the_holders_are_the_viewers_channels(
    channel: Channel, other_channel: Channel
) -> None:
    mine = tagged(channel, "vip", "gold")
    tagged(other_channel, "vip", "zinc")

    viewer = viewer_of(channel)

    assert [tag.name for tag in tags_of(viewer=viewer)] == ["gold", "vip"]
    assert tag_of(viewer=viewer, name="VIP").name == "vip"
    assert list(tag_holders(viewer=viewer, name="vip")) == [mine]
    with pytest.raises(Http404, match="No tag zinc in this channel"):
        tag_of(viewer=viewer, name="zinc")


def test_counting_falls_back_to_estimates_then_recounts_small_tags(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    tagged(channel, "vip", "gold")
    tagged(channel, "vip")
    viewer = viewer_of(channel)
    exact = selectors._counts_exact
    calls: list[list[str]] = []

    def slow_first(cursor: Any, channel_id: int, names: list[str]) -> dict[str, int]:
        calls.append(names)
        if len(calls) == 1:
            # Outlasts the count's 200 ms statement_timeout: PostgreSQL cancels it (57014).
            cursor.execute("SELECT pg_sleep(1)")
        return exact(cursor, channel_id, names)

    monkeypatch.setattr(selectors, "_counts_exact", slow_first)
    counts = tag_holder_counts(viewer=viewer, names=["gold", "vip"])

    assert counts == {"gold": BoundedCount(1, True), "vip": BoundedCount(2, True)}
    assert calls == [["gold", "vip"], ["gold", "vip"]]

    calls.clear()
    monkeypatch.setattr(selectors, "SMALL_TAG_ESTIMATE", -1)  # nothing is small: estimates stay
    estimated = tag_holder_counts(viewer=viewer, names=["gold", "vip"])

    assert estimated == {
        name: BoundedCount(count_estimate(tag_holders(viewer=viewer, name=name)), False)
        for name in ("gold", "vip")
    }
    assert calls == [["gold", "vip"]]


def test_a_timeout_is_known_by_its_sqlstate_not_its_wording(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    tagged(channel, "vip")
    viewer = viewer_of(channel)

    def failing(sqlstate: str, message: str) -> Any:
        def run(cursor: Any, channel_id: int, names: list[str]) -> dict[str, int]:
            cursor.execute(
                f"DO $$ BEGIN RAISE EXCEPTION '{message}' USING ERRCODE = '{sqlstate}'; END $$"
            )
            return {}

        return run

    # Another error worded like a timeout is raised; a timeout worded otherwise is a timeout.
    monkeypatch.setattr(selectors, "_counts_exact", failing("55P03", "statement timeout"))
    with pytest.raises(OperationalError, match="statement timeout"):
        tag_holder_counts(viewer=viewer, names=["vip"])
    monkeypatch.setattr(selectors, "_counts_exact", failing("57014", "Zeitlimit"))
    counts = tag_holder_counts(viewer=viewer, names=["vip"])

    assert counts == {
        "vip": BoundedCount(count_estimate(tag_holders(viewer=viewer, name="vip")), False)
    }


def clone(template: Contact, count: int, tags_sql: str) -> None:
    """COUNT copies of TEMPLATE in one statement, tagged by TAGS_SQL (over g, 1..COUNT)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = "
            "'contacts_contact' AND is_generated = 'NEVER' AND column_name NOT IN ('id', 'tags') "
            "ORDER BY ordinal_position"
        )
        columns = ", ".join(row[0] for row in cursor.fetchall())
        cursor.execute(
            f"INSERT INTO contacts_contact ({columns}, tags) SELECT {columns}, {tags_sql} "  # noqa: S608 -- test constants
            "FROM contacts_contact, generate_series(1, %s) AS g WHERE id = %s",
            [count, template.pk],
        )


def test_the_counts_use_the_tags_gin_index(channel: Channel, other_channel: Channel) -> None:
    tag_catalogue_ensure(channel=channel, tags=["vip", "gold"])
    template = ContactFactory(channel=channel, profile={}, tags=[])
    clone(template, 5000, "(CASE WHEN mod(g, 500) = 0 THEN '{vip}' ELSE '{gold}' END)::text[]")
    clone(ContactFactory(channel=other_channel, profile={}), 3000, "'{gold}'::text[]")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")

    with CaptureQueriesContext(connection) as queries:
        counts = tag_holder_counts(viewer=viewer_of(channel), names=["vip"])
    (statement,) = [q["sql"] for q in queries if "count(*)" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {statement}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert counts == {"vip": BoundedCount(10, True)}
    assert "Bitmap Index Scan on contact_tags_gin" in plan
