"""The fields every channel starts with: built-in fields (the contact's own attributes, whose
key, type and name are fixed) and profile presets (`profile.*` keys like any other)."""

from __future__ import annotations

from typing import NamedTuple

from profile_schema.models import FieldType, Masking


class Preset(NamedTuple):
    key: str
    name: str
    type: str
    sensitive: bool = False
    masking: str = Masking.FULL


_S, _N, _B, _DT, _L = (
    FieldType.STRING,
    FieldType.NUMBER,
    FieldType.BOOLEAN,
    FieldType.DATETIME,
    FieldType.LIST,
)

BUILT_IN_FIELDS: tuple[Preset, ...] = (
    Preset("id", "Internal id", _S),
    Preset("memberId", "Member id", _S),
    Preset("name", "Name", _S),
    Preset("member", "Member", _B),
    Preset("tags", "Tags", _L),
    Preset("city", "City", _S),
    Preset("country", "Country", _S),
    Preset("language", "Language", _S),
    Preset("sessionsCount", "Sessions", _N),
    Preset("lastSeenAt", "Last seen", _DT),
    Preset("createdAt", "First seen", _DT),
    Preset("updatedAt", "Last updated", _DT),
    Preset("web.browser", "Web browser", _S),
    Preset("web.browserName", "Web browser name", _S),
    Preset("web.os", "Web OS", _S),
    Preset("web.osName", "Web OS name", _S),
    Preset("web.device", "Web device", _S),
    Preset("web.lastSeenAt", "Web last seen", _DT),
    Preset("web.sessionsCount", "Web sessions", _N),
    Preset("mobile.appName", "App name", _S),
    Preset("mobile.appVersion", "App version", _S),
    Preset("mobile.os", "App OS", _S),
    Preset("mobile.osName", "App OS name", _S),
    Preset("mobile.device", "App device", _S),
    Preset("mobile.lastSeenAt", "App last seen", _DT),
    Preset("mobile.sessionsCount", "App sessions", _N),
    Preset("hasPushToken", "Push token", _B),
    Preset("unsubscribeEmail", "Email opt-out", _B),
    Preset("unsubscribeTexting", "SMS opt-out", _B),
    Preset("hasChat", "Has chat", _B),
    Preset("blocked", "Blocked", _B),
)

PROFILE_PRESETS: tuple[Preset, ...] = (
    Preset("profile.name", "Name", _S),
    Preset("profile.email", "Email", _S, sensitive=True, masking=Masking.PARTIAL),
    Preset("profile.mobileNumber", "Mobile number", _S, sensitive=True, masking=Masking.PARTIAL),
    Preset("profile.landlineNumber", "Landline number", _S),
    Preset("profile.referrer", "Referrer", _S),
    Preset("profile.utmSource", "UTM source", _S),
    Preset("profile.utmMedium", "UTM medium", _S),
    Preset("profile.utmCampaign", "UTM campaign", _S),
    Preset("profile.utmContent", "UTM content", _S),
    Preset("profile.utmTerm", "UTM term", _S),
    Preset("profile.lastUtmSource", "Last UTM source", _S),
    Preset("profile.lastUtmMedium", "Last UTM medium", _S),
    Preset("profile.lastUtmCampaign", "Last UTM campaign", _S),
    Preset("profile.lastUtmContent", "Last UTM content", _S),
    Preset("profile.lastUtmTerm", "Last UTM term", _S),
    Preset("profile.description", "Memo", _S),
    Preset("profile.lastCheckoutCompletedAt", "Last checkout", _DT),
)

BUILT_IN_KEYS: frozenset[str] = frozenset(p.key for p in BUILT_IN_FIELDS)
