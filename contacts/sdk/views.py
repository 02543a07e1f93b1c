"""The SDK's script and its demo page."""

from __future__ import annotations

import secrets

from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from contacts.demo import DEMO_PLUGIN_KEY
from contacts.services.boot import member_hash
from crm.models import Channel

# The demo site's own sign-in: the member id of this browser's visitor, in a signed cookie, so
# the page signs that id and no other (a page that signed any id typed into it would let anyone
# boot as any member of the demo channel).
DEMO_VISITOR_COOKIE = "sdk_demo_member"
DEMO_VISITOR_SALT = "contacts.sdk.demo-visitor"
DEMO_VISITOR_MAX_AGE = 60 * 60 * 24 * 30


@require_GET
@cache_control(public=True, max_age=300)
def boot_script(request: HttpRequest) -> HttpResponse:
    """/sdk/v1/boot.js: the snippet a website includes."""
    path = finders.find("contacts/boot.js")
    if not path:
        raise Http404("boot.js is missing from the static files.")
    with open(path, encoding="utf-8") as script:
        body = script.read()
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def sdk_demo(request: HttpRequest) -> HttpResponse:
    """/sdk/demo/: the snippet at work against the demo channel.

    The page plays a shop's website whose visitor is signed in: as that site's server would, it
    computes the member hash of its visitor's member id here and writes both into the page; the
    channel's secret never reaches the browser."""
    channel = Channel.objects.filter(plugin_key=DEMO_PLUGIN_KEY).first()
    if channel is None:
        raise Http404("The demo channel is not loaded (manage.py seed_demo).")
    member_id = (
        request.get_signed_cookie(
            DEMO_VISITOR_COOKIE, default=None, salt=DEMO_VISITOR_SALT, max_age=DEMO_VISITOR_MAX_AGE
        )
        or f"visitor-{secrets.token_hex(5)}"
    )
    response = render(
        request,
        "contacts/sdk_demo.html",
        {
            "channel": channel,
            "script_url": reverse("sdk-boot-js"),
            "signed_member": {
                "memberId": member_id,
                "memberHash": member_hash(secret=channel.member_hash_secret, member_id=member_id),
            },
        },
    )
    response.set_signed_cookie(
        DEMO_VISITOR_COOKIE,
        member_id,
        salt=DEMO_VISITOR_SALT,
        max_age=DEMO_VISITOR_MAX_AGE,
        httponly=True,
        samesite="Lax",
    )
    return response
