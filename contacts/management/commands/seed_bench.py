"""Bulk benchmark data: `bench-*` channels with many contacts and events, generated in SQL.

`manage.py seed_bench --contacts N --channels M [--seed S] [--events-per-contact E] [--reset]`.
PostgreSQL generates the rows itself (INSERT ... SELECT FROM generate_series, 50,000 contacts
and their events per statement, in parallel sessions) while the two tables' secondary indexes
and foreign keys are dropped; they are rebuilt and validated afterwards (docs/performance.md).
An error or Ctrl-C restores them; a killed process (SIGKILL) cannot, so `-v 2` first prints the
statements that do.
"""

from __future__ import annotations

import json
import os
import queue
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection, transaction
from tqdm import tqdm

from contacts.models import Contact, Event
from contacts.services.tags import tag_catalogue_ensure
from crm.models import Channel, Plan
from crm.services import channel_create
from profile_schema.models import FieldType
from profile_schema.services import profile_field_create

CHANNEL_PREFIX = "bench-"
CHANNEL_REGEX = r"^bench-[0-9]+$"
BIG_TENANT_SHARE = 0.6
TABLES = (Contact._meta.db_table, Event._meta.db_table)

# Weighted vocabularies: a value repeated k times is drawn k times as often.
SURNAMES = (("김", "kim", 21), ("이", "lee", 15), ("박", "park", 8), ("최", "choi", 5),
            ("정", "jung", 5), ("강", "kang", 2), ("조", "cho", 2), ("윤", "yoon", 2),
            ("장", "jang", 2), ("임", "lim", 2), ("한", "han", 1), ("오", "oh", 1),
            ("서", "seo", 1), ("신", "shin", 1), ("권", "kwon", 1), ("황", "hwang", 1),
            ("안", "ahn", 1), ("송", "song", 1), ("류", "ryu", 1), ("홍", "hong", 1))  # fmt: skip
GIVEN = list("민서지현수영준우예은도하윤성진유나연재원아린태호빈희경훈혁주")
DOMAINS = (("naver.com", 40), ("gmail.com", 30), ("daum.net", 10), ("kakao.com", 10),
           ("hanmail.net", 6), ("nate.com", 4))  # fmt: skip
CITIES = (("Seoul", "KR", 40), ("Busan", "KR", 12), ("Incheon", "KR", 10), ("Daegu", "KR", 8),
          ("Daejeon", "KR", 5), ("Gwangju", "KR", 5), ("Suwon", "KR", 8), ("Tokyo", "JP", 3),
          ("Los Angeles", "US", 2))  # fmt: skip
LANGUAGES = (("ko", 90), ("en", 7), ("ja", 3))
# (source, medium, referrer, weight)
UTM = (("naver", "cpc", "https://search.naver.com/", 30),
       ("google", "cpc", "https://www.google.com/", 25),
       ("kakao", "social", "https://pf.kakao.com/", 15),
       ("instagram", "social", "https://l.instagram.com/", 12),
       ("facebook", "social", "https://m.facebook.com/", 5),
       ("newsletter", "email", "https://mail.naver.com/", 8),
       ("youtube", "video", "https://www.youtube.com/", 5))  # fmt: skip
CAMPAIGNS = (("spring_sale", 30), ("black_friday", 20), ("new_arrivals", 15), ("membership", 12),
             ("retarget", 10), ("chuseok_gift", 8), ("app_install", 5))  # fmt: skip
TIERS = (("free", 55), ("basic", 25), ("premium", 15), ("vip", 5))
GENDERS = (("female", 52), ("male", 45), ("other", 3))
CATEGORIES = (("beauty", 25), ("fashion", 25), ("food", 15), ("living", 15), ("digital", 10),
              ("sports", 10))  # fmt: skip
MEMOS = ("Prefers phone calls", "Asked about bulk orders", "VIP: handle personally",
         "Complained about delivery", "Wants invoices by email")  # fmt: skip
# (browser, browser name, os, os name, device, weight)
WEB = (("Chrome 131", "Chrome", "Windows 11", "Windows", "Desktop", 30),
       ("Chrome 131", "Chrome", "Android 15", "Android", "Mobile", 20),
       ("Safari 18", "Safari", "iOS 18", "iOS", "Mobile", 20),
       ("Safari 18", "Safari", "macOS 15", "Mac OS X", "Desktop", 8),
       ("Samsung Internet 27", "Samsung Internet", "Android 14", "Android", "Mobile", 12),
       ("Edge 131", "Edge", "Windows 10", "Windows", "Desktop", 5),
       ("Whale 4", "Whale", "Windows 11", "Windows", "Desktop", 5))  # fmt: skip
