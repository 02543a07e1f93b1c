"""Every malformed or hostile body is a clear 4xx in the error shape, changes nothing, and
leaves the server answering.

The corpus goes to every operation of /open/v5 and /sdk/v1 that takes a body, listed from the
OpenAPI document the server generates (which test_openapi holds to the URL conf), so a new
endpoint is covered the day it is served. Requests carry valid credentials and path values, so
each one reaches the body."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.http import HttpResponse
from drf_spectacular.generators import SchemaGenerator

from crm import services
from crm.api import STATUS_TYPES
from crm.json_input import MAX_DEPTH
from crm.models import Channel, RateLimitWindow
from tests.api_clients import credential_client
from tests.contacts.sdk_client import Sdk
from tests.crm.factories import ChannelFactory
from tests.crm.jobs.test_worker import database_url_of_the_test
from tests.test_make_run import ROOT, free_port

BODY_METHODS = ("post", "put", "patch", "delete")
LIMIT = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
# The apps whose rows a refused request must leave as they were (the rate-limit windows count
# every request, refused or not, and are left out).
STORED_APPS = (
    "crm",
    "jobs",
    "profile_schema",
    "contacts",
    "conversations",
    "django_tasks_database",
)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the OpenAPI template: /open/v5/users/{id}
    fields: tuple[str, ...]  # the body's documented fields
    required: bool  # whether the body is required

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def body_operations() -> list[Operation]:
    """Every operation of the served document that takes a request body."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody") if method in BODY_METHODS else None
            if body is None:
                continue
            ref = body["content"]["application/json"]["schema"]["$ref"]
            properties = components[ref.rsplit("/", 1)[1]].get("properties", {})
            fields = tuple(name for name, spec in properties.items() if not spec.get("readOnly"))
            found.append(Operation(method, path, fields, bool(body.get("required"))))
    return found


OPERATIONS = body_operations()


def nested(depth: int, kind: str = "[") -> str:
    """A JSON value nesting DEPTH arrays ("[") or objects ("{")."""
    if kind == "[":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@dataclass(frozen=True)
class Case:
    """A hostile body and the refusal it gets: status, then the first problem's key and code
    (None where the endpoint decides, as for a body its own fields refuse)."""

    body: Callable[[Operation], bytes]
    content_type: str = "application/json"
    status: int = 400
    key: str | None = "body"
    code: str | None = None


def raw(text: str | bytes) -> Callable[[Operation], bytes]:
    data = text.encode() if isinstance(text, str) else text
    return lambda operation: data


def each_field(value: str) -> Callable[[Operation], bytes]:
    """Every documented field of the operation set to the JSON text VALUE."""
    return lambda operation: (
        "{" + ",".join(f"{json.dumps(f)}:{value}" for f in operation.fields) + "}"
    ).encode()


HUGE = b'{"name": "' + b"x" * LIMIT + b'"}'

