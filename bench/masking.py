"""What masking costs a page of the API: the in-process time to render 25 user objects for a
basic viewer (masking on, no reveal), for an owner (masking on, revealable), and for a channel
that marks nothing sensitive (nothing to mask), the median of 1,000 pages each.

Run as ``python -m bench.masking [--pages N] [--size 25]``; it needs no database (the contacts
are built in memory, as a page's query hands them over, with the channel's preset fields plus
a dozen profile fields) and prints a Markdown table. docs/performance.md quotes it.
Each page builds the viewer's policy from the channel's field definitions, as every API request
does, then renders the page's user objects through `contacts.representation.user_object`."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    import django

    django.setup()


def _fields(*, sensitive: bool) -> list[Any]:
    from profile_schema.models import FieldType, Masking, ProfileField
    from profile_schema.presets import BUILT_IN_FIELDS, PROFILE_PRESETS

    rows = [
        ProfileField(
            key=p.key,
            name=p.name,
            type=p.type,
            built_in=p.key in {b.key for b in BUILT_IN_FIELDS},
            sensitive=p.sensitive and sensitive,
            masking=p.masking,
        )
        for p in (*BUILT_IN_FIELDS, *PROFILE_PRESETS)
    ]
    extra = [
        ("age", FieldType.NUMBER),
        ("planTier", FieldType.STRING),
        ("points", FieldType.NUMBER),
    ]
    rows += [ProfileField(key=f"profile.{k}", name=k, type=t) for k, t in extra]
    if sensitive:  # a channel that also hides a number and a list in full
        rows.append(
            ProfileField(
                key="profile.birthYear",
                name="Birth year",
                type=FieldType.NUMBER,
                sensitive=True,
                masking=Masking.FULL,
            )
        )
    return rows


def _contacts(size: int) -> list[Any]:
    from contacts.models import Contact

    now = datetime.now(UTC)
    contacts = [
        Contact(
            pk=1000 + i,
            channel_id=1,
            member_id=f"m-{i}",
            profile={
                "name": f"Customer {i}",
                "email": f"customer{i:05d}@example.com",
                "mobileNumber": f"+8210{i:08d}",
                "landlineNumber": "+8221234567",
                "utmSource": "naver",
                "lastUtmCampaign": "spring",
                "description": "Asked about delivery to Jeju.",
                "age": 30 + i % 40,
                "planTier": "vip" if i % 7 == 0 else "basic",
                "points": i * 13,
                "birthYear": 1980 + i % 30,
                "lastCheckoutCompletedAt": 1733200000000,
            },
            tags=["vip", "newsletter"][: i % 3],
            city="Seoul",
            country="KR",
            language="ko",
            sessions_count=i,
            last_seen_at=now - timedelta(minutes=i),
            created_at=now - timedelta(days=i),
            updated_at=now,
            web_browser="Chrome 131",
            web_os="Mac OS X 14",
        )
        for i in range(size)
    ]
    for contact in contacts:  # the generated columns, as a query reads them
        contact.__dict__.update(type="member", name=contact.profile["name"])
    return contacts


def _page_timer(render: Callable[[], object], pages: int) -> float:
    for _ in range(50):  # warm up
        render()
    times = []
    for _ in range(pages):
        start = time.perf_counter_ns()
        render()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e6


def measure(*, pages: int, size: int) -> dict[str, float]:
    from contacts.representation import user_object
    from masking.policy import policy_build

    contacts = _contacts(size)
    masked_fields, plain_fields = _fields(sensitive=True), _fields(sensitive=False)

    def page(fields: list[Any], can_reveal: bool) -> Callable[[], object]:
        def render() -> object:
            policy = policy_build(channel_id=1, fields=fields, can_reveal=can_reveal)
            return [user_object(c, policy=policy) for c in contacts]

        return render

    return {
        "basic viewer (masked)": _page_timer(page(masked_fields, False), pages),
        "owner (masked, revealable)": _page_timer(page(masked_fields, True), pages),
        "nothing sensitive (no masking)": _page_timer(page(plain_fields, False), pages),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--size", type=int, default=25)
    args = parser.parse_args(argv)
    _setup()
    figures = measure(pages=args.pages, size=args.size)
    base = figures["nothing sensitive (no masking)"]
    owner = figures["owner (masked, revealable)"]
    print(f"Rendering {args.size} user objects, median of {args.pages:,} pages, in process:\n")
    print("| viewer | ms per page | vs no masking | vs owner |")
    print("| --- | ---: | ---: | ---: |")
    for name, ms in figures.items():
        print(f"| {name} | {ms:.3f} | {ms - base:+.3f} | {ms - owner:+.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
