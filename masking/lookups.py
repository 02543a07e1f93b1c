"""The budget of whole-value look-ups on masked keys.

A viewer without `sensitive_view` may find contacts by the whole value of a key masked for it
(a filter's `eq` / `in`, a quick search by a whole phone number or email): a manager whose
customer calls in finds them, and a pasted list of a thousand numbers is matched. But a partial
mask leaves few values open (`010-****-5813` leaves 10,000), and `id eq X AND mobileNumber in
[...]` answers whether X's number is among them: without a bound, halving the candidates finds
the number in 14 requests. So each value looked up this way counts against the viewer's budget
(settings.MASKED_LOOKUP_LIMIT, 5,000 values a day by default), and a request that would pass it
is refused with 429 and changes nothing."""

from __future__ import annotations

import math

from django.conf import settings

from crm.errors import RateLimited
from crm.permissions import Viewer
from crm.ratelimit import limit_parse, rate_limit_hit


def _bucket(viewer: Viewer) -> str:
    if viewer.credential is not None:
        return f"masked-lookup:cred:{viewer.credential.pk}"
    user = viewer.user.pk if viewer.user is not None else 0
    return f"masked-lookup:user:{viewer.channel.pk}:{user}"


def masked_lookups_charge(*, viewer: Viewer, count: int) -> None:
    """Count COUNT whole-value look-ups on masked keys against VIEWER's budget; RateLimited
    when they pass it."""
    if count <= 0:
        return
    limit = limit_parse(_bucket(viewer), settings.MASKED_LOOKUP_LIMIT)
    decision = rate_limit_hit([limit], weight=count)
    if not decision.allowed:
        hours = max(1, math.ceil(decision.retry_after / 3600))
        raise RateLimited(
            decision.retry_after,
            f"Whole-value look-ups on masked fields are limited to {limit.limit:,} values per "
            f"{limit.period // 3600} h for your role; this one asked for {count:,}. Retry in "
            f"about {hours} h, or ask a manager with sensitive_view.",
        )
