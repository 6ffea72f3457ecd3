"""What every endpoint shares: the model, its queue, and the checks made before the queue.

``ServerState`` holds the config, the generator and the ``Scheduler`` in front of it,
and what the server serves (``identity``: base model, adapter and its fingerprint, dtype,
tokenizer fingerprint, the limits; ``/health`` reports it); ``create_app`` builds one and
hands it to each router.  Its checks (model id, prompt
size in characters and, when the generator has a tokenizer, in tokens after the chat
template) raise ``ApiError`` so bad requests are refused before they reach the queue and
never disturb requests in flight; ``complete``/``open_stream``/``run`` map the queue's refusals
(full: 429 with ``Retry-After``; too slow: 504) to the same envelope.  Given the route's
``request``, they also watch for the client leaving while the work waits or runs, and then
cancel it (the model call stops, a plan's solver stops) instead of finishing it for no one.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, TypeVar

from chefbot.chat import prompt_token_ids
from chefbot.config import ExperimentConfig
from chefbot.generate import Completion
from chefbot.generate.engine_probe import cpu_info
from chefbot.generate.local import tokenizer_fingerprint
from chefbot.model import adapter_identity
from chefbot.serve.api_errors import ApiError
from chefbot.serve.queue import ActiveStream, Rejected, RequestTimeout, Scheduler
from chefbot.serve.schemas import MAX_LOGPROBS

T = TypeVar("T")


class ServerState:
    def __init__(self, cfg: ExperimentConfig, generator: Any, model_name: str | None = None,
                 adapter: str | None = None) -> None:
        serve = cfg.serve
        self.cfg = cfg
        self.generator = generator
        self.name = model_name or serve.model_name
        self.backend = getattr(generator, "backend", "?")
        self.started = time.monotonic()
        # Not in config.py (yet): read with a default, as the server's other limits are.
        self.max_prompts = serve.max_prompts
        self.has_completions = supports_completions(generator)
        self.identity = {"model": self.name,
                         **served_identity(cfg, generator, adapter if adapter is not None else cfg.adapter)}
        self.identity["limits"] = {"max_prompt_chars": serve.max_prompt_chars, "max_prompt_tokens": serve.max_prompt_tokens,
                                   "max_tokens_cap": serve.max_tokens_cap, "max_messages": serve.max_messages,
                                   "max_prompts": self.max_prompts, "max_logprobs": MAX_LOGPROBS}
        # vLLM's offline engine is not safe to call from two threads; it batches internally, and
        # our batcher still hands it every concurrent request at once.
        concurrency = 1 if self.backend == "vllm" else serve.max_concurrency
        self.scheduler = Scheduler(generator, max_concurrency=concurrency, max_queue=serve.max_queue,
                                   timeout_s=serve.request_timeout_s)
        self.gen_cfg = getattr(generator, "gen_cfg", None) or cfg.engine.generation
        self.has_plan = False  # set by create_app when POST /v1/plan is mounted
        self.count_tokens = prompt_token_counter(generator)

    # -- checks shared by the endpoints (all before the queue) ---------------------------------
    def check_model(self, requested: str | None) -> None:
        if requested not in (None, "", self.name):
            raise ApiError(404, f"model {requested!r} not found; this server serves {self.name!r} (GET /v1/models)",
                           param="model", code="model_not_found")

    def check_size(self, messages: list[dict]) -> None:
        """Refuse a prompt over ``serve.max_prompt_chars`` characters or ``serve.max_prompt_tokens`` tokens
        (the ids the model is fed: chat template included, message text never read as special tokens,
        ``prompt_token_counter``), or one the model's chat template rejects."""
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

    def check_prompt_ids(self, prompts: list[str | list[int]]) -> list[list[int]]:
        """Plain-completion prompts as token ids (text through the tokenizer, its special tokens as it adds
        them; no chat template), each within ``serve.max_prompt_chars`` and ``serve.max_prompt_tokens``."""
        tokenizer = self.generator.tokenizer
        out = []
        for i, p in enumerate(prompts):
            where = "prompt" if len(prompts) == 1 else f"prompt.{i}"
            if isinstance(p, str):
                limit = self.cfg.serve.max_prompt_chars
                if len(p) > limit:
                    raise ApiError(413, f"{where} is {len(p)} characters; this server accepts at most {limit} "
                                        "(serve.max_prompt_chars)", param=where, code="prompt_too_long")
                p = tokenizer(p)["input_ids"]
                if not p:
                    raise ApiError(400, f"{where} has no tokens", param=where, code="empty_prompt")
            limit = self.cfg.serve.max_prompt_tokens
            if len(p) > limit:
                raise ApiError(413, f"{where} is {len(p)} tokens; this server accepts at most {limit} "
                                    "(serve.max_prompt_tokens)", param=where, code="prompt_too_long")
            out.append(list(p))
        return out

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
    async def complete(self, messages: list[dict], settings: dict, request: Any = None) -> Completion:
        try:
            return await while_connected(request, self.scheduler.complete(messages, settings))
        except Rejected as e:
            raise ApiError(e.status, str(e), "server_busy", code="queue_full", headers={"Retry-After": str(e.retry_after)})
        except RequestTimeout as e:
            raise ApiError(504, str(e), "timeout", code="timeout")

    async def open_stream(self, messages: list[dict], settings: dict, start: Callable[[], Any] | None = None,
                          request: Any = None) -> ActiveStream:
        try:
            return await while_connected(request, self.scheduler.open_stream(messages, settings, start))
        except Rejected as e:
            raise ApiError(e.status, str(e), "server_busy", code="queue_full", headers={"Retry-After": str(e.retry_after)})

    async def run(self, fn: Callable[[], T], cancel: Callable[[], Any] | None = None, request: Any = None) -> T:
        """One call of its own (a plain completion, a plan) through the same queue, slots and timeouts;
        ``cancel`` is called when it times out or the client leaves, and should make ``fn`` return soon."""
        try:
            return await while_connected(request, self.scheduler.run(fn, cancel))
        except Rejected as e:
            raise ApiError(e.status, str(e), "server_busy", code="queue_full", headers={"Retry-After": str(e.retry_after)})
        except RequestTimeout as e:
            raise ApiError(504, str(e), "timeout", code="timeout")

    def health(self) -> dict:
        # cpu: model and SIMD flags (avx2, avx512*, amx*, vnni, bf16, fp16): they decide llama.cpp's kernels
        # (an AMX Xeon once crashed it: docs/SERVING.md); the same record as the engine probe's key and the benchmarks'.
        return {"status": "ok", **self.identity, "cpu": cpu_info(),
                "features": {"plan": self.has_plan, "completions": self.has_completions},
                "queue": self.scheduler.snapshot(), "uptime_s": round(time.monotonic() - self.started, 3)}


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


