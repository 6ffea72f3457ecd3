"""``POST /v1/recipes``: ingredients and constraints in, a parsed and checked recipe out.

The prompt and the checks live in ``recipes.py`` (the one checker,
``cooking.recipe_constraints.check_recipe``, judges every requested constraint: ``checks``);
this is the HTTP side: validation before the queue (no ingredient at all is refused by
the schema itself, 400), the person's own ingredients against the requested diets
(``conflicts``: vegetarian + chicken; the prompt then asks for a substitute), and
``enforce`` (``enforce.py``: more sampled attempts while a constraint is violated or a kitchen-sense
safety check fails, at most ``serve.enforce_attempts``; the best one otherwise, ``constraints_met:
false`` or ``kitchen_sense.safe: false``; ``retries`` says why each further attempt was made).
With ``"format": "json"`` the model writes a ``RecipeJSON`` object (title, servings, total_time_minutes,
ingredients, directions), enforced while decoding (``schemas_recipes.RECIPE_FORMAT``); the JSON is rendered
to chefbot's recipe text and checked exactly as a text answer (``recipes.check_json_answer``), and the
answer carries it as ``recipe_json``.
Every answer carries ``kitchen_sense`` (``cooking/kitchen_sense.py``: is it a recipe, is it safe, is
it plausible, each check with its reason and source) beside the constraint ``checks``.

With ``stream: true``: server-sent ``{"delta": ...}`` events, a last ``{"done": true, ...}``
event carrying the structured, checked recipe, then ``[DONE]``.  With ``enforce`` too, each
attempt streams its text; when an attempt violates a constraint (or fails a safety check) and another may follow,
a ``{"attempt": n, "max_attempts", "violated": [...], "unsafe": [...]}`` event says that the text so far is
discarded and attempt n starts; ``done`` carries the answer chosen (its ``raw`` may be an
earlier attempt's text, when that one was better).  A later attempt the queue refuses
(429) or that times out ends the attempts: the best answer so far is returned.

``RecipeJob`` is one request's attempts and answer; the route only validates, admits and answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from chefbot.cooking.recipe_constraints import ingredient_conflicts
from chefbot.errors import ChefbotError
from chefbot.generate import Completion
from chefbot.kitchen.db import KitchenDB
from chefbot.serve.api_errors import ApiError
from chefbot.serve.deps import Server
from chefbot.serve.enforce import Attempts, rejected
from chefbot.serve.grounding import ServingGrounding
from chefbot.serve.ids import new_id
from chefbot.serve.queue import ActiveStream
from chefbot.serve.recipes import check_constraints, check_json_answer, recipe_messages
from chefbot.serve.schemas import ErrorResponse, error_body, error_responses, semantic_400
from chefbot.serve.schemas_openai import openai_finish_reason, usage
from chefbot.serve.schemas_recipes import (
    RECIPE_FORMAT,
    GroundingSource,
    RecipeDelta,
    RecipeDone,
    RecipeRequest,
    RecipeResponse,
    RecipeRetry,
)
from chefbot.serve.sse import SSE_HEADERS, in_band_errors, sse, sse_media_type
from chefbot.serve.state import ServerState

router = APIRouter()
T = TypeVar("T")


def grounding_of(request: Request) -> ServingGrounding:
    return request.app.state.grounding


def library_of(request: Request) -> KitchenDB | None:
    """The kitchen library to ground in, or None when this server has none that opens (grounding then uses
    the corpus alone: a recipe request never fails for the library's sake)."""
    if not request.app.state.cfg.grounding.library:
        return None
    try:
        return request.app.state.kitchen.db
    except ChefbotError:
        return None


class RecipeJob:
    """One /v1/recipes request: its prompt, its attempts (``enforce.Attempts``) and the answer they give."""

    def __init__(self, state: ServerState, req: RecipeRequest, request: Request) -> None:
        self.state, self.req, self.request = state, req, request
        self.wanted = req.constraints
        self.conflicts = [c.to_dict() for c in ingredient_conflicts(req.ingredients, self.wanted)]
        # grounding.enabled: the real recipes the prompt may adapt (serve/grounding.py), named in the answer
        refs = [h.recipe for h in grounding_of(request).hits(req.ingredients, library_of(request))]
        self.sources = [GroundingSource.from_recipe(r) for r in refs]
        # rendered and counted once (413 if too long); every attempt reuses these prompt ids
        self.prompt = state.check_size(
            recipe_messages(req.ingredients, self.wanted, state.cfg.prompt, refs, state.cfg.grounding)
        )
        # enforce: safety is enforced on every request, the constraints when some were asked for
        self.limit = state.cfg.serve.enforce_attempts if req.enforce else 1
        self.tries = Attempts(
            self.limit,
            state.settings_for(
                req.max_tokens,
                req.temperature,
                seed=req.seed,
                structured=RECIPE_FORMAT if req.format == "json" else None,
            ),
            req.temperature,
            req.seed,
            state.gen_cfg.seed,
        )
        self.id = new_id("recipe")

    def record(self, c: Completion) -> None:
        check = check_json_answer if self.req.format == "json" else check_constraints
        self.tries.record(c, check(c.text, self.wanted))

    def result(self) -> RecipeResponse:
        best = self.tries.best
        c = best.completion
        return RecipeResponse(
            id=self.id,
            object="recipe",
            model=self.state.name,
            ingredients_given=self.req.ingredients,
            constraints=self.wanted.model_dump(),
            **best.checked,
            conflicts=self.conflicts,
            sources=self.sources,
            **self.tries.summary(),
            raw=c.text,
            finish_reason=openai_finish_reason(c.finish_reason),
            usage=usage(c.prompt_tokens, c.completion_tokens),
        )

    async def answer(self) -> RecipeResponse:
        """Every attempt in turn, then the answer chosen."""
        self.record(await self.state.complete(self.prompt, self.tries.next_settings(), request=self.request))
        while (settings := self.tries.next_settings()) is not None:
            c = await self.later_attempt(self.state.complete(self.prompt, settings, request=self.request))
            if c is None:
                break
            self.record(c)
        return self.result()

    @staticmethod
    async def later_attempt(work: Awaitable[T]) -> T | None:
        """The outcome of an attempt after the first, or None when the queue refused it (429) or it was too
        slow (504): the attempts then end with the best answer so far, not with a refusal."""
        try:
            return await work
        except ApiError:
            return None

    def done_event(self) -> str:
        return sse(RecipeDone(done=True, **self.result().model_dump()).model_dump(mode="json"))

    async def events(self, stream: ActiveStream) -> AsyncIterator[str]:
        """Each attempt's text as {delta} events, an {attempt} event before each further one, then {done}."""
        current = stream
        while True:
            async for d in current.deltas():
                yield sse({"delta": d})
            self.record(current.completion)
            settings = self.tries.next_settings()
            if settings is None:
                break
            current = await self.later_attempt(self.state.open_stream(self.prompt, settings))
            if current is None:
                break
            why = rejected(self.tries.made[-1].number, self.tries.made[-1].checked)
            yield sse({**why, "attempt": self.tries.count + 1, "max_attempts": self.limit})
        yield self.done_event()

    def on_timeout(self, e: Exception) -> str:
        """A stream that timed out: the best answer so far, or the timeout when there is none."""
        if self.tries.best is None:
            return sse(error_body(str(e), "timeout", code="timeout"))
        return self.done_event()


@router.post(
    "/v1/recipes",
    response_model=RecipeResponse,
    responses={
        200: {
            "description": "the recipe, parsed and checked against every requested constraint (checks; conflicts: "
            "requested diets the given ingredients break) and by kitchen sense (kitchen_sense: is it a recipe, is it "
            "safe, is it plausible); with enforce, after up to serve.enforce_attempts answers. "
            "With `stream: true`, server-sent events: {delta} objects (with enforce, an {attempt, max_attempts, "
            "violated, unsafe} object before each further attempt: discard the text so far), then {done: true, ...the recipe "
            "chosen} (or an error object), then [DONE]",
            "content": {"text/event-stream": sse_media_type(RecipeDelta, RecipeRetry, RecipeDone, ErrorResponse)},
        },
        **semantic_400("recipes"),
        **error_responses(404, 413, 422, 429, 500, 502, 503, 504),
    },
)
async def recipes(req: RecipeRequest, request: Request, state: Server) -> RecipeResponse | StreamingResponse:
    state.check_model(req.model)
    job = RecipeJob(state, req, request)
    if not req.stream:
        return await job.answer()
    stream = await state.open_stream(job.prompt, job.tries.next_settings(), request=request)
    # A stream, not a RecipeResponse: FastAPI hands a Response on as it is (the document lists both media types).
    return StreamingResponse(
        in_band_errors(job.events(stream), job.on_timeout), media_type="text/event-stream", headers=SSE_HEADERS
    )
