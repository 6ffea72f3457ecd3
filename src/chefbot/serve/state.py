"""What every endpoint shares: the model, its queue, and the checks made before the queue.

``ServerState`` holds the config, the generator and the ``Scheduler`` in front of it;
``create_app`` builds one and hands it to each router.  Its checks (model id, prompt
size in characters and, when the generator has a tokenizer, in tokens after the chat
template) raise ``ApiError`` so bad requests are refused before they reach the queue and
never disturb requests in flight; ``complete``/``open_stream`` map the queue's refusals
(full: 429 with ``Retry-After``; too slow: 504) to the same envelope.
"""

from __future__ import annotations

from typing import Any, Callable

from chefbot.chat import render_prompt
from chefbot.config import ExperimentConfig
from chefbot.generate import Completion
from chefbot.serve.api_errors import ApiError
from chefbot.serve.queue import ActiveStream, Rejected, RequestTimeout, Scheduler


class ServerState:
    def __init__(self, cfg: ExperimentConfig, generator: Any, model_name: str | None = None) -> None:
        serve = cfg.serve
        self.cfg = cfg
        self.generator = generator
        self.name = model_name or serve.model_name
        self.backend = getattr(generator, "backend", "?")
        # vLLM's offline engine is not safe to call from two threads; it batches internally, and
        # our batcher still hands it every concurrent request at once.
        concurrency = 1 if self.backend == "vllm" else serve.max_concurrency
        self.scheduler = Scheduler(generator, max_concurrency=concurrency, max_queue=serve.max_queue,
                                   timeout_s=serve.request_timeout_s)
        self.gen_cfg = getattr(generator, "gen_cfg", None) or cfg.eval.generation
        self.has_plan = False  # set by create_app when POST /v1/plan is mounted
        self.count_tokens = prompt_token_counter(generator)

    # -- checks shared by the endpoints (all before the queue) ---------------------------------
    def check_model(self, requested: str | None) -> None:
        if requested not in (None, "", self.name):
            raise ApiError(404, f"model {requested!r} not found; this server serves {self.name!r} (GET /v1/models)",
                           param="model", code="model_not_found")

    def check_size(self, messages: list[dict]) -> None:
        """Refuse a prompt over ``serve.max_prompt_chars`` characters or ``serve.max_prompt_tokens`` tokens
        (as the model would see it: chat template included), or one the model's chat template rejects."""
        chars = sum(len(m["content"]) for m in messages)
        limit = self.cfg.serve.max_prompt_chars
        if chars > limit:
            raise ApiError(413, f"prompt is {chars} characters; this server accepts at most {limit} "
                                "(serve.max_prompt_chars)", param="messages", code="prompt_too_long")
        if self.count_tokens is None:
            return
        try:
            tokens = self.count_tokens(messages)
        except Exception as e:  # e.g. a template that insists on alternating user/assistant turns
            raise ApiError(400, f"the model's chat template refuses these messages: {e}", param="messages",
                           code="invalid_messages") from None
        limit = self.cfg.serve.max_prompt_tokens
        if tokens > limit:
            raise ApiError(413, f"prompt is {tokens} tokens with the chat template; this server accepts at most "
                                f"{limit} (serve.max_prompt_tokens)", param="messages", code="prompt_too_long")

    def settings_for(self, max_tokens: int | None, temperature: float | None, top_p: float | None = None,
                     seed: int | None = None) -> dict:
        # Capped silently, as OpenAI does for max_tokens beyond a model's limit.
        out: dict[str, Any] = {"max_new_tokens": min(max_tokens or self.gen_cfg.max_new_tokens,
                                                     self.cfg.serve.max_tokens_cap)}
        if temperature is not None:
            out["do_sample"] = temperature > 0
            if temperature > 0:
                out["temperature"] = temperature
        if top_p is not None:
            out["top_p"] = top_p
        if seed is not None:
            out["seed"] = seed
        return out

    # -- the queue, its refusals in the API's envelope -------------------------------------------
    async def complete(self, messages: list[dict], settings: dict) -> Completion:
        try:
            return await self.scheduler.complete(messages, settings)
        except Rejected as e:
            raise ApiError(e.status, str(e), "server_busy", code="queue_full", headers={"Retry-After": str(e.retry_after)})
        except RequestTimeout as e:
            raise ApiError(504, str(e), "timeout", code="timeout")

    async def open_stream(self, messages: list[dict], settings: dict) -> ActiveStream:
        try:
            return await self.scheduler.open_stream(messages, settings)
        except Rejected as e:
            raise ApiError(e.status, str(e), "server_busy", code="queue_full", headers={"Retry-After": str(e.retry_after)})


def prompt_token_counter(generator: Any) -> Callable[[list[dict]], int] | None:
    """How many tokens a conversation is for this generator's model (its chat template included),
    or None when the generator has no tokenizer (a remote endpoint, a test double)."""
    prompt_ids = getattr(generator, "prompt_ids", None)
    if callable(prompt_ids):
        return lambda messages: len(prompt_ids(messages))
    tokenizer = getattr(generator, "tokenizer", None)
    if tokenizer is None or not callable(tokenizer):
        return None
    fold = getattr(generator, "fold", "auto")
    return lambda messages: len(tokenizer(render_prompt(messages, tokenizer, fold), add_special_tokens=False)["input_ids"])