def supports_completions(generator: Any) -> bool:
    """Plain completions need token ids in and out: a generator with ``complete_ids``/``stream_ids`` and
    a tokenizer (``LocalGenerator``; not vLLM's offline engine in chefbot)."""
    return all(callable(getattr(generator, m, None)) for m in ("complete_ids", "stream_ids")) and \
        getattr(generator, "tokenizer", None) is not None


def served_identity(cfg: ExperimentConfig, generator: Any, adapter: str | None) -> dict:
    """Everything that decides the answers, as ``/health`` reports it (clients key caches on it)."""
    info: dict[str, Any] = {"backend": getattr(generator, "backend", "?"),
                            "base_model": cfg.model.name_or_path, "adapter": None, "dtype": None, "quant": None,
                            "tokenizer": None}
    if adapter:
        info["adapter"] = adapter_identity(adapter)
    model = getattr(generator, "model", None)
    params = getattr(model, "parameters", None)
    if callable(params):
        first = next(iter(params()), None)
        if first is not None:
            info["dtype"] = str(first.dtype).replace("torch.", "")
    if info["backend"] == "hf":  # chefbot.model.load_model quantizes the base per quant.mode
        info["quant"] = cfg.quant.mode
    elif info["backend"] == "llamacpp":  # the cached GGUF: its quantization, and its name (a fingerprint)
        info["quant"] = generator.quant
        info["gguf"] = generator.gguf_path.name
    tokenizer = getattr(generator, "tokenizer", None)
    if tokenizer is not None and callable(getattr(tokenizer, "convert_ids_to_tokens", None)):
        info["tokenizer"] = tokenizer_fingerprint(tokenizer)
    return info


def prompt_token_counter(generator: Any) -> Callable[[list[dict]], int] | None:
    """How many tokens a conversation is for this generator's model (its chat template included),
    or None when the generator has no tokenizer (a remote endpoint, a test double).

    Counted with the ids the model is fed: the generator's own ``prompt_ids`` (every chefbot engine has
    one), else ``chefbot.chat.prompt_token_ids``, the one prompt path, never the rendered text tokenized
    with special tokens on (a message of ``<|im_end|>`` repeated would count one token each, and be
    many times that long for the model)."""
    prompt_ids = getattr(generator, "prompt_ids", None)
    if callable(prompt_ids):
        return lambda messages: len(prompt_ids(messages))
    tokenizer = getattr(generator, "tokenizer", None)
    if tokenizer is None or not callable(tokenizer):
        return None
    fold = getattr(generator, "fold", "auto")
    return lambda messages: len(prompt_token_ids(messages, tokenizer, fold))