# (app version, os, os name, device, weight)
APP = (("3.3.1", "Android 15", "Android", "Galaxy S25", 25),
       ("3.3.1", "iOS 18", "iOS", "iPhone 16", 25),
       ("3.2.0", "Android 14", "Android", "Galaxy A56", 20),
       ("3.2.0", "iOS 17", "iOS", "iPhone 14", 15),
       ("3.1.4", "Android 13", "Android", "Galaxy S22", 15))  # fmt: skip
BLOCK_REASONS = ("Abusive messages", "Spam", "Fraudulent orders")
EVENT_NAMES = (("PageView", 45), ("ProductView", 20), ("AddToCart", 10), ("Search", 8),
               ("Login", 7), ("CheckoutComplete", 5), ("CouponUsed", 3), ("SignUp", 2))  # fmt: skip
PAGES = ("/", "/products", "/products/new", "/events/spring", "/cart", "/mypage", "/search")
SEARCHES = ("선크림", "원피스", "커피", "캠핑의자", "러닝화", "에어팟", "비타민")
# Tags and interests: (value, probability that a contact has it).
TAGS = (("newsletter", 0.30), ("first-order", 0.20), ("repeat-buyer", 0.12), ("gold", 0.08),
        ("silver", 0.10), ("vip", 0.03), ("withdrawn", 0.02), ("app-user", 0.15),
        ("kakao-friend", 0.18), ("cart-abandoner", 0.09), ("coupon-2025", 0.06),
        ("wholesale", 0.01), ("churn-risk", 0.04), ("beta-tester", 0.005), ("event-winner", 0.01),
        ("review-writer", 0.05))  # fmt: skip
INTERESTS = (("skincare", 0.25), ("fashion", 0.30), ("kitchen", 0.12), ("camping", 0.08),
             ("books", 0.10), ("pets", 0.15), ("coffee", 0.20), ("fitness", 0.12))  # fmt: skip
EXTRA_FIELDS = (("age", "Age", FieldType.NUMBER), ("gender", "Gender", FieldType.STRING),
                ("planTier", "Plan tier", FieldType.STRING), ("points", "Points", FieldType.NUMBER),
                ("signupDate", "Sign-up date", FieldType.DATE),
                ("orderCount", "Orders", FieldType.NUMBER),
                ("totalSpent", "Total spent (KRW)", FieldType.NUMBER),
                ("interests", "Interests", FieldType.LIST),
                ("marketingOptIn", "Marketing opt-in", FieldType.BOOLEAN),
                ("favoriteCategory", "Favourite category", FieldType.STRING),
                ("couponCount", "Coupons", FieldType.NUMBER))  # fmt: skip


def _weighted(rows: Sequence[tuple[Any, ...]], column: int = 0) -> dict[str, list[Any]]:
    """COLUMN of ROWS, and where in [0, 1) each row's share of the weights (last item) starts."""
    total = sum(row[-1] for row in rows)
    starts = [sum(row[-1] for row in rows[:index]) / total for index in range(len(rows))]
    return {"values": [row[column] for row in rows], "starts": starts}


def _uniform(values: Sequence[str]) -> dict[str, list[Any]]:
    return _weighted([(value, 1) for value in values])


