"""Every project's API keeps its own OpenAPI contract, and no request, however malformed, gets a 5xx.

Three layers, each run over every project in projects/ (trained once with --dry-run):
1. schemathesis generates requests from the project's own OpenAPI schema, valid and invalid, and
   runs every one of its checks on each answer: no server error, only documented status codes,
   content types, headers and bodies that match the schema, a request the schema allows accepted
   and one it refuses refused. What a project's API may do beyond its schema (rules JSON Schema
   cannot state) is in that project's `schemathesis.toml`, each with its reason;
2. each leaf of the project's example request is replaced by what JSON should not carry
   (NaN, Infinity, huge numbers, invalid UTF-8, a lone surrogate, a megabyte of text);
3. hand-made abuse of the transport: oversized, chunked, deeply nested and non-JSON bodies,
   wrong content types, and for uploads empty, huge, truncated and non-image files.
Examples are derandomized and bounded, so the whole file takes a minute or two on 2 cores.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from mlstarter import bench, serving

from .conftest import PROJECTS, REPO

EXAMPLES = 25  # generated requests per operation and mode: enough to find a crash, small enough for 2 cores
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a prediction can take a while on a busy machine: no timed assertions
    derandomize=True,  # the same requests on every run, so CI does not flake
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module", params=PROJECTS)
def api(request: pytest.FixtureRequest, dry_run_runs) -> Iterator[tuple[str, Any, TestClient]]:
    """(project, app, client) for one project's dry-run model."""
    project = request.param
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLSTARTER_RUNS_DIR", str(dry_run_runs(project)))
        app = __import__(f"projects.{project}.serve", fromlist=["create_app"]).create_app()
        with TestClient(app, raise_server_exceptions=False) as client:
            yield project, app, client


def says_what_is_wrong(response: Any, request: str = "") -> None:
    """No 5xx; a 4xx has the one error shape: `detail`, a list of {loc, msg, type}, each message readable."""
    if response.status_code < 400:
        return  # the answer may be an image: not read as text here
    where = f"{response.status_code} for {request}: {response.text[:500]}"
    assert response.status_code < 500, where
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail, where
    for item in detail:
        assert isinstance(item["loc"], list) and isinstance(item["type"], str), where
        assert isinstance(item["msg"], str) and len(item["msg"]) > 5, where


def post_operations(app: Any) -> list[tuple[str, str]]:
    """(path, content type) of every endpoint that takes a body."""
    found = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            if method == "post" and "requestBody" in operation:
                found.append((path, next(iter(operation["requestBody"]["content"]))))
    return found


def body_cap(app: Any) -> int:
    """The request-body cap of an app made by create_app."""
    return next(m.kwargs["max_bytes"] for m in app.user_middleware if m.cls is serving.BodySizeLimit)


def upload_field(app: Any, path: str) -> str:
    """The name of the file field of a multipart endpoint, from its schema."""
    schema = app.openapi()
    body = schema["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    properties = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]["properties"]
    return next(name for name, p in properties.items() if p.get("format") == "binary" or "contentMediaType" in p)


# 1. schemathesis: requests generated from the project's own OpenAPI schema


def contract(project: str) -> SchemathesisConfig:
    """schemathesis' configuration for a project: its own schemathesis.toml (the rules beyond the schema), if any."""
    path = REPO / "projects" / project / "schemathesis.toml"
    return SchemathesisConfig.from_path(str(path)) if path.is_file() else SchemathesisConfig()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_requests_generated_from_the_schema_pass_every_check(api, mode: GenerationMode):
    project, app, _ = api
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=contract(project))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 2, f"{project} has no endpoint of its own in its schema"
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not (len(operation.body) or len(operation.query)):
            continue  # nothing to get wrong in a GET without parameters

        @FUZZ
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: Any) -> None:
            # every check schemathesis has: status codes, content types, headers and bodies as documented,
            # valid requests accepted and invalid ones refused (with the project's stated exceptions)
            response = case.call_and_validate()
            says_what_is_wrong(response, f"{case.method} {case.formatted_path} body={str(case.body)[:300]}")
            if mode is GenerationMode.POSITIVE and response.status_code == 200 and case.method.upper() == "POST":
                # a request the schema allows gets an answer, with the model's version
                assert response.headers["x-model-version"] == [app.state.run.run_id]  # schemathesis: lists

        check()


def test_the_schema_is_valid_and_every_4xx_has_the_one_error_shape(api):
    project, app, client = api
    schema = app.openapi()
    assert "Error" in schema["components"]["schemas"] and "HTTPValidationError" not in schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith("4"):
                    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= set(operation["responses"]), f"{project} {method} {path}"
    # a body that is not JSON, a path that does not exist, a method a path does not take: the same shape
    json_route = next((p for p, _ in post_operations(app) if _ == "application/json"), None)
    answers = [client.get("/no/such/path"), client.delete("/health")]
    if json_route:
        answers.append(client.post(json_route, content=b"{not json", headers=JSON))
    for answer in answers:
        [item] = answer.json()["detail"]
        assert set(item) >= {"loc", "msg", "type"} and len(item["msg"]) > 5, answer.text


