"""The one statement that loads a batch: contacts n = lo..hi, then their events.

PostgreSQL draws every value itself (random(), reseeded per batch by the loader), so a batch
of 50,000 contacts is one round trip. Composed only from the vocabularies' constants; every
value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.seed.vocabulary import INTERESTS_SQL, TAGS_SQL, VOCABULARY, pick

_MOBILE_DRAWN = "floor(r_phone * 99700000)"
_SKIP_UNISSUED_MOBILE = (
    f"{_MOBILE_DRAWN} + CASE WHEN {_MOBILE_DRAWN} >= 59700000 THEN 300000 ELSE 0 END"
)

# A contact's profile: (key, whether the value is a JSON string, its SQL); NULL leaves it out.
PROFILE_FIELDS: tuple[tuple[str, bool, str], ...] = (
    ("name", True, "CASE WHEN kind <> 'anonymous' THEN full_name END"),
    ("email", True, "CASE WHEN kind <> 'anonymous' AND (r_email < 0.9 OR r_mobile >= 0.85)"
                    f" THEN roman || '.' || n || '@' || {pick('domain', 'r_domain')} END"),
    # 010-XXXX-XXXX, leaving out 010-5970 … 010-5999, which the phone plan (and so the app's
    # mobile rule) does not give out: the 99,700,000 numbers drawn skip those 300,000.
    ("mobileNumber", True, "CASE WHEN kind <> 'anonymous' AND r_mobile < 0.85 THEN '+8210' ||"
                           f" lpad(({_SKIP_UNISSUED_MOBILE})::bigint::text, 8, '0') END"),
    # Seoul, 02-XXX-XXXX: a local number starts with 2 to 9.
    ("landlineNumber", True, "CASE WHEN kind = 'lead' AND r_mobile > 0.9 THEN '+822'"
                             " || (2000000 + floor(r_phone * 8e6))::bigint::text END"),
    ("referrer", True, f"CASE WHEN r_utm < 0.65 THEN {pick('referrer', 'r_src')} END"),
    ("utmSource", True, f"CASE WHEN r_utm < 0.65 THEN {pick('utm_source', 'r_src')} END"),
    ("utmMedium", True, f"CASE WHEN r_utm < 0.65 THEN {pick('utm_medium', 'r_src')} END"),
    ("utmCampaign", True, f"CASE WHEN r_utm < 0.65 THEN {pick('campaign', 'r_campaign')} END"),
    ("lastUtmSource", True, f"CASE WHEN r_utm < 0.65 THEN {pick('utm_source', 'r_last')} END"),
    ("lastUtmMedium", True, f"CASE WHEN r_utm < 0.65 THEN {pick('utm_medium', 'r_last')} END"),
    ("lastUtmCampaign", True, f"CASE WHEN r_utm < 0.65 THEN {pick('campaign', 'r_last')} END"),
    ("age", False, "CASE WHEN kind = 'member' THEN 18 + floor(power(r_age, 1.4) * 60)::int END"),
    ("gender", True, f"CASE WHEN kind = 'member' THEN {pick('gender', 'r_age')} END"),
    ("planTier", True, f"CASE WHEN kind = 'member' THEN {pick('tier', 'r_tier')} END"),
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
                               f" THEN {pick('category', 'r_spent')} END"),
    ("couponCount", False, "CASE WHEN kind = 'member' THEN floor(power(r_spent, 4) * 12)::int END"),
    ("description", True, "CASE WHEN kind <> 'anonymous' AND r_memo < 0.03"
                          f" THEN {pick('memo', 'r_memo * 33.3')} END"),
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
    {pick("city", "r_city")}, {pick("country", "r_city")}, {pick("language", "r_lang")},
    web_sessions + app_sessions, GREATEST(web_seen, app_seen),
    CASE WHEN web THEN {pick("browser", "r_web")} ELSE '' END,
    CASE WHEN web THEN {pick("browser_name", "r_web")} ELSE '' END,
    CASE WHEN web THEN {pick("os", "r_web")} ELSE '' END,
    CASE WHEN web THEN {pick("os_name", "r_web")} ELSE '' END,
    CASE WHEN web THEN {pick("device", "r_web")} ELSE '' END,
    web_seen, web_sessions,
    CASE WHEN app THEN %(app_name)s ELSE '' END,
    CASE WHEN app THEN {pick("app_version", "r_app")} ELSE '' END,
    CASE WHEN app THEN {pick("app_os", "r_app")} ELSE '' END,
    CASE WHEN app THEN {pick("app_os_name", "r_app")} ELSE '' END,
    CASE WHEN app THEN {pick("app_device", "r_app")} ELSE '' END,
    app_seen, app_sessions, app AND r_push < 0.7, r_unsub < 0.10, r_unsub BETWEEN 0.05 AND 0.20,
    kind <> 'anonymous' AND r_chat < 0.08, blocked_at IS NOT NULL, blocked_at, NULL,
    CASE WHEN blocked_at IS NOT NULL THEN {pick("block_reason", "r_block * 200")} ELSE '' END,
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
        {pick("surname", "r_surname")} || {pick("given", "r_given1")}
            || {pick("given", "r_given2")} AS full_name,
        {pick("roman", "r_surname")} AS roman
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
            THEN 'https://shop.example' || {pick("page", "r_page")} END,
        'productId', CASE WHEN name IN ('ProductView', 'AddToCart')
            THEN 'p-' || floor(r_value * 5000)::int END,
        'query', CASE WHEN name = 'Search' THEN {pick("search", "r_page")} END,
        'orderId', CASE WHEN name = 'CheckoutComplete'
            THEN 'o-' || (contact_id - %(contact_base)s) || '-' || k END,
        'total', CASE WHEN name IN ('CheckoutComplete', 'AddToCart')
            THEN (9 + floor(power(r_value, 2) * 400)::int) * 1000 END,
        'currency', CASE WHEN name = 'CheckoutComplete' THEN 'KRW' END)),
    created_at + (COALESCE(last_seen_at, created_at) - created_at) * r_time
FROM (
    SELECT ins.id AS contact_id, ins.channel_id, ins.created_at, ins.last_seen_at, e.k,
        {pick("event_name", "random()")} AS name, random() AS r_page, random() AS r_value,
        random() AS r_time
    FROM ins CROSS JOIN generate_series(1, %(events)s) AS e(k)
) AS x
"""