def _some_of(prefix: str, choices: Sequence[tuple[str, float]]) -> tuple[str, dict[str, Any]]:
    """A text[] SQL expression holding each choice with its probability, and its parameters."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    for index, (value, probability) in enumerate(choices):
        parts.append(f"CASE WHEN random() < %({prefix}_p{index})s THEN %({prefix}_v{index})s END")
        params[f"{prefix}_p{index}"], params[f"{prefix}_v{index}"] = probability, value
    return f"array_remove(ARRAY[{', '.join(parts)}]::text[], NULL)", params


def _pick(name: str, draw: str) -> str:
    """SQL for the value of vocabulary NAME that the uniform DRAW in [0, 1) falls on."""
    return f"(%({name})s::text[])[width_bucket({draw}, %({name}_starts)s::float8[])]"


TAGS_SQL, TAGS_PARAMS = _some_of("tag", TAGS)
INTERESTS_SQL, INTERESTS_PARAMS = _some_of("interest", INTERESTS)

VOCABULARY: dict[str, dict[str, list[Any]]] = {
    "surname": _weighted(SURNAMES),
    "roman": _weighted(SURNAMES, 1),
    "given": _uniform(GIVEN),
    "domain": _weighted(DOMAINS),
    "city": _weighted(CITIES),
    "country": _weighted(CITIES, 1),
    "language": _weighted(LANGUAGES),
    "utm_source": _weighted(UTM),
    "utm_medium": _weighted(UTM, 1),
    "referrer": _weighted(UTM, 2),
    "campaign": _weighted(CAMPAIGNS),
    "tier": _weighted(TIERS),
    "gender": _weighted(GENDERS),
    "category": _weighted(CATEGORIES),
    "memo": _uniform(MEMOS),
    "browser": _weighted(WEB),
    "browser_name": _weighted(WEB, 1),
    "os": _weighted(WEB, 2),
    "os_name": _weighted(WEB, 3),
    "device": _weighted(WEB, 4),
    "app_version": _weighted(APP),
    "app_os": _weighted(APP, 1),
    "app_os_name": _weighted(APP, 2),
    "app_device": _weighted(APP, 3),
    "block_reason": _uniform(BLOCK_REASONS),
    "event_name": _weighted(EVENT_NAMES),
    "page": _uniform(PAGES),
    "search": _uniform(SEARCHES),
}
VOCABULARY_PARAMS: dict[str, list[Any]] = {
    f"{name}{suffix}": column[key]
    for name, column in VOCABULARY.items()
    for key, suffix in (("values", ""), ("starts", "_starts"))
}

_MOBILE_DRAWN = "floor(r_phone * 99700000)"
_SKIP_UNISSUED_MOBILE = (
    f"{_MOBILE_DRAWN} + CASE WHEN {_MOBILE_DRAWN} >= 59700000 THEN 300000 ELSE 0 END"
)

# A contact's profile: (key, whether the value is a JSON string, its SQL); NULL leaves it out.
PROFILE_FIELDS: tuple[tuple[str, bool, str], ...] = (
    ("name", True, "CASE WHEN kind <> 'anonymous' THEN full_name END"),
    ("email", True, "CASE WHEN kind <> 'anonymous' AND (r_email < 0.9 OR r_mobile >= 0.85)"
                    f" THEN roman || '.' || n || '@' || {_pick('domain', 'r_domain')} END"),
    # 010-XXXX-XXXX, leaving out 010-5970 … 010-5999, which the phone plan (and so the app's
    # mobile rule) does not give out: the 99,700,000 numbers drawn skip those 300,000.
    ("mobileNumber", True, "CASE WHEN kind <> 'anonymous' AND r_mobile < 0.85 THEN '+8210' ||"
                           f" lpad(({_SKIP_UNISSUED_MOBILE})::bigint::text, 8, '0') END"),
    # Seoul, 02-XXX-XXXX: a local number starts with 2 to 9.
    ("landlineNumber", True, "CASE WHEN kind = 'lead' AND r_mobile > 0.9 THEN '+822'"
                             " || (2000000 + floor(r_phone * 8e6))::bigint::text END"),
    ("referrer", True, f"CASE WHEN r_utm < 0.65 THEN {_pick('referrer', 'r_src')} END"),
    ("utmSource", True, f"CASE WHEN r_utm < 0.65 THEN {_pick('utm_source', 'r_src')} END"),
    ("utmMedium", True, f"CASE WHEN r_utm < 0.65 THEN {_pick('utm_medium', 'r_src')} END"),
    ("utmCampaign", True, f"CASE WHEN r_utm < 0.65 THEN {_pick('campaign', 'r_campaign')} END"),
    ("lastUtmSource", True, f"CASE WHEN r_utm < 0.65 THEN {_pick('utm_source', 'r_last')} END"),
    ("lastUtmMedium", True, f"CASE WHEN r_utm < 0.65 THEN {_pick('utm_medium', 'r_last')} END"),
    ("lastUtmCampaign", True, f"CASE WHEN r_utm < 0.65 THEN {_pick('campaign', 'r_last')} END"),
    ("age", False, "CASE WHEN kind = 'member' THEN 18 + floor(power(r_age, 1.4) * 60)::int END"),
    ("gender", True, f"CASE WHEN kind = 'member' THEN {_pick('gender', 'r_age')} END"),
    ("planTier", True, f"CASE WHEN kind = 'member' THEN {_pick('tier', 'r_tier')} END"),
    ("points", False, "CASE WHEN kind = 'member' THEN floor(power(r_tier, 3) * 100000)::int END"),
    ("signupDate", True, "CASE WHEN kind = 'member'"
                         " THEN to_char(created_at AT TIME ZONE 'Asia/Seoul', 'YYYY-MM-DD') END"),
    ("lastCheckoutCompletedAt", False, "CASE WHEN kind = 'member' AND r_order < 0.45"
                                       " THEN floor(extract(epoch FROM checkout_at) * 1000) END"),
    ("orderCount", False, "CASE WHEN kind = 'member' THEN floor(power(r_order, 2) * 40)::int END"),
    ("totalSpent", False, "CASE WHEN kind = 'member' THEN floor(power(r_order, 2) * 40)::int"
                          " * (5000 + floor(r_spent * 95000)::int) END"),
    ("interests", False, "CASE WHEN kind <> 'anonymous'"
                         f" THEN array_to_json(NULLIF({INTERESTS_SQL}, '{{}}'::text[])) END"),
    ("marketingOptIn", False, "CASE WHEN kind <> 'anonymous' THEN r_spent < 0.6 END"),
    ("favoriteCategory", True, "CASE WHEN kind = 'member'"
                               f" THEN {_pick('category', 'r_spent')} END"),
    ("couponCount", False, "CASE WHEN kind = 'member' THEN floor(power(r_spent, 4) * 12)::int END"),
    ("description", True, "CASE WHEN kind <> 'anonymous' AND r_memo < 0.03"
                          f" THEN {_pick('memo', 'r_memo * 33.3')} END"),
)  # fmt: skip


def _json_object(fields: Sequence[tuple[str, bool, str]]) -> str:
    """SQL for a jsonb object of FIELDS, assembled as text (twice as fast as jsonb_build_object).

    String values go between quotes unescaped: they are digits, dates and vocabulary words,
    which _json_safe() checks need no escaping.
    """
    parts = []
    for key, is_string, value in fields:
        text = f"'\"' || ({value}) || '\"'" if is_string else f"({value})::text"
        parts.append(f"'\"{key}\":' || {text}")
    return f"('{{' || concat_ws(',', {', '.join(parts)}) || '}}')::jsonb"


def _json_safe(vocabulary: dict[str, dict[str, list[Any]]]) -> None:
    for name, column in vocabulary.items():
        for value in column["values"]:
            if isinstance(value, str) and (set(value) & set('"\\') or not value.isprintable()):
                raise ValueError(f"Vocabulary {name!r}: {value!r} would need JSON escaping.")


_json_safe(VOCABULARY)
PROFILE_SQL = _json_object(PROFILE_FIELDS)

# One statement per batch: contacts n = lo..hi (id = contact_base + n), then their events
# through a data-modifying CTE. Layers: draws (r) -> derived values (d) -> visit times (v).
INSERT_SQL = f"""
WITH ins AS (
INSERT INTO contacts_contact (
    id, channel_id, member_id, veil_id, profile, tags, city, country, language,
    sessions_count, last_seen_at, web_browser, web_browser_name, web_os, web_os_name, web_device,
    web_last_seen_at, web_sessions_count, mobile_app_name, mobile_app_version, mobile_os,
    mobile_os_name, mobile_device, mobile_last_seen_at, mobile_sessions_count, has_push_token,
    unsubscribe_email, unsubscribe_texting, has_chat, blocked, blocked_at, blocked_by_id,
    blocked_reason, created_at, updated_at)
SELECT
    %(contact_base)s + n, channel_id, CASE WHEN kind = 'member' THEN 'm-' || n END,
    CASE WHEN kind = 'anonymous' OR r_veil < 0.6 THEN md5(%(seed_text)s || ':' || n) END,
    {PROFILE_SQL},
    CASE WHEN kind = 'anonymous' THEN '{{}}'::text[] ELSE {TAGS_SQL} END,
    {_pick("city", "r_city")}, {_pick("country", "r_city")}, {_pick("language", "r_lang")},
    web_sessions + app_sessions, GREATEST(web_seen, app_seen),
    CASE WHEN web THEN {_pick("browser", "r_web")} ELSE '' END,
    CASE WHEN web THEN {_pick("browser_name", "r_web")} ELSE '' END,
    CASE WHEN web THEN {_pick("os", "r_web")} ELSE '' END,
    CASE WHEN web THEN {_pick("os_name", "r_web")} ELSE '' END,
    CASE WHEN web THEN {_pick("device", "r_web")} ELSE '' END,
    web_seen, web_sessions,
    CASE WHEN app THEN %(app_name)s ELSE '' END,
    CASE WHEN app THEN {_pick("app_version", "r_app")} ELSE '' END,
    CASE WHEN app THEN {_pick("app_os", "r_app")} ELSE '' END,
    CASE WHEN app THEN {_pick("app_os_name", "r_app")} ELSE '' END,
    CASE WHEN app THEN {_pick("app_device", "r_app")} ELSE '' END,
    app_seen, app_sessions, app AND r_push < 0.7, r_unsub < 0.10, r_unsub BETWEEN 0.05 AND 0.20,
    kind <> 'anonymous' AND r_chat < 0.08, blocked_at IS NOT NULL, blocked_at, NULL,
    CASE WHEN blocked_at IS NOT NULL THEN {_pick("block_reason", "r_block * 200")} ELSE '' END,
    created_at,
    GREATEST(web_seen, app_seen, blocked_at, created_at + (%(as_of)s - created_at) * r_updated)
FROM (
    SELECT d.*,
        CASE WHEN web THEN created_at + (%(as_of)s - created_at) * power(r_seen, 0.4) END
            AS web_seen,
        CASE WHEN web THEN 1 + floor(power(r_sessions, 3) * 200)::int ELSE 0 END AS web_sessions,
        CASE WHEN app THEN created_at + (%(as_of)s - created_at) * power(r_app_seen, 0.3) END
            AS app_seen,
        CASE WHEN app THEN 1 + floor(power(r_app, 3) * 300)::int ELSE 0 END AS app_sessions,
        created_at + (%(as_of)s - created_at) * r_checkout AS checkout_at,
        CASE WHEN r_block < 0.005 THEN created_at + (%(as_of)s - created_at) * (r_block * 200) END
            AS blocked_at,
        {_pick("surname", "r_surname")} || {_pick("given", "r_given1")}
            || {_pick("given", "r_given2")} AS full_name,
        {_pick("roman", "r_surname")} AS roman
    FROM (
        SELECT r.*,
            CASE WHEN r_channel < %(big_share)s OR %(channels_count)s = 1
                THEN (%(channel_ids)s::bigint[])[1]
                ELSE (%(channel_ids)s::bigint[])[
                    2 + floor(power(r_spread, 1.5) * (%(channels_count)s - 1))::int]
            END AS channel_id,
            CASE WHEN r_type < 0.5 THEN 'member' WHEN r_type < 0.7 THEN 'lead'
                ELSE 'anonymous' END AS kind,
            r_device >= 0.04 AND r_device < 0.78 AS web,
            r_device >= 0.62 AS app,
            %(as_of)s - interval '365 days' * (1 - n::float8 / %(total)s)
                - interval '1 hour' * r_jitter AS created_at
        FROM (
            SELECT g.n, random() AS r_channel, random() AS r_spread, random() AS r_type,
                random() AS r_veil, random() AS r_surname, random() AS r_given1,
                random() AS r_given2, random() AS r_email, random() AS r_domain,
                random() AS r_mobile, random() AS r_phone, random() AS r_utm, random() AS r_src,
                random() AS r_campaign, random() AS r_last, random() AS r_age,
                random() AS r_tier, random() AS r_order, random() AS r_spent,
                random() AS r_memo, random() AS r_city, random() AS r_lang,
                random() AS r_device, random() AS r_web, random() AS r_app, random() AS r_seen,
                random() AS r_app_seen, random() AS r_sessions, random() AS r_checkout,
                random() AS r_push, random() AS r_unsub, random() AS r_chat, random() AS r_block,
                random() AS r_updated, random() AS r_jitter
            FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g(n)
        ) AS r
    ) AS d
) AS v
RETURNING id, channel_id, created_at, last_seen_at
)
INSERT INTO contacts_event (id, channel_id, contact_id, name, properties, created_at)
SELECT %(event_base)s + (contact_id - %(contact_base)s - 1) * %(events)s + k,
    channel_id, contact_id, name,
    jsonb_strip_nulls(jsonb_build_object(
        'url', CASE WHEN name IN ('PageView', 'ProductView', 'AddToCart')
            THEN 'https://shop.example' || {_pick("page", "r_page")} END,
        'productId', CASE WHEN name IN ('ProductView', 'AddToCart')
            THEN 'p-' || floor(r_value * 5000)::int END,
        'query', CASE WHEN name = 'Search' THEN {_pick("search", "r_page")} END,
        'orderId', CASE WHEN name = 'CheckoutComplete'
            THEN 'o-' || (contact_id - %(contact_base)s) || '-' || k END,
        'total', CASE WHEN name IN ('CheckoutComplete', 'AddToCart')
            THEN (9 + floor(power(r_value, 2) * 400)::int) * 1000 END,
        'currency', CASE WHEN name = 'CheckoutComplete' THEN 'KRW' END)),
    created_at + (COALESCE(last_seen_at, created_at) - created_at) * r_time
