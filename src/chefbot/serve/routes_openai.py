"""The OpenAI-compatible endpoints: ``GET /v1/models``, ``POST /v1/chat/completions`` and
``POST /v1/completions``.

The chat schema as the ``openai`` client sends it, ``stream: true`` or not
(``stream_options.include_usage`` adds a usage chunk).  Plain completions (text or token ids,
no chat template, ``echo`` and exact ``logprobs``: what lm-evaluation-harness's
``local-completions`` model asks) are mounted when the generator can do them
(``state.has_completions``: a ``TokenEngine``); the shaping of their answers is ``completions.py``.  A stream's status line is sent
before generation, so a failure after it is reported in-band as an error event.  The
OpenAPI schema documents both answers (``application/json`` and ``text/event-stream``)
and every refusal the route can give.
"""

# No `from __future__ import annotations`: FastAPI must see the request model built in
# openai_router (with this server's limits), not a name to look up in this module.
import threading
from typing import AsyncIterator

from fastapi import APIRouter
from fastapi import Request as HttpRequest
from fastapi.responses import StreamingResponse

from chefbot.generate import Completion
from chefbot.serve.completions import CompletionStream, Request, complete
from chefbot.serve.queue import RequestTimeout
from chefbot.serve.schemas import (
    SSE_HEADERS,
    ChatCompletion,
    ChatCompletionChunk,
    ErrorResponse,
    ModelList,
    TextCompletion,
    TextCompletionChunk,
    chat_request_model,
    completion_request_model,
    error_body,
    error_responses,
    new_id,
    now,
    openai_finish_reason,
    semantic_400,
    sse,
    sse_media_type,
    usage,
)
from chefbot.serve.state import ServerState


def openai_router(state: ServerState) -> APIRouter:
    router = APIRouter()
    name = state.name
    ChatCompletionRequest = chat_request_model(state.cfg.serve.max_messages)  # noqa: N806 (a class)

    @router.get("/v1/models", response_model=None, responses={200: {"model": ModelList}})
    async def models() -> dict:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "chefbot"}]}

    @router.post("/v1/chat/completions", response_model=None, responses={
        200: {"model": ChatCompletion, "description": "the answer; with `stream: true`, server-sent events: "
              "chat.completion.chunk objects (an error object if generation fails after the first), then [DONE]",
              "content": {"text/event-stream": sse_media_type(ChatCompletionChunk, ErrorResponse)}},
        **semantic_400("chat"), **error_responses(404, 413, 422, 429, 500, 503, 504)})
    async def chat_completions(req: ChatCompletionRequest, request: HttpRequest):  # type: ignore[valid-type]
        state.check_model(req.model)
        messages = req.plain_messages()
        prompt = state.check_size(messages)
        settings = state.settings_for(req.max_completion_tokens or req.max_tokens, req.temperature, req.top_p, req.seed)
        cid, created = new_id("chatcmpl"), now()
        if not req.stream:
            c: Completion = await state.complete(prompt, settings, request=request)
            return {"id": cid, "object": "chat.completion", "created": created, "model": name,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": c.text},
                                 "finish_reason": openai_finish_reason(c.finish_reason)}],
                    "usage": usage(c.prompt_tokens, c.completion_tokens)}
        stream = await state.open_stream(prompt, settings, request=request)
        include_usage = bool(req.stream_options and req.stream_options.include_usage)

        def chunk(delta: dict, finish: str | None = None) -> str:
            return sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": name,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

        async def events() -> AsyncIterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            try:
                async for d in stream.deltas():
                    yield chunk({"content": d})
            except RequestTimeout as e:
                yield sse(error_body(str(e), "timeout", code="timeout"))
            except Exception as e:  # the status line is already sent: report in-band
                yield sse(error_body(f"generation failed: {e}", "server_error"))
            else:
                c = stream.completion
                yield chunk({}, openai_finish_reason(c.finish_reason if c else "stop"))
                if include_usage and c is not None:
                    yield sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": name,
                               "choices": [], "usage": usage(c.prompt_tokens, c.completion_tokens)})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    if state.has_completions:
        completions_route(router, state)
    return router


def completions_route(router: APIRouter, state: ServerState) -> None:
    name = state.name
    CompletionRequest = completion_request_model(state.max_prompts, len(state.generator.tokenizer))  # noqa: N806

    @router.post("/v1/completions", response_model=None, responses={
        200: {"model": TextCompletion, "description": "one choice per prompt; with `stream: true`, server-sent events: "
              "text_completion objects, each a piece of one choice's text (the last of a choice with its "
              "finish_reason; an error object if generation fails after the first event), then [DONE]",
              "content": {"text/event-stream": sse_media_type(TextCompletionChunk, ErrorResponse)}},
        **semantic_400("completions"), **error_responses(404, 413, 422, 429, 500, 503, 504)})
    async def completions(req: CompletionRequest, request: HttpRequest):  # type: ignore[valid-type]
        state.check_model(req.model)
        prompts = state.check_prompt_ids(req.prompt)
        cap = state.cfg.serve.max_tokens_cap
        max_tokens = min(state.gen_cfg.max_new_tokens if req.max_tokens is None else req.max_tokens, cap)
        settings = {k: v for k, v in state.settings_for(None, req.temperature, req.top_p, req.seed).items()
                    if k != "max_new_tokens"}
        work = Request(prompts, settings, max_tokens, req.stops(), req.echo, req.logprobs)
        cid, created = new_id("cmpl"), now()
        if not req.stream:
            stop = threading.Event()  # set on a 504 or a client that left: the model stops at its next token
            choices, prompt_tokens, completion_tokens = await state.run(lambda: complete(state.generator, work, stop),
                                                                        cancel=stop.set, request=request)
            return {"id": cid, "object": "text_completion", "created": created, "model": name, "choices": choices,
                    "usage": usage(prompt_tokens, completion_tokens)}
        stream = await state.open_stream(None, settings, start=lambda: CompletionStream(state.generator, work),
                                         request=request)
        include_usage = bool(req.stream_options and req.stream_options.include_usage)

        def chunk(choices: list[dict]) -> str:
            return sse({"id": cid, "object": "text_completion", "created": created, "model": name, "choices": choices})

        async def events() -> AsyncIterator[str]:
            try:
                async for event in stream.deltas():
                    yield chunk([event])
            except RequestTimeout as e:
                yield sse(error_body(str(e), "timeout", code="timeout"))
            except Exception as e:  # the status line is already sent: report in-band
                yield sse(error_body(f"generation failed: {e}", "server_error"))
            else:
                totals = stream.completion
                if include_usage and totals is not None:
                    yield sse({"id": cid, "object": "text_completion", "created": created, "model": name, "choices": [],
                               "usage": usage(totals.prompt_tokens, totals.completion_tokens)})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
