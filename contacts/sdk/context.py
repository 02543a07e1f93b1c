"""What a visit tells about a contact: UTM values and referrer, browser or app, place."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings

UTM_KEYS = {
    "utm_source": "Source",
    "utm_medium": "Medium",
    "utm_campaign": "Campaign",
    "utm_content": "Content",
    "utm_term": "Term",
}
DESKTOP_OSES = frozenset({"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora"})
VALUE_MAX = 100


@dataclass(frozen=True)
class VisitContext:
    """The visit's contribution to the contact: first-touch and last-touch keys, device columns."""

    profile_once: dict[str, str] = field(default_factory=dict)
    profile_set: dict[str, str] = field(default_factory=dict)
    columns: dict[str, Any] = field(default_factory=dict)
    platform: str = "web"


def utm_from_page(url: str | None, referrer: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """(write-once keys, last-touch keys) from a page URL's UTM parameters and the referrer."""
    once: dict[str, str] = {}
    last: dict[str, str] = {}
    query = parse_qs(urlsplit(url or "").query)
    for parameter, suffix in UTM_KEYS.items():
        values = [v.strip() for v in query.get(parameter, []) if v.strip()]
        if values:
            once[f"utm{suffix}"] = values[0][:512]
            last[f"lastUtm{suffix}"] = values[0][:512]
    if referrer and referrer.strip() and not _same_site(url, referrer):
        once["referrer"] = referrer.strip()[:512]
    return once, last


def _same_site(url: str | None, referrer: str) -> bool:
    """An internal navigation is no referrer: the first outside page that sent the visitor is."""
    return bool(url) and urlsplit(url or "").netloc == urlsplit(referrer).netloc


@lru_cache(maxsize=4096)
def web_columns(user_agent: str) -> dict[str, str]:
    """Browser, OS and device of a user agent (ua-parser), as the contact's web.* columns."""
    from ua_parser import parse

    parsed = parse(user_agent or "")
    browser = parsed.user_agent
    os = parsed.os
    device = parsed.device
    browser_name = browser.family if browser else ""
    os_name = os.family if os else ""
    if device and device.family not in ("", "Other"):
        device_name = device.family
    else:
        device_name = "Desktop" if os_name in DESKTOP_OSES else ""
    return {
        "web_browser": _versioned(browser_name, browser.major if browser else None),
        "web_browser_name": browser_name[:64],
        "web_os": _versioned(os_name, os.major if os else None),
        "web_os_name": os_name[:64],
        "web_device": device_name[:VALUE_MAX],
    }


def _versioned(name: str, major: str | None) -> str:
    return (f"{name} {major}" if name and major else name)[:VALUE_MAX]


def mobile_columns(device: dict[str, Any]) -> dict[str, Any]:
    """The contact's mobile.* columns from an app's device description."""

    def text(key: str, limit: int = VALUE_MAX) -> str:
        value = device.get(key)
        return str(value).strip()[:limit] if value is not None else ""

    return {
        "mobile_app_name": text("appName"),
        "mobile_app_version": text("appVersion", 32),
        "mobile_os": text("os"),
        "mobile_os_name": text("osName", 64),
        "mobile_device": text("device"),
        "has_push_token": bool(device.get("hasPushToken", False)),
    }


def place_columns(address: str | None) -> dict[str, str]:
    """City and country of an address when a GeoIP database is configured; else nothing."""
    path = getattr(settings, "GEOIP_PATH", None)
    if not path or not address:
        return {}
    try:
        from django.contrib.gis.geoip2 import GeoIP2, GeoIP2Exception

        found = GeoIP2(path).city(address)
    except (ImportError, GeoIP2Exception, ValueError):
        return {}
    return {
        "city": (found.get("city") or "")[:100],
        "country": (found.get("country_code") or "")[:2],
    }


def visit_context(
    *, page: dict[str, Any], device: dict[str, Any], address: str | None
) -> VisitContext:
    """Everything a boot learns from its page, device and client address."""
    once, last = utm_from_page(page.get("url"), page.get("referrer"))
    platform = "mobile" if device.get("platform") == "mobile" else "web"
    columns = (
        mobile_columns(device)
        if platform == "mobile"
        else web_columns(str(device.get("userAgent") or "")[:1000])
    )
    return VisitContext(
        profile_once=once,
        profile_set=last,
        columns={**columns, **place_columns(address)},
        platform=platform,
    )
