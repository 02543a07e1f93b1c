"""Demo data: two channels, three managers and ~2,000 Korean-market contacts, deterministic."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from contacts.models import Contact, ContactType, Event, Tag
from crm import services
from crm.models import Channel, KakaoTemplate, KakaoTemplateKind, Plan
from crm.permissions import ALL_PERMISSIONS, Permission
from crm.provisioning import channel_provision
from profile_schema.models import FieldType
from profile_schema.services import profile_field_create

DEMO_PLUGIN_KEY = "demo-shop-plugin-key"
DEMO_FREE_PLUGIN_KEY = "demo-free-plugin-key"
# The published member-hash check value of the SDK docs uses this secret (demo data only).
DEMO_MEMBER_HASH_SECRET = "4629de5def93d6a2abea6afa9bd5476d9c6cbc04223f9a2f7e517b535dde3e25"  # noqa: S105
DEMO_ACCESS_KEY = "demo-access-key"
DEMO_ACCESS_SECRET = "demo-access-secret-change-me"  # noqa: S105 - published demo credential

# (email, password, role): printed by `make run`; demo data only.
DEMO_MANAGERS = (
    ("owner@demo.example", "crm-owner-7Kp", "owner"),
    ("admin@demo.example", "crm-admin-4Rt", "admin"),
    ("basic@demo.example", "crm-basic-9Wz", "basic"),
)
ADMIN_PERMISSIONS = sorted(ALL_PERMISSIONS - {Permission.CONTACTS_DELETE})

FAMILY = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN = "민서지현수영준우예은도하윤성진유나연재원아린태호"
DOMAINS = ("naver.com", "gmail.com", "daum.net", "kakao.com", "hanmail.net")
UTM_SOURCES = ("naver", "google", "kakao", "instagram", "facebook", "newsletter")
CAMPAIGNS = ("spring_sale", "black_friday", "new_arrivals", "membership", "retarget")
TAGS = ("vip", "gold", "withdrawn", "newsletter", "first-order", "repeat-buyer", "wholesale")
GRADES = ("bronze", "silver", "gold", "platinum")
INTERESTS = ("skincare", "fashion", "kitchen", "camping", "books", "pets", "coffee")
EVENT_NAMES = ("PageView", "ProductView", "AddToCart", "SignUp", "CheckoutComplete")
CITIES = (("Seoul", "KR"), ("Busan", "KR"), ("Incheon", "KR"), ("Daegu", "KR"), ("Tokyo", "JP"))
BROWSERS = (
    ("Chrome 131", "Chrome"),
    ("Safari 18", "Safari"),
    ("Samsung Internet 27", "Samsung Internet"),
)
OSES = (
    ("Windows 11", "Windows"),
    ("macOS 15", "Mac OS X"),
    ("Android 15", "Android"),
    ("iOS 18", "iOS"),
)
EXTRA_FIELDS = (
    ("grade", "Membership grade", FieldType.STRING),
    ("points", "Points", FieldType.NUMBER),
    ("birthDate", "Birth date", FieldType.DATE),
    ("interests", "Interests", FieldType.LIST),
    ("marketingAgreedAt", "Marketing consent at", FieldType.DATETIME),
)


@dataclass(frozen=True)
class DemoSummary:
    created: bool
    channels: tuple[Channel, ...]


def demo_seed(*, contacts: int = 2000, seed: int = 42) -> DemoSummary:
    """Create the demo channels and data once; a second call changes nothing."""
    existing = Channel.objects.filter(plugin_key__in=[DEMO_PLUGIN_KEY, DEMO_FREE_PLUGIN_KEY])
    if existing.count() == 2:
        return DemoSummary(created=False, channels=tuple(existing.order_by("-plan")))
    with transaction.atomic():
        shop = _demo_channel("Demo shop", Plan.PAID, DEMO_PLUGIN_KEY)
        free = _demo_channel("Demo free", Plan.FREE, DEMO_FREE_PLUGIN_KEY)
        _demo_integrations(shop)
        _demo_people(shop, free)
        rng = random.Random(seed)
        _demo_contacts(shop, contacts, rng)
        _demo_contacts(free, max(contacts // 10, 1), rng)
    return DemoSummary(created=True, channels=(shop, free))


def _demo_channel(name: str, plan: str, plugin_key: str) -> Channel:
    channel = channel_provision(
        name=name, plan=plan, plugin_key=plugin_key, member_hash_secret=DEMO_MEMBER_HASH_SECRET
    )
    for key, label, type_ in EXTRA_FIELDS:
        profile_field_create(channel=channel, key=key, name=label, type=type_)
    return channel


def _demo_integrations(shop: Channel) -> None:
    shop.phone_number = "+8215881234"
    shop.kakao_channel_id = "@demo-shop"
    shop.save(update_fields=["phone_number", "kakao_channel_id", "updated_at"])
    KakaoTemplate.objects.create(
        channel=shop,
        code="ORDER_SHIPPED",
        kind=KakaoTemplateKind.ALIMTALK,
        approved=True,
        name="Order shipped",
        body="#{name}님, 주문하신 상품이 발송되었습니다. 송장번호: #{invoice}",
    )
    KakaoTemplate.objects.create(
        channel=shop,
        code="SPRING_COUPON",
        kind=KakaoTemplateKind.BRAND_MESSAGE,
        approved=True,
        name="Spring coupon",
        body="#{name}님께 봄맞이 10% 쿠폰을 드려요! 코드: #{coupon}",
    )


def _demo_people(shop: Channel, free: Channel) -> None:
    services.role_create(channel=shop, name="admin", permissions=ADMIN_PERMISSIONS)
    for email, password, role_name in DEMO_MANAGERS:
        role = services.role_get(channel=shop, name=role_name)
        services.manager_create(channel=shop, email=email, password=password, role=role)
    owner_email, owner_password, _ = DEMO_MANAGERS[0]
    services.manager_create(
        channel=free,
        email=owner_email,
        password=owner_password,
        role=services.role_get(channel=free, name=services.OWNER_ROLE),
    )
    services.credential_create(
        channel=shop,
        role=services.role_get(channel=shop, name=services.OWNER_ROLE),
        name="demo",
        access_key=DEMO_ACCESS_KEY,
        secret=DEMO_ACCESS_SECRET,
    )


def _demo_contacts(channel: Channel, count: int, rng: random.Random) -> None:
    now = timezone.now()
    blocker = channel.memberships.order_by("pk").values_list("user", flat=True).first()
    Tag.objects.bulk_create([Tag(channel=channel, name=t) for t in TAGS], ignore_conflicts=True)
    rows = [_demo_contact(channel, n, rng, now) for n in range(1, count + 1)]
    for contact in rows:
        if contact.blocked:
            contact.blocked_by_id = blocker
    Contact.objects.bulk_create(rows, batch_size=1000)
    events = [e for contact in rows for e in _demo_events(channel, contact, rng)]
    Event.objects.bulk_create(events, batch_size=2000)
    # created_at is auto_now_add: spread it over the past year after the insert.
    for contact in rows:
        assert contact.last_seen_at is not None
        contact.created_at = contact.last_seen_at - timedelta(days=rng.randint(0, 300))
    Contact.objects.bulk_update(rows, ["created_at"], batch_size=1000)


def _demo_contact(channel: Channel, n: int, rng: random.Random, now: datetime) -> Contact:
    kind = rng.choices(list(ContactType), weights=(25, 25, 50))[0]
    last_seen = now - timedelta(minutes=rng.randint(0, 60 * 24 * 180))
    contact = Contact(
        channel=channel,
        member_id=f"m-{10000 + n}" if kind == ContactType.MEMBER else None,
        veil_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        last_seen_at=last_seen,
        sessions_count=rng.randint(1, 60),
        language=rng.choice(("ko", "ko", "ko", "en", "ja")),
        unsubscribe_email=rng.random() < 0.1,
        unsubscribe_texting=rng.random() < 0.15,
    )
    contact.city, contact.country = rng.choice(CITIES)
    _demo_device(contact, rng, last_seen)
    if kind != ContactType.ANONYMOUS:
        contact.profile = _demo_profile(n, rng, now)
        contact.tags = sorted(rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2, 3))))
    else:
        contact.profile = _demo_utm(rng)
    if rng.random() < 0.01:
        contact.blocked, contact.blocked_at = True, now - timedelta(days=rng.randint(1, 90))
        contact.blocked_reason = rng.choice(("Abusive messages", "Spam", "Fraudulent orders"))
    return contact


def _demo_device(contact: Contact, rng: random.Random, last_seen: datetime) -> None:
    if rng.random() < 0.25:
        contact.mobile_app_name, contact.mobile_app_version = (
            "Demo Shop",
            rng.choice(("3.2.0", "3.3.1")),
        )
        contact.mobile_os, contact.mobile_os_name = rng.choice(OSES[2:])
        contact.mobile_device = rng.choice(("Galaxy S25", "iPhone 16", "Galaxy A56"))
        contact.mobile_last_seen_at, contact.mobile_sessions_count = (
            last_seen,
            contact.sessions_count,
        )
        contact.has_push_token = rng.random() < 0.7
        return
    contact.web_browser, contact.web_browser_name = rng.choice(BROWSERS)
    contact.web_os, contact.web_os_name = rng.choice(OSES)
    contact.web_device = "Desktop" if contact.web_os_name in ("Windows", "Mac OS X") else "Mobile"
    contact.web_last_seen_at, contact.web_sessions_count = last_seen, contact.sessions_count


def _demo_profile(n: int, rng: random.Random, now: datetime) -> dict[str, object]:
    name = rng.choice(FAMILY) + rng.choice(GIVEN) + rng.choice(GIVEN)
    profile: dict[str, object] = {
        "name": name,
        "email": f"customer{n:05d}@{rng.choice(DOMAINS)}",
        "mobileNumber": f"+8210{rng.randint(10000000, 99999999)}",
        "grade": rng.choice(GRADES),
        "points": rng.randint(0, 50000),
        "birthDate": f"{rng.randint(1960, 2006)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "interests": sorted(rng.sample(INTERESTS, rng.randint(0, 3))),
        **_demo_utm(rng),
    }
    if rng.random() < 0.4:
        ordered = now - timedelta(days=rng.randint(0, 120), minutes=rng.randint(0, 1440))
        profile["lastCheckoutCompletedAt"] = int(ordered.timestamp() * 1000)
    if rng.random() < 0.05:
        profile["description"] = rng.choice(("Prefers phone calls", "Asked about bulk orders"))
    return profile


def _demo_utm(rng: random.Random) -> dict[str, object]:
    if rng.random() < 0.5:
        return {}
    first, last = rng.choice(UTM_SOURCES), rng.choice(UTM_SOURCES)
    return {
        "utmSource": first,
        "utmMedium": "cpc",
        "utmCampaign": rng.choice(CAMPAIGNS),
        "lastUtmSource": last,
        "lastUtmMedium": "cpc",
        "lastUtmCampaign": rng.choice(CAMPAIGNS),
        "referrer": f"https://www.{first}.com/",
    }


def _demo_events(channel: Channel, contact: Contact, rng: random.Random) -> list[Event]:
    assert contact.last_seen_at is not None
    events = []
    for _ in range(rng.randint(0, 4)):
        name = rng.choice(EVENT_NAMES)
        when = contact.last_seen_at - timedelta(minutes=rng.randint(0, 60 * 24 * 30))
        properties: dict[str, object] = {"url": f"https://shop.example/p/{rng.randint(1, 500)}"}
        if name == "CheckoutComplete":
            properties = {
                "orderId": f"o-{rng.randint(100000, 999999)}",
                "total": rng.randint(9, 400) * 1000,
            }
        events.append(
            Event(
                channel=channel, contact=contact, name=name, properties=properties, created_at=when
            )
        )
    return events