FROM (
    SELECT ins.id AS contact_id, ins.channel_id, ins.created_at, ins.last_seen_at, e.k,
        {_pick("event_name", "random()")} AS name, random() AS r_page, random() AS r_value,
        random() AS r_time
    FROM ins CROSS JOIN generate_series(1, %(events)s) AS e(k)
) AS x
"""  # noqa: S608 - composed only from this module's constants; every value is a parameter


@dataclass(frozen=True)
class LoadPlan:
    """What one run loads: how many rows, in which batches, with which shared parameters."""

    contacts: int
    events_per_contact: int
    batch_size: int
    seed: int
    params: dict[str, Any]

    def batches(self) -> list[tuple[int, int, int]]:
        """(batch number, first n, last n) for every batch."""
        starts = range(1, self.contacts + 1, self.batch_size)
        last = self.contacts
        return [(i, lo, min(lo + self.batch_size - 1, last)) for i, lo in enumerate(starts)]


@dataclass(frozen=True)
class SavedDdl:
    """An index or foreign key dropped for the load, with the statement that restores it."""

    drop: str
    restore: str
    is_index: bool


class Command(BaseCommand):
    help = "Create bench-N channels and bulk-load contacts and events into them (fast, in SQL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--contacts", type=int, required=True, help="Contacts to create.")
        parser.add_argument("--channels", type=int, required=True, help="Channels bench-1..M.")
        parser.add_argument("--seed", type=int, default=1, help="Same seed, same data.")
        parser.add_argument("--events-per-contact", type=int, default=1)
        parser.add_argument("--reset", action="store_true", help="Delete bench-* channels first.")
        parser.add_argument("--batch-size", type=int, default=50_000)
        parser.add_argument("--workers", type=int, default=2, help="Parallel sessions.")
        parser.add_argument(
            "--as-of", type=date.fromisoformat, default=None,
            help="The day the data ends (YYYY-MM-DD, default today): timestamps go a year back.",
        )  # fmt: skip
        parser.add_argument("--summary-json", default="", help="Also write the summary here.")

    def handle(self, *args: Any, **options: Any) -> None:
        _options_check(options)
        _session_unbounded()
        if not options["reset"] and _bench_channel_ids():
            raise CommandError("bench-* channels exist already: pass --reset to replace them.")
        started = time.perf_counter()
        plan, phases = _seed(options)
        phases["vacuum_analyze"] = _timed(_vacuum_analyze)
        summary = _summary(plan, options["channels"], phases, time.perf_counter() - started)
        self.stdout.write(_summary_text(summary))
        if options["summary_json"]:
            with open(options["summary_json"], "w") as handle:
                json.dump(summary, handle, indent=2)


def _options_check(options: dict[str, Any]) -> None:
    for name in ("contacts", "channels", "batch_size", "workers"):
        if options[name] < 1:
            raise CommandError(f"--{name.replace('_', '-')} must be at least 1.")
    if options["events_per_contact"] < 0:
        raise CommandError("--events-per-contact must be 0 or more.")


def _timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def _session_unbounded() -> None:
    """Lift this thread's session limits: no statement timeout, big memory for index builds."""
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        # A lost seed is re-run, never half-trusted: no need to wait for each WAL flush.
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '1GB'")


