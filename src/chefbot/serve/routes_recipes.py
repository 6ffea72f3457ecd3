"""``POST /v1/recipes``: ingredients and constraints in, a parsed and checked recipe out.

The prompt and the checks live in ``recipes.py``; this is the HTTP side: validation
before the queue (no ingredient at all is refused by the schema itself, 400), and with
``stream: true`` server-sent ``{"delta": ...}`` events and a last ``{"done": true, ...}``
event carrying the structured recipe.
"""

from __future__ import annotations

from typing import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from chefbot.generate import Completion
from chefbot.serve.queue import RequestTimeout
from chefbot.serve.recipes import check_constraints, recipe_messages
from chefbot.serve.schemas import (
    SSE_HEADERS,
    ErrorResponse,
    RecipeDelta,
    RecipeDone,
    RecipeRequest,
    RecipeResponse,
    error_body,
    error_responses,
    new_id,
    openai_finish_reason,
    sse,
    sse_media_type,
    usage,
)
from chefbot.serve.state import ServerState


def recipes_router(state: ServerState) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/recipes", response_model=None, responses={
        200: {"model": RecipeResponse, "description": "the recipe, parsed and checked; with `stream: true`, "
              "server-sent events: {delta} objects, then {done: true, ...the recipe} (or an error object), then [DONE]",
              "content": {"text/event-stream": sse_media_type(RecipeDelta, RecipeDone, ErrorResponse)}},
        **error_responses(400, 404, 413, 422, 429, 500, 503, 504)})
    async def recipes(req: RecipeRequest):
        state.check_model(req.model)
        messages = recipe_messages(req.ingredients, req.constraints, state.cfg.prompt)
        state.check_size(messages)
        settings = state.settings_for(req.max_tokens, req.temperature, seed=req.seed)
        rid = new_id("recipe")

        def result(c: Completion) -> dict:
            return {"id": rid, "object": "recipe", "model": state.name, "ingredients_given": req.ingredients,
                    "constraints": req.constraints.model_dump(), **check_constraints(c.text, req.constraints),
                    "raw": c.text, "finish_reason": openai_finish_reason(c.finish_reason),
                    "usage": usage(c.prompt_tokens, c.completion_tokens)}

        if not req.stream:
            return result(await state.complete(messages, settings))
        stream = await state.open_stream(messages, settings)

        async def events() -> AsyncIterator[str]:
            try:
                async for d in stream.deltas():
                    yield sse({"delta": d})
            except RequestTimeout as e:
                yield sse(error_body(str(e), "timeout", code="timeout"))
            except Exception as e:
                yield sse(error_body(f"generation failed: {e}", "server_error"))
            else:
                yield sse({"done": True, **result(stream.completion)})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    return router
