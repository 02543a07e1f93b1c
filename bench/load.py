"""A small closed-loop HTTP/1.1 load generator for SDK boots (standard library only).

Run as a separate process, so its CPU is not the server's:

    python -m bench.load --url http://127.0.0.1:8123/sdk/v1/boot --plugin-key KEY \\
        --member-hash-secret SECRET --mix new --connections 8 --duration 20 [--warmup 3] \\
        [--pool FILE] [--run-id ID]

N connections each send one boot, wait for the whole answer, then send the next one (a closed
loop), for WARMUP seconds that are not recorded and then DURATION seconds that are. It stops by
itself: at the deadline, after --max-requests, or when a request passes --timeout (counted as an
error). A server that closes the connection after each answer (gunicorn's sync workers do) is
reconnected; the connection time is part of the latency, as it is for a browser.

Mixes:
- ``new``: a first boot of a visitor who signs in: a fresh memberId and veilId each time, with a
  profile (name, email, mobile number as typed in a form).
- ``returning``: a signed-in member coming back: memberId from POOL (one JSON object a line:
  memberId, name, email, mobileNumber as stored), each used once, starting at --pool-offset.

Every body carries a page URL with UTM parameters, a referrer and a Chrome user agent, and with
--member-hash-secret the memberHash a shop's server would compute (channels require it by
default; a boot without it is refused, or is an unverified boot where allowed). The result
is one JSON object on stdout: counts, status codes, throughput and latency percentiles (ms).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PAGES = (
    "https://shop.example.com/products/{n}?utm_source=naver&utm_medium=cpc"
    "&utm_campaign=spring_sale",
    "https://shop.example.com/events/spring?utm_source=kakao&utm_medium=social"
    "&utm_campaign=membership",
    "https://shop.example.com/?utm_source=google&utm_medium=cpc&utm_campaign=new_arrivals",
)
REFERRERS = ("https://search.naver.com/", "https://pf.kakao.com/", "https://www.google.com/")
# Requests encoded ahead per second of the run: more than the server answers.
PREPARED_PER_SECOND = 1_500
SURNAMES = "김이박최정강조윤장임"
GIVEN = "민서지현수영준우예은도하윤성진유나연재원"


def percentile(sorted_values: list[float], percent: float) -> float:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _page(rng: random.Random, number: int) -> dict[str, str]:
    choice = rng.randrange(len(PAGES))
    return {
        "url": PAGES[choice].format(n=number % 5000),
        "referrer": REFERRERS[choice],
        "title": "Bench Shop",
    }


def signed(body: dict[str, Any], secret: str | None) -> dict[str, Any]:
    """BODY with the memberHash of its memberId (hex HMAC-SHA256 keyed by the hex SECRET), as
    the shop's server computes it; BODY as it is without a secret."""
    if secret:
        digest = hmac.new(bytes.fromhex(secret), body["memberId"].encode(), hashlib.sha256)
        body["memberHash"] = digest.hexdigest()
    return body


def new_bodies(
    plugin_key: str, run_id: str, seed: int, secret: str | None = None
) -> Iterator[dict[str, Any]]:
    """Endless first boots: fresh memberId and veilId, a profile typed into a sign-up form."""
    rng = random.Random(seed)
    number = 0
    while True:
        number += 1
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        # 010-2000-0000 … 010-9999-9999, without 010-597x/598x, which phonenumbers refuses.
        block = rng.choice((rng.randrange(2000, 5970), rng.randrange(6000, 10000)))
        digits = f"{block}{rng.randrange(10**4):04d}"
        body = {
            "pluginKey": plugin_key,
            "memberId": f"load-{run_id}-{number}",
            "veilId": f"lv{run_id}x{number:012d}",
            "profile": {
                "name": name,
                "email": f"load.{run_id}.{number}@example.com",
                "mobileNumber": f"010-{digits[:4]}-{digits[4:]}",
            },
            "language": "ko",
            "page": _page(rng, number),
            "device": {"platform": "web", "userAgent": CHROME_UA},
        }
        yield signed(body, secret)


def returning_bodies(
    plugin_key: str, pool: list[dict[str, Any]], offset: int, seed: int, secret: str | None = None
) -> Iterator[dict[str, Any]]:
    """Boots of known members, each member once (wrapping around when the pool runs out)."""
    rng = random.Random(seed)
    for index in range(offset, offset + 10**9):
        member = pool[index % len(pool)]
        profile = {k: member[k] for k in ("name", "email", "mobileNumber") if member.get(k)}
        body = {
            "pluginKey": plugin_key,
            "memberId": member["memberId"],
            "profile": profile,
            "language": "ko",
            "page": _page(rng, index),
            "device": {"platform": "web", "userAgent": CHROME_UA},
        }
        yield signed(body, secret)


