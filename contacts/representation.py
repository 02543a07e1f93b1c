"""The objects of the API (docs/api.md): the one place a contact, an event or a segment is
turned into output.

Masking plugs in here: `masked` lists the keys shown masked, and a masking policy passed by
the caller decides them (the SDK answers the customer about themself, unmasked)."""

from __future__ import annotations

from typing import Any

from contacts.models import Contact, Event, Segment
from crm.api import epoch_ms


def user_object(contact: Contact) -> dict[str, Any]:
    """CONTACT as the API's user object."""
    return {
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


def event_object(event: Event) -> dict[str, Any]:
    """EVENT as the API's event object."""
    return {
        "id": str(event.pk),
        "name": event.name,
        "property": event.properties,
        "createdAt": epoch_ms(event.created_at),
    }


def segment_object(segment: Segment) -> dict[str, Any]:
    """SEGMENT as the API's segment object."""
    return {
        "id": str(segment.pk),
        "name": segment.name,
        "filter": segment.filter,
        "createdAt": epoch_ms(segment.created_at),
        "updatedAt": epoch_ms(segment.updated_at),
    }
