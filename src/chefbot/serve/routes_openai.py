"""The OpenAI-compatible endpoints: ``GET /v1/models``, ``POST /v1/chat/completions`` and
``POST /v1/completions``.

The chat schema as the ``openai`` client sends it, ``stream: true`` or not
(``stream_options.include_usage`` adds a usage chunk).  Plain completions (text or token ids,
no chat template, ``echo`` and exact ``logprobs``: what lm-evaluation-harness's
``local-completions`` model asks) are ``completions_router``, which ``create_app`` mounts when the
generator can do them (``state.has_completions``); the shaping of their answers is ``completions.py``.
A stream's status line is sent before generation, so a failure after it is reported in-band as an
error event (``sse.in_band_errors``).  The OpenAPI schema documents both answers (``application/json``
and ``text/event-stream``) and every refusal the route can give.

The request models carry this server's limits (``serve.max_messages``; the vocabulary and
``serve.max_prompts``), so the bodies are read by ``deps.json_body`` with the server's model and the
document names them as components that ``app.contract_schema`` fills in (``request_models``).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from chefbot.generate.completion import TokenEngine
from chefbot.serve.api_errors import ApiError
from chefbot.serve.completions import CompletionStream, TextCompletionStream, complete, complete_text
from chefbot.serve.completions import Request as CompletionWork
from chefbot.serve.deps import Server, body_schema, json_body
from chefbot.serve.ids import new_id, now
from chefbot.serve.queue import ActiveStream
from chefbot.serve.schemas import ErrorResponse, error_responses, semantic_400
from chefbot.serve.schemas_openai import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    CompletionRequest,
    ModelList,
    TextCompletion,
    TextCompletionChunk,
    chat_request_model,
    completion_request_model,
    openai_finish_reason,
    usage,
)
from chefbot.serve.sse import SSE_HEADERS, in_band_errors, sse, sse_media_type
from chefbot.serve.state import ServerState

router = APIRouter()
completions_router = APIRouter()  # mounted when the generator can do plain completions


def request_models(state: ServerState) -> dict[str, type]:
    """This server's request models by component name (their limits are the server's)."""
    models: dict[str, type] = {"ChatCompletionRequest": chat_request_model(state.cfg.serve.max_messages)}
    if state.has_completions:
        vocab = len(state.generator.tokenizer) if isinstance(state.generator, TokenEngine) else None
        models["CompletionRequest"] = completion_request_model(state.max_prompts, vocab)
    return models


async def chat_body(request: Request, state: Server) -> ChatCompletionRequest:
    return await json_body(request, request_models(state)["ChatCompletionRequest"])


async def completion_body(request: Request, state: Server) -> CompletionRequest:
    return await json_body(request, request_models(state)["CompletionRequest"])


@router.get("/v1/models", response_model=ModelList)
async def models(state: Server) -> ModelList:
    return ModelList(object="list", data=[{"id": state.name, "object": "model", "created": 0, "owned_by": "chefbot"}])


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    openapi_extra=body_schema("ChatCompletionRequest"),
    responses={
        200: {
            "description": "the answer; with `stream: true`, server-sent events: chat.completion.chunk "
            "objects (an error object if generation fails after the first), then [DONE]",
            "content": {"text/event-stream": sse_media_type(ChatCompletionChunk, ErrorResponse)},
        },
        **semantic_400("chat"),
        **error_responses(404, 413, 422, 429, 500, 502, 503, 504),
    },
)
async def chat_completions(
    req: Annotated[ChatCompletionRequest, Depends(chat_body)], request: Request, state: Server
) -> ChatCompletion | StreamingResponse:
    state.check_model(req.model)
    prompt = state.check_size(req.plain_messages())
    settings = state.settings_for(req.max_completion_tokens or req.max_tokens, **req.sampling())
    cid, created = new_id("chatcmpl"), now()
    if not req.stream:
        c = await state.complete(prompt, settings, request=request)
        return ChatCompletion(
            id=cid,
            object="chat.completion",
            created=created,
            model=state.name,
            choices=[
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": c.text},
                    "finish_reason": openai_finish_reason(c.finish_reason),
                }
            ],
            usage=usage(c.prompt_tokens, c.completion_tokens),
        )
    stream = await state.open_stream(prompt, settings, request=request)
    include_usage = bool(req.stream_options and req.stream_options.include_usage)
    head = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": state.name}
    events = chat_events(stream, head, include_usage)
    # A stream, not a ChatCompletion: FastAPI hands a Response on as it is (the document lists both media types).
    return StreamingResponse(in_band_errors(events), media_type="text/event-stream", headers=SSE_HEADERS)


async def chat_events(stream: ActiveStream, head: dict, include_usage: bool) -> AsyncIterator[str]:
    """The chat.completion.chunk events of one answer (``head``: the fields every chunk repeats)."""

    def chunk(delta: dict, finish: str | None = None) -> str:
        return sse({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    yield chunk({"role": "assistant", "content": ""})
    async for d in stream.deltas():
        yield chunk({"content": d})
    c = stream.completion
    yield chunk({}, openai_finish_reason(c.finish_reason if c else "stop"))
    if include_usage and c is not None:
        yield sse({**head, "choices": [], "usage": usage(c.prompt_tokens, c.completion_tokens)})


@completions_router.post(
    "/v1/completions",
    response_model=TextCompletion,
    openapi_extra=body_schema("CompletionRequest"),
    responses={
        200: {
            "description": "one choice per prompt; with `stream: true`, server-sent events: text_completion "
            "objects, each a piece of one choice's text (the last of a choice with its finish_reason; an error "
            "object if generation fails after the first event), then [DONE]",
            "content": {"text/event-stream": sse_media_type(TextCompletionChunk, ErrorResponse)},
        },
        **semantic_400("completions"),
        **error_responses(404, 413, 422, 429, 500, 501, 502, 503, 504),
    },
)
async def completions(
    req: Annotated[CompletionRequest, Depends(completion_body)], request: Request, state: Server
) -> TextCompletion | StreamingResponse:
    state.check_model(req.model)
    text_only = not isinstance(state.generator, TokenEngine)  # a CompletesText engine: a model served elsewhere
    if text_only and req.logprobs is not None:
        raise ApiError(
            501,
            f"logprobs: this server's {state.backend} engine forwards text to a model served elsewhere and has no "
            "log-probabilities to give; ask that server directly, or serve a local engine (hf, llamacpp)",
            param="logprobs",
            code="unsupported_by_engine",
        )
    prompts = state.check_prompt_text(req.prompt) if text_only else state.check_prompt_ids(req.prompt)
    cap = state.cfg.serve.max_tokens_cap
    max_tokens = min(state.gen_cfg.max_new_tokens if req.max_tokens is None else req.max_tokens, cap)
    settings = {k: v for k, v in state.settings_for(None, **req.sampling()).items() if k != "max_new_tokens"}
    work = CompletionWork(prompts, settings, max_tokens, req.stops(), req.echo, req.logprobs)
    cid, created = new_id("cmpl"), now()
    if not req.stream:
        stop = threading.Event()  # set on a 504 or a client that left: the model stops at its next token
        choices, prompt_tokens, completion_tokens = await state.run(
            lambda: (complete_text if text_only else complete)(state.generator, work, stop),
            cancel=stop.set,
            request=request,
        )
        return TextCompletion(
            id=cid,
            object="text_completion",
            created=created,
            model=state.name,
            choices=choices,
            usage=usage(prompt_tokens, completion_tokens),
        )
    stream = await state.open_stream(
        None,
        settings,
        start=lambda: (TextCompletionStream if text_only else CompletionStream)(state.generator, work),
        request=request,
    )
    include_usage = bool(req.stream_options and req.stream_options.include_usage)
    events = completion_events(
        stream, {"id": cid, "object": "text_completion", "created": created, "model": state.name}, include_usage
    )
    # A stream, not a TextCompletion: FastAPI hands a Response on as it is (the document lists both media types).
    return StreamingResponse(in_band_errors(events), media_type="text/event-stream", headers=SSE_HEADERS)


async def completion_events(stream: ActiveStream, head: dict, include_usage: bool) -> AsyncIterator[str]:
    """The text_completion events of one request (``head``: the fields every event repeats)."""
    async for event in stream.deltas():
        yield sse({**head, "choices": [event]})
    totals = stream.completion
    if include_usage and totals is not None:
        yield sse({**head, "choices": [], "usage": usage(totals.prompt_tokens, totals.completion_tokens)})
