"""What each medium needs: from the channel, from the customer, from the message.

Every check returns problems instead of raising, so a refusal lists every reason at once.

- chat: a message of 1 to 10,000 characters.
- voiceMeet, videoMeet, phone: the message is optional (a note for the customer); without one the
  conversation opens with a system message saying what started. Phone also needs the channel's
  issued phone number and a mobile or landline number in the customer's profile.
- kakaoAlimtalk, kakaoBrandMessage: a connected Kakao channel, an approved template of the
  medium's kind named by its code (`templateId`), every `#{variable}` of its body filled and no
  other, and a mobile number; the text sent is the rendered template, so no message is given.
  A brand message is marketing: refused when the customer opted out of texting.
- every medium: refused for a blocked customer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contacts.models import Contact
from conversations.models import KAKAO_MEDIA, MESSAGE_MAX_LENGTH, AuthorKind, Medium
from crm.errors import Problem
from crm.models import Channel, KakaoTemplate, KakaoTemplateKind

VARIABLE_MAX_LENGTH = 512
PLACEHOLDER = re.compile(r"#\{([^{}]+)\}")
TEMPLATE_KIND_FOR_MEDIUM = {
    Medium.KAKAO_ALIMTALK: KakaoTemplateKind.ALIMTALK,
    Medium.KAKAO_BRAND_MESSAGE: KakaoTemplateKind.BRAND_MESSAGE,
}
# The first message of a meet or a call started without a note.
STARTED_TEXT = {
    Medium.VOICE_MEET: "Voice meet started.",
    Medium.VIDEO_MEET: "Video meet started.",
    Medium.PHONE: "Phone call started.",
}


@dataclass(frozen=True)
class FirstMessage:
    """The text a conversation opens with, and who it is from."""

    text: str
    author_kind: str


@dataclass
class Checked:
    """The outcome of the checks: every problem found, or what to send and where."""

    problems: list[Problem] = field(default_factory=list)
    first_message: FirstMessage | None = None
    variables: dict[str, str] = field(default_factory=dict)
    address: str | None = None


def template_placeholders(body: str) -> list[str]:
    """The variable names of a template body, once each, in order of appearance."""
    return list(dict.fromkeys(name.strip() for name in PLACEHOLDER.findall(body)))


def template_render(body: str, variables: Mapping[str, str]) -> str:
    """BODY with every `#{name}` replaced by its value (values are not rendered again)."""
    return PLACEHOLDER.sub(lambda match: variables[match.group(1).strip()], body)


def channel_problems(*, channel: Channel, medium: str) -> list[Problem]:
    """Why CHANNEL cannot use MEDIUM (empty when it can)."""
    if medium == Medium.PHONE and not channel.phone_number:
        return [
            Problem(
                "medium",
                "phone_number_missing",
                "Phone calls need the channel's issued phone number, and none is set "
                "(integrations settings).",
            )
        ]
    if medium in KAKAO_MEDIA and not channel.kakao_connected:
        return [
            Problem(
                "medium",
                "kakao_not_connected",
                f"{medium} needs a connected Kakao channel, and this channel has none "
                "(integrations settings).",
            )
        ]
    return []


def contact_address(*, contact: Contact, medium: str) -> str | None:
    """The number MEDIUM reaches CONTACT at (None for in-app media or when there is none)."""
    profile = contact.profile
    if medium == Medium.PHONE:
        return profile.get("mobileNumber") or profile.get("landlineNumber") or None
    if medium in KAKAO_MEDIA:
        return profile.get("mobileNumber") or None
    return None


def contact_problems(*, contact: Contact, medium: str) -> list[Problem]:
    """Why CONTACT cannot be reached on MEDIUM (empty when they can)."""
    problems = []
    if contact.blocked:
        problems.append(
            Problem("contact", "blocked", "The customer is blocked; unblock them first.")
        )
    if medium == Medium.PHONE and not contact_address(contact=contact, medium=medium):
        problems.append(
            Problem(
                "contact",
                "no_phone_number",
                "The customer has no profile.mobileNumber or profile.landlineNumber to call.",
            )
        )
    if medium in KAKAO_MEDIA and not contact_address(contact=contact, medium=medium):
        problems.append(
            Problem(
                "contact",
                "no_mobile_number",
                "Kakao messages go to a mobile number, and the customer has no "
                "profile.mobileNumber.",
            )
        )
    if medium == Medium.KAKAO_BRAND_MESSAGE and contact.unsubscribe_texting:
        problems.append(
            Problem(
                "contact",
                "unsubscribed_texting",
                "The customer opted out of marketing texts (unsubscribeTexting), so a brand "
                "message cannot be sent; an AlimTalk (informational) message can.",
            )
        )
    return problems


def text_check(*, medium: str, text: str) -> tuple[FirstMessage | None, list[Problem]]:
    """The first message of a non-Kakao MEDIUM from the manager's TEXT, or why it is refused."""
    if len(text) > MESSAGE_MAX_LENGTH:
        return None, [
            Problem(
                "message.plainText",
                "too_long",
                f"message.plainText has at most {MESSAGE_MAX_LENGTH:,} characters; "
                f"{len(text):,} were given.",
            )
        ]
    if text.strip():
        return FirstMessage(text, AuthorKind.MANAGER), []
    if medium in STARTED_TEXT:
        return FirstMessage(STARTED_TEXT[Medium(medium)], AuthorKind.SYSTEM), []
    return None, [
        Problem(
            "message.plainText",
            "required",
            "A chat starts with a message: message.plainText needs 1 to "
            f"{MESSAGE_MAX_LENGTH:,} characters.",
        )
    ]


