"""The user object of an SDK answer: the customer's own data in full to a verified session, and
to an unverified one only what the caller sent and the call wrote (contacts.services.unverified).

The unverified object has no `id` (sequential ids would tell an old member from one created a
moment ago, and when), no stored name or value, no tags, no visit figures, no device, no
`blocked`: only the channel, the member id the caller sent, the type that member id implies
("member"), the profile keys this call filled, the language it set and the opt-outs it turned
on."""

from __future__ import annotations

from typing import Any

from contacts.models import Contact
from contacts.representation import user_object
from contacts.services.unverified import CallerView
from crm.errors import Problem
from masking.policy import unmasked


def sdk_user_object(contact: Contact, caller: CallerView | None) -> dict[str, Any]:
    """CONTACT as an SDK answer shows it: in full (unmasked) when CALLER is None (a verified
    session), else only what CALLER may see."""
    if caller is None:
        return user_object(contact, policy=unmasked(contact.channel_id))
    return caller_user_object(contact, caller)


def caller_user_object(contact: Contact, caller: CallerView) -> dict[str, Any]:
    """The user object of an unverified answer: nothing stored, only what the call sent and
    wrote."""
    user: dict[str, Any] = {
        "channelId": str(contact.channel_id),
        "memberId": contact.member_id,
        "type": contact.type,
        "member": contact.member_id is not None,
        "profile": dict(caller.written),
        "masked": [],
    }
    if isinstance(caller.written.get("name"), str):
        user["name"] = caller.written["name"]
    if caller.language:
        user["language"] = caller.language
    if caller.unsubscribe_email:
        user["unsubscribeEmail"] = True
    if caller.unsubscribe_texting:
        user["unsubscribeTexting"] = True
    return user


def ignored_objects(caller: CallerView | None) -> list[dict[str, str]]:
    """The `ignored` list of an answer: each part of the request an unverified call left out."""
    problems: list[Problem] = caller.ignored if caller is not None else []
    return [{"key": p.key, "code": p.code, "message": p.message} for p in problems]
