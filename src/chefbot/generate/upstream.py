"""``UpstreamGenerator``: a model served elsewhere (Ollama, llama-server, vLLM, another chefbot, any
OpenAI-compatible endpoint) as the engine behind ``chefbot serve`` and ``chefbot chat`` (``engine.kind: openai``).

Everything chefbot does around the model (the queue, ``/v1/recipes`` with its checks and ``enforce``, grounding,
the kitchen, tastings) then runs on the upstream's answers.  Unlike evaluation's ``OpenAIGenerator`` (same
request settings: ``OpenAIGenerator._request_settings``; same backoff: ``openai_compat.retry_wait``) nothing is
cached, a stream is the upstream's own stream (a reader that leaves closes it, so the upstream stops too), and a
failure is an ``UpstreamError`` carrying the HTTP answer it deserves:

* the endpoint cannot be reached, or answers 5xx: 502 with the cause; busy (429, 503): 503 with ``Retry-After``;
* no answer within ``engine.timeout_s`` (or no next piece of a stream): 504, at once (never retried: it may
  still be generating);
* a 4xx: passed back with the upstream's message and status, except 401/403/404, which are chefbot's own
  configuration (key, URL, model name): 502 naming the config key.

Only failures that left the request unanswered are retried (connection refused, 429, 5xx), ``engine.retries``
times with ``engine.backoff_s`` doubling; a stream only before its first byte.  At most ``engine.concurrency``
requests are in flight at once.  The upstream's ``/v1/models`` is asked once, at start: ``/health`` names the
upstream (its URL without credentials) and the model asked for.
"""

from __future__ import annotations

import importlib
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from chefbot.config import GenerationConfig
from chefbot.errors import ChefbotError
from chefbot.generate.completion import Completion, Messages, OnResult, resolve_settings
from chefbot.generate.openai_compat import OpenAIGenerator, completion_from, normalized_base_url, retry_wait

T = TypeVar("T")
CONNECT_TIMEOUT_S = 10.0  # at most this long to connect, within engine.timeout_s


