"""``POST /v1/recipes``: ingredients and constraints in, a parsed and checked recipe out.

The prompt and the checks live in ``recipes.py``; this is the HTTP side: validation
before the queue, and with ``stream: true`` server-sent ``{"delta": ...}`` events and a
last ``{"done": true, ...}`` event carrying the structured recipe.
"""

from __future__ import annotations

from typing import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from chefbot.generate import Completion
from chefbot.serve.api_errors import ApiError
from chefbot.serve.queue import RequestTimeout
from chefbot.serve.recipes import check_constraints, recipe_messages
from chefbot.serve.schemas import (
    SSE_HEADERS,
    RecipeRequest,
    error_body,
    new_id,
    openai_finish_reason,
    sse,
    usage,
)
from chefbot.serve.state import ServerState


def recipes_router(state: ServerState) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/recipes")
    async def recipes(req: RecipeRequest):
        state.check_model(req.model)
        if not req.ingredients:
            raise ApiError(400, "ingredients: give at least one ingredient, e.g. [\"chicken\", \"rice\"]",
                           param="ingredients", code="empty_ingredients")
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
