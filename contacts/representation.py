"""The objects of the API (docs/api.md): the one place a contact, an event or a segment is
turned into output.

Every object is shown through the viewer's masking policy (masking.policy), passed by the
caller: `masked` lists the keys shown masked. The SDK answers a verified customer about
themself with `masking.policy.unmasked`."""

from __future__ import annotations

from typing import Any

from contacts.models import Contact, Event, Segment
from crm.api import epoch_ms
from masking.policy import MaskingPolicy


def user_object(contact: Contact, *, policy: MaskingPolicy) -> dict[str, Any]:
    """CONTACT as the API's user object, as POLICY's viewer sees it."""
    user = {
        "id": str(contact.pk),
        "channelId": str(contact.channel_id),
        "memberId": contact.member_id,
        "type": contact.type,
        "name": contact.name,
        "member": contact.member_id is not None,
        "profile": dict(contact.profile),
        "tags": list(contact.tags),
        "city": contact.city,
        "country": contact.country,
        "language": contact.language,
        "sessionsCount": contact.sessions_count,
        "lastSeenAt": epoch_ms(contact.last_seen_at),
        "createdAt": epoch_ms(contact.created_at),
        "updatedAt": epoch_ms(contact.updated_at),
        "web": {
            "browser": contact.web_browser,
            "browserName": contact.web_browser_name,
            "os": contact.web_os,
            "osName": contact.web_os_name,
            "device": contact.web_device,
            "lastSeenAt": epoch_ms(contact.web_last_seen_at),
            "sessionsCount": contact.web_sessions_count,
        },
        "mobile": {
            "appName": contact.mobile_app_name,
            "appVersion": contact.mobile_app_version,
            "os": contact.mobile_os,
            "osName": contact.mobile_os_name,
            "device": contact.mobile_device,
            "lastSeenAt": epoch_ms(contact.mobile_last_seen_at),
            "sessionsCount": contact.mobile_sessions_count,
        },
        "hasPushToken": contact.has_push_token,
        "unsubscribeEmail": contact.unsubscribe_email,
        "unsubscribeTexting": contact.unsubscribe_texting,
        "hasChat": contact.has_chat,
        "blocked": contact.blocked,
        "masked": [],
    }
    return policy.user_object(user)


def own_sensitive_values(contact: Contact, policy: MaskingPolicy) -> list[str]:
    """CONTACT's own values of the keys POLICY masks, as text: free text about the contact
    (event properties, messages) masks them wherever they appear."""
    values: list[str] = []
    for key in policy.modes:
        if key.startswith("profile."):
            value = contact.profile.get(key.removeprefix("profile."))
        elif key in ("name", "memberId"):
            value = contact.name if key == "name" else contact.member_id
        else:
            continue
        if isinstance(value, str):
            values.append(value)
        elif isinstance(value, list):
            values.extend(str(item) for item in value)
    return values


def event_object(
    event: Event, *, policy: MaskingPolicy, own_values: list[str] | tuple[str, ...] = ()
) -> dict[str, Any]:
    """EVENT as the API's event object: its properties are free text, masked by POLICY (phone
    numbers, emails, and OWN_VALUES, the contact's own sensitive values)."""
    return {
        "id": str(event.pk),
        "name": event.name,
        "property": policy.free_value(event.properties, own_values=own_values),
        "createdAt": epoch_ms(event.created_at),
    }


def segment_object(segment: Segment, *, policy: MaskingPolicy) -> dict[str, Any]:
    """SEGMENT as the API's segment object: values on keys POLICY's viewer may not see masked."""
    return {
        "id": str(segment.pk),
        "name": segment.name,
        "filter": policy.filter_object(segment.filter),
        "createdAt": epoch_ms(segment.created_at),
        "updatedAt": epoch_ms(segment.updated_at),
    }
