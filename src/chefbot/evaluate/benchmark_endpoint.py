"""Endpoint checks: benchmarks against a running ``chefbot serve`` over HTTP.

lm-eval's ``local-completions`` model sends the standard questions as token ids to the server's
``/v1/completions``, which answers with exact log-probabilities; ``GET /health`` says what the
server serves, so a results file names the model it measured and base vs tuned over two servers
can refuse a server compared with itself (``served_model``).
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from chefbot.errors import ChefbotError
from chefbot.evaluate.benchmark_tasks import DEFAULT_TASKS, check_tasks, run_lm
from chefbot.generate.openai_compat import VOLATILE_HEALTH_KEYS
from chefbot.generate.token_engine import tokenizer_fingerprint


def endpoint_root(endpoint: str) -> str:
    """``http://host:8000``, ``.../v1`` and ``.../v1/completions`` all name the server at ``http://host:8000``."""
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ChefbotError(f"endpoint {endpoint!r}: give the server's URL, e.g. http://127.0.0.1:8000")
    path = parts.path.rstrip("/")
    for tail in ("/completions", "/v1"):
        path = path.removesuffix(tail)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def endpoint_health(endpoint: str, timeout_s: float = 10.0) -> dict:
    """What the server at ``endpoint`` says it serves (``GET /health``, volatile fields dropped)."""
    import httpx

    url = endpoint_root(endpoint) + "/health"
    try:
        r = httpx.get(url, timeout=timeout_s)
        body = r.json() if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as e:
        raise ChefbotError(
            f"endpoint {endpoint}: {url} did not answer ({type(e).__name__}: {e}); is the server "
            "running (chefbot serve)?"
        ) from None
    if not isinstance(body, dict):
        raise ChefbotError(f"endpoint {endpoint}: {url} answered HTTP {r.status_code}, not a /health object")
    if (body.get("features") or {}).get("completions") is False:
        raise ChefbotError(
            f"endpoint {endpoint}: the server has no /v1/completions (backend {body.get('backend')!r}); "
            "serve with --engine hf"
        )
    return {k: v for k, v in body.items() if k not in VOLATILE_HEALTH_KEYS}


def served_model(health: dict) -> tuple:
    """What decides a server's answers: base model, adapter content, dtype, quantization."""
    adapter = health.get("adapter")
    if isinstance(adapter, dict):
        sha = adapter.get("sha256")
        adapter = (sha, adapter.get("config_sha256")) if sha else adapter.get("path")
    return health.get("base_model"), adapter, health.get("dtype"), health.get("quant")


def run_benchmarks_endpoint(
    endpoint: str,
    tokenizer: Any,
    tasks: Sequence[str] = DEFAULT_TASKS,
    limit: int | None = None,
    batch_size: int = 1,
    num_fewshot: int | None = None,
    source: str = "auto",
    seed: int = 0,
    mmlu_subjects: Sequence[str] | None = None,
    health: dict | None = None,
    max_retries: int = 3,
) -> dict:
    """The standard lm-eval tasks against a running server, through lm-eval's ``local-completions``
    model (``LocalCompletionsAPI``: token ids to ``/v1/completions`` with ``echo``, ``logprobs``,
    ``max_tokens: 1``; it sums the continuation's log-probabilities itself).

    ``tokenizer`` must be the served model's (it turns the questions into the token ids sent): when
    the server reports a tokenizer fingerprint at ``/health`` it is checked first.  ``batch_size``
    prompts go in one request (at most the server's ``max_prompts``), one request at a time.
    Returns what ``run_benchmarks`` returns; ``settings`` name the endpoint and what it serves."""
    check_tasks(tasks)
    missing = [m for m in ("aiohttp", "requests", "tenacity", "tqdm") if importlib.util.find_spec(m) is None]
    if missing:  # lm-eval's API models need its "api" extra
        raise ChefbotError(
            f"benchmarks over an endpoint need lm-eval's API extra ({', '.join(missing)} missing): "
            "pip install 'lm-eval[api]'"
        )
    from lm_eval.models.openai_completions import LocalCompletionsAPI

    root = endpoint_root(endpoint)
    health = health if health is not None else endpoint_health(endpoint)
    served_tok = health.get("tokenizer")
    ours = tokenizer_fingerprint(tokenizer)
    if served_tok is not None and served_tok != ours:
        raise ChefbotError(
            f"endpoint {endpoint}: the server's tokenizer (fingerprint {served_tok}) is not this "
            f"config's (model.name_or_path / model.tokenizer: {ours}); the token ids sent would mean "
            "other words. Give the config of the served model."
        )
    limits = health.get("limits") or {}
    batch_size = max(1, min(batch_size, int(limits.get("max_prompts", batch_size))))
    # lm-eval tokenizes without special tokens unless told; HFLM uses the tokenizer's default. The same ids either way:
    adds_special = tokenizer("a")["input_ids"] != tokenizer("a", add_special_tokens=False)["input_ids"]
    with tempfile.TemporaryDirectory(prefix="chefbot-tokenizer-") as tok_dir:
        tokenizer.save_pretrained(tok_dir)  # lm-eval loads its tokenizer from a folder
        lm = LocalCompletionsAPI(
            base_url=f"{root}/v1/completions",
            model=health.get("model") or "chefbot",
            tokenizer_backend="huggingface",
            tokenizer=tok_dir,
            num_concurrent=1,
            max_retries=max_retries,
            batch_size=batch_size,
            # the longest prompt the server takes (lm-eval keeps the last max_length - 1 tokens of longer ones)
            max_length=int(limits.get("max_prompt_tokens", 2047)) + 1,
            add_bos_token=adds_special,
            seed=seed,
        )
    out = run_lm(lm, tasks, limit, num_fewshot, source, seed, mmlu_subjects)
    out["settings"].update(
        batch_size=batch_size,
        dtype=health.get("dtype"),
        endpoint=f"{root}/v1/completions",
        server=health,
        tokenizer_checked=served_tok is not None,
    )
    return out


def server_health(servers: list[tuple[str, str]]) -> dict[str, dict]:
    """``{label: {"endpoint", "health"}}`` for each (label, URL); two servers must serve two different models."""
    endpoints = {label: {"endpoint": url, "health": endpoint_health(url)} for label, url in servers}
    if len(endpoints) == 2 and served_model(endpoints["base"]["health"]) == served_model(endpoints["tuned"]["health"]):
        h, base, tuned = endpoints["tuned"]["health"], endpoints["base"]["endpoint"], endpoints["tuned"]["endpoint"]
        raise ChefbotError(
            f"--base-endpoint {base} and --endpoint {tuned} serve the same model "
            f"({h.get('base_model')}, adapter {h.get('adapter')}, {h.get('dtype')}): retention "
            "would compare it with itself. Serve the base and the tuned model on two ports."
        )
    return endpoints
