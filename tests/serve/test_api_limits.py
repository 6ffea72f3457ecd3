"""The contract failures a schemathesis run found (issue #12), one test each, and the limits
that keep every request bounded: refused up front with the config key named, or cut off at
``serve.request_timeout_s`` with a clear error, never a hang."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from serve_support import FastGenerator, StuckGenerator, live_app, make_tiny_tokenizer, serve_cfg, stub_plan

from chefbot.serve import routes_people
from chefbot.serve.app import create_app
from chefbot.serve.auth import ANONYMOUS_PATHS, LOGIN_PATH
from chefbot.serve.schemas_recipes import NOT_BLANK, NOT_SEPARATOR, WHITESPACE

CHAT = "/v1/chat/completions"
ONE = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def tokenizer():
    return make_tiny_tokenizer()


def client(tokenizer, **serve) -> TestClient:
    return TestClient(create_app(serve_cfg(Path("unused"), **serve), FastGenerator(tokenizer)))


def sse_data(text: str) -> list:
    return [None if d == "[DONE]" else json.loads(d) for d in re.findall(r"^data: (.*)$", text, re.MULTILINE)]


# -- the schema: what it documents ------------------------------------------------------------------
def test_schema_documents_every_status_and_both_media_types_of_a_stream(tokenizer):
    with client(tokenizer) as c:
        doc = c.get("/openapi.json").json()
    paths = doc["paths"]
    for path in (CHAT, "/v1/recipes"):
        responses = paths[path]["post"]["responses"]
        # 502: only from a model served elsewhere (engine openai), named so in its description
        assert set(responses) == {"200", "400", "404", "413", "422", "429", "500", "502", "503", "504"}
        assert set(responses["200"]["content"]) == {"application/json", "text/event-stream"}
        for status, r in responses.items():
            if status != "200":
                ref = r["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ValidationErrorResponse" if status == "422" else "/ErrorResponse")
    plan = paths["/v1/plan"]["post"]
    assert set(plan["responses"]) == {"200", "400", "413", "422", "429", "504"}  # 429: plans share the queue
    assert plan["requestBody"]["required"] is True  # no body: 422, as documented
    assert "securitySchemes" not in doc["components"]  # no keys, no 401 anywhere
    # no keys, no 401 for want of a key; the people routes' 401 is "not logged in as a person" (a wrong password
    # on /api/login), which holds with keys or without (serve/routes_people.py)
    people = {r.path_format for r in routes_people.router.routes}  # the documented form: {token_id}, not {token_id:int}
    with_401 = {p for p, item in paths.items() for op in item.values() if "401" in op["responses"]}
    assert LOGIN_PATH in people and with_401 <= people, with_401 - people
    text = json.dumps(doc)
    assert "#/$defs/" not in text  # every reference resolves inside the document
    assert not re.search(r'"(ge|le|gt|lt)": ', text), "pydantic keywords instead of JSON Schema's"
    errors = doc["components"]["schemas"]["ErrorDetail"]
    assert set(errors["required"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    "method,path,allow",
    [
        ("DELETE", CHAT, "POST"),
        ("PUT", "/api/recipes", "GET, POST"),
        ("POST", "/health", "GET"),
        ("DELETE", "/", "GET"),
        ("POST", "/static/app.js", "GET"),
        ("GET", "/v1/plan", "POST"),
    ],
)
def test_405_names_the_allowed_methods(tokenizer, method, path, allow):
    """FastAPI nests the included routers, and Starlette's own Allow header came out empty."""
    with client(tokenizer) as c:
        r = c.request(method, path)
    assert r.status_code == 405 and r.headers["allow"] == allow
    assert f"allowed: {allow}" in r.json()["error"]["message"]


def test_keyed_server_documents_the_bearer_scheme_and_401(tokenizer):
    with client(tokenizer, api_keys=["k"]) as c:
        doc = c.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, item in doc["paths"].items():
        for op in item.values():
            if path in ANONYMOUS_PATHS:  # logging in and "who am I" need no credentials (their 401: a wrong password)
                continue
            keyed = path.startswith(("/v1/", "/api/"))  # the model and the kitchen
            assert ("401" in op["responses"]) == keyed and ("security" in op) == keyed, path


