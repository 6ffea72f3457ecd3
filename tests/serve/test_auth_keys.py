"""The bearer-key check accepts the exact key only: not a key with extra text after it, not a prefix of it."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from chefbot.serve.auth import KeyCheck, install_auth


@pytest.mark.parametrize(
    "header,allowed",
    [
        ("Bearer k-123", True),
        ("bearer k-123", True),  # the scheme is case-insensitive (RFC 7235)
        ("Bearer k-123  ", True),
        ("Bearer other", True),
        ("Bearer k-123-anything", False),  # the real key followed by anything
        ("Bearer k-123x", False),
        ("Bearer k-12", False),  # a prefix of the real key
        ("Bearer ", False),
        ("Bearer", False),
        ("k-123", False),  # no scheme
        ("Basic k-123", False),
        ("Bearer K-123", False),  # keys are case-sensitive
        (None, False),
    ],
)
def test_only_an_exact_key_is_allowed(header: str | None, allowed: bool):
    check = KeyCheck(["k-123", "other"])
    assert check.allows(header) is allowed
    assert check.allows(header.encode() if header is not None else None) is allowed


def test_a_key_with_a_suffix_gets_401_from_the_server():
    app = FastAPI()

    @app.get("/v1/ping")
    def ping() -> dict:
        return {"ok": True}

    install_auth(app, ["k-123"])
    with TestClient(app) as client:
        assert client.get("/v1/ping", headers={"Authorization": "Bearer k-123"}).status_code == 200
        refused = client.get("/v1/ping", headers={"Authorization": "Bearer k-123-anything"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"


def test_without_keys_everything_is_allowed():
    open_check = KeyCheck([])
    assert not open_check.enabled and open_check.allows(None) and open_check.allows("Bearer anything")


def _app(keys: list[str]) -> FastAPI:
    from chefbot.serve.auth import JsonOnly

    app = FastAPI()

    @app.api_route("/v1/echo", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    def echo() -> dict:
        return {"ok": True}

    app.add_middleware(JsonOnly)
    install_auth(app, keys)
    return app


def test_the_401_says_what_to_send():
    with TestClient(_app(["k-123"])) as client:
        r = client.get("/v1/echo")
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
        assert r.json() == {
            "error": {
                "message": "missing or wrong API key: send 'Authorization: Bearer <key>'",
                "type": "authentication_error",
                "param": None,
                "code": "invalid_api_key",
            }
        }
        # a CORS preflight carries no key: it passes to the app (CORS answers it when configured)
        assert client.options("/v1/echo").status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "content_type,status",
    [
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("application/json", 200),
        ("application/json; charset=utf-8; x=y", 200),
        ("Application/JSON", 200),
        ("application/vnd.api+json", 200),
        ("application/merge-patch+JSON", 200),
        ("text/json", 415),
        ("application/jsonx", 415),
    ],
)
def test_bodies_must_be_json_for_every_writing_method(method: str, content_type: str, status: int):
    with TestClient(_app([])) as client:
        r = client.request(method, "/v1/echo", content=b"{}", headers={"Content-Type": content_type})
        assert r.status_code == status, r.text
        if status == 415:
            error = r.json()["error"]
            assert error["code"] == "unsupported_media_type" and content_type in error["message"]


@pytest.mark.parametrize(
    "host,loopback",
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        (" 127.0.0.1 ", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("kitchen.lan", False),
        (".localhost", False),
    ],
)
def test_is_loopback(host: str, loopback: bool):
    from chefbot.serve.auth import is_loopback

    assert is_loopback(host) is loopback


def _asgi(middleware, scope: dict) -> tuple[int, bytes]:
    """One request through a pure ASGI middleware: (status, body); 200 b"app" when it reaches the app."""
    import asyncio

    sent: list[dict] = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    asyncio.run(middleware(app)(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_the_host_check_in_front_of_the_app():
    import json

    from chefbot.config import ServeConfig
    from chefbot.serve.auth import HostCheck, _CheckHost

    check = HostCheck(ServeConfig(host="0.0.0.0"))

    def through(host: bytes, server) -> tuple[int, bytes]:
        scope = {"type": "http", "method": "GET", "path": "/v1/models", "headers": [(b"host", host)], "server": server}
        return _asgi(lambda app: _CheckHost(app, check), scope)

    # a client that dialled this machine by its address (the connection's local address) gets through
    assert through(b"10.1.2.3:8000", ("10.1.2.3", 8000)) == (200, b"app")
    status, body = through(b"evil.example", ("10.1.2.3", 8000))
    error = json.loads(body)["error"]
    assert status == 421 and error["param"] == "Host" and error["code"] == "misdirected_request"
    assert error["message"].startswith("Host 'evil.example' is not a name of this server")
    assert error["message"].endswith("if clients reach it under that name, add it to serve.allowed_hosts")


def test_public_bind_messages_say_what_to_do():
    from chefbot.config import ServeConfig
    from chefbot.errors import UsageError
    from chefbot.serve.auth import exposure_warning

    with pytest.raises(UsageError) as refused:
        exposure_warning(ServeConfig(host="0.0.0.0"))
    assert str(refused.value) == (
        "refusing to serve on 0.0.0.0 without an API key: anyone who can reach this machine could use the model and "
        "read and change the kitchen. Add --api-key KEY (or serve.api_keys), bind --host 127.0.0.1, or set "
        "serve.allow_insecure_public=true if the network is trusted"
    )
    warning = exposure_warning(ServeConfig(host="0.0.0.0", allow_insecure_public=True))
    assert warning == (
        "serving on 0.0.0.0 without an API key (serve.allow_insecure_public): anyone who can reach this "
        "machine can use the model and read and change the kitchen"
    )
    assert exposure_warning(ServeConfig(host="0.0.0.0", api_keys=["k"])) is None


def test_cors_is_off_unless_origins_are_listed():
    from chefbot.serve.auth import install_cors

    def preflight(origins: list[str]):
        app = _app([])
        install_cors(app, origins)
        with TestClient(app) as client:
            asks = {
                "Origin": "https://kitchen.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            }
            return client.options("/v1/echo", headers=asks)

    listed = preflight(["https://kitchen.example"])
    assert listed.headers["access-control-allow-origin"] == "https://kitchen.example"
    assert {m.strip() for m in listed.headers["access-control-allow-methods"].split(",")} == {"GET", "POST", "OPTIONS"}
    assert {h.strip().lower() for h in listed.headers["access-control-allow-headers"].split(",")} >= {
        "authorization",
        "content-type",
    }
    assert "access-control-allow-origin" not in preflight([]).headers
    assert "access-control-allow-origin" not in preflight(["https://other.example"]).headers


def test_only_a_request_with_a_body_must_say_json():
    from chefbot.serve.auth import JsonOnly

    def status(headers: list[tuple[bytes, bytes]]) -> int:
        scope = {"type": "http", "method": "POST", "path": "/v1/echo", "headers": headers}
        return _asgi(JsonOnly, scope)[0]

    assert status([]) == 200  # no body at all
    assert status([(b"content-length", b"0"), (b"content-type", b"text/plain")]) == 200
    assert status([(b"content-length", b" "), (b"content-type", b"text/plain")]) == 200
    assert status([(b"content-length", b"10"), (b"content-type", b"text/plain")]) == 415
    assert status([(b"transfer-encoding", b"chunked"), (b"content-type", b"text/plain")]) == 415  # a body, no length
    assert status([(b"transfer-encoding", b"chunked"), (b"content-type", b"application/json")]) == 200
    _, body = _asgi(
        JsonOnly, {"type": "http", "method": "PUT", "path": "/api/recipes/1", "headers": [(b"content-length", b"5")]}
    )
    assert b'"param":"Content-Type"' in body and b"(got none)" in body


def test_a_blank_key_is_named_by_its_place_and_the_fix_is_said():
    from chefbot.errors import UsageError
    from chefbot.serve.auth import api_keys

    assert api_keys([" k-1 ", "k-2"]) == ["k-1", "k-2"]
    with pytest.raises(UsageError) as blank:
        api_keys(["k-1", "  "])
    assert str(blank.value) == (
        "API key 2 (--api-key / serve.api_keys) is empty or blank: give a real key, e.g. --api-key "
        '"$(openssl rand -hex 16)" (is the shell variable you passed set?), or leave --api-key out to serve without '
        "keys on 127.0.0.1"
    )
