"""``chefbot chat``: a terminal conversation with the model, streamed as it is written.

Two back ends with one loop: a local model (``LocalGenerator.stream``, the same
generation path as the server and the evaluation) or a running OpenAI-compatible server
(``--url``; chefbot's own, vLLM, llama.cpp, Ollama).  The whole history is sent each
turn; ``/reset`` forgets it, ``/quit`` (or Ctrl-D) leaves.  (The message format itself is
``chefbot.chat``.)
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from chefbot.errors import ChefbotError

Messages = list[dict[str, str]]
StreamFn = Callable[[Messages], Iterable[str]]

HELP = "Type a message. Commands: /reset (forget the conversation), /history, /quit."


def local_stream_fn(generator: Any, settings: dict | None = None) -> StreamFn:
    def stream(messages: Messages) -> Iterator[str]:
        handle = generator.stream(messages, settings)
        try:
            yield from handle
        finally:
            handle.cancel()  # Ctrl-C mid-answer stops the model instead of letting it run on

    return stream


def remote_stream_fn(
    url: str, model: str, api_key: str | None = None, max_tokens: int | None = None, temperature: float | None = None
) -> StreamFn:
    import openai

    client = openai.OpenAI(
        base_url=url.rstrip("/") + ("" if url.rstrip("/").endswith("/v1") else "/v1"),
        api_key=api_key or "EMPTY",
        max_retries=1,
    )
    extra: dict[str, Any] = {}
    if max_tokens is not None:
        extra["max_tokens"] = max_tokens
    if temperature is not None:
        extra["temperature"] = temperature

    def stream(messages: Messages) -> Iterator[str]:
        try:
            response = client.chat.completions.create(model=model, messages=messages, stream=True, **extra)
            for chunk in response:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except openai.APIConnectionError:
            raise ChefbotError(f"cannot reach {url}; is `chefbot serve` running there?") from None
        except openai.APIStatusError as e:
            raise ChefbotError(f"{url}: HTTP {e.status_code}: {e.message}") from None

    return stream


def chat_loop(
    stream: StreamFn, read: Callable[[str], str] = input, out: TextIO = sys.stdout, system: str | None = None
) -> Messages:
    """Run the conversation until /quit or end of input; returns the final history."""
    base: Messages = [{"role": "system", "content": system}] if system else []
    history: Messages = list(base)
    print(HELP, file=out)
    while True:
        try:
            line = read("you> ")
        except EOFError:
            print(file=out)
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit"):
            break
        if text == "/reset":
            history = list(base)
            print("(conversation forgotten)", file=out)
            continue
        if text == "/history":
            for m in history:
                print(f"[{m['role']}] {m['content']}", file=out)
            continue
        if text.startswith("/"):
            print(f"unknown command {text.split()[0]}; {HELP}", file=out)
            continue
        history.append({"role": "user", "content": text})
        print("chefbot> ", end="", file=out, flush=True)
        answer = []
        try:
            for delta in stream(history):
                answer.append(delta)
                print(delta, end="", file=out, flush=True)
        except KeyboardInterrupt:
            print(" [stopped]", end="", file=out)
        print(file=out, flush=True)
        history.append({"role": "assistant", "content": "".join(answer)})
    return history