@dataclass
class Tally:
    """What the connections saw; only answers that end after `recording` are recorded."""

    recording: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    first_error: str = ""


class Connection:
    """One HTTP/1.1 connection, reopened when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, payload: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(payload)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as error:
            raise ConnectionError("the server closed the connection") from error
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length, close = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        content = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, content

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def requests_encoded(
    target: tuple[str, int, str], bodies: Iterator[dict[str, Any]]
) -> Iterator[bytes]:
    """Each body as the whole HTTP request: head and JSON."""
    host, port, path = target
    prefix = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"User-Agent: {CHROME_UA}\r\nConnection: keep-alive\r\n"
    ).encode()
    for body in bodies:
        encoded = json.dumps(body, ensure_ascii=False).encode()
        yield prefix + f"Content-Length: {len(encoded)}\r\n\r\n".encode() + encoded


async def _worker(
    target: tuple[str, int, str],
    requests: Iterator[bytes],
    tally: Tally,
    deadline: float,
    limits: tuple[int, float],
) -> None:
    host, port, _ = target
    max_requests, timeout = limits
    connection = Connection(host, port)
    try:
        while time.perf_counter() < deadline and tally.sent < max_requests:
            payload = next(requests)
            tally.sent += 1
            started = time.perf_counter()
            try:
                async with asyncio.timeout(timeout):
                    status, content = await connection.request(payload)
                key = str(status)
            except (TimeoutError, OSError, ConnectionError, ValueError, IndexError) as error:
                connection.close()
                status, content, key = 0, b"", type(error).__name__
            ended = time.perf_counter()
            if status != 200 and not tally.first_error:
                tally.first_error = f"{key}: {content[:300]!r}"
            if ended >= tally.recording and ended <= deadline:
                tally.statuses[key] += 1
                if status == 200:
                    tally.latencies.append((ended - started) * 1000)
    finally:
        connection.close()


async def run_load(
    url: str,
    bodies: Iterator[dict[str, Any]],
    *,
    connections: int,
    duration: float,
    warmup: float,
    max_requests: int,
    timeout: float,
) -> dict[str, Any]:
    parts = urlsplit(url)
    target = (parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/")
    # The requests are encoded before the clock starts (as many as PREPARED_PER_SECOND allow
    # for the run), so that the generator spends its CPU on the connections, not on JSON.
    encoded = requests_encoded(target, bodies)
    ready = list(
        itertools.islice(encoded, min(max_requests, int(PREPARED_PER_SECOND * (duration + warmup))))
    )
    requests = itertools.chain(ready, encoded)
    start = time.perf_counter()
    tally = Tally(recording=start + warmup)
    deadline = start + warmup + duration
    await asyncio.gather(
        *[
            _worker(target, requests, tally, deadline, (max_requests, timeout))
            for _ in range(connections)
        ]
    )
    measured = max(min(time.perf_counter(), deadline) - tally.recording, 1e-9)
    latencies = sorted(tally.latencies)
    return {
        "connections": connections,
        "seconds": round(measured, 2),
        "sent": tally.sent,
        "statuses": dict(tally.statuses),
        "ok": len(latencies),
        "per_second": round(len(latencies) / measured, 1),
        "mean_ms": round(sum(latencies) / len(latencies), 2) if latencies else 0.0,
        **{f"p{p}_ms": round(percentile(latencies, p), 2) for p in (50, 95, 99)},
        "max_ms": round(latencies[-1], 2) if latencies else 0.0,
        "first_error": tally.first_error,
        "cpu_seconds": round(time.process_time(), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--plugin-key", required=True)
    parser.add_argument(
        "--member-hash-secret", help="The channel's member-hash secret: sign each memberId."
    )
    parser.add_argument("--mix", choices=["new", "returning"], default="new")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0, help="Recorded seconds.")
    parser.add_argument("--warmup", type=float, default=3.0, help="Seconds not recorded.")
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--timeout", type=float, default=10.0, help="Seconds per request.")
    parser.add_argument("--pool", help="JSON lines of members (returning mix).")
    parser.add_argument("--pool-offset", type=int, default=0)
    parser.add_argument("--run-id", default=f"{int(time.time()):x}")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.mix == "returning":
        if not args.pool:
            parser.error("--mix returning needs --pool")
        with open(args.pool, encoding="utf-8") as lines:
            pool = [json.loads(line) for line in lines if line.strip()]
        bodies = returning_bodies(
            args.plugin_key, pool, args.pool_offset, args.seed, args.member_hash_secret
        )
    else:
        bodies = new_bodies(args.plugin_key, args.run_id, args.seed, args.member_hash_secret)
    result = asyncio.run(
        run_load(
            args.url,
            bodies,
            connections=args.connections,
            duration=args.duration,
            warmup=args.warmup,
            max_requests=args.max_requests,
            timeout=args.timeout,
        )
    )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
