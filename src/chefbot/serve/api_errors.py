"""Refusals in the OpenAI error envelope (``{"error": {message, type, param, code}}``).

``ApiError`` is what an endpoint raises to refuse a request itself; the domain's own exceptions (the
kitchen's, the queue's timeout, a refused meal) are answered by one table, ``ERROR_STATUS`` (exception
class -> status, type, code), so no route translates them by hand.  ``install_error_handlers``
renders both, FastAPI's validation errors (422 naming the field; 400 for the refusals by a
limit in ``schemas.REFUSALS``), plain HTTP errors (404, 405) and unexpected failures (500)
in the envelope, so the ``openai`` client raises a typed error carrying our message.
``BodyLimit`` refuses an oversized body (413) before it is parsed: by its Content-Length
at once, or, sent without one (chunked), as soon as more than the limit has arrived.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from chefbot.config import ExperimentConfig
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
from chefbot.serve.queue import RequestTimeout
from chefbot.serve.schemas import REFUSALS, error_body


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code, self.headers = (
            status,
            message,
            type_,
            param,
            code,
            headers,
        )


class KitchenUnavailable(ChefbotError):
    """The kitchen DB cannot be opened by this server (a newer schema, not a kitchen DB): 503 ``kitchen_db``."""


class MealRefused(ChefbotError):
    """The planner refuses the meal (no step it can schedule, no feasible timeline): 400 ``bad_meal_spec``."""


class TastingModelFailed(ChefbotError):
    """A tasting model's endpoint failed; ``field`` names the side's model: 502."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Status:
    """How a domain exception is answered.  ``status``, ``type`` and ``code`` may be read off the exception
    (callables); ``param`` is the exception's ``field`` unless given here; ``headers`` (a callable) adds
    response headers (``Retry-After``)."""

    status: int | Callable[[Any], int]
    type: str | Callable[[Any], str] = "invalid_request_error"
    code: str | Callable[[Any], str] | None = None
    param: str | None = None
    headers: Callable[[Any], dict | None] | None = None


# The one table of domain exceptions and their answers.  The most specific class listed wins (the
# exception's MRO, as Starlette looks its handlers up), so KitchenError is the kitchen's fallback.
ERROR_STATUS: dict[type[Exception], Status] = {
    KitchenError: Status(400, code="kitchen_error"),
    NotFound: Status(404, code=lambda e: f"{e.what.replace(' ', '_')}_not_found"),
    AlreadyVoted: Status(409, code="already_voted", param="rater"),
    Revealed: Status(409, code="revealed", param="pair_id"),
    RatingError: Status(400, code="bad_rating"),
    NotAuthor: Status(403, "permission_error", "not_author", param="note_id"),
    StaleList: Status(409, code="stale_version"),
    StaleVersion: Status(409, code="stale_version"),
    CalendarError: Status(400, code="bad_calendar"),
    VoteError: Status(400, code="bad_vote"),
    AccountError: Status(400, code="bad_account"),
    NameTaken: Status(409, code="name_taken"),
    ProgressError: Status(400, code=lambda e: e.code),
    StepWaits: Status(409, code="step_waits", param="task_id"),
    UnreadableRow: Status(500, "server_error", "unreadable_row"),
    # The kitchen's storage faults carry their own status and code (kitchen.db): 503, or 507 when the disk is full.
    StorageError: Status(StorageError.status, "server_error", StorageError.code),
    StorageFull: Status(StorageFull.status, "server_error", StorageFull.code),
    KitchenUnavailable: Status(503, "server_error", "kitchen_db"),
    RecipeError: Status(400, code="bad_recipe"),
    PhotoError: Status(lambda e: e.status, code=lambda e: e.code),
    NutritionTableMissing: Status(503, "server_error", "nutrition_table_missing"),
    MealRefused: Status(400, code="bad_meal_spec"),
    TastingModelFailed: Status(502, "server_error", "tasting_model_failed"),
    UnsupportedSchema: Status(400, code="unsupported_schema", param="response_format"),
    RequestTimeout: Status(504, "timeout", "timeout"),
    # The model behind an openai engine did not answer: 502/503 (with Retry-After)/504, or its own 4xx passed back.
    UpstreamError: Status(
        lambda e: e.status,
        lambda e: "server_error" if e.status >= 500 else "invalid_request_error",
        lambda e: e.code,
        headers=lambda e: e.headers,
    ),
    TimeoutError: Status(504, "timeout", "timeout"),
}


def status_of(exc: Exception) -> Status | None:
    """The table's entry for this exception (its most specific listed class), or None."""
    return next((ERROR_STATUS[c] for c in type(exc).__mro__ if c in ERROR_STATUS), None)


def as_api_error(exc: Exception) -> ApiError:
    """A domain exception as the refusal the table says (for code that must answer it itself, e.g. a stream)."""
    entry = status_of(exc)
    if entry is None:
        raise TypeError(f"{type(exc).__name__} is not in api_errors.ERROR_STATUS") from exc
    code = entry.code(exc) if callable(entry.code) else entry.code
    status = entry.status(exc) if callable(entry.status) else entry.status
    param = entry.param if entry.param is not None else getattr(exc, "field", None)
    headers = entry.headers(exc) if entry.headers is not None else None
    type_ = entry.type(exc) if callable(entry.type) else entry.type
    return ApiError(status, str(exc), type_, param, code, headers)


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def _refusal(err: dict) -> tuple[str, str | None] | None:
    """(code, config key) when this validation error is a refusal by a limit (400), else None."""
    path = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
    return REFUSALS.get((path, err.get("type", "")))


