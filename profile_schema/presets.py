"""The fields every channel starts with: built-in fields (the contact's own attributes, whose
key, type and name are fixed) and profile presets (`profile.*` keys like any other).

Their names are stored in English and marked for translation: the desk shows a field under the
name the product gave it in the manager's language, and under an admin's own name as written."""

from __future__ import annotations

from typing import NamedTuple

from django.utils.translation import gettext_noop as _

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
    Preset("id", _("Internal id"), _S),
    Preset("memberId", _("Member id"), _S),
    Preset("name", _("Name"), _S),
    Preset("member", _("Member"), _B),
    Preset("tags", _("Tags"), _L),
    Preset("city", _("City"), _S),
    Preset("country", _("Country"), _S),
    Preset("language", _("Language"), _S),
    Preset("sessionsCount", _("Sessions"), _N),
    Preset("lastSeenAt", _("Last seen"), _DT),
    Preset("createdAt", _("First seen"), _DT),
    Preset("updatedAt", _("Last updated"), _DT),
    Preset("web.browser", _("Web browser"), _S),
    Preset("web.browserName", _("Web browser name"), _S),
    Preset("web.os", _("Web OS"), _S),
    Preset("web.osName", _("Web OS name"), _S),
    Preset("web.device", _("Web device"), _S),
    Preset("web.lastSeenAt", _("Web last seen"), _DT),
    Preset("web.sessionsCount", _("Web sessions"), _N),
    Preset("mobile.appName", _("App name"), _S),
    Preset("mobile.appVersion", _("App version"), _S),
    Preset("mobile.os", _("App OS"), _S),
    Preset("mobile.osName", _("App OS name"), _S),
    Preset("mobile.device", _("App device"), _S),
    Preset("mobile.lastSeenAt", _("App last seen"), _DT),
    Preset("mobile.sessionsCount", _("App sessions"), _N),
    Preset("hasPushToken", _("Push token"), _B),
    Preset("unsubscribeEmail", _("Email opt-out"), _B),
    Preset("unsubscribeTexting", _("SMS opt-out"), _B),
    Preset("hasChat", _("Has chat"), _B),
    Preset("blocked", _("Blocked"), _B),
)

PROFILE_PRESETS: tuple[Preset, ...] = (
    Preset("profile.name", _("Name"), _S),
    Preset("profile.email", _("Email"), _S, sensitive=True, masking=Masking.PARTIAL),
    Preset("profile.mobileNumber", _("Mobile number"), _S, sensitive=True, masking=Masking.PARTIAL),
    Preset("profile.landlineNumber", _("Landline number"), _S),
    Preset("profile.referrer", _("Referrer"), _S),
    Preset("profile.utmSource", _("UTM source"), _S),
    Preset("profile.utmMedium", _("UTM medium"), _S),
    Preset("profile.utmCampaign", _("UTM campaign"), _S),
    Preset("profile.utmContent", _("UTM content"), _S),
    Preset("profile.utmTerm", _("UTM term"), _S),
    Preset("profile.lastUtmSource", _("Last UTM source"), _S),
    Preset("profile.lastUtmMedium", _("Last UTM medium"), _S),
    Preset("profile.lastUtmCampaign", _("Last UTM campaign"), _S),
    Preset("profile.lastUtmContent", _("Last UTM content"), _S),
    Preset("profile.lastUtmTerm", _("Last UTM term"), _S),
    Preset("profile.description", _("Memo"), _S),
    Preset("profile.lastCheckoutCompletedAt", _("Last checkout"), _DT),
)

BUILT_IN_KEYS: frozenset[str] = frozenset(p.key for p in BUILT_IN_FIELDS)