CORPUS: dict[str, Case] = {
    "array nested 2,000 levels": Case(raw(nested(2000)), code="too_deep"),
    "object nested 2,000 levels": Case(raw(nested(2000, "{")), code="too_deep"),
    "array nested 100,000 levels": Case(raw(nested(100_000)), code="too_deep"),
    "object nested 100,000 levels": Case(raw(nested(100_000, "{")), code="too_deep"),
    "every field nested past the limit": Case(each_field(nested(MAX_DEPTH)), code="too_deep"),
    "every field nested to the limit": Case(each_field(nested(MAX_DEPTH - 1)), key=None),
    "truncated": Case(raw('{"profile": {"email": "a@shop.example"'), code="invalid_json"),
    "trailing garbage": Case(raw('{"name": "a"} {"name": "b"}'), code="invalid_json"),
    "single quotes": Case(raw("{'name': 'a'}"), code="invalid_json"),
    "a byte order mark": Case(raw(b'\xef\xbb\xbf{"name": "a"}'), code="invalid_json"),
    "invalid UTF-8": Case(raw(b'{"name": "\xff\xfe"}'), code="invalid_encoding"),
    "a raw NUL in a string": Case(raw(b'{"name": "a\x00b"}'), code="invalid_character"),
    "an escaped NUL in a string": Case(
        raw('{"name": "a\\u0000b"}'), key="name", code="invalid_character"
    ),
    "an escaped NUL in a key": Case(raw('{"a\\u0000": 1}'), key="a\x00", code="invalid_character"),
    "an escaped NUL deep down": Case(
        raw('{"x": {"y": ["ok", "\\u0000"]}}'), key="x.y.1", code="invalid_character"
    ),
    "a lone high surrogate": Case(raw('{"name": "\\ud800"}'), code="invalid_character"),
    "a lone low surrogate in a key": Case(raw('{"\\udc00": 1}'), code="invalid_character"),
    "a number that overflows to infinity": Case(raw('{"limit": 1e999}'), code="number_too_large"),
    "a negative number that overflows": Case(raw('{"x": [-1e400]}'), code="number_too_large"),
    "a whole number past 64 bits": Case(
        raw('{"limit": 123456789012345678901234567890}'), code="number_too_large"
    ),
    "a negative whole number past 64 bits": Case(
        raw('{"x": -9223372036854775809}'), code="number_too_large"
    ),
    "NaN": Case(raw('{"limit": NaN}'), code="invalid_number"),
    "Infinity": Case(raw('{"limit": Infinity}'), code="invalid_number"),
    "-Infinity": Case(raw('{"limit": -Infinity}'), code="invalid_number"),
    "a body past the size limit": Case(raw(HUGE), status=413, key="body", code="payload_too_large"),
    "a list": Case(raw('[{"name": "a"}]'), code="invalid_body"),
    "an empty list": Case(raw("[]"), code="invalid_body"),
    "a string": Case(raw('"name"'), code="invalid_body"),
    "a number": Case(raw("42"), code="invalid_body"),
    "null": Case(raw("null"), code="invalid_body"),
    "true": Case(raw("true"), code="invalid_body"),
    "only white space": Case(raw("  \n "), code="invalid_json"),
    "plain text": Case(
        raw('{"name": "a"}'), "text/plain", status=415, code="unsupported_media_type"
    ),
    "a form": Case(
        raw("name=a"),
        "application/x-www-form-urlencoded",
        status=415,
        code="unsupported_media_type",
    ),
    "multipart": Case(
        raw(b'--x\r\nContent-Disposition: form-data; name="name"\r\n\r\na\r\n--x--\r\n'),
        "multipart/form-data; boundary=x",
        status=415,
        code="unsupported_media_type",
    ),
    "JSON in another charset": Case(
        raw('{"name": "a"}'.encode("utf-16")),
        "application/json; charset=utf-16",
        status=415,
        code="unsupported_media_type",
    ),
    "JSON in an unknown charset": Case(
        raw('{"name": "a"}'),
        "application/json; charset=klingon",
        status=415,
        code="unsupported_media_type",
    ),
}


class World:
    """A channel with one of everything a path can name, an owner's API client and an SDK
    session, built through the API as a client would."""

    def __init__(self, channel: Channel) -> None:
        self.api = credential_client(channel)
        self.sdk = Sdk(channel.plugin_key)
        assert self.sdk.boot(profile={"email": "kim@shop.example"}).status_code == 200
        self.member = self.send("put", "/open/v5/users/@m-2", {"profile": {"name": "Lee"}})
        user = self.member.json()["user"]
        field = self.send(
            "post", "/open/v5/profile-fields", {"key": "grade", "name": "Grade", "type": "string"}
        )
        segment = self.send(
            "post",
            "/open/v5/segments",
            {"name": "VIP", "filter": {"key": "tags", "operator": "hasAny", "values": ["vip"]}},
        )
        self.send("post", "/open/v5/user-tags", {"name": "vip"})
        chat = self.send(
            "post",
            f"/open/v5/users/{user['id']}/user-chats",
            {"medium": "chat", "message": {"plainText": "Hello"}},
        )
        self.values = {
            ("users", "id"): user["id"],
            ("users", "memberId"): user["memberId"],
            ("segments", "id"): segment.json()["segment"]["id"],
            ("profile-fields", "key"): field.json()["profileField"]["key"],
            ("user-tags", "name"): "vip",
            ("user-chats", "id"): chat.json()["userChat"]["id"],
        }

    def send(self, method: str, path: str, body: Any) -> HttpResponse:
        response = self.api.generic(method, path, json.dumps(body), content_type="application/json")
        assert response.status_code in (200, 201), (path, response.content)
        return response

    def path(self, operation: Operation) -> str:
        """The operation's path with a value of this world for each {parameter}."""
        parts = operation.path.split("/")
        for index, part in enumerate(parts):
            if "{" not in part:
                continue
            name = part[part.index("{") + 1 : part.index("}")]
            collection = parts[index - 1]
            value = self.values.get((collection, name))
            if value is None:
                pytest.fail(f"World has no value for {{{name}}} under {collection}/: add one")
            parts[index] = part.replace(f"{{{name}}}", str(value))
        return "/".join(parts)

    def request(self, operation: Operation, body: bytes, content_type: str) -> HttpResponse:
        client = self.sdk.client if operation.path.startswith("/sdk/") else self.api
        headers = {"x-session-token": self.sdk.token or ""}
        return client.generic(
            operation.method, self.path(operation), body, content_type=content_type, headers=headers
        )

    def answering(self, operation: Operation) -> bool:
        """Whether the server answers a normal request of OPERATION's surface."""
        if operation.path.startswith("/sdk/"):
            return self.sdk.boot().status_code == 200
        return self.api.get(f"/open/v5/users/{self.values[('users', 'id')]}").status_code == 200


