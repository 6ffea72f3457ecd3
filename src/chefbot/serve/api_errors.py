"""Refusals in the OpenAI error envelope (``{"error": {message, type, param, code}}``).

``ApiError`` is what an endpoint raises to refuse a request; ``install_error_handlers``
renders it, FastAPI's validation errors (422 naming the field) and plain HTTP errors
(404, 405) in the envelope, so the ``openai`` client raises a typed error carrying our
message.  ``BodyLimit`` refuses an oversized body (413) before it is read or parsed.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chefbot.config import ExperimentConfig
from chefbot.serve.schemas import error_body


class ApiError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code, self.headers = status, message, type_, param, code, headers


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        first = errs[0] if errs else {"loc": ("body",), "msg": "invalid request"}
        where = _field(tuple(first.get("loc", ())))
        if first.get("type") == "json_invalid":
            where = "body"  # the loc holds a character offset, not a field
            msg = f"body is not valid JSON: {first.get('ctx', {}).get('error', first['msg'])}"
        else:
            msg = "; ".join(f"{_field(tuple(e.get('loc', ())))}: {e['msg']}" for e in errs[:5])
        body = error_body(msg, param=where, code=first.get("type"))
        body["detail"] = [{"loc": list(e.get("loc", ())), "msg": e["msg"], "type": e.get("type")} for e in errs]
        return JSONResponse(body, status_code=422)

    @app.exception_handler(ApiError)
    async def _api_error(_req: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.message, exc.type, exc.param, exc.code), status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(str(exc.detail), "invalid_request_error"), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))


def body_limit(cfg: ExperimentConfig) -> int:
    # JSON escaping can at most ~6x a character; plus room for the rest of the request.
    return cfg.serve.max_prompt_chars * 6 + 64 * 1024


class BodyLimit:
    """Refuse an oversized body by its Content-Length before reading or parsing it (413)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            length = dict(scope.get("headers") or []).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.limit:
                resp = JSONResponse(error_body(f"request body is {int(length)} bytes; this server accepts at most "
                                               f"{self.limit} (serve.max_prompt_chars)", code="request_too_large"), 413)
                await resp(scope, receive, send)
                return
        await self.app(scope, receive, send)
