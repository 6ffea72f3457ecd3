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