def test_limits_are_in_the_schema(tokenizer):
    with client(tokenizer, max_messages=7) as c:
        schemas = c.get("/openapi.json").json()["components"]["schemas"]
    messages = schemas["ChatCompletionRequest"]["properties"]["messages"]
    assert (messages["minItems"], messages["maxItems"]) == (1, 7)
    ingredients = schemas["RecipeRequest"]["properties"]["ingredients"]["anyOf"]
    as_list, as_string = ingredients
    assert as_list["minItems"] == 1 and as_list["contains"]["pattern"] == NOT_BLANK
    assert as_string["pattern"] == NOT_SEPARATOR
    usage = schemas["StreamOptions"]["properties"]["include_usage"]
    assert usage["type"] == "boolean"


def test_whitespace_is_exactly_what_strip_removes():
    assert set(WHITESPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()}


# -- the failures schemathesis found -----------------------------------------------------------------
def test_plan_without_a_body_is_422_as_the_schema_says(tokenizer):
    with client(tokenizer) as c:
        json_type = {"content-type": "application/json"}  # without it a body is 415 (test_security.py, CSRF)
        for kwargs in ({}, {"content": b""}, {"content": b"  ", "headers": json_type}):
            r = c.post("/v1/plan", **kwargs)
            assert r.status_code == 422, r.text
            body = r.json()
            assert body["error"]["param"] == "body" and body["detail"], body
        assert c.post("/v1/plan", content=b"[1]", headers={"content-type": "application/json"}).status_code == 422
        assert c.post("/v1/plan", content=b"{", headers={"content-type": "application/json"}).status_code == 422


@pytest.mark.parametrize("ingredients", ["", " ", " , \n", ";;", "\u3000,\x1c", [], [""], ["  ", "\t"]])
def test_no_ingredient_is_refused_by_the_schema_with_400(tokenizer, ingredients):
    """The schema forbids them (pattern / contains); the server answers 400 with the old message."""
    with client(tokenizer) as c:
        r = c.post("/v1/recipes", json={"ingredients": ingredients})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "empty_ingredients" and "at least one ingredient" in err["message"]
    if isinstance(ingredients, str):
        assert not re.search(NOT_SEPARATOR, ingredients)
    else:
        assert not any(re.search(NOT_BLANK, i) for i in ingredients)


@pytest.mark.parametrize(
    "ingredients, given",
    [
        ("rice", ["rice"]),
        ("rice,,\n egg ;", ["rice", "egg"]),
        (["rice", ""], ["rice"]),
        ([" a,b "], ["a,b"]),
        ("\x00", ["\x00"]),  # not blank for Python's strip() nor for the schema's pattern
    ],
)
def test_schema_valid_ingredients_are_accepted(tokenizer, ingredients, given):
    with client(tokenizer) as c:
        r = c.post("/v1/recipes", json={"ingredients": ingredients})
    assert r.status_code == 200, r.text
    assert r.json()["ingredients_given"] == given


@pytest.mark.parametrize(
    "field, value, param",
    [
        ("stream_options", {"include_usage": 0}, "stream_options.include_usage"),
        ("stream_options", {"include_usage": "true"}, "stream_options.include_usage"),
        ("stream", 1, "stream"),
        ("max_tokens", "5", "max_tokens"),
        ("max_tokens", 5.5, "max_tokens"),
        ("max_tokens", True, "max_tokens"),
        ("temperature", "0.5", "temperature"),
        ("seed", 2**60, "seed"),
    ],
)
def test_schema_violating_values_are_not_coerced(tokenizer, field, value, param):
    with client(tokenizer) as c:
        r = c.post(CHAT, json={"messages": ONE, field: value})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["param"] == param


def test_json_integers_may_be_written_with_a_point_zero(tokenizer):
    """3.0 is an integer to JSON Schema, so it is one here too (3.5 is not)."""
    with client(tokenizer) as c:
        r = c.post(CHAT, json={"messages": ONE, "max_tokens": 3.0, "n": 1.0, "temperature": 0})
        assert r.status_code == 200, r.text
        assert r.json()["usage"]["completion_tokens"] == 3
        r = c.post("/v1/recipes", json={"ingredients": "rice", "constraints": {"max_minutes": 30.0}})
        assert r.status_code == 200 and r.json()["constraints"]["max_minutes"] == 30


