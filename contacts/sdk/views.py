"""The SDK's script and its demo page."""

from __future__ import annotations

from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from contacts.demo import DEMO_PLUGIN_KEY
from crm.models import Channel


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
    """/sdk/demo/: the snippet at work against the demo channel."""
    channel = Channel.objects.filter(plugin_key=DEMO_PLUGIN_KEY).first()
    if channel is None:
        raise Http404("The demo channel is not loaded (manage.py seed_demo).")
    return render(
        request,
        "contacts/sdk_demo.html",
        {
            "channel": channel,
            "script_url": reverse("sdk-boot-js"),
        },
    )
