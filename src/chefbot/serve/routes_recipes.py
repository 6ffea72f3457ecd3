"""``POST /v1/recipes``: ingredients and constraints in, a parsed and checked recipe out.

The prompt and the checks live in ``recipes.py`` (the one checker,
``cooking.recipe_constraints.check_recipe``, judges every requested constraint: ``checks``);
this is the HTTP side: validation before the queue (no ingredient at all is refused by
the schema itself, 400), the person's own ingredients against the requested diets
(``conflicts``: vegetarian + chicken; the prompt then asks for a substitute), and
``enforce`` (``enforce.py``: more sampled attempts while a constraint is violated, at most
``serve.enforce_attempts``; the best one otherwise, ``constraints_met: false``).

With ``stream: true``: server-sent ``{"delta": ...}`` events, a last ``{"done": true, ...}``
event carrying the structured, checked recipe, then ``[DONE]``.  With ``enforce`` too, each
attempt streams its text; when an attempt violates a constraint and another may follow,
a ``{"attempt": n, "max_attempts", "violated": [...]}`` event says that the text so far is
discarded and attempt n starts; ``done`` carries the answer chosen (its ``raw`` may be an
earlier attempt's text, when that one was better).  A later attempt the queue refuses
(429) or that times out ends the attempts: the best answer so far is returned.
"""

from __future__ import annotations

from typing import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from chefbot.cooking.recipe_constraints import ingredient_conflicts
from chefbot.generate import Completion
from chefbot.serve.api_errors import ApiError
from chefbot.serve.enforce import Attempts
from chefbot.serve.queue import RequestTimeout
from chefbot.serve.recipes import check_constraints, recipe_messages
from chefbot.serve.schemas import (
    SSE_HEADERS,
    ErrorResponse,
    RecipeDelta,
    RecipeDone,
    RecipeRequest,
    RecipeResponse,
    RecipeRetry,
    error_body,
    error_responses,
    new_id,
    openai_finish_reason,
    semantic_400,
    sse,
    sse_media_type,
    usage,
)
from chefbot.serve.state import ServerState


def recipes_router(state: ServerState) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/recipes", response_model=None, responses={
        200: {"model": RecipeResponse, "description": "the recipe, parsed and checked against every requested "
              "constraint (checks; conflicts: requested diets the given ingredients break); with enforce, after up to "
              "serve.enforce_attempts answers. With `stream: true`, server-sent events: {delta} objects (with enforce, "
              "an {attempt, max_attempts, violated} object before each further attempt: discard the text so far), "
              "then {done: true, ...the recipe chosen} (or an error object), then [DONE]",
              "content": {"text/event-stream": sse_media_type(RecipeDelta, RecipeRetry, RecipeDone, ErrorResponse)}},
        **semantic_400("recipes"), **error_responses(404, 413, 422, 429, 500, 503, 504)})
    async def recipes(req: RecipeRequest, request: Request):
        state.check_model(req.model)
        wanted = req.constraints
        conflicts = [c.to_dict() for c in ingredient_conflicts(req.ingredients, wanted)]
        messages = recipe_messages(req.ingredients, wanted, state.cfg.prompt)
        prompt = state.check_size(messages)
        limit = state.cfg.serve.enforce_attempts if req.enforce and not wanted.is_empty() else 1
        tries = Attempts(limit, state.settings_for(req.max_tokens, req.temperature, seed=req.seed),
                         req.temperature, req.seed, state.gen_cfg.seed)
        rid = new_id("recipe")

        def record(c: Completion) -> None:
            tries.record(c, check_constraints(c.text, wanted))

        def result() -> dict:
            best = tries.best
            c = best.completion
            return {"id": rid, "object": "recipe", "model": state.name, "ingredients_given": req.ingredients,
                    "constraints": wanted.model_dump(), **best.checked, "conflicts": conflicts, **tries.summary(),
                    "raw": c.text, "finish_reason": openai_finish_reason(c.finish_reason),
                    "usage": usage(c.prompt_tokens, c.completion_tokens)}

        if not req.stream:
            record(await state.complete(prompt, tries.next_settings(), request=request))
            while (settings := tries.next_settings()) is not None:
                try:
                    record(await state.complete(prompt, settings, request=request))
                except ApiError:  # a later attempt refused (429) or too slow (504): keep the best so far
                    break
            return result()
        stream = await state.open_stream(prompt, tries.next_settings(), request=request)

        async def events() -> AsyncIterator[str]:
            current = stream
            try:
                while True:
                    async for d in current.deltas():
                        yield sse({"delta": d})
                    record(current.completion)
                    settings = tries.next_settings()
                    if settings is None:
                        break
                    try:
                        current = await state.open_stream(prompt, settings)
                    except ApiError:  # the queue refused a later attempt: keep the best so far
                        break
                    violated = [c for c in tries.made[-1].checked["checks"] if c["satisfied"] is False]
                    yield sse({"attempt": tries.count + 1, "max_attempts": limit, "violated": violated})
            except RequestTimeout as e:
                if tries.best is None:
                    yield sse(error_body(str(e), "timeout", code="timeout"))
                else:
                    yield sse({"done": True, **result()})
            except Exception as e:
                yield sse(error_body(f"generation failed: {e}", "server_error"))
            else:
                yield sse({"done": True, **result()})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    return router