# -- limits: refused up front, the config key named ------------------------------------------------------
def test_long_message_list_is_refused_at_once_naming_the_limit(tokenizer):
    def turns(n: int, text: str = "") -> list[dict]:
        return [{"role": "user" if i % 2 == 0 else "assistant", "content": text} for i in range(n)]

    gen = FastGenerator(tokenizer)
    with TestClient(create_app(serve_cfg(Path("unused"), max_messages=64), gen)) as c:
        t0 = time.perf_counter()
        r = c.post(CHAT, json={"messages": turns(2000)})  # small enough a body, too many messages
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] == "too_many_messages" and err["param"] == "messages"
        assert "serve.max_messages" in err["message"] and "64" in err["message"]
        r = c.post(CHAT, json={"messages": turns(20_000, "salt")})  # so many the body is refused unread
        assert r.status_code == 413 and "serve.max_body_bytes" in r.json()["error"]["message"]
        assert time.perf_counter() - t0 < 5
        assert c.post(CHAT, json={"messages": turns(64)}).status_code == 200
    assert gen.calls == 1


def test_prompt_over_the_token_limit_is_413_naming_it(tokenizer):
    gen = FastGenerator(tokenizer)
    # Few characters, many tokens: the chat template's own tokens count too.
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": "x"} for i in range(60)]
    with TestClient(create_app(serve_cfg(Path("unused"), max_prompt_tokens=200), gen)) as c:
        r = c.post(CHAT, json={"messages": messages})
        assert r.status_code == 413, r.text
        assert "serve.max_prompt_tokens" in r.json()["error"]["message"]
        r = c.post("/v1/recipes", json={"ingredients": ["rice"] * 150})
        assert r.status_code == 413 and "serve.max_prompt_tokens" in r.json()["error"]["message"]
        assert c.post(CHAT, json={"messages": messages[:3]}).status_code == 200
    assert gen.calls == 1