class UpstreamError(ChefbotError):
    """The upstream did not answer: ``status`` is the HTTP status chefbot answers with (502, 503, 504, or the
    upstream's own 4xx), ``code`` the error code, ``retry_after`` seconds for a 503 (``api_errors.ERROR_STATUS``)."""

    def __init__(self, message: str, status: int, code: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.retry_after = status, code, retry_after

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None


def display_url(url: str) -> str:
    """The endpoint as ``/health`` and messages show it: normalized, without user, password or query."""
    parts = urlsplit(normalized_base_url(url))
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _http_errors() -> Any:
    """The module of the openai client's HTTP library (httpx; httpx2 from openai 3 on): a stream that breaks
    after it opened raises that library's errors, not openai's."""
    client = next(c for c in _openai().DefaultHttpxClient.__mro__ if not c.__module__.startswith("openai"))
    return importlib.import_module(client.__module__.partition(".")[0])


def _openai() -> Any:
    import openai  # 0.6 s: only when an endpoint is used (chefbot --help imports this module)

    return openai


class UpstreamGenerator:
    """A ``CompletesText`` generator (``chefbot.generate.completion``): chat answers, streamed or not, and plain
    text completions, from an OpenAI-compatible ``base_url``; ``model``: the name asked for there (None: the
    first model the upstream's ``/v1/models`` lists)."""

    backend = "openai"

    def __init__(
        self,
        base_url: str,
        model: str | None,
        gen_cfg: GenerationConfig | None = None,
        *,
        api_key: str | None = None,
        concurrency: int = 4,
        timeout_s: float = 120.0,
        retries: int = 4,
        backoff_s: float = 1.0,
        client: Any = None,
    ) -> None:
        openai = _openai()
        self.base_url, self.url = base_url, display_url(base_url)
        self.gen_cfg = gen_cfg or GenerationConfig()
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)
        # Retries are ours (openai's own would also retry a timeout, and 408/409): max_retries=0.
        self.client = client or openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "EMPTY",
            max_retries=0,
            timeout=openai.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s)),
        )
        self.models, self.models_error = self._list_models()
        if model is None:
            if not self.models:
                raise ChefbotError(
                    f"engine.api_model is not set and the upstream {self.url} lists no model at /v1/models "
                    f"({self.models_error or 'an empty list'}): give --api-model NAME"
                )
            model = self.models[0]
        self.model = model

    # -- who answers ------------------------------------------------------------------------------
    def _list_models(self) -> tuple[list[str] | None, str | None]:
        """The upstream's model ids (``/v1/models``, asked once), or None and why not (it may have no such route,
        or be down for now: the server starts anyway and says so at ``/health``)."""
        openai = _openai()
        try:
            page = self.client.models.list(timeout=min(CONNECT_TIMEOUT_S, self.timeout_s))
            return [m.id for m in page.data], None
        except openai.APIStatusError as e:
            return None, f"HTTP {e.status_code}: {_upstream_message(e)}"
        except openai.APIError as e:
            return None, _cause(e)

    def identity(self) -> dict:
        """The model that answers is the upstream's: no local base model, adapter or tokenizer."""
        return {
            "backend": self.backend,
            "base_model": self.model,
            "adapter": None,
            "upstream": {
                "url": self.url,
                "model": self.model,
                "models": self.models,
                **({"models_error": self.models_error} if self.models_error else {}),
            },
        }

    def describe(self, settings_override: dict | None = None) -> dict:
        s = resolve_settings(self.gen_cfg, settings_override)
        return {
            "backend": self.backend,
            "endpoint": self.url,
            "model": self.model,
            **s.model_dump(),
            "request": self._request(settings_override),
        }

    def _request(self, settings_override: dict | None) -> dict:
        """The request settings, as evaluation sends them (one request builder)."""
        return OpenAIGenerator._request_settings(resolve_settings(self.gen_cfg, settings_override))

    # -- sending, with retries and the concurrency limit -------------------------------------------
    def _where(self) -> str:
        return f"upstream {self.url} (model {self.model!r})"

    def _acquire(self, stop: threading.Event) -> bool:
        """One of the ``engine.concurrency`` slots (False once ``stop`` is set first); none free within
        ``engine.timeout_s``: 503."""
        waited = 0.0
        while not self._slots.acquire(timeout=0.05):
            waited += 0.05
            if stop.is_set():
                return False
            if waited >= self.timeout_s:
                raise UpstreamError(
                    f"{self._where()}: all {self.concurrency} requests to it (engine.concurrency) are still busy "
                    f"after {self.timeout_s:g} s",
                    503,
                    "upstream_busy",
                    retry_after=max(1, math.ceil(self.backoff_s)),
                )
        return True

    def _send(
        self, call: Callable[[], T], cancel: threading.Event | None = None, *, keep_slot: bool = False
    ) -> T | None:
        """``call()`` (one HTTP request) in one of the concurrency slots, retried as the module says; None once
        ``cancel`` is set (nothing further is sent).  ``keep_slot``: the slot stays taken (a stream gives it
        back when it ends)."""
        stop = cancel if cancel is not None else threading.Event()
        if not self._acquire(stop):
            return None
        kept = False
        try:
            out = self._retrying(call, stop)
            kept = keep_slot and out is not None
            return out
        finally:
            if not kept:
                self._slots.release()

    def _retrying(self, call: Callable[[], T], stop: threading.Event) -> T | None:
        openai = _openai()
        retry_after: str | None = None
        failure: UpstreamError | None = None
        for attempt in range(self.retries + 1):
            if attempt and stop.wait(retry_wait(attempt, self.backoff_s, retry_after)):
                return None
            if stop.is_set():
                return None
            try:
                return call()
            except openai.APIStatusError as e:
                failure = self._status_error(e)
                if e.status_code != 429 and e.status_code < 500:  # asking again will not help
                    raise failure from None
                retry_after = e.response.headers.get("retry-after")
            except openai.APITimeoutError:  # it may still be generating: not asked again
                raise self._timeout() from None
            except openai.APIConnectionError as e:
                failure = UpstreamError(f"{self._where()}: cannot connect: {_cause(e)}", 502, "upstream_unreachable")
        assert failure is not None
        if self.retries:
            failure.args = (f"{failure} (after {self.retries + 1} tries, engine.retries)",)
        raise failure

    def _timeout(self) -> UpstreamError:
        return UpstreamError(
            f"{self._where()}: no answer within {self.timeout_s:g} s (engine.timeout_s)", 504, "upstream_timeout"
        )

    def _status_error(self, e: Any) -> UpstreamError:
        """The answer to the upstream's HTTP error ``e`` (the module says which)."""
        status, message = e.status_code, _upstream_message(e)
        if status in (429, 503):
            return UpstreamError(
                f"{self._where()} is busy (HTTP {status}): {message}",
                503,
                "upstream_busy",
                retry_after=_seconds(e.response.headers.get("retry-after")) or max(1, math.ceil(self.backoff_s)),
            )
        if status >= 500:
            return UpstreamError(f"{self._where()} failed (HTTP {status}): {message}", 502, "upstream_failed")
        if status in (401, 403):
            return UpstreamError(
                f"{self._where()} refused chefbot's credentials (HTTP {status}): {message}; set engine.api_key_env "
                "to the NAME of the environment variable that holds its key",
                502,
                "upstream_auth",
            )
        if status == 404:
            return UpstreamError(
                f"{self._where()} answered HTTP 404: {message}; check engine.endpoint (an OpenAI-compatible base "
                "URL, usually ending in /v1) and engine.api_model",
                502,
                "upstream_not_found",
            )
        return UpstreamError(
            f"{self._where()} refused the request (HTTP {status}): {message}", status, e.code or "upstream_refused"
        )

    # -- chat answers ---------------------------------------------------------------------------------
    def _chat(self, messages: Messages, req: dict, cancel: threading.Event | None) -> Completion:
        r = self._send(
            lambda: self.client.chat.completions.create(model=self.model, messages=list(messages), **req), cancel
        )
        if r is None:
            return Completion("", "cancelled", 0, 0)
        choice = r.choices[0]
        return completion_from(choice.message.content or "", choice.finish_reason, r.usage)

    def generate(
        self,
        batch: Sequence[Messages],
        settings_override: dict | None = None,
        on_result: OnResult | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]:
        """Answers in input order, each its own request (at most ``engine.concurrency`` at once).  Once
        ``cancel`` is set no further request is sent (one in flight finishes: an HTTP call cannot be taken
        back); those not sent end ``"cancelled"``.  The first failure is raised (``UpstreamError``)."""
        req = self._request(settings_override)
        return self._each(batch, lambda m: self._chat(m, req, cancel), on_result)

    def _each(self, items: Sequence[Any], answer: Callable[[Any], Completion], on_result: OnResult | None) -> list:
        if len(items) == 1:
            out = [answer(items[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
                out = list(pool.map(answer, items))
        if on_result is not None:
            for i, c in enumerate(out):
                on_result(i, c)
        return out

    def stream(self, messages: Messages, settings_override: dict | None = None) -> UpstreamStream:
        """The upstream's own stream of the answer (opened here: a refusal is raised before any delta)."""
        req = self._request(settings_override)
        return self._open(
            lambda: self.client.chat.completions.create(
                model=self.model,
                messages=list(messages),
                stream=True,
                stream_options={"include_usage": True},
                **req,
            ),
            lambda choice: (choice.delta.content, choice.finish_reason),
        )

    def _open(self, create: Callable[[], Any], piece: Callable[[Any], tuple[str | None, str | None]]) -> UpstreamStream:
        opened = self._send(create, keep_slot=True)
        assert opened is not None  # nothing cancels the opening
        return UpstreamStream(self, opened, piece)

    # -- plain text completions (CompletesText) -------------------------------------------------------
    def _text_request(self, settings_override: dict | None, max_tokens: int, stop: Sequence[str]) -> dict:
        req = {**self._request(settings_override), "max_tokens": max_tokens}
        if stop:
            req["stop"] = list(stop)
        return req

    def complete_text(
        self,
        prompts: Sequence[str],
        settings_override: dict | None = None,
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        cancel: threading.Event | None = None,
    ) -> list[Completion]:
        req = self._text_request(settings_override, max_tokens, stop)

        def answer(prompt: str) -> Completion:
            r = self._send(lambda: self.client.completions.create(model=self.model, prompt=prompt, **req), cancel)
            if r is None:
                return Completion("", "cancelled", 0, 0)
            return completion_from(r.choices[0].text or "", r.choices[0].finish_reason, r.usage)

        return self._each(prompts, answer, None)

    def stream_text(
        self,
        prompt: str,
        settings_override: dict | None = None,
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
    ) -> UpstreamStream:
        req = self._text_request(settings_override, max_tokens, stop)
        return self._open(
            lambda: self.client.completions.create(
                model=self.model, prompt=prompt, stream=True, stream_options={"include_usage": True}, **req
            ),
            lambda choice: (choice.text, choice.finish_reason),
        )


class UpstreamStream:
    """One upstream stream as a chefbot ``Stream``: text deltas; ``completion`` at the end (token counts from the
    upstream's usage chunk, 0 where it sends none).  ``cancel()`` (any thread) ends it at the next piece that
    arrives, and closing the connection tells the upstream to stop; a silent upstream is cut by
    ``engine.timeout_s``."""

    def __init__(self, owner: UpstreamGenerator, opened: Any, piece: Callable[[Any], tuple[str | None, str | None]]):
        self._owner, self._stream, self._piece = owner, opened, piece
        self._cancel = threading.Event()
        self._released = False
        self.completion: Completion | None = None

    def cancel(self) -> None:
        self._cancel.set()

    def __iter__(self) -> Iterator[str]:
        openai, http = _openai(), _http_errors()
        where = self._owner._where()
        parts: list[str] = []
        finish: str | None = None
        used: Any = None
        try:
            for chunk in self._stream:
                if self._cancel.is_set():
                    break
                used = getattr(chunk, "usage", None) or used
                for choice in chunk.choices:
                    text, reason = self._piece(choice)
                    finish = reason or finish
                    if text:
                        parts.append(text)
                        yield text
        except (openai.APITimeoutError, http.TimeoutException):  # no next piece within engine.timeout_s
            raise self._owner._timeout() from None
        except openai.APIError as e:  # an error event in the stream (chefbot's in-band errors, vLLM's)
            raise UpstreamError(f"{where}: the stream failed: {_upstream_message(e)}", 502, "upstream_failed") from None
        except http.HTTPError as e:
            raise UpstreamError(f"{where}: the stream broke: {type(e).__name__}: {e}", 502, "upstream_failed") from None
        finally:
            self._close()
        self.completion = completion_from("".join(parts), "cancelled" if self._cancel.is_set() else finish, used)

    def _close(self) -> None:
        if not self._released:
            self._released = True
            try:
                self._stream.close()  # the upstream sees the reader leave and stops generating
            finally:
                self._owner._slots.release()


def _upstream_message(e: Any) -> str:
    """The upstream's own error message (OpenAI's envelope ``{"error": {"message"}}``, or a bare message)."""
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        if isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(body.get("error"), str):
            return body["error"]
    return str(getattr(e, "message", e))


def _cause(e: BaseException) -> str:
    """What lies under the openai client's "Connection error.": e.g. ``ConnectError: [Errno 111] Connection refused``."""
    under = e.__cause__ or e.__context__
    return f"{type(under).__name__}: {under}" if under is not None else str(e)


def _seconds(header: str | None) -> int | None:
    try:
        return max(1, math.ceil(float(header))) if header else None
    except ValueError:  # an HTTP date
        return None
