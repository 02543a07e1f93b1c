"""Bulk benchmark data: `bench-*` channels with many contacts and events, generated in SQL."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from psycopg import sql
from tqdm import tqdm

from contacts.models import Contact, Event
from contacts.services import tag_catalogue_ensure
from crm.models import Channel, Plan
from crm.services import channel_create
from profile_schema.models import FieldType, ProfileField

CHANNEL_PREFIX = "bench-"
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
UTM = (("naver", "cpc", "https://search.naver.com/", 30), ("google", "cpc", "https://www.google.com/", 25),
       ("kakao", "social", "https://pf.kakao.com/", 15), ("instagram", "social", "https://l.instagram.com/", 12),
       ("facebook", "social", "https://m.facebook.com/", 5), ("newsletter", "email", "https://mail.naver.com/", 8),
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
APP = (("3.3.1", "Android 15", "Android", "Galaxy S25", 25), ("3.3.1", "iOS 18", "iOS", "iPhone 16", 25),
       ("3.2.0", "Android 14", "Android", "Galaxy A56", 20), ("3.2.0", "iOS 17", "iOS", "iPhone 14", 15),
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


def _weighted(rows: Sequence[tuple[Any, ...]], column: int = 0) -> list[Any]:
    """COLUMN of ROWS, each value repeated as often as its row's weight (the last item)."""
    return [row[column] for row in rows for _ in range(row[-1])]


def _some_of(prefix: str, choices: Sequence[tuple[str, float]]) -> tuple[str, dict[str, Any]]:
    """A text[] SQL expression holding each choice with its probability, and its parameters."""
    parts, params = [], {}
    for index, (value, probability) in enumerate(choices):
        parts.append(f"CASE WHEN random() < %({prefix}_p{index})s THEN %({prefix}_v{index})s END")
        params[f"{prefix}_p{index}"], params[f"{prefix}_v{index}"] = probability, value
    return f"array_remove(ARRAY[{', '.join(parts)}]::text[], NULL)", params


def _pick(name: str, draw: str) -> str:
    """SQL for the element of the text[] parameter NAME chosen by the uniform DRAW in [0, 1)."""
    return f"(%({name})s::text[])[1 + floor({draw} * cardinality(%({name})s::text[]))::int]"


TAGS_SQL, TAGS_PARAMS = _some_of("tag", TAGS)
INTERESTS_SQL, INTERESTS_PARAMS = _some_of("interest", INTERESTS)

VOCABULARY: dict[str, list[str]] = {
    "surname": _weighted(SURNAMES),
    "roman": _weighted(SURNAMES, 1),
    "given": GIVEN,
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
    "memo": list(MEMOS),
    "browser": _weighted(WEB),
    "browser_name": _weighted(WEB, 1),
    "os": _weighted(WEB, 2),
    "os_name": _weighted(WEB, 3),
    "device": _weighted(WEB, 4),
    "app_version": _weighted(APP),
    "app_os": _weighted(APP, 1),
    "app_os_name": _weighted(APP, 2),
    "app_device": _weighted(APP, 3),
    "block_reason": list(BLOCK_REASONS),
    "event_name": _weighted(EVENT_NAMES),
    "page": list(PAGES),
    "search": list(SEARCHES),
}

