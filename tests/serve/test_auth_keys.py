"""The bearer-key check accepts the exact key only: not a key with extra text after it, not a prefix of it."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from chefbot.serve.auth import KeyCheck, install_auth


@pytest.mark.parametrize("header,allowed", [
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
])
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
        assert r.json() == {"error": {"message": "missing or wrong API key: send 'Authorization: Bearer <key>'",
                                      "type": "authentication_error", "param": None, "code": "invalid_api_key"}}
        # a CORS preflight carries no key: it passes to the app (CORS answers it when configured)
        assert client.options("/v1/echo").status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("content_type,status", [
    ("text/plain", 415), ("application/x-www-form-urlencoded", 415), ("application/json", 200),
    ("application/json; charset=utf-8; x=y", 200), ("Application/JSON", 200), ("application/vnd.api+json", 200),
    ("application/merge-patch+JSON", 200), ("text/json", 415), ("application/jsonx", 415),
])
def test_bodies_must_be_json_for_every_writing_method(method: str, content_type: str, status: int):
    with TestClient(_app([])) as client:
        r = client.request(method, "/v1/echo", content=b"{}", headers={"Content-Type": content_type})
        assert r.status_code == status, r.text
        if status == 415:
            assert r.json()["error"]["code"] == "unsupported_media_type" and content_type in r.json()["error"]["message"]


@pytest.mark.parametrize("host,loopback", [
    ("localhost", True), ("LOCALHOST.", True), ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
    ("[::1]", True), (" 127.0.0.1 ", True), ("0.0.0.0", False), ("192.168.1.5", False), ("kitchen.lan", False),
    (".localhost", False),
])
def test_is_loopback(host: str, loopback: bool):
    from chefbot.serve.auth import is_loopback

    assert is_loopback(host) is loopback
