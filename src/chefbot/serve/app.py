"""The HTTP server: OpenAI-compatible chat, structured recipes, a web page, health.

``create_app(cfg, generator)`` takes any object with the generation interface of
``chefbot.generate`` (``generate`` and, for token streaming, ``stream``), so tests
inject a small model and ``chefbot serve`` a real one.  Every request goes through the
``Scheduler`` (bounded queue, concurrency limit, batching, timeouts).  Bad requests are
refused before they reach the queue, so they never disturb requests in flight.
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chefbot import __version__
from chefbot.config import ExperimentConfig
from chefbot.serve.auth import install_auth, install_cors
from chefbot.serve.queue import Rejected, RequestTimeout, Scheduler
from chefbot.serve.recipes import check_recipe, recipe_messages
from chefbot.serve.schemas import (
    ChatCompletionRequest,
    RecipeRequest,
    error_body,
    new_id,
    now,
    openai_finish_reason,
    usage,
)

WEB_DIR = resources.files("chefbot.serve") / "web"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code, self.headers = status, message, type_, param, code, headers


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def _body_limit(cfg: ExperimentConfig) -> int:
    # JSON escaping can at most ~6x a character; plus room for the rest of the request.
    return cfg.serve.max_prompt_chars * 6 + 64 * 1024


class _BodyLimit:
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


def create_app(cfg: ExperimentConfig, generator: Any, *, model_name: str | None = None) -> FastAPI:
    serve = cfg.serve
    name = model_name or serve.model_name
    # vLLM's offline engine is not safe to call from two threads; it batches internally, and
    # our batcher still hands it every concurrent request at once.
    concurrency = 1 if getattr(generator, "backend", "") == "vllm" else serve.max_concurrency
    scheduler = Scheduler(generator, max_concurrency=concurrency, max_queue=serve.max_queue,
                          timeout_s=serve.request_timeout_s)
    gen_cfg = getattr(generator, "gen_cfg", None) or cfg.eval.generation

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        scheduler.close()

    app = FastAPI(title="chefbot", version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.scheduler = scheduler
    app.state.cfg = cfg
    install_cors(app, serve.cors_origins)
    install_auth(app, serve.api_keys)
    app.add_middleware(_BodyLimit, limit=_body_limit(cfg))

    # -- errors in the OpenAI envelope ------------------------------------------------------
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

    # -- checks shared by the endpoints (all before the queue) ---------------------------------
    def check_model(requested: str | None) -> None:
        if requested not in (None, "", name):
            raise ApiError(404, f"model {requested!r} not found; this server serves {name!r} (GET /v1/models)",
                           param="model", code="model_not_found")

    def check_size(messages: list[dict]) -> None:
        chars = sum(len(m["content"]) for m in messages)
        if chars > serve.max_prompt_chars:
            raise ApiError(413, f"prompt is {chars} characters; this server accepts at most {serve.max_prompt_chars} "
                                "(serve.max_prompt_chars)", param="messages", code="prompt_too_long")

    def settings_for(max_tokens: int | None, temperature: float | None, top_p: float | None = None,
                     seed: int | None = None) -> dict:
        # Capped silently, as OpenAI does for max_tokens beyond a model's limit.
        out: dict[str, Any] = {"max_new_tokens": min(max_tokens or gen_cfg.max_new_tokens, serve.max_tokens_cap)}
        if temperature is not None:
            out["do_sample"] = temperature > 0
            if temperature > 0:
                out["temperature"] = temperature
        if top_p is not None:
            out["top_p"] = top_p
        if seed is not None:
            out["seed"] = seed
        return out

    async def run_complete(messages: list[dict], settings: dict):
        try:
            return await scheduler.complete(messages, settings)
        except Rejected as e:
            raise ApiError(e.status, str(e), "server_busy", code="queue_full", headers={"Retry-After": str(e.retry_after)})
        except RequestTimeout as e:
            raise ApiError(504, str(e), "timeout", code="timeout")

    async def open_stream(messages: list[dict], settings: dict):
        try:
            return await scheduler.open_stream(messages, settings)
        except Rejected as e:
            raise ApiError(e.status, str(e), "server_busy", code="queue_full", headers={"Retry-After": str(e.retry_after)})

    # -- endpoints -----------------------------------------------------------------------------
    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "model": name, "backend": getattr(generator, "backend", "?"),
                "features": {"plan": bool(getattr(app.state, "has_plan", False))}, "queue": scheduler.snapshot()}

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "chefbot"}]}

    @app.post("/v1/chat/completions")
    async def chat_completions(req: ChatCompletionRequest):
        check_model(req.model)
        messages = req.plain_messages()
        check_size(messages)
        settings = settings_for(req.max_completion_tokens or req.max_tokens, req.temperature, req.top_p, req.seed)
        cid, created = new_id("chatcmpl"), now()
        if not req.stream:
            c = await run_complete(messages, settings)
            return {"id": cid, "object": "chat.completion", "created": created, "model": name,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": c.text},
                                 "finish_reason": openai_finish_reason(c.finish_reason)}],
                    "usage": usage(c.prompt_tokens, c.completion_tokens)}
        stream = await open_stream(messages, settings)
        include_usage = bool(req.stream_options and req.stream_options.include_usage)

        def chunk(delta: dict, finish: str | None = None) -> str:
            return _sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": name,
                         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

        async def events() -> AsyncIterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            try:
                async for d in stream.deltas():
                    yield chunk({"content": d})
            except RequestTimeout as e:
                yield _sse(error_body(str(e), "timeout", code="timeout"))
            except Exception as e:  # the status line is already sent: report in-band
                yield _sse(error_body(f"generation failed: {e}", "server_error"))
            else:
                c = stream.completion
                yield chunk({}, openai_finish_reason(c.finish_reason if c else "stop"))
                if include_usage and c is not None:
                    yield _sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": name,
                                "choices": [], "usage": usage(c.prompt_tokens, c.completion_tokens)})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    @app.post("/v1/recipes")
    async def recipes(req: RecipeRequest):
        check_model(req.model)
        if not req.ingredients:
            raise ApiError(400, "ingredients: give at least one ingredient, e.g. [\"chicken\", \"rice\"]",
                           param="ingredients", code="empty_ingredients")
        messages = recipe_messages(req.ingredients, req.constraints, cfg.prompt)
        check_size(messages)
        settings = settings_for(req.max_tokens, req.temperature, seed=req.seed)
        rid = new_id("recipe")

        def result(c) -> dict:
            return {"id": rid, "object": "recipe", "model": name, "ingredients_given": req.ingredients,
                    "constraints": req.constraints.model_dump(), **check_recipe(c.text, req.constraints),
                    "raw": c.text, "finish_reason": openai_finish_reason(c.finish_reason),
                    "usage": usage(c.prompt_tokens, c.completion_tokens)}

        if not req.stream:
            return result(await run_complete(messages, settings))
        stream = await open_stream(messages, settings)

        async def events() -> AsyncIterator[str]:
            try:
                async for d in stream.deltas():
                    yield _sse({"delta": d})
            except RequestTimeout as e:
                yield _sse(error_body(str(e), "timeout", code="timeout"))
            except Exception as e:
                yield _sse(error_body(f"generation failed: {e}", "server_error"))
            else:
                yield _sse({"done": True, **result(stream.completion)})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    _add_plan_endpoint(app, ApiError)

    # -- the web page ------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(WEB_DIR / "index.html"), headers={"Cache-Control": "no-cache"})

    @app.get("/static/{fname}", include_in_schema=False)
    async def static(fname: str) -> FileResponse:
        if fname not in ("app.js", "style.css"):
            raise ApiError(404, f"no file {fname!r}")
        return FileResponse(str(WEB_DIR / fname), headers={"Cache-Control": "no-cache"})

    return app


def _add_plan_endpoint(app: FastAPI, api_error: type) -> None:
    """POST /v1/plan wraps the meal planner when it is installed (chefbot.plan.api)."""
    try:
        from chefbot.plan.api import plan_meal_dict
    except ImportError:
        return
    from fastapi.concurrency import run_in_threadpool

    from chefbot.errors import ChefbotError

    @app.post("/v1/plan")
    async def plan(request: Request):
        try:
            data = await request.json()
        except ValueError:
            raise api_error(422, "body is not valid JSON", param="body", code="json_invalid") from None
        if not isinstance(data, dict):
            raise api_error(422, "body: expected a JSON object (the meal spec)", param="body")
        try:
            # CP-SAT is CPU work: keep it off the event loop so streams keep flowing.
            return await run_in_threadpool(plan_meal_dict, data)
        except ChefbotError as e:
            raise api_error(400, str(e), code="bad_meal_spec") from None

    app.state.has_plan = True


def _sse(obj: dict) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"
