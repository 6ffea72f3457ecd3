"""``OpenAIGenerator``: any OpenAI-compatible chat endpoint (GPT-4o-mini, vLLM, llama.cpp,
chefbot's own server) with bounded concurrency, retries with exponential backoff and a
disk cache, so a rerun costs nothing.

The cache is keyed by everything that changes an answer: the normalized base URL, the
model id, what the server says it serves at ``/health`` (a chefbot server names its base
model, adapter and engine there; every chefbot server calls itself "chefbot", so the
name alone would let one served model answer for another), the messages and the request
settings.  An answer from one endpoint is never served for another.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from chefbot.config import GenerationConfig
from chefbot.errors import ChefbotError
from chefbot.generate.completion import Completion, Messages, OnResult, Settings, WholeAnswerStream, resolve_settings
from chefbot.io import atomic_write_json

OPENAI_BASE_URL = "https://api.openai.com/v1"
# /health fields that change while a server runs, and so say nothing about which model answers.
# ``cpu`` is NOT one of them: the CPU picks llama.cpp's kernels (AVX2, AVX-512, AMX, repacked weights), and
# another kernel may round differently and so answer differently; the same server moved to another CPU is
# another cache.
VOLATILE_HEALTH_KEYS = ("status", "queue", "uptime_s")


MAX_RETRY_WAIT_S = 30.0  # no wait before a retry is longer (an endpoint's Retry-After included)


def retry_wait(attempt: int, backoff_s: float, retry_after: str | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, ...): ``backoff_s`` doubling each time, plus up to 10%
    jitter, or the endpoint's ``Retry-After`` (seconds) when that is longer; at most ``MAX_RETRY_WAIT_S``.  The one
    backoff of both OpenAI-compatible engines (evaluation's ``OpenAIGenerator``, serving's ``UpstreamGenerator``)."""
    wait = backoff_s * 2 ** (attempt - 1) * (1 + 0.1 * random.random())
    try:
        wait = max(wait, float(retry_after)) if retry_after else wait
    except ValueError:  # an HTTP date: the backoff instead
        pass
    return min(wait, MAX_RETRY_WAIT_S)


def completion_from(text: str, finish: str | None, usage: Any) -> Completion:
    """A ``Completion`` from an OpenAI-style answer: its finish reason ("length"; "cancelled" when chefbot stopped
    it; anything else "stop") and its usage counts (0 where the endpoint sent none).  Both OpenAI-compatible
    engines read answers through it."""
    return Completion(
        text=text,
        finish_reason=finish if finish in ("length", "cancelled") else "stop",
        prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
        completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
    )


