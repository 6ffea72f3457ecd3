"""What the routes take from the app, as FastAPI dependencies: the ``ServerState`` (``Server``), who made the
request (``Caller``: a ``kitchen.people.Principal``, for attributing ratings, notes and votes) and a JSON body
validated by a model chosen per server (``json_body``).

Every router is a module-level ``APIRouter`` of plain functions; ``create_app`` puts what they share on
``app.state`` (``server``, ``kitchen``), and these read it back per request, so one process may hold
several apps (tests do) without routes closing over one of them.
"""

from __future__ import annotations

import json
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from chefbot.kitchen.people import OPEN, Principal
from chefbot.serve.api_errors import ApiError
from chefbot.serve.state import ServerState

M = TypeVar("M", bound=BaseModel)


def get_state(request: Request) -> ServerState:
    return request.app.state.server


Server = Annotated[ServerState, Depends(get_state)]


def get_principal(request: Request) -> Principal:
    """Who made this request, as ``auth._Gate`` resolved it once (a person, a config key, open, anonymous).
    An app without the gate (a test's bare app) is open."""
    return request.state.principal if "principal" in request.scope.get("state", {}) else OPEN


Caller = Annotated[Principal, Depends(get_principal)]


def require_person(caller: Principal, why: str) -> Principal:
    """The caller when it is a person; else 403 ``person_required`` saying ``why`` (a config key, or an open server
    without accounts, is nobody: it has no tokens, ratings or notes of its own)."""
    if not caller.is_person:
        raise ApiError(
            403,
            f"{why}: log in, or use a personal token (this request is {caller.kind})",
            "permission_error",
            code="person_required",
        )
    return caller


async def json_body(request: Request, model: type[M]) -> M:
    """The request's JSON body validated by ``model``, refused exactly as FastAPI refuses a body parameter
    (422 through the same handler, locations under ``body``).  Hand-read because the model is this server's
    (its limits are in its schema: ``schemas_openai.chat_request_model``), which a parameter's annotation,
    fixed at import, cannot be."""
    raw = await request.body()
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", e.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": e.msg},
                }
            ]
        ) from None
    except ValueError:  # bytes in no JSON encoding (UnicodeDecodeError): FastAPI's own 400
        raise HTTPException(400, "There was an error parsing the body") from None
    try:
        return model.model_validate(data, from_attributes=True)  # as FastAPI validates a body
    except ValidationError as e:
        raise RequestValidationError([{**err, "loc": ("body", *err["loc"])} for err in e.errors()]) from None


def body_schema(name: str) -> dict:
    """The ``openapi_extra`` of a route whose body ``json_body`` reads: the component ``name``, which
    ``app.contract_schema`` fills in with this server's model."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        }
    }