# 2. the project's own example, one leaf at a time replaced by what JSON should not carry

NOT_JSON = {  # raw bytes put in place of a value: each must be refused with a 4xx
    "NaN": b"NaN",
    "Infinity": b"Infinity",
    "-Infinity": b"-Infinity",
    "1e999": b"1e999",  # a float that overflows to infinity
    "invalid UTF-8": b'"\xff\xfe\xfd"',
}
ODD_VALUES = {  # valid JSON that no field here should take; whatever the answer, not a 5xx
    "a 400-digit integer": b"1" * 400,
    "a 5000-digit integer": b"9" * 5000,  # more digits than Python converts by default
    "-0.0": b"-0.0",
    "a lone surrogate": b'"\\ud800"',
    "a NUL character": b'"a\\u0000b"',
    "a megabyte of text": b'"' + b"x" * 2**20 + b'"',
    "an empty string": b'""',
    "null": b"null",
    "a list": b"[1, 2, 3]",
    "an object": b'{"a": {"b": []}}',
    "true": b"true",
}


def leaves(value: Any, path: tuple = ()) -> Iterator[tuple]:
    """Paths to every leaf of a JSON value; in lists, of the first item only."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list) and value:
        yield from leaves(value[0], (*path, 0))
    else:
        yield path


def with_raw(value: Any, path: tuple, raw: bytes) -> bytes:
    """`value` as JSON bytes, with the leaf at `path` replaced by `raw`."""
    marker = "\u2603mlstarter-fuzz\u2603"
    copy = json.loads(json.dumps(value))
    target = copy
    for key in path[:-1]:
        target = target[key]
    if path:
        target[path[-1]] = marker
    else:
        copy = marker
    return json.dumps(copy).encode().replace(json.dumps(marker).encode(), raw)


def json_examples(project: str) -> list[tuple[str, Any]]:
    try:
        examples = bench.example_requests(project)
    except ValueError as error:  # the project says nowhere what a request looks like
        pytest.skip(str(error))
    return [(r["path"], r["json"]) for r in examples.values() if "json" in r]


def test_each_field_refuses_what_json_should_not_carry(api):
    project, _, client = api
    examples = json_examples(project)
    if not examples:
        pytest.skip(f"{project} takes no JSON bodies")
    for path, example in examples:
        assert client.post(path, json=example).status_code == 200, f"{project}'s own example for {path} is refused"
        for leaf in leaves(example):
            for name, raw in NOT_JSON.items():
                response = client.post(path, content=with_raw(example, leaf, raw), headers=JSON)
                says_what_is_wrong(response, f"{path} with {name} at {leaf}")
                assert 400 <= response.status_code < 500, f"{path} took {name} at {leaf}: {response.text[:300]}"
            for name, raw in ODD_VALUES.items():
                response = client.post(path, content=with_raw(example, leaf, raw), headers=JSON)
                says_what_is_wrong(response, f"{path} with {name} at {leaf}")


# 3. abuse of the transport, for every endpoint that takes a body

JSON = {"content-type": "application/json"}


def test_bodies_over_the_cap_get_413_before_they_are_read(api):
    project, app, client = api
    cap = body_cap(app)
    for path, content_type in post_operations(app):
        headers = {"content-type": content_type + ("; boundary=x" if content_type.startswith("multipart/") else "")}
        response = client.post(path, content=b"1" * (cap + 1), headers=headers)
        assert response.status_code == 413 and "at most" in response.json()["detail"][0]["msg"], response.text
        assert response.headers["x-model-version"] == app.state.run.run_id
        # no Content-Length (chunked): counted as it arrives
        chunks = (b" " * 2**16 for _ in range(cap // 2**16 + 2))
        response = client.post(path, content=chunks, headers=headers)
        assert response.status_code == 413 and "at most" in response.json()["detail"][0]["msg"], response.text
        # the cap is on the 413 in /docs
        operation = app.openapi()["paths"][path]["post"]
        assert f"{cap:,}" in operation["responses"]["413"]["description"]
    assert f"{cap:,} bytes" in app.openapi()["info"]["description"]


TRANSPORT_ABUSE = {
    "empty": (b"", "application/json"),
    "whitespace": (b"   \n ", "application/json"),
    "truncated JSON": (b'{"a": [1, 2', "application/json"),
    "JSON nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "objects nested 20,000 deep": (b'{"a":' * 20_000 + b"1" + b"}" * 20_000, "application/json"),
    "invalid UTF-8": (b'{"\xff": "\xfe"}', "application/json"),
    "UTF-16": ('{"a": 1}'.encode("utf-16"), "application/json"),
    "a bare NaN": (b"NaN", "application/json"),
    "a huge number": (b"9" * 100_000, "application/json"),
    "text/plain": (b'{"a": 1}', "text/plain"),
    "XML": (b"<a>1</a>", "application/xml"),
    "form without JSON": (b"a=1&b=2", "application/x-www-form-urlencoded"),
    "multipart without boundary": (b"--x\r\n\r\n", "multipart/form-data"),
    "multipart, bad boundary": (
        b"--y\r\nContent-Disposition: form-data\r\n\r\nzz\r\n--y--",
        "multipart/form-data; boundary=x",
    ),
    "no content type": (b'{"a": 1}', None),
    "binary": (bytes(range(256)) * 8, "application/octet-stream"),
}


@pytest.mark.parametrize("name", list(TRANSPORT_ABUSE))
def test_malformed_bodies_get_a_4xx_that_says_why(api, name: str):
    _, app, client = api
    body, content_type = TRANSPORT_ABUSE[name]
    for path, _ in post_operations(app):
        headers = {"content-type": content_type} if content_type else {}
        response = client.post(path, content=body, headers=headers)
        says_what_is_wrong(response, f"{path} with {name}")
        assert 400 <= response.status_code < 500, f"{path} took {name}: {response.text[:300]}"


@FUZZ
@given(
    body=st.binary(max_size=3000),
    content_type=st.sampled_from(["application/json", "multipart/form-data; boundary=b", "text/plain", ""]),
)
def check_random_bytes(client: TestClient, paths: list[str], body: bytes, content_type: str) -> None:
    for path in paths:
        response = client.post(path, content=body, headers={"content-type": content_type} if content_type else {})
        says_what_is_wrong(response, f"{path} with {body[:100]!r} as {content_type}")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)


def test_random_bytes_and_json_values_get_no_5xx(api):
    _, app, client = api
    paths = [path for path, _ in post_operations(app)]
    check_random_bytes(client, paths)

    @FUZZ
    @given(value=JSON_VALUES)
    def check_json(value: Any) -> None:
        for path in paths:  # NaN and infinities included: Python writes them, as other clients may
            response = client.post(path, content=json.dumps(value).encode(), headers=JSON)
            says_what_is_wrong(response, f"{path} with {value!r:.300}")

    check_json()


# uploads: for every endpoint that takes a multipart form


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 128).save(buffer, format="PNG")
    return buffer.getvalue()


def test_uploads_that_are_not_sane_images_get_a_4xx_that_says_why(api):
    project, app, client = api
    uploads = [(path, ct) for path, ct in post_operations(app) if ct.startswith("multipart/")]
    if not uploads:
        pytest.skip(f"{project} takes no uploads")
    cap = body_cap(app)
    good = png(64, 64)
    bomb = bytearray(png(8, 8))
    bomb[16:24] = (60_000).to_bytes(4, "big") * 2  # the header says 60,000 x 60,000 pixels
    for path, _ in uploads:
        name = upload_field(app, path)
        cases = {
            "an empty file": {name: ("x.png", b"", "image/png")},
            "a file one byte over the cap": {name: ("x.png", b"\0" * (cap + 1), "image/png")},
            "text": {name: ("x.png", b"not an image at all", "image/png")},
            "a truncated PNG": {name: ("x.png", good[: len(good) // 2], "image/png")},
            "a PNG with its header cut": {name: ("x.png", good[:30], "image/png")},
            "a PNG whose header claims 60,000 x 60,000 pixels": {name: ("x.png", bytes(bomb), "image/png")},
            "a 1x1 image": {name: ("x.png", png(1, 1), "image/png")},
            "a GIF": {name: ("x.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif")},
            "the wrong field name": {"not_" + name: ("x.png", good, "image/png")},
        }
        for case, files in cases.items():
            response = client.post(path, files=files)
            says_what_is_wrong(response, f"{path} with {case}")
            assert 400 <= response.status_code < 500, f"{path} took {case}: {response.text[:300]}"
        assert client.post(path, files={name: ("x.png", good, "image/png")}).status_code == 200
        # no file at all, and a JSON body instead of a form
        for response in (client.post(path), client.post(path, json={name: "aGVsbG8="})):
            says_what_is_wrong(response, f"{path} without a file")
            assert response.status_code == 422


# 4. make fuzz: the same checks, longer, against a real server


@pytest.mark.slow
def test_make_fuzz_runs_every_check_against_a_real_server(dry_run_runs, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(dry_run_runs("time_series")))
    written: dict[str, Any] = {}
    monkeypatch.setattr(bench, "write_section", lambda project, section, results, markdown: written.update(
        section=section, results=results, markdown=markdown))  # fmt: skip
    assert bench.fuzz("time_series", seconds=3) == 0
    results = written["results"]
    assert written["section"] == "fuzz" and results["cases"] > 10 and results["unique_failures"] == 0
    assert results["contract"] == "projects/time_series/schemathesis.toml" and results["operations_tested"] == 3
    assert f"{results['cases']:,} generated requests, no failure" in written["markdown"]