def test_body_without_content_length_is_still_limited(tokenizer):
    """A chunked upload has no Content-Length to check: it is counted as it arrives."""
    big = json.dumps({"messages": [{"role": "user", "content": "a" * 5000}]}).encode()

    def chunks(data: bytes):
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]

    with client(tokenizer, max_body_bytes=4000) as c:
        r = c.post(CHAT, content=chunks(big), headers={"content-type": "application/json"})
        assert r.status_code == 413, r.text
        assert "serve.max_body_bytes" in r.json()["error"]["message"]
        small = json.dumps({"messages": ONE}).encode()
        r = c.post(CHAT, content=chunks(small), headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text
        assert c.post(CHAT, content=big, headers={"content-type": "application/json"}).status_code == 413


# -- bounded time: a stuck model is cut off at serve.request_timeout_s ---------------------------------------
def test_stuck_generator_gives_504_and_a_stream_error_event_within_the_timeout():
    gen = StuckGenerator()
    timeout = 0.6
    try:
        with (
            live_app(serve_cfg(Path("unused"), request_timeout_s=timeout, max_concurrency=2), gen) as srv,
            httpx.Client(base_url=srv.url, timeout=30) as c,
        ):
            t0 = time.perf_counter()
            r = c.post(CHAT, json={"messages": ONE})
            took = time.perf_counter() - t0
            assert r.status_code == 504, r.text
            assert r.json()["error"]["code"] == "timeout" and "serve.request_timeout_s" in r.json()["error"]["message"]
            assert timeout <= took < timeout + 2

            t0 = time.perf_counter()
            with c.stream("POST", CHAT, json={"messages": ONE, "stream": True}) as s:
                assert s.status_code == 200
                events = sse_data(s.read().decode())
            took = time.perf_counter() - t0
            assert timeout <= took < timeout + 2
            assert events[-1] is None  # the stream still ends properly...
            error = [e for e in events if e and "error" in e]
            assert error and error[0]["error"]["code"] == "timeout"  # ...after saying why it was cut

            t0 = time.perf_counter()
            with c.stream("POST", "/v1/recipes", json={"ingredients": "rice", "stream": True}) as s:
                events = sse_data(s.read().decode())
            assert time.perf_counter() - t0 < timeout + 2
            assert events[-1] is None and any(e and e.get("error", {}).get("code") == "timeout" for e in events)
            assert c.get("/health").json()["status"] == "ok"  # the server itself never stopped answering
    finally:
        gen.release()


def test_stream_whose_generator_blocks_when_called_still_times_out():
    """``generator.stream_from_ids(...)`` itself may block (a remote one may hang): it runs in the
    stream's thread, so the event loop keeps answering; the stream's status waits for the engine to take the
    request (``ActiveStream.opened``: a refusal can still be a status), at most serve.request_timeout_s: 504."""
    release, called = threading.Event(), threading.Event()

    class BlockingCall(FastGenerator):
        def stream_from_ids(self, prompt, settings_override=None):
            called.set()
            release.wait(30)
            return super().stream_from_ids(prompt, settings_override)

    try:
        with (
            live_app(serve_cfg(Path("unused"), request_timeout_s=0.5), BlockingCall()) as srv,
            httpx.Client(base_url=srv.url, timeout=30) as c,
        ):
            t0 = time.perf_counter()
            answer: list = []
            asking = threading.Thread(
                target=lambda: answer.append(c.post(CHAT, json={"messages": ONE, "stream": True}))
            )
            asking.start()
            assert called.wait(10)
            assert c.get("/health").status_code == 200  # answered while the stream is stuck
            asking.join(10)
            r = answer[0]
            assert r.status_code == 504 and r.json()["error"]["code"] == "timeout", r.text
            assert time.perf_counter() - t0 < 5
    finally:
        release.set()


def test_plan_that_takes_too_long_is_504(tokenizer, monkeypatch):
    from chefbot.serve import routes_plan

    release = threading.Event()
    monkeypatch.setattr(routes_plan, "plan_meal_dict", lambda data: release.wait(30) or stub_plan(data))
    try:
        with client(tokenizer, request_timeout_s=0.5) as c:
            t0 = time.perf_counter()
            r = c.post("/v1/plan", json=routes_plan.EXAMPLE)
            assert r.status_code == 504 and "serve.request_timeout_s" in r.json()["error"]["message"]
            assert time.perf_counter() - t0 < 3
            release.set()  # before the client closes: its event loop waits for its threads
    finally:
        release.set()


def test_plan_solver_time_is_capped(tokenizer, monkeypatch):
    from chefbot.serve import routes_plan

    seen = []
    monkeypatch.setattr(routes_plan, "plan_meal_dict", lambda data: seen.append(data["solver"]) or stub_plan(data))
    with client(tokenizer, plan_time_limit_s=0.5) as c:
        meal = {**routes_plan.EXAMPLE, "solver": {"time_limit_s": 600, "explain_time_limit_s": 120, "workers": 2}}
        assert c.post("/v1/plan", json=meal).status_code == 200
        assert c.post("/v1/plan", json=routes_plan.EXAMPLE).status_code == 200
    assert seen == [
        {"time_limit_s": 0.5, "explain_time_limit_s": 0.5, "workers": 2},
        {"time_limit_s": 0.5, "explain_time_limit_s": 0.5, "workers": 2},
    ]  # the default 8: serve.plan_workers


def test_plan_spec_is_validated_strictly(tokenizer):
    from chefbot.serve.routes_plan import EXAMPLE

    with client(tokenizer) as c:
        for bad in (
            {**EXAMPLE, "cooks": [{"name": "Alex", "skill": "3"}]},
            {**EXAMPLE, "serve_at": 1140},
            {**EXAMPLE, "solver": {"deterministic": 1}},
            {**EXAMPLE, "burners": 4},
        ):
            r = c.post("/v1/plan", json=bad)
            assert r.status_code == 400, (bad, r.text)
            assert r.json()["error"]["code"] == "bad_meal_spec"
