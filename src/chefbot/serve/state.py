"""What every endpoint shares: the model, its queue, and the checks made before the queue.

``ServerState`` holds the config, the generator and the ``Scheduler`` in front of it,
and what the server serves (``identity``: base model, adapter and its fingerprint, dtype,
tokenizer fingerprint, the limits; ``/health`` reports it); ``create_app`` builds one and
hands it to each router.  What the generator can do is its contract (``chefbot.generate.completion``:
``isinstance`` against ``Generator``/``TokenizedGenerator``/``TokenEngine``, nothing probed).  Its checks
(model id, prompt size in characters and, for a ``TokenizedGenerator``, in the token ids its model is fed)
raise ``ApiError`` so bad requests are refused before they reach the queue and never disturb requests in
flight; ``check_size`` returns the ``ChatPrompt`` with those ids, which the queued job hands to the model (a
conversation is rendered once per request); ``complete``/``open_stream``/``run`` map the queue's refusals
(full: 429 with ``Retry-After``; too slow: 504) to the same envelope.  Given the route's
``request``, they also watch for the client leaving while the work waits or runs, and then
cancel it (the model call stops, a plan's solver stops) instead of finishing it for no one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from chefbot.config import ExperimentConfig
from chefbot.generate.completion import (
    ChatPrompt,
    CompletesText,
    Completion,
    Generator,
    TokenEngine,
    TokenizedGenerator,
    require,
)
from chefbot.generate.engine_probe import cpu_info
from chefbot.generate.structured import StructuredOutput
from chefbot.generate.token_engine import tokenizer_fingerprint
from chefbot.generate.upstream import UpstreamError
from chefbot.model import adapter_identity
from chefbot.serve.api_errors import ApiError, as_api_error
from chefbot.serve.queue import ActiveStream, Rejected, RequestTimeout, Scheduler
from chefbot.serve.schemas import MAX_LOGPROBS

T = TypeVar("T")


class ServerState:
    def __init__(
        self, cfg: ExperimentConfig, generator: Generator, model_name: str | None = None, adapter: str | None = None
    ) -> None:
        require(generator, Generator)
        serve = cfg.serve
        self.cfg = cfg
        self.generator = generator
        self.name = model_name or serve.model_name
        self.backend = generator.backend
        self.started = time.monotonic()
        # Not in config.py (yet): read with a default, as the server's other limits are.
        self.max_prompts = serve.max_prompts
        # Plain completions need token ids in and out (not vLLM's offline engine in chefbot), or an upstream that
        # continues text (CompletesText: text prompts only, no log-probabilities).
        self.has_completions = isinstance(generator, (TokenEngine, CompletesText))
        self.identity = {
            "model": self.name,
            **served_identity(cfg, generator, adapter if adapter is not None else cfg.adapter),
        }
        self.identity["limits"] = {
            "max_prompt_chars": serve.max_prompt_chars,
            "max_prompt_tokens": serve.max_prompt_tokens,
            "max_tokens_cap": serve.max_tokens_cap,
            "max_messages": serve.max_messages,
            "max_prompts": self.max_prompts,
            "max_logprobs": MAX_LOGPROBS,
        }
        # vLLM's offline engine is not safe to call from two threads; it batches internally, and
        # our batcher still hands it every concurrent request at once.
        concurrency = 1 if self.backend == "vllm" else serve.max_concurrency
        max_batch = None
        if self.backend == "openai":  # an upstream: engine.concurrency requests at once, each on its own (it batches)
            concurrency, max_batch = cfg.engine.concurrency, 1
        self.scheduler = Scheduler(
            generator,
            max_concurrency=concurrency,
            max_queue=serve.max_queue,
            timeout_s=serve.request_timeout_s,
            max_batch=max_batch,
        )
        self.gen_cfg = generator.gen_cfg
        self.has_plan = False  # set by create_app when POST /v1/plan is mounted

    # -- checks shared by the endpoints (all before the queue) ---------------------------------
    def check_model(self, requested: str | None) -> None:
        if requested not in (None, "", self.name):
            raise ApiError(
                404,
                f"model {requested!r} not found; this server serves {self.name!r} (GET /v1/models)",
                param="model",
                code="model_not_found",
            )

    def check_size(self, messages: list[dict]) -> ChatPrompt:
        """The conversation as the queue takes it, once it is within ``serve.max_prompt_chars`` characters and
        ``serve.max_prompt_tokens`` tokens, counted as the ids the model is fed (``TokenizedGenerator.prompt_ids``:
        chat template included, message text never read as special tokens; a generator without a tokenizer: not
        counted).  Those ids travel with the prompt to the model.  A conversation the model's chat template
        rejects is refused too."""
        prompt = ChatPrompt(messages)
        chars = sum(len(m["content"]) for m in messages)
        limit = self.cfg.serve.max_prompt_chars
        if chars > limit:
            raise ApiError(
                413,
                f"prompt is {chars} characters; this server accepts at most {limit} (serve.max_prompt_chars)",
                param="messages",
                code="prompt_too_long",
            )
        if not isinstance(self.generator, TokenizedGenerator):
            return prompt
        try:
            tokens = len(prompt.ids_for(self.generator))
        except Exception as e:  # e.g. a template that insists on alternating user/assistant turns
            raise ApiError(
                400, f"the model's chat template refuses these messages: {e}", param="messages", code="invalid_messages"
            ) from None
        limit = self.cfg.serve.max_prompt_tokens
        if tokens > limit:
            raise ApiError(
                413,
                f"prompt is {tokens} tokens with the chat template; this server accepts at most "
                f"{limit} (serve.max_prompt_tokens)",
                param="messages",
                code="prompt_too_long",
            )
        return prompt

    def check_prompt_text(self, prompts: list[str | list[int]]) -> list[str]:
        """Plain-completion prompts for a ``CompletesText`` engine (an upstream): text only (its token ids are not
        chefbot's to know: 501), each within ``serve.max_prompt_chars``."""
        out = []
        for i, p in enumerate(prompts):
            where = "prompt" if len(prompts) == 1 else f"prompt.{i}"
            if not isinstance(p, str):
                raise ApiError(
                    501,
                    f"{where}: token ids cannot be forwarded: this server's {self.backend} engine sends text to a "
                    "model served elsewhere, whose tokenizer it does not have; send the prompt as text",
                    "invalid_request_error",
                    param=where,
                    code="unsupported_by_engine",
                )
            out.append(self._check_chars(where, p))
        return out

    def _check_chars(self, where: str, prompt: str) -> str:
        """A plain-completion prompt of at most ``serve.max_prompt_chars`` characters (else 413)."""
        return self._within(where, prompt, "characters", "max_prompt_chars")

    def _within(self, where: str, prompt: T, unit: str, key: str) -> T:
        """``prompt`` (text or token ids) when its length is within ``serve.<key>``, else 413."""
        limit = getattr(self.cfg.serve, key)
        if len(prompt) > limit:  # type: ignore[arg-type]
            raise ApiError(
                413,
                f"{where} is {len(prompt)} {unit}; this server accepts at most {limit} (serve.{key})",  # type: ignore[arg-type]
                param=where,
                code="prompt_too_long",
            )
        return prompt

    def check_prompt_ids(self, prompts: list[str | list[int]]) -> list[list[int]]:
        """Plain-completion prompts as token ids (text through the tokenizer, its special tokens as it adds
        them; no chat template), each within ``serve.max_prompt_chars`` and ``serve.max_prompt_tokens``.
        Only for a ``TokenEngine`` (``/v1/completions`` is mounted for no other)."""
        assert isinstance(self.generator, TokenEngine), "check_prompt_ids needs a TokenEngine"
        tokenizer = self.generator.tokenizer
        out = []
        for i, p in enumerate(prompts):
            where = "prompt" if len(prompts) == 1 else f"prompt.{i}"
            if isinstance(p, str):
                p = tokenizer(self._check_chars(where, p))["input_ids"]
                if not p:
                    raise ApiError(400, f"{where} has no tokens", param=where, code="empty_prompt")
            out.append(list(self._within(where, p, "tokens", "max_prompt_tokens")))
        return out

    def settings_for(
        self,
        max_tokens: int | None,
        temperature: float | None,
        top_p: float | None = None,
        seed: int | None = None,
        *,
        top_k: int | None = None,
        repetition_penalty: float | None = None,
        structured: StructuredOutput | None = None,
    ) -> dict:
        """A request's overrides of the generation settings (``chefbot.generate.completion.Settings``); the queue
        batches requests whose overrides are equal, so it is JSON (``structured`` as its dump)."""
        # Capped silently, as OpenAI does for max_tokens beyond a model's limit.
        out: dict[str, Any] = {
            "max_new_tokens": min(max_tokens or self.gen_cfg.max_new_tokens, self.cfg.serve.max_tokens_cap)
        }
        if temperature is not None:
            out["do_sample"] = temperature > 0
            if temperature > 0:
                out["temperature"] = temperature
        if top_p is not None:
            out["top_p"] = top_p
        if seed is not None:
            out["seed"] = seed
        if top_k is not None:
            out["top_k"] = top_k
        if repetition_penalty is not None:
            out["repetition_penalty"] = repetition_penalty
        if structured is not None:
            out["structured"] = structured.model_dump()
        return out

    # -- the queue, its refusals in the API's envelope -------------------------------------------
    async def complete(self, prompt: ChatPrompt, settings: dict, request: Any = None) -> Completion:
        """The answer to ``prompt`` (from ``check_size``) through the queue."""
        try:
            return await while_connected(request, self.scheduler.complete(prompt, settings))
        except UpstreamError as e:  # as a refusal, so that enforce's later attempts end with the best so far
            raise as_api_error(e) from None
        except Rejected as e:
            raise ApiError(
                e.status, str(e), "server_busy", code="queue_full", headers={"Retry-After": str(e.retry_after)}
            )
        except RequestTimeout as e:
            raise ApiError(504, str(e), "timeout", code="timeout")

    async def open_stream(
        self, prompt: ChatPrompt | None, settings: dict, start: Callable[[], Any] | None = None, request: Any = None
    ) -> ActiveStream:
        """``prompt`` (from ``check_size``) answered as a stream; or, with ``start`` (and no prompt), the stream
        ``start`` makes, under the same admission and slots.  Returned once the engine took the request
        (``ActiveStream.opened``): an upstream's refusal is still an HTTP status."""
        try:
            return await while_connected(request, self._opened_stream(prompt, settings, start))
        except UpstreamError as e:
            raise as_api_error(e) from None
        except RequestTimeout as e:
            raise ApiError(504, str(e), "timeout", code="timeout")
        except Rejected as e:
            raise ApiError(
                e.status, str(e), "server_busy", code="queue_full", headers={"Retry-After": str(e.retry_after)}
            )

    async def _opened_stream(
        self, prompt: ChatPrompt | None, settings: dict, start: Callable[[], Any] | None
    ) -> ActiveStream:
        stream = await self.scheduler.open_stream(prompt, settings, start)
        try:
            await stream.opened()
        except BaseException:
            stream.cancel()  # a client gone while it opened: the stream stops and frees its slot
            raise
        return stream

    async def run(self, fn: Callable[[], T], cancel: Callable[[], Any] | None = None, request: Any = None) -> T:
        """One call of its own (a plain completion, a plan) through the same queue, slots and timeouts;
        ``cancel`` is called when it times out or the client leaves, and should make ``fn`` return soon."""
        try:
            return await while_connected(request, self.scheduler.run(fn, cancel))
        except UpstreamError as e:
            raise as_api_error(e) from None
        except Rejected as e:
            raise ApiError(
                e.status, str(e), "server_busy", code="queue_full", headers={"Retry-After": str(e.retry_after)}
            )
        except RequestTimeout as e:
            raise ApiError(504, str(e), "timeout", code="timeout")

    def health(self) -> dict:
        # cpu: model and SIMD flags (avx2, avx512*, amx*, vnni, bf16, fp16): they decide llama.cpp's kernels
        # (an AMX Xeon once crashed it: docs/SERVING.md); the same record as the engine probe's key and the benchmarks'.
        return {
            "status": "ok",
            **self.identity,
            "cpu": cpu_info(),
            "features": {"plan": self.has_plan, "completions": self.has_completions},
            "queue": self.scheduler.snapshot(),
            "uptime_s": round(time.monotonic() - self.started, 3),
        }


class ClientGone(ApiError):
    """The client closed the connection before its answer was ready (nobody reads this answer)."""

    def __init__(self) -> None:
        super().__init__(499, "the client closed the connection; its request was cancelled", code="client_closed")


async def client_gone(request: Any) -> None:
    """Return once the client has disconnected.  Only for a request whose body has been read: what
    ``receive`` gives after that is the disconnect (or the end of the response)."""
    while True:
        message = await request.receive()
        if message.get("type") == "http.disconnect":
            return


async def while_connected(request: Any, work: Awaitable[T]) -> T:
    """Await ``work``; if the client of ``request`` leaves first, cancel it (the queue then stops the model
    call or calls the work's ``cancel``) and raise ``ClientGone``.  Without a request: just ``work``."""
    if request is None:
        return await work
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(client_gone(request))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():  # the client left (or this handler was cancelled): cancel the work
            task.cancel()
        gone.cancel()
    if not task.done() or task.cancelled():
        try:
            await task
        except BaseException:  # noqa: BLE001 - it was cancelled; what it raised on the way out does not matter
            pass
        raise ClientGone()
    return task.result()


def served_identity(cfg: ExperimentConfig, generator: Generator, adapter: str | None) -> dict:
    """Everything that decides the answers, as ``/health`` reports it (clients key caches on it): the generator's
    ``identity()`` (backend, dtype or quantization), the config's base model and quantization mode (the hf engine
    quantizes the base per ``quant.mode``: ``chefbot.model.load_model``), the adapter's fingerprint, and for a
    ``TokenizedGenerator`` its tokenizer's."""
    info: dict[str, Any] = {
        "backend": generator.backend,
        "base_model": cfg.model.name_or_path,
        "adapter": None,
        "dtype": None,
        "quant": None,
        "tokenizer": None,
    }
    if adapter:
        info["adapter"] = adapter_identity(adapter)
    info.update(generator.identity())
    if info["backend"] == "hf":
        info["quant"] = cfg.quant.mode
    if isinstance(generator, TokenizedGenerator):
        info["tokenizer"] = tokenizer_fingerprint(generator.tokenizer)
    return info