def normalized_base_url(url: str | None) -> str:
    """``HTTP://Host:80/v1/`` and ``http://host/v1`` are one endpoint; None is the OpenAI API."""
    parts = urlsplit((url or OPENAI_BASE_URL).strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


@dataclass
class OpenAIGenerator:
    """Any OpenAI-compatible chat endpoint, with a disk cache and bounded concurrency: a ``Generator``
    (``chefbot.generate.completion``); it has no tokenizer, so it is fed messages, not token ids."""

    base_url: str | None
    model: str
    api_key: str | None = None
    gen_cfg: GenerationConfig = field(default_factory=GenerationConfig)
    concurrency: int = 4
    cache_dir: str | Path | None = ".cache/chefbot/openai"
    retries: int = 4
    backoff_s: float = 1.0  # first wait; doubles each retry (plus jitter)
    timeout_s: float = 120.0
    client: Any = None  # an openai.OpenAI instance; built from base_url/api_key when None
    backend: str = "openai"
    calls: int = 0  # requests actually sent (cache hits excluded)

    def __post_init__(self) -> None:
        if self.client is None:
            import openai  # 0.6 s: only when an endpoint is used (chefbot --help imports this module)

            key = self.api_key or os.environ.get("OPENAI_API_KEY") or ("EMPTY" if self.base_url else None)
            if key is None:
                raise ChefbotError(
                    f"model {self.model!r} needs the OpenAI API: set OPENAI_API_KEY, or give engine.endpoint=URL "
                    "of an OpenAI-compatible server"
                )
            # Retries are ours (below) so the last error can name the endpoint and the backoff is configurable.
            self.client = openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=self.timeout_s)
        self._lock = threading.Lock()
        self._server: dict | None = None
        self._probed = False

    def server_identity(self) -> dict | None:
        """What the endpoint's ``/health`` says it serves (volatile fields dropped), or None.

        Asked once per generator, through the same client as the answers; the OpenAI API
        has no ``/health`` and is not asked.
        """
        if not self._probed:
            self._probed = True
            if self.base_url:
                import openai

                root = normalized_base_url(self.base_url).removesuffix("/v1")
                try:
                    r = self.client.get(
                        f"{root}/health", cast_to=httpx.Response, options={"timeout": min(self.timeout_s, 10.0)}
                    )
                    body = r.json() if r.status_code == 200 else None
                except (openai.OpenAIError, httpx.HTTPError, ValueError):
                    body = None
                if isinstance(body, dict):
                    self._server = {k: v for k, v in body.items() if k not in VOLATILE_HEALTH_KEYS}
        return self._server

    def endpoint_identity(self) -> dict:
        return {"endpoint": normalized_base_url(self.base_url), "model": self.model, "server": self.server_identity()}

    def identity(self) -> dict:
        """The endpoint (without asking its ``/health``: ``describe`` and the cache do that)."""
        return {"backend": self.backend, "endpoint": normalized_base_url(self.base_url)}

    def stream(self, messages: Messages, settings_override: dict | None = None) -> WholeAnswerStream:
        """The whole answer as one delta: chefbot asks the endpoint without ``stream`` so that the answer is
        cached like any other."""
        return WholeAnswerStream(lambda cancel: self.generate([messages], settings_override, cancel=cancel)[0])

    def describe(self, settings_override: dict | None = None) -> dict:
        s = resolve_settings(self.gen_cfg, settings_override)
        return {
            "backend": self.backend,
            **self.endpoint_identity(),
            **s.model_dump(),
            "request": self._request_settings(s),
        }

    @staticmethod
    def _request_settings(s: Settings) -> dict:
        """What is sent: the API has no repetition_penalty/top_k, so those go as extras only when set; a structured
        answer goes as the request's ``response_format`` (the endpoint enforces it)."""
        req: dict[str, Any] = {
            "max_tokens": s.max_new_tokens,
            "temperature": s.temperature if s.do_sample else 0.0,
            "top_p": s.top_p if s.do_sample else 1.0,
            "seed": s.seed,
        }
        if s.structured is not None:
            req["response_format"] = s.structured.openai_response_format()
        extra = {}
        if s.repetition_penalty != 1.0:
            extra["repetition_penalty"] = s.repetition_penalty
        if s.do_sample and s.top_k > 0:
            extra["top_k"] = s.top_k
        if extra:
            req["extra_body"] = extra
        return req

    def cache_key(self, messages: Messages, req: dict) -> str:
        blob = json.dumps(
            {**self.endpoint_identity(), "messages": list(messages), "settings": req},
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(blob.encode()).hexdigest()

    def _cache_path(self, key: str) -> Path | None:
        return None if self.cache_dir is None else Path(self.cache_dir) / key[:2] / f"{key}.json"

    def _cached(self, key: str) -> Completion | None:
        p = self._cache_path(key)
        if p is None or not p.exists():
            return None
        try:
            return Completion.from_dict(json.loads(p.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError):
            return None  # a damaged entry is simply asked again

    def _store(self, key: str, c: Completion) -> None:
        p = self._cache_path(key)
        if p is not None:
            atomic_write_json(p, c.to_dict())

    def _call(self, messages: Messages, req: dict, cancel: threading.Event | None = None) -> Completion | None:
        """One answer (None once ``cancel`` is set: no further request or retry is sent)."""
        import openai

        retryable = (
            openai.APIConnectionError,
            openai.APITimeoutError,
            openai.RateLimitError,
            openai.InternalServerError,
        )
        stop = cancel if cancel is not None else threading.Event()
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt and stop.wait(retry_wait(attempt, self.backoff_s)):
                return None
            if stop.is_set():
                return None
            try:
                with self._lock:
                    self.calls += 1
                r = self.client.chat.completions.create(model=self.model, messages=list(messages), **req)
            except retryable as e:
                last = e
                continue
            except openai.APIStatusError as e:  # 4xx other than 429: asking again will not help
                raise ChefbotError(
                    f"endpoint {self.base_url or 'api.openai.com'} model {self.model!r}: HTTP {e.status_code}: {e.message}"
                ) from None
            ch = r.choices[0]
            return completion_from(ch.message.content or "", ch.finish_reason, getattr(r, "usage", None))
        raise _Unreachable(f"{type(last).__name__}: {last}")

    def generate(
        self,
        batch: Sequence[Messages],
        settings_override: dict | None = None,
        on_result: OnResult | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]:
        """Answers in input order, from the cache or the endpoint.  Once ``cancel`` is set no further request
        is sent (requests in flight finish; an HTTP call cannot be taken back): the items not answered get
        ``finish_reason "cancelled"`` and are not cached."""
        req = self._request_settings(resolve_settings(self.gen_cfg, settings_override))
        out: list[Completion | None] = [None] * len(batch)
        todo = []
        for i, m in enumerate(batch):
            key = self.cache_key(m, req)
            hit = self._cached(key)
            if hit is not None:
                out[i] = hit
                if on_result is not None:
                    on_result(i, hit)
            else:
                todo.append((i, key))
        failure: str | None = None
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = {pool.submit(self._call, batch[i], req, cancel): (i, key) for i, key in todo}
            for fut in as_completed(futures):
                i, key = futures[fut]
                try:
                    c = fut.result()
                except _Unreachable as e:
                    failure = failure or str(e)
                    continue
                if c is None:  # cancelled before it was asked
                    out[i] = Completion("", "cancelled", 0, 0)
                    continue
                self._store(key, c)
                out[i] = c
                if on_result is not None:
                    on_result(i, c)
        if failure is not None:
            done = sum(c is not None and c.finish_reason != "cancelled" for c in out)
            raise ChefbotError(
                f"endpoint {self.base_url or 'https://api.openai.com/v1'} (model {self.model!r}) failed after "
                f"{self.retries + 1} tries: {failure}. {done} of {len(batch)} items finished and are kept "
                f"(cache {self.cache_dir}); run the same command again to continue."
            )
        return out  # type: ignore[return-value]


class _Unreachable(Exception):
    pass