@pytest.fixture
def world(channel: Channel, settings: Any) -> World:
    settings.API_RATE_LIMIT = "100000/60"
    settings.SDK_RATE_LIMIT_PER_ADDRESS = settings.SDK_RATE_LIMIT_PER_KEY = "100000/60"
    return World(channel)


def stored() -> list[tuple[str, int, str]]:
    """Each of the product's tables with its row count and a digest of its rows (one query)."""
    tables = sorted(
        connection.ops.quote_name(model._meta.db_table)
        for model in apps.get_models()
        if model._meta.app_label in STORED_APPS and model is not RateLimitWindow
    )
    digest = "md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), ''))"
    query = " UNION ALL ".join(
        f"SELECT '{table}', count(*), {digest} FROM {table} t"  # noqa: S608 - model tables
        for table in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(query)
        # UNION ALL promises no order (a Parallel Append interleaves its parts): sort by table.
        return sorted(cursor.fetchall())


def shape_problems(response: HttpResponse) -> list[str]:
    """How RESPONSE's body departs from the error shape (nothing when it holds to it)."""
    try:
        body = response.json()
    except ValueError:
        return [f"not JSON: {response.content[:100]!r}"]
    found = []
    if sorted(body) != ["errors", "message", "type"]:
        found.append(f"keys {sorted(body)}")
    elif body["type"] != STATUS_TYPES.get(response.status_code):
        found.append(f"type {body['type']} with status {response.status_code}")
    elif not body["errors"] or not isinstance(body["message"], str) or not body["message"]:
        found.append("no message or no problem named")
    else:
        for problem in body["errors"]:
            if sorted(problem) != ["code", "key", "message"] or not all(problem.values()):
                found.append(f"problem {problem}")
    return found


def refusal_problems(world: World, operation: Operation, body: bytes, case: Case) -> list[str]:
    """What is wrong with OPERATION's answer to BODY: anything but CASE's refusal in the error
    shape, a change to the stored rows by this request, or a server that stops answering.

    The rows are compared just around the request: the check that the server still answers is
    a real boot, which counts a visit (lastSeenAt) once enough time has passed since the last."""
    before = stored()
    response = world.request(operation, body, case.content_type)
    found = shape_problems(response)
    if response.status_code != case.status:
        found.append(f"status {response.status_code}, not {case.status}")
    if not found and case.key is not None:
        first = response.json()["errors"][0]
        if (first["key"], first["code"]) != (case.key, case.code):
            found.append(f"first problem {first}, not {case.key} {case.code}")
    after = stored()
    if after != before:
        changed = sorted({row[0] for row in set(after) ^ set(before)})
        found.append(f"the stored rows changed ({', '.join(changed)})")
    if not world.answering(operation):
        found.append("the server stopped answering")
    return [f"{operation}: {problem}" for problem in found]


@pytest.mark.django_db
@pytest.mark.parametrize("case", CORPUS.values(), ids=CORPUS.keys())
def test_a_hostile_body_is_a_clear_refusal_that_changes_nothing(world: World, case: Case) -> None:
    found = [
        problem
        for operation in OPERATIONS
        for problem in refusal_problems(world, operation, case.body(operation), case)
    ]

    assert found == []


@pytest.mark.django_db
def test_an_empty_body_where_one_is_required_is_a_400(world: World) -> None:
    case = Case(raw(b""), key=None)
    required = [operation for operation in OPERATIONS if operation.required]

    found = [problem for op in required for problem in refusal_problems(world, op, b"", case)]

    assert found == []


@pytest.mark.django_db
def test_an_empty_body_where_one_is_optional_reads_as_an_empty_object(world: World) -> None:
    optional = [operation for operation in OPERATIONS if not operation.required]
    answers: dict[str, list[int]] = {}
    for operation in optional:
        for body in (b"", b"{}"):
            with transaction.atomic():
                response = world.request(operation, body, "application/json")
                answers.setdefault(str(operation), []).append(response.status_code)
                transaction.set_rollback(True)

    assert {op: codes for op, codes in answers.items() if codes[0] != codes[1]} == {}
    assert all(codes[0] < 500 for codes in answers.values())


def test_the_corpus_reaches_every_surface() -> None:
    paths = {operation.path for operation in OPERATIONS}

    assert "/open/v5/users/search" in paths and "/sdk/v1/boot" in paths
    assert len(OPERATIONS) >= 16


@pytest.mark.django_db
def test_the_row_digest_sees_a_change(world: World) -> None:
    before = stored()

    world.send("patch", f"/open/v5/users/{world.values[('users', 'id')]}", {"tags": ["vip"]})

    assert stored() != before


def filter_nested(groups: int) -> str:
    """A filter of GROUPS "and" groups, one inside the other, around one condition (as text:
    the standard library's encoder cannot write the deepest)."""
    condition = '{"key": "tags", "operator": "hasAny", "values": ["vip"]}'
    return '{"and": [' * groups + condition + "]}" * groups


def first_problem(response: HttpResponse) -> tuple[int, str, str]:
    problem = response.json()["errors"][0]
    return response.status_code, problem["key"], problem["code"]


# A group is two levels (the object and its list), the condition two more (itself and its
# values): in a body {"filter": …} the filter nests 2 * groups + 3 levels, alone 2 * groups + 2.
OWN_LIMIT = "filter" + ".and[0]" * 7


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("groups", "in_body", "in_query"),
    [
        (7, OWN_LIMIT, OWN_LIMIT),
        (30, OWN_LIMIT, OWN_LIMIT),
        (31, "body", OWN_LIMIT),
        (32, "body", "filter"),
        (600, "body", "filter"),
        (50_000, "body", "filter"),
    ],
)
def test_a_deep_filter_gets_its_own_refusal_until_the_json_is_too_deep(
    world: World, groups: int, in_body: str, in_query: str
) -> None:
    tree = filter_nested(groups)
    before = stored()

    searched = world.api.post(
        "/open/v5/users/search", f'{{"filter": {tree}}}', content_type="application/json"
    )
    saved = world.api.post(
        "/open/v5/segments",
        f'{{"name": "Deep", "filter": {tree}}}',
        content_type="application/json",
    )
    listed = world.api.get("/open/v5/users", {"filter": tree})

    assert first_problem(searched) == (400, in_body, "too_deep")
    assert first_problem(saved) == (400, in_body, "too_deep")
    assert first_problem(listed) == (400, in_query, "too_deep")
    assert stored() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"key": "profile.age", "operator": "gt", "values": [NaN]}', "invalid_number"),
        ('{"key": "profile.age", "operator": "gt", "values": [1e999]}', "number_too_large"),
        ('{"key": "name", "operator": "eq", "values": ["a\\u0000"]}', "invalid_character"),
        ('{"key": "name", "operator": "eq", "values": ["a"]', "invalid_json"),
    ],
)
def test_a_filter_in_the_query_string_is_read_as_bodies_are(
    world: World, text: str, code: str
) -> None:
    response = world.api.get("/open/v5/users", {"filter": text})

    assert response.status_code == 400
    assert shape_problems(response) == []
    assert response.json()["errors"][0]["code"] == code
    assert response.json()["errors"][0]["key"].startswith("filter")


