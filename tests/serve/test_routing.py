"""Routes do not shadow each other: a method a literal path does not serve is 405 there, never a 422 from a
sibling ``/{id}`` route that took the literal for an id (``PATCH /api/calendar/plan-form`` was "path.entry_id:
unable to parse string as an integer"; schemathesis' unsupported_method check found it).  Integer ids are
declared with Starlette's ``:int`` convertor, so a route with an id only matches digits."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from serve_support import FastGenerator, serve_cfg

from chefbot.serve.app import create_app

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    cfg = serve_cfg(tmp_path_factory.mktemp("routing"))
    cfg.kitchen.db_path = str(tmp_path_factory.mktemp("kitchen") / "kitchen.db")
    with TestClient(create_app(cfg, FastGenerator())) as c:
        yield c


@pytest.fixture(scope="module")
def paths(client):
    return client.get("/openapi.json").json()["paths"]


def test_a_method_a_literal_path_does_not_serve_is_405(client, paths):
    """Every path of the schema without an id, every method it does not declare: 405, whatever a sibling
    ``/{id}`` route serves (the routes are asked over HTTP: FastAPI's router internals change between releases)."""
    literal = [p for p in paths if "{" not in p]
    assert len(literal) >= 20
    wrong = {}
    for path in literal:
        for method in METHODS:
            if method in paths[path]:
                continue
            status = client.request(method.upper(), path).status_code
            if status != 405:
                wrong[f"{method.upper()} {path}"] = status
    assert not wrong, wrong


def test_every_id_is_a_typed_path_segment(client, paths):
    """An id that is not digits names no route (404 from routing), for every ``{..._id}`` and ``{version}``; the
    schema keeps the plain names (``{entry_id}``, not Starlette's ``{entry_id:int}``)."""
    with_ids = [p for p in paths if "{" in p]
    assert len(with_ids) >= 10 and not any(":int" in p for p in paths)
    assert all(re.fullmatch(r"[a-z_]+_id|version", n) for p in with_ids for n in re.findall(r"{([^}]+)}", p))
    for path in with_ids:
        for method in paths[path]:
            url = re.sub(r"{[^}]+}", "abc", path)
            r = client.request(method.upper(), url)
            assert r.status_code == 404, (method, url, r.status_code, r.text[:200])


def test_the_calendar_case_schemathesis_found(client):
    assert client.patch("/api/calendar/plan-form").status_code == 405
    assert client.delete("/api/calendar/plan-form").status_code == 405
    assert client.patch("/api/calendar/1", json={"meal": "lunch"}).status_code == 404  # a typed id still routes
