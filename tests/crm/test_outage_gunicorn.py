"""Database outages seen through the production server (gunicorn, gthread workers, persistent
connections), over real HTTP against the test database: once every connection is dropped, the
next requests are answered as before; while the database cannot be reached, every answer is a
503 with Retry-After, and once it is back, answers are 200 again without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from bench.server import Server, gunicorn
from contacts.models import Contact
from crm import services
from crm.models import Channel
from tests.contacts.factories import MemberFactory
from tests.crm.factories import ChannelFactory, manager_in
from tests.crm.jobs.test_worker import database_url_of_the_test
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
WORKERS, THREADS = 2, 4


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


@dataclass(frozen=True)
class Call:
    """One request of the mix: what a website, an integration and a manager send."""

    name: str
    path: str
    headers: dict[str, str]
    body: dict[str, object] | None = None


@dataclass(frozen=True)
class Shop:
    channel: Channel
    contact: Contact
    api_headers: dict[str, str]
    session_cookie: str


@pytest.fixture(scope="session")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The static files collected once, as the production server needs (DEBUG off: hashed
    names from the manifest)."""
    root = tmp_path_factory.mktemp("static")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input"],
        cwd=ROOT,
        env={
            **os.environ,
            "STATIC_ROOT": str(root),
            "DEBUG": "0",
            "SECRET_KEY": "collect",
            "ALLOWED_HOSTS": "x",
        },
        check=True,
        capture_output=True,
    )
    return root


@pytest.fixture
def shop(db: None) -> Shop:
    channel = ChannelFactory(name="Outage shop")
    contact = MemberFactory(channel=channel, member_id="m-1")
    role = services.role_get(channel=channel, name="owner")
    issued = services.credential_create(channel=channel, role=role)
    client = Client()
    client.force_login(manager_in(channel, "owner").user)
    return Shop(
        channel=channel,
        contact=contact,
        api_headers={
            "x-access-key": issued.credential.access_key,
            "x-access-secret": issued.secret,
        },
        session_cookie=f"{settings.SESSION_COOKIE_NAME}={client.cookies['sessionid'].value}",
    )


def calls(shop: Shop) -> list[Call]:
    """API reads (a list, one user), an SDK boot, the desk's home, the admin's index."""
    manager = {"Cookie": shop.session_cookie}
    boot = {
        "pluginKey": shop.channel.plugin_key,
        "device": {"platform": "web", "userAgent": "Mozilla/5.0 (X11; Linux x86_64)"},
    }
    return [
        Call("api list", "/open/v5/users?limit=5", shop.api_headers),
        Call("api user", f"/open/v5/users/{shop.contact.pk}", shop.api_headers),
        Call("sdk boot", "/sdk/v1/boot", {}, boot),
        Call("desk", "/desk/", manager),
        Call("admin", "/admin/", manager),
    ]


def send(server: Server, call: Call) -> Answer:
    data = None if call.body is None else json.dumps(call.body).encode()
    headers = {**call.headers, **({"Content-Type": "application/json"} if data else {})}
    request = urllib.request.Request(f"{server.url}{call.path}", data=data, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as refused:
        return Answer(refused.code, dict(refused.headers), refused.read())


def send_many(server: Server, mix: list[Call], count: int) -> list[tuple[Call, Answer]]:
    """COUNT requests of the mix, eight at a time, so that every worker thread takes some."""
    chosen = [mix[index % len(mix)] for index in range(count)]
    with ThreadPoolExecutor(max_workers=WORKERS * THREADS) as pool:
        return list(zip(chosen, pool.map(lambda call: send(server, call), chosen), strict=True))


def statuses(answers: list[tuple[Call, Answer]]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for call, answer in answers:
        found.setdefault(call.name, []).append(answer.status)
    return {name: sorted(set(codes)) for name, codes in found.items()}


def terminate_every_other_session() -> int:
    """pg_terminate_backend on every session of the test database but this test's own,
    waiting until each has ended; how many there were."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


@pytest.fixture
def server(static_root: Path, shop: Shop) -> Iterator[Server]:
    """gunicorn as README runs it in production, on the test database."""
    with gunicorn(
        database_url_of_the_test(),
        settings.SECRET_KEY,
        workers=WORKERS,
        threads=THREADS,
        environment={"STATIC_ROOT": str(static_root)},
    ) as running:
        yield running


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    db = connection.settings_dict
    forwarding = TcpProxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    forwarding.start()
    try:
        yield forwarding
    finally:
        forwarding.stop()


@pytest.fixture
def server_behind_proxy(static_root: Path, shop: Shop, proxy: TcpProxy) -> Iterator[Server]:
    """gunicorn whose database is reached through PROXY (stop it: the database is gone)."""
    db = connection.settings_dict
    url = f"postgresql://{db['USER']}:{db['PASSWORD'] or ''}@127.0.0.1:{proxy.port}/{db['NAME']}"
    with gunicorn(
        url,
        settings.SECRET_KEY,
        workers=WORKERS,
        threads=THREADS,
        environment={"STATIC_ROOT": str(static_root)},
    ) as running:
        yield running


def test_requests_after_every_connection_was_dropped_are_answered(
    server: Server, shop: Shop
) -> None:
    mix = calls(shop)
    warm = send_many(server, mix, 40)
    assert statuses(warm) == {
        "api list": [200],
        "api user": [200],
        "sdk boot": [200],
        "desk": [200],
        "admin": [200],
    }
    assert terminate_every_other_session() >= WORKERS  # each worker held a connection

    after = send_many(server, mix, 40)

    assert statuses(after) == statuses(warm)  # 200s only: no 5xx
    assert "Traceback" not in server.log.read_text()


def test_an_unreachable_database_is_a_503_with_retry_after_until_it_is_back(
    server_behind_proxy: Server, shop: Shop, proxy: TcpProxy
) -> None:
    server, mix = server_behind_proxy, calls(shop)
    assert {a.status for _, a in send_many(server, mix, 20)} == {200}

    proxy.stop()
    during = send_many(server, [*mix, Call("health", "/healthz", {})], 24)

    for call, answer in during:
        assert answer.status == 503, (call.name, answer.status, answer.body[:300])
        assert answer.headers["Retry-After"] == "5"
        assert b"Traceback" not in answer.body
        if call.name in {"api list", "api user", "sdk boot"}:
            assert answer.json() == {
                "type": "service_unavailable",
                "message": "The database cannot be reached right now; retry in 5 seconds.",
                "errors": [],
            }
        elif call.name == "health":
            assert answer.json() == {"status": "unhealthy"}
        else:
            assert answer.headers["Content-Type"].startswith("text/html")
            assert b"<h1>Temporarily unavailable</h1>" in answer.body

    proxy.start()
    after = send_many(server, mix, 20)

    assert {a.status for _, a in after} == {200}
    assert "Traceback" not in server.log.read_text()  # each 503 logged as one line