def _seed(options: dict[str, Any]) -> tuple[LoadPlan, dict[str, float]]:
    """Reset and load with the secondary indexes and foreign keys dropped; restore them always."""
    saved = _ddl_drop()
    if options["verbosity"] >= 2:
        sys.stderr.write("".join(f"-- to restore: {item.restore};\n" for item in saved))
    phases: dict[str, float] = {}
    try:
        phases["reset"] = _timed(_channels_delete)
        channels = _channels_create(options["channels"])
        plan = _load_plan(channels, options)
        phases["load"] = _timed(lambda: _load(plan, options["workers"]))
    finally:
        phases["indexes"] = _timed(lambda: _ddl_restore(saved, options["workers"]))
    return plan, phases


def _bench_channel_ids() -> list[int]:
    return list(Channel.objects.filter(name__regex=CHANNEL_REGEX).values_list("pk", flat=True))


def _channels_delete() -> None:
    """Delete the bench-* channels: contacts and events in plain SQL, the rest through Django."""
    ids = _bench_channel_ids()
    if not ids:
        return
    # One transaction: the deferred foreign keys of other tables are checked once all is gone.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM contacts_event WHERE channel_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM contacts_contact WHERE channel_id = ANY(%s)", [ids])
        Channel.objects.filter(pk__in=ids).delete()
    # Without their indexes, this VACUUM is one pass over the heap; it returns the space.
    _vacuum()


