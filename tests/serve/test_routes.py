"""How the routes are built (issue 24): module-level routers that read their server from the app (two apps
in one process keep their own limits), the domain's exceptions answered by one table
(``api_errors.ERROR_STATUS``), bodies read with the server's own model refused as FastAPI refuses them,
and answers checked against their response models."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from serve_support import FastGenerator, serve_cfg

from chefbot.cooking.nutrition import NutritionTableMissing
from chefbot.errors import ChefbotError
from chefbot.generate.structured import UnsupportedSchema
from chefbot.generate.upstream import UpstreamError
from chefbot.kitchen.calendar import CalendarError
from chefbot.kitchen.db import KitchenError, NotFound, StorageError, StorageFull, UnreadableRow
from chefbot.kitchen.library import StaleVersion
from chefbot.kitchen.people import AccountError, NameTaken
from chefbot.kitchen.photos import PhotoError
from chefbot.kitchen.plans import ProgressError, StepWaits
from chefbot.kitchen.ratings import NotAuthor, RatingError
from chefbot.kitchen.rows import RecipeError
from chefbot.kitchen.saved_lists import StaleList
from chefbot.kitchen.tastings import AlreadyVoted, Revealed, VoteError
from chefbot.serve.api_errors import ERROR_STATUS, KitchenUnavailable, MealRefused, TastingModelFailed, as_api_error
from chefbot.serve.app import create_app
from chefbot.serve.queue import RequestTimeout

CHAT = "/v1/chat/completions"


def app_for(tmp_path: Path, **serve):
    cfg = serve_cfg(Path("unused"), **serve)
    cfg.kitchen.db_path = str(tmp_path / f"kitchen-{len(serve)}.db")
    return create_app(cfg, FastGenerator())


def messages(n: int) -> list[dict]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"} for i in range(n)]


def test_two_apps_in_one_process_keep_their_own_limits(tmp_path):
    """The routes are module-level and read the server per request: nothing of one app leaks into the other."""
    small, large = app_for(tmp_path / "a", max_messages=2), app_for(tmp_path / "b", max_messages=4)
    with TestClient(small) as s, TestClient(large) as big:
        refused = s.post(CHAT, json={"messages": messages(3)})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "too_many_messages"
        assert big.post(CHAT, json={"messages": messages(3)}).status_code == 200
        for client, limit in ((s, 2), (big, 4)):
            schema = client.get("/openapi.json").json()["components"]["schemas"]["ChatCompletionRequest"]
            assert schema["properties"]["messages"]["maxItems"] == limit


@pytest.mark.parametrize("body", [b"", b'{"messages": [', b"[]", b'"text"', b"3", b"null", b"\x80", b"\x00" * 5])
def test_a_body_read_with_the_servers_model_is_refused_as_fastapi_would(tmp_path, body):
    """/v1/chat/completions reads its body with this server's model (deps.json_body); /v1/recipes has FastAPI read
    it: a body that is no request object at all is refused the same way by both."""
    headers = {"Content-Type": "application/json"}
    with TestClient(app_for(tmp_path)) as c:
        ours, fastapis = (c.post(path, content=body, headers=headers) for path in (CHAT, "/v1/recipes"))
    assert ours.status_code == fastapis.status_code and ours.status_code in (400, 422)  # 400: no JSON encoding
    assert ours.json() == fastapis.json()


def test_a_field_of_a_body_read_with_the_servers_model_is_named(tmp_path):
    with TestClient(app_for(tmp_path)) as c:
        r = c.post(CHAT, json={"messages": "hi"})
    error = r.json()["error"]
    assert r.status_code == 422 and error["param"] == "messages" and error["code"] == "list_type"


# One instance of every class in the table (and a subclass that is not in it), raised by a route.
RAISED = [
    (KitchenError("newer file"), 400, "kitchen_error", None),
    (NotFound("tasting pair", 7, "pair_id"), 404, "tasting_pair_not_found", "pair_id"),
    (AlreadyVoted("voted"), 409, "already_voted", "rater"),
    (Revealed("pair 1 was revealed"), 409, "revealed", "pair_id"),
    (RatingError("text: control character", "text"), 400, "bad_rating", "text"),
    (NotAuthor("note 3 is someone else's"), 403, "not_author", "note_id"),
    (PhotoError("file: the image cannot be decoded"), 400, "bad_image", "file"),
    (StaleList(3, 1, 2), 409, "stale_version", "version"),
    (StaleVersion(3, 1, {"version": 2}), 409, "stale_version", "version"),
    (CalendarError("week: 2025-W53 does not exist", "week"), 400, "bad_calendar", "week"),
    (VoteError("no such side", "choice"), 400, "bad_vote", "choice"),
    (ProgressError("who?", "cook", "unknown_cook"), 400, "unknown_cook", "cook"),
    (StepWaits("task_id: soup.2 waits for Soup step 1 (Alex)"), 409, "step_waits", "task_id"),
    (NutritionTableMissing("no SR28"), 503, "nutrition_table_missing", None),
    (UnreadableRow("plan", 3, "tasks", "not a list"), 500, "unreadable_row", "tasks"),
    (StorageError("locked"), 503, "storage_unavailable", None),
    (StorageFull("full"), 507, "storage_full", None),
    (RecipeError("no title", "title"), 400, "bad_recipe", "title"),
    (MealRefused("no feasible plan"), 400, "bad_meal_spec", None),
    (KitchenUnavailable("kitchen DB x has schema version 9"), 503, "kitchen_db", None),
    (TastingModelFailed("a: refused", "a.model"), 502, "tasting_model_failed", "a.model"),
    (UnsupportedSchema("minimum", "/properties/servings"), 400, "unsupported_schema", "response_format"),
    (RequestTimeout("too slow"), 504, "timeout", None),
    (UpstreamError("upstream http://u/v1 is busy", 503, "upstream_busy", retry_after=2), 503, "upstream_busy", None),
    (TimeoutError("too slow"), 504, "timeout", None),
    (AccountError("password: too short", "password"), 400, "bad_account", "password"),
    (NameTaken("name: Ann is taken", "name"), 409, "name_taken", "name"),
    (type("OddKitchenError", (KitchenError,), {})("odd"), 400, "kitchen_error", None),  # the nearest listed class
]


def test_the_status_table_lists_every_class_raised_here():
    assert {type(e) for e, *_ in RAISED[:-1]} == set(ERROR_STATUS)


@pytest.mark.parametrize("exc, status, code, param", RAISED, ids=[type(e).__name__ for e, *_ in RAISED])
def test_a_domain_error_raised_in_a_route_is_answered_by_the_table(tmp_path, exc, status, code, param):
    app = app_for(tmp_path)
    probe = APIRouter()

    @probe.get("/probe")
    def raises() -> None:
        raise exc

    app.include_router(probe)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/probe")
    assert r.status_code == status, r.text
    assert r.json()["error"] == {"message": str(exc), "type": as_api_error(exc).type, "param": param, "code": code}


def test_an_error_outside_the_table_is_a_500_in_the_envelope(tmp_path):
    app = app_for(tmp_path)
    probe = APIRouter()

    @probe.get("/probe")
    def raises() -> None:
        raise ChefbotError("a generator that failed")

    app.include_router(probe)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/probe")
    assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
    with pytest.raises(TypeError, match="not in api_errors.ERROR_STATUS"):
        as_api_error(ChefbotError("x"))


def test_an_answer_is_checked_against_its_response_model(tmp_path, monkeypatch):
    """A plan without the documented fields is not sent as a 200 half empty; extra fields of the planner are kept
    (PlanResponse allows them), unknown fields of a kitchen list are not: `unreadable` only when set."""
    from chefbot.serve import routes_plan

    with TestClient(app_for(tmp_path), raise_server_exceptions=False) as c:
        monkeypatch.setattr(routes_plan, "plan_meal_dict", lambda data: {"title": "no timeline"})
        assert c.post("/v1/plan", json=routes_plan.EXAMPLE).status_code == 500
        planned = {
            "title": "T",
            "serve_at": "19:00",
            "start": "18:00",
            "makespan_min": 60,
            "tasks": [],
            "by_cook": {},
            "warnings": [],
            "html": "<p></p>",
            "oven_schedule": ["extra, kept"],
        }
        monkeypatch.setattr(routes_plan, "plan_meal_dict", lambda data: planned)
        assert c.post("/v1/plan", json=routes_plan.EXAMPLE).json() == planned
        listed = c.get("/api/recipes").json()
        assert listed == {"object": "list", "total": 0, "data": []}