@pytest.mark.django_db
def test_numbers_at_the_edges_are_stored_and_answered_exactly(world: World) -> None:
    user = world.values[("users", "id")]
    sent = (
        b'{"name": "Edges", "property": {"u64": 18446744073709551615, '
        b'"i64": -9223372036854775808, "tenth": 0.1, "negative": -2.5}}'
    )

    created = world.api.post(f"/open/v5/users/{user}/events", sent, content_type="application/json")
    read = world.api.get(f"/open/v5/users/{user}/events")

    expected = {
        "u64": 2**64 - 1,
        "i64": -(2**63),
        "tenth": 0.1,
        "negative": -2.5,
    }
    assert created.status_code == 201
    assert created.json()["event"]["property"] == expected
    assert read.json()["events"][0]["property"] == expected


class Served:
    """gunicorn with one worker on the test database: its address, an owner's API headers and
    the channel's plugin key."""

    def __init__(self, channel: Channel) -> None:
        owner = services.role_get(channel=channel, name="owner")
        issued = services.credential_create(channel=channel, role=owner)
        self.headers = {
            "x-access-key": issued.credential.access_key,
            "x-access-secret": issued.secret,
        }
        self.plugin_key = channel.plugin_key
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "DATABASE_URL": database_url_of_the_test(), "DEBUG": "1"}
        self.process = subprocess.Popen(  # noqa: S603 - our own entry point
            [sys.executable, "-m", "gunicorn", "crm.wsgi", "-w", "1", "-b", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait(self, seconds: float) -> None:
        """Until the server answers /healthz (its worker loads the project on first use)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.stop()
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=10) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"gunicorn did not answer within {seconds} s:\n{self.stop()}")

    def stop(self) -> str:
        """Stop the server; what it logged."""
        if self.process.poll() is None:
            self.process.terminate()
        output, _ = self.process.communicate(timeout=30)
        return output

    def send(self, path: str, body: bytes | None = None, **headers: str) -> tuple[int, Any]:
        """(status, JSON body) of a request over a real socket."""
        request = urllib.request.Request(f"{self.base}{path}", data=body, headers=headers)  # noqa: S310
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@pytest.fixture
def served(transactional_db: None) -> Iterator[Served]:
    server = Served(ChannelFactory(name="Served shop"))
    try:
        server.wait(60)
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_deep_nesting_over_real_http_is_a_400_and_the_server_answers_on(served: Served) -> None:
    answers = set()
    for depth in (2_000, 100_000):
        for kind in "[{":
            body = nested(depth, kind).encode()
            for path, headers in (("/open/v5/users/search", served.headers), ("/sdk/v1/boot", {})):
                status, refusal = served.send(path, body, **headers)
                answers.add((path, status, refusal["type"], refusal["errors"][0]["code"]))
    listed, users = served.send("/open/v5/users", **served.headers)
    booted, _ = served.send("/sdk/v1/boot", json.dumps({"pluginKey": served.plugin_key}).encode())
    log = served.stop()

    assert answers == {
        ("/open/v5/users/search", 400, "validation_error", "too_deep"),
        ("/sdk/v1/boot", 400, "validation_error", "too_deep"),
    }
    assert (listed, users["users"], booted) == (200, [], 200)
    assert log.count("Booting worker") == 1  # the one worker answered everything


@pytest.mark.slow
def test_a_declared_length_past_the_limit_is_a_413_before_the_body_is_read(
    served: Served,
) -> None:
    host, port = served.base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("POST", "/sdk/v1/boot")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(LIMIT * 40))
    connection.endheaders()  # not one byte of the body is sent

    response = connection.getresponse()
    refusal = json.loads(response.read())
    connection.close()
    booted, _ = served.send("/sdk/v1/boot", json.dumps({"pluginKey": served.plugin_key}).encode())

    assert (response.status, refusal["type"], refusal["errors"][0]["code"]) == (
        413,
        "payload_too_large",
        "payload_too_large",
    )
    assert booted == 200