def _channels_create(count: int) -> list[Channel]:
    """bench-1..COUNT with default roles, preset and extra profile fields, and the tag catalogue."""
    channels = []
    for number in range(1, count + 1):
        plan = Plan.PAID if number % 2 else Plan.FREE
        channel = channel_create(name=f"{CHANNEL_PREFIX}{number}", plan=plan)
        with transaction.atomic():
            tag_catalogue_ensure(channel=channel, tags=[tag for tag, _ in TAGS])
        for key, name, type_ in EXTRA_FIELDS:
            profile_field_create(channel=channel, key=key, name=name, type=type_)
        channels.append(channel)
    return channels


def _ids_reserve(table: str, count: int) -> int:
    """Move TABLE's id sequence past COUNT new ids and return the id just before them."""
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(GREATEST((SELECT max(id) FROM {quoted}),"  # noqa: S608 - a model's table
            " pg_sequence_last_value(pg_get_serial_sequence(%s, 'id')::regclass)), 0)",
            [table],
        )
        base = int(cursor.fetchone()[0])
        if count:
            sequence_set = "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)"
            cursor.execute(sequence_set, [table, base + count])
    return base


def _load_plan(channels: list[Channel], options: dict[str, Any]) -> LoadPlan:
    contacts, events = options["contacts"], options["events_per_contact"]
    as_of = datetime.combine(options["as_of"] or date.today(), datetime.min.time(), tzinfo=UTC)
    params: dict[str, Any] = {
        **VOCABULARY_PARAMS,
        **TAGS_PARAMS,
        **INTERESTS_PARAMS,
        "contact_base": _ids_reserve(Contact._meta.db_table, contacts),
        "event_base": _ids_reserve(Event._meta.db_table, contacts * events),
        "events": events,
        "total": contacts,
        "channel_ids": [channel.pk for channel in channels],
        "channels_count": len(channels),
        "big_share": BIG_TENANT_SHARE,
        "as_of": as_of,
        "seed_text": str(options["seed"]),
        "app_name": "Bench Shop",
    }
    return LoadPlan(contacts, events, options["batch_size"], options["seed"], params)


DDL_SQL = """
SELECT format('DROP INDEX %%s', x.indexrelid::regclass), pg_get_indexdef(x.indexrelid), true
FROM pg_index x
WHERE x.indrelid = ANY(%(tables)s::regclass[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
UNION ALL
SELECT format('ALTER TABLE %%s DROP CONSTRAINT %%I', k.conrelid::regclass, k.conname),
       format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', k.conrelid::regclass, k.conname,
              pg_get_constraintdef(k.oid)),
       false
FROM pg_constraint k
WHERE k.contype = 'f'
  AND (k.conrelid = ANY(%(tables)s::regclass[]) OR k.confrelid = ANY(%(tables)s::regclass[]))
"""


def _ddl_drop() -> list[SavedDdl]:
    """Drop the loaded tables' secondary indexes and foreign keys; return how to restore them.

    Foreign keys both ways go: those of the loaded rows (one check per inserted row) and those
    pointing at them (one check per deleted contact in a reset). Restoring validates them all,
    and rebuilding a unique index (the per-channel member and veil ids) checks it again.
    Primary keys and CHECK constraints stay. Every statement comes from the catalogue (names
    quoted by PostgreSQL itself).
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(DDL_SQL, {"tables": list(TABLES)})
        saved = [SavedDdl(drop, restore, is_index) for drop, restore, is_index in cursor.fetchall()]
        for item in saved:
            cursor.execute(item.drop)
    return saved


def _ddl_restore(saved: list[SavedDdl], workers: int) -> None:
    """Rebuild the indexes in parallel sessions (GIN first: the slowest), then the foreign keys.

    A statement that fails does not stop the others; the failures are raised together at the end.
    """
    indexes = sorted(
        (item for item in saved if item.is_index),
        key=lambda item: ("USING gin" not in item.restore, item.restore),
    )
    pending: queue.Queue[str] = queue.Queue()
    for item in indexes:
        pending.put(item.restore)
    failures: list[str] = []
    # Sessions and parallel build workers share the cores: one build per core in all.
    helpers = max(0, (os.cpu_count() or 2) // workers - 1)
    _in_threads(workers, lambda stop: _statements_worker(pending, helpers, failures, stop))
    for item in saved:
        if not item.is_index:
            _statement_run(item.restore, failures)
    if failures:
        raise CommandError("Could not restore:\n" + "\n".join(failures))


def _statements_worker(
    pending: queue.Queue[str], helpers: int, failures: list[str], stop: threading.Event
) -> None:
    try:
        _session_unbounded()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('max_parallel_maintenance_workers', %s, false)", [str(helpers)]
            )
        while not stop.is_set():
            try:
                statement = pending.get_nowait()
            except queue.Empty:
                return
            _statement_run(statement, failures)
    finally:
        connection.close()


def _statement_run(statement: str, failures: list[str]) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    except DatabaseError as error:
        failures.append(f"{statement}: {error}")


def _vacuum() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {', '.join(map(connection.ops.quote_name, TABLES))}")


def _vacuum_analyze() -> None:
    """Statistics for the planner, and a visibility map so counts can use index-only scans."""
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(map(connection.ops.quote_name, TABLES))}")


def _load(plan: LoadPlan, workers: int) -> None:
    pending: queue.Queue[tuple[int, int, int]] = queue.Queue()
    for batch in plan.batches():
        pending.put(batch)
    with tqdm(total=plan.contacts, unit=" contacts", unit_scale=True, file=sys.stderr) as bar:
        _in_threads(workers, lambda stop: _load_worker(plan, pending, bar, stop))


def _load_worker(
    plan: LoadPlan,
    pending: queue.Queue[tuple[int, int, int]],
    bar: tqdm[Any],
    stop: threading.Event,
) -> None:
    """Insert batches until none are left; each batch reseeds random() so it is reproducible."""
    try:
        _session_unbounded()
        while not stop.is_set():
            try:
                number, lo, hi = pending.get_nowait()
            except queue.Empty:
                return
            with connection.cursor() as cursor:
                cursor.execute("SELECT setseed(%s)", [_batch_seed(plan.seed, number)])
                cursor.execute(INSERT_SQL, {**plan.params, "lo": lo, "hi": hi})
            bar.update(hi - lo + 1)
    finally:
        connection.close()


def _batch_seed(seed: int, number: int) -> float:
    """A setseed() value in [-1, 1] for batch NUMBER of a run with SEED."""
    return random.Random(f"{seed}:{number}").uniform(-1.0, 1.0)


def _in_threads(count: int, work: Callable[[threading.Event], None]) -> None:
    """Run WORK in COUNT threads (one database session each); the first error stops them all."""
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(work, stop) for _ in range(count)]
        try:
            for future in as_completed(futures):
                if future.exception() is not None:
                    stop.set()
        except BaseException:  # Ctrl-C: let the sessions finish their statement, then stop
            stop.set()
            raise
        for future in futures:
            future.result()


def _summary(
    plan: LoadPlan, channels: int, phases: dict[str, float], seconds: float
) -> dict[str, Any]:
    events = plan.contacts * plan.events_per_contact
    return {
        "contacts": plan.contacts,
        "events": events,
        "channels": channels,
        "seconds": round(seconds, 2),
        "contacts_per_second": round(plan.contacts / seconds),
        "rows_per_second": round((plan.contacts + events) / seconds),
        "phases": {name: round(value, 2) for name, value in phases.items()},
    }


def _summary_text(summary: dict[str, Any]) -> str:
    phases = ", ".join(f"{name} {value:.1f} s" for name, value in summary["phases"].items())
    return (
        f"Seeded {summary['contacts']:,} contacts and {summary['events']:,} events in "
        f"{summary['channels']} channels in {summary['seconds']:.1f} s "
        f"({summary['contacts_per_second']:,} contacts/s, {summary['rows_per_second']:,} rows/s)."
        f"\nPhases: {phases}."
    )