def not_kakao_problems(*, template_code: str | None, variables: Mapping[str, Any]) -> list[Problem]:
    """A template or variables given for a medium that sends no template."""
    problems = []
    if template_code:
        problems.append(
            Problem(
                "templateId",
                "not_allowed",
                "templateId is only for kakaoAlimtalk and kakaoBrandMessage.",
            )
        )
    if variables:
        problems.append(
            Problem(
                "variables",
                "not_allowed",
                "variables are only for kakaoAlimtalk and kakaoBrandMessage.",
            )
        )
    return problems


def template_problems(
    *, medium: str, template_code: str | None, template: KakaoTemplate | None
) -> list[Problem]:
    """Why TEMPLATE (found by TEMPLATE_CODE) cannot be sent as MEDIUM."""
    if not template_code:
        return [
            Problem(
                "templateId",
                "required",
                f"{medium} sends a template: give templateId, the code of an approved template.",
            )
        ]
    if template is None:
        return [
            Problem(
                "templateId",
                "not_found",
                f"This channel has no Kakao template with the code {template_code!r}.",
            )
        ]
    problems = []
    if not template.approved:
        problems.append(
            Problem(
                "templateId",
                "not_approved",
                f"Template {template_code!r} is not approved by Kakao yet; only approved "
                "templates can be sent.",
            )
        )
    wanted = TEMPLATE_KIND_FOR_MEDIUM[Medium(medium)]
    if template.kind != wanted:
        problems.append(
            Problem(
                "templateId",
                "wrong_kind",
                f"Template {template_code!r} is of kind {template.kind}; {medium} needs a "
                f"template of kind {wanted.value}.",
            )
        )
    return problems


def variables_check(
    *, template: KakaoTemplate, variables: Mapping[str, Any]
) -> tuple[dict[str, str], list[Problem]]:
    """VARIABLES as text for TEMPLATE, or every missing, unknown and ill-typed one."""
    needed = template_placeholders(template.body)
    values: dict[str, str] = {}
    problems = []
    for name in needed:
        if name not in variables:
            problems.append(
                Problem(
                    f"variables.{name}",
                    "required",
                    f"Template {template.code!r} needs a value for #{{{name}}}.",
                )
            )
    for name, raw in variables.items():
        if name not in needed:
            allowed = ", ".join(needed) or "none"
            problems.append(
                Problem(
                    f"variables.{name}",
                    "unknown_variable",
                    f"Template {template.code!r} has no #{{{name}}}; its variables: {allowed}.",
                )
            )
        elif (text := variable_text(raw)) is None:
            problems.append(
                Problem(
                    f"variables.{name}",
                    "invalid",
                    f"#{{{name}}} takes a string or a number of 1 to {VARIABLE_MAX_LENGTH} "
                    "characters.",
                )
            )
        else:
            values[name] = text
    return values, problems


def variable_text(raw: object) -> str | None:
    """A variable's value as text: a non-blank string or a number, at most 512 characters."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return None
    text = raw if isinstance(raw, str) else str(raw)
    return text if text.strip() and len(text) <= VARIABLE_MAX_LENGTH else None


def kakao_check(
    *,
    medium: str,
    text: str,
    template_code: str | None,
    template: KakaoTemplate | None,
    variables: Mapping[str, Any],
) -> Checked:
    """The rendered template as the first message, or why it cannot be sent."""
    checked = Checked(
        problems=template_problems(medium=medium, template_code=template_code, template=template)
    )
    if text.strip():
        checked.problems.append(
            Problem(
                "message.plainText",
                "not_allowed",
                "A Kakao message sends its template's text; leave message.plainText out.",
            )
        )
    if template is None:
        return checked
    checked.variables, variable_problems = variables_check(template=template, variables=variables)
    checked.problems += variable_problems
    if not variable_problems:
        rendered = template_render(template.body, checked.variables)
        if len(rendered) > MESSAGE_MAX_LENGTH:
            checked.problems.append(
                Problem(
                    "variables",
                    "too_long",
                    f"The rendered message has {len(rendered):,} characters; at most "
                    f"{MESSAGE_MAX_LENGTH:,} can be sent.",
                )
            )
        else:
            checked.first_message = FirstMessage(rendered, AuthorKind.MANAGER)
    return checked


def medium_check(
    *,
    channel: Channel,
    contact: Contact,
    medium: str,
    text: str,
    template_code: str | None,
    template: KakaoTemplate | None,
    variables: Mapping[str, Any],
) -> Checked:
    """Every reason MEDIUM cannot start a conversation with CONTACT, or what to send."""
    if medium not in Medium.values:
        allowed = ", ".join(Medium.values)
        return Checked(
            problems=[Problem("medium", "invalid_choice", f"medium is one of: {allowed}.")]
        )
    if medium in KAKAO_MEDIA:
        checked = kakao_check(
            medium=medium,
            text=text,
            template_code=template_code,
            template=template,
            variables=variables,
        )
    else:
        first, problems = text_check(medium=medium, text=text)
        problems += not_kakao_problems(template_code=template_code, variables=variables)
        checked = Checked(problems=problems, first_message=first)
    checked.problems = [
        *channel_problems(channel=channel, medium=medium),
        *checked.problems,
        *contact_problems(contact=contact, medium=medium),
    ]
    checked.address = contact_address(contact=contact, medium=medium)
    return checked