def _message(err: dict) -> str:
    msg = f"{_field(tuple(err.get('loc', ())))}: {err['msg']}"
    refusal = _refusal(err)
    return f"{msg} ({refusal[1]})" if refusal and refusal[1] else msg


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError) -> JSONResponse:
        errs = list(exc.errors())
        first = errs[0] if errs else {"loc": ("body",), "msg": "invalid request"}
        where = _field(tuple(first.get("loc", ())))
        status, code = 422, first.get("type")
        if first.get("type") == "json_invalid":
            where = "body"  # the loc holds a character offset, not a field
            msg = f"body is not valid JSON: {first.get('ctx', {}).get('error', first['msg'])}"
        else:
            msg = "; ".join(_message(e) for e in errs[:5])
            refusals = [_refusal(e) for e in errs]
            if errs and all(refusals):  # every problem is a refusal by a limit: 400 with its code
                status, code = 400, refusals[0][0]
        body = error_body(msg, param=where, code=code)
        body["detail"] = [{"loc": list(e.get("loc", ())), "msg": e["msg"], "type": e.get("type")} for e in errs]
        return JSONResponse(body, status_code=status)

    @app.exception_handler(ApiError)
    async def _api_error(_req: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.message, exc.type, exc.param, exc.code), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(req: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers, message = getattr(exc, "headers", None), str(exc.detail)
        if exc.status_code == 405:  # Starlette's own Allow is empty here (FastAPI nests the included routers)
            allowed = ", ".join(allowed_methods(req))
            headers = {**(headers or {}), "Allow": allowed}
            message = f"method {req.method} is not allowed on {req.url.path}; allowed: {allowed}"
        return JSONResponse(error_body(message, "invalid_request_error"), status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _failed(_req: Request, exc: Exception) -> JSONResponse:
        # A bug or a failing model: still the envelope (Starlette then re-raises it, so the server logs it).
        return JSONResponse(error_body(f"internal error: {type(exc).__name__}: {exc}", "server_error"), status_code=500)

    async def _domain_error(req: Request, exc: Exception) -> JSONResponse:
        return await _api_error(req, as_api_error(exc))

    # Storage faults thus get a precise status and SQLite's cause, never a generic 500: 507 when the disk is
    # full, 503 when the DB is read-only, locked, failing or damaged.
    for exc_class in ERROR_STATUS:
        app.add_exception_handler(exc_class, _domain_error)


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on this request's path: each method is tried
    against the routes' own matching (FastAPI nests included routers, so the routes' ``methods``
    attributes are not all visible from the app)."""
    routes = request.app.router.routes
    return [
        m
        for m in HTTP_METHODS
        if any(route.matches({**request.scope, "method": m})[0] == Match.FULL for route in routes)
    ]


def body_limit(cfg: ExperimentConfig) -> int:
    """``serve.max_body_bytes``, or by default room for the longest prompt: JSON escaping can at most
    ~6x a character, plus 64 KiB for the rest of the request."""
    return cfg.serve.max_body_bytes or cfg.serve.max_prompt_chars * 6 + 64 * 1024


# Routes whose bodies are documents to import, not prompts: they get ``serve.max_import_bytes``.
IMPORT_ROUTES = (("POST", "/api/recipes"),)
# The photo upload (routes_photos): a multipart body of up to ``kitchen.photo_max_bytes`` plus its form's framing.
PHOTO_UPLOAD = re.compile(r"/api/recipes/[0-9]+/photos")
MULTIPART_FRAMING = 64 * 1024


class BodyLimit:
    """Refuse an oversized body (413) before the app reads or parses it: ``limit`` for every route but
    ``IMPORT_ROUTES``, which get ``import_limit`` (a saved recipe page is far larger than any prompt).

    With a Content-Length (which the HTTP server holds the client to) the header decides;
    without one (``Transfer-Encoding: chunked``) the body is read here, up to the limit, and
    handed on; one byte more and the answer is 413.
    """

    def __init__(self, app: Any, limit: int, import_limit: int | None = None, photo_limit: int | None = None) -> None:
        self.app, self.default, self.import_limit = app, limit, import_limit or limit
        self.photo_limit = photo_limit or limit

    @staticmethod
    def _too_large(size: int | None, limit: int, key: str) -> JSONResponse:
        what = f"{size} bytes" if size is not None else f"over {limit} bytes"
        return JSONResponse(
            error_body(
                f"request body is {what}; this server accepts at most {limit} here ({key})",
                param="body",
                code="request_too_large",
            ),
            413,
        )

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_import = (scope.get("method"), scope.get("path")) in IMPORT_ROUTES
        limit, key = (
            (self.import_limit, "serve.max_import_bytes") if is_import else (self.default, "serve.max_body_bytes")
        )
        if scope.get("method") == "POST" and PHOTO_UPLOAD.fullmatch(scope.get("path", "")):
            limit, key = self.photo_limit, "kitchen.photo_max_bytes, with the form's framing"
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            if length.isdigit() and int(length) > limit:
                await self._too_large(int(length), limit, key)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        messages: list[dict] = []
        size = 0
        while True:  # no Content-Length: read the body here, at most the limit
            message = await receive()
            if message["type"] != "http.request":  # the client left before sending it all
                return
            size += len(message.get("body", b""))
            if size > limit:
                await self._too_large(None, limit, key)(scope, receive, send)
                return
            messages.append(message)
            if not message.get("more_body", False):
                break

        async def replay() -> dict:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