# One statement per batch: contacts n = lo..hi (id = contact_base + n), then their events
# through a data-modifying CTE. Layers: draws (r) -> derived values (d) -> visit times (v).
INSERT_SQL = f"""
WITH ins AS (
INSERT INTO contacts_contact (
    id, channel_id, type, member_id, veil_id, name, profile, tags, city, country, language,
    sessions_count, last_seen_at, web_browser, web_browser_name, web_os, web_os_name, web_device,
    web_last_seen_at, web_sessions_count, mobile_app_name, mobile_app_version, mobile_os,
    mobile_os_name, mobile_device, mobile_last_seen_at, mobile_sessions_count, has_push_token,
    unsubscribe_email, unsubscribe_texting, has_chat, blocked, blocked_at, blocked_by_id,
    blocked_reason, created_at, updated_at)
SELECT
    %(contact_base)s + n, channel_id, kind, CASE WHEN kind = 'member' THEN 'm-' || n END,
    CASE WHEN kind = 'anonymous' OR r_veil < 0.6 THEN md5(%(seed_text)s || ':' || n) END,
    CASE WHEN kind <> 'anonymous' THEN full_name ELSE '' END,
    jsonb_strip_nulls(jsonb_build_object(
        'name', CASE WHEN kind <> 'anonymous' THEN full_name END,
        'email', CASE WHEN kind <> 'anonymous' AND r_email < 0.9
            THEN roman || '.' || n || '@' || {_pick("domain", "r_domain")} END,
        'mobileNumber', CASE WHEN kind <> 'anonymous' AND r_mobile < 0.85
            THEN '+8210' || lpad(floor(r_phone * 100000000)::bigint::text, 8, '0') END,
        'landlineNumber', CASE WHEN kind = 'lead' AND r_mobile > 0.9
            THEN '+822' || lpad(floor(r_phone * 10000000)::bigint::text, 7, '0') END,
        'referrer', CASE WHEN r_utm < 0.65 THEN {_pick("referrer", "r_src")} END,
        'utmSource', CASE WHEN r_utm < 0.65 THEN {_pick("utm_source", "r_src")} END,
        'utmMedium', CASE WHEN r_utm < 0.65 THEN {_pick("utm_medium", "r_src")} END,
        'utmCampaign', CASE WHEN r_utm < 0.65 THEN {_pick("campaign", "r_campaign")} END,
        'lastUtmSource', CASE WHEN r_utm < 0.65 THEN {_pick("utm_source", "r_last")} END,
        'lastUtmMedium', CASE WHEN r_utm < 0.65 THEN {_pick("utm_medium", "r_last")} END,
        'lastUtmCampaign', CASE WHEN r_utm < 0.65 THEN {_pick("campaign", "r_last")} END,
        'age', CASE WHEN kind = 'member' THEN 18 + floor(power(r_age, 1.4) * 60)::int END,
        'gender', CASE WHEN kind = 'member' THEN {_pick("gender", "r_age")} END,
        'planTier', CASE WHEN kind = 'member' THEN {_pick("tier", "r_tier")} END,
        'points', CASE WHEN kind = 'member' THEN floor(power(r_tier, 3) * 100000)::int END,
        'signupDate', CASE WHEN kind = 'member'
            THEN to_char(created_at AT TIME ZONE 'Asia/Seoul', 'YYYY-MM-DD') END,
        'lastCheckoutCompletedAt', CASE WHEN kind = 'member' AND r_order < 0.45
            THEN floor(extract(epoch FROM checkout_at) * 1000)::bigint END,
        'orderCount', CASE WHEN kind = 'member' THEN floor(power(r_order, 2) * 40)::int END,
        'totalSpent', CASE WHEN kind = 'member'
            THEN floor(power(r_order, 2) * 40)::int * (5000 + floor(r_spent * 95000)::int) END,
        'interests', CASE WHEN kind <> 'anonymous' THEN to_jsonb({INTERESTS_SQL}) END,
        'marketingOptIn', CASE WHEN kind <> 'anonymous' THEN r_spent < 0.6 END,
        'favoriteCategory', CASE WHEN kind = 'member' THEN {_pick("category", "r_spent")} END,
        'couponCount', CASE WHEN kind = 'member' THEN floor(power(r_spent, 4) * 12)::int END,
        'description', CASE WHEN kind <> 'anonymous' AND r_memo < 0.03
            THEN {_pick("memo", "r_memo * 33.3")} END)),
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
    r_chat < 0.08, r_block < 0.005,
    CASE WHEN r_block < 0.005 THEN created_at + (%(as_of)s - created_at) * (r_block * 200) END,
    NULL, CASE WHEN r_block < 0.005 THEN {_pick("block_reason", "r_block * 200")} ELSE '' END,
    created_at, created_at + (%(as_of)s - created_at) * GREATEST(r_updated, r_seen)
FROM (
    SELECT d.*,
        CASE WHEN web THEN created_at + (%(as_of)s - created_at) * power(r_seen, 0.4) END
            AS web_seen,
        CASE WHEN web THEN 1 + floor(power(r_sessions, 3) * 200)::int ELSE 0 END AS web_sessions,
        CASE WHEN app THEN created_at + (%(as_of)s - created_at) * power(r_app_seen, 0.3) END
            AS app_seen,
        CASE WHEN app THEN 1 + floor(power(r_app, 3) * 300)::int ELSE 0 END AS app_sessions,
        created_at + (%(as_of)s - created_at) * r_checkout AS checkout_at,
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
        'orderId', CASE WHEN name = 'CheckoutComplete' THEN 'o-' || contact_id || '-' || k END,
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
class Plan_:
    """What one run loads: ids, sizes and the parameters shared by every batch."""

    contacts: int
    events_per_contact: int
    batch_size: int
    params: dict[str, Any]

    def batches(self) -> Iterator[tuple[int, int]]:
        for lo in range(1, self.contacts + 1, self.batch_size):
            yield lo, min(lo + self.batch_size - 1, self.contacts)
