"""Server-sent events: the framing of every streamed answer (``sse``), its OpenAPI media type
(``sse_media_type``), and the one place a stream reports a failure after its status line was sent
(``in_band_errors``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any, Union

from chefbot.serve.queue import RequestTimeout
from chefbot.serve.schemas import error_body, json_schema

DONE = "data: [DONE]\n\n"  # the last event of every stream (OpenAI's)


def sse_media_type(*payloads: Any) -> dict:
    """An OpenAPI media type object for a stream of server-sent events: each event's ``data`` is one
    JSON payload of these types, and the last is ``[DONE]``.  (Before OpenAPI 3.2 a stream's
    ``schema`` describes one event.)"""
    payload = json_schema(Union[payloads] if len(payloads) > 1 else payloads[0])  # noqa: UP007
    return {
        "schema": {
            "type": "object",
            "required": ["data"],
            "properties": {
                "event": {"type": "string"},
                "data": {
                    "type": "string",
                    "description": "one JSON payload per event; the stream ends with `data: [DONE]`",
                    "if": {"const": "[DONE]"},
                    "else": {"contentMediaType": "application/json", "contentSchema": payload},
                },
            },
        },
    }


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(obj: dict) -> str:
    """One server-sent event carrying ``obj`` as JSON."""
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


async def in_band_errors(
    events: AsyncIterator[str], on_timeout: Callable[[RequestTimeout], str] | None = None
) -> AsyncIterator[str]:
    """``events``, then ``[DONE]``; a failure on the way becomes an error event (the status line is already
    sent, so no status can say it): a timeout as ``timeout`` (or ``on_timeout``'s event, e.g. the best answer
    so far), anything else as ``server_error``."""
    try:
        async for event in events:
            yield event
    except RequestTimeout as e:
        yield on_timeout(e) if on_timeout is not None else sse(error_body(str(e), "timeout", code="timeout"))
    except Exception as e:  # noqa: BLE001 - whatever failed, the client reads it in the stream
        yield sse(error_body(f"generation failed: {e}", "server_error"))
    yield DONE
