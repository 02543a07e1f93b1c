"""The bench data's vocabularies: weighted values and the SQL that draws from them.

A value repeated k times in a weighted vocabulary is drawn k times as often. Everything here is
plain data and SQL text: no app code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


def weighted(rows: Sequence[tuple[Any, ...]], column: int = 0) -> dict[str, list[Any]]:
    """COLUMN of ROWS, and where in [0, 1) each row's share of the weights (last item) starts."""
    total = sum(row[-1] for row in rows)
    starts = [sum(row[-1] for row in rows[:index]) / total for index in range(len(rows))]
    return {"values": [row[column] for row in rows], "starts": starts}


def uniform(values: Sequence[str]) -> dict[str, list[Any]]:
    return weighted([(value, 1) for value in values])


def some_of(prefix: str, choices: Sequence[tuple[str, float]]) -> tuple[str, dict[str, Any]]:
    """A text[] SQL expression holding each choice with its probability, and its parameters."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    for index, (value, probability) in enumerate(choices):
        parts.append(f"CASE WHEN random() < %({prefix}_p{index})s THEN %({prefix}_v{index})s END")
        params[f"{prefix}_p{index}"], params[f"{prefix}_v{index}"] = probability, value
    return f"array_remove(ARRAY[{', '.join(parts)}]::text[], NULL)", params


def pick(name: str, draw: str) -> str:
    """SQL for the value of vocabulary NAME that the uniform DRAW in [0, 1) falls on."""
    return f"(%({name})s::text[])[width_bucket({draw}, %({name}_starts)s::float8[])]"


TAGS_SQL, TAGS_PARAMS = some_of("tag", TAGS)
INTERESTS_SQL, INTERESTS_PARAMS = some_of("interest", INTERESTS)

VOCABULARY: dict[str, dict[str, list[Any]]] = {
    "surname": weighted(SURNAMES),
    "roman": weighted(SURNAMES, 1),
    "given": uniform(GIVEN),
    "domain": weighted(DOMAINS),
    "city": weighted(CITIES),
    "country": weighted(CITIES, 1),
    "language": weighted(LANGUAGES),
    "utm_source": weighted(UTM),
    "utm_medium": weighted(UTM, 1),
    "referrer": weighted(UTM, 2),
    "campaign": weighted(CAMPAIGNS),
    "tier": weighted(TIERS),
    "gender": weighted(GENDERS),
    "category": weighted(CATEGORIES),
    "memo": uniform(MEMOS),
    "browser": weighted(WEB),
    "browser_name": weighted(WEB, 1),
    "os": weighted(WEB, 2),
    "os_name": weighted(WEB, 3),
    "device": weighted(WEB, 4),
    "app_version": weighted(APP),
    "app_os": weighted(APP, 1),
    "app_os_name": weighted(APP, 2),
    "app_device": weighted(APP, 3),
    "block_reason": uniform(BLOCK_REASONS),
    "event_name": weighted(EVENT_NAMES),
    "page": uniform(PAGES),
    "search": uniform(SEARCHES),
}
VOCABULARY_PARAMS: dict[str, list[Any]] = {
    f"{name}{suffix}": column[key]
    for name, column in VOCABULARY.items()
    for key, suffix in (("values", ""), ("starts", "_starts"))
}
