"""OpenAI-compatible backend against a fake server (httpx MockTransport): concurrency bound,
retries with backoff, disk cache, unreachable endpoint, and a crashed prediction run resuming."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import openai
import pytest

from chefbot.config import GenerationConfig
from chefbot.errors import ChefbotError
from chefbot.generate import Completion, OpenAIGenerator


class FakeServer:
    """Answers /chat/completions with the last user message reversed; can fail the first calls."""

    def __init__(self, fail_first: int = 0, delay: float = 0.0, fail_status: int = 500):
        self.fail_first = fail_first
        self.delay = delay
        self.fail_status = fail_status
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        with self.lock:
            self.requests.append(body)
            n = len(self.requests)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            if n <= self.fail_first:
                return httpx.Response(self.fail_status, json={"error": {"message": "busy", "type": "server_error"}})
            text = body["messages"][-1]["content"][::-1]
            return httpx.Response(
                200,
                json={
                    "id": f"c{n}",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "length" if body.get("max_tokens", 99) < 3 else "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 5, "completion_tokens": len(text), "total_tokens": 5 + len(text)},
                },
            )
        finally:
            with self.lock:
                self.in_flight -= 1


def client_for(server: FakeServer) -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://fake.test/v1",
        api_key="k",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(server)),
    )


def msgs(k: int) -> list[dict]:
    return [{"role": "system", "content": "Cook."}, {"role": "user", "content": f"item {k}"}]


def test_concurrency_bound_and_cache(tmp_path):
    server = FakeServer(delay=0.05)
    gen = OpenAIGenerator(
        "http://fake.test/v1",
        "m",
        gen_cfg=GenerationConfig(max_new_tokens=50),
        concurrency=3,
        cache_dir=tmp_path / "cache",
        client=client_for(server),
    )
    out = gen.generate([msgs(k) for k in range(10)])
    assert [c.text for c in out] == [f"item {k}"[::-1] for k in range(10)]
    assert out[0] == Completion(text="0 meti", finish_reason="stop", prompt_tokens=5, completion_tokens=6)
    assert 1 < server.max_in_flight <= 3
    sent = server.requests[0]
    assert (sent["max_tokens"], sent["temperature"], sent["top_p"], sent["seed"]) == (50, 0.0, 1.0, 0)
    assert "repetition_penalty" not in sent  # not an OpenAI parameter; only sent when set
    # a rerun costs nothing: the server sees no second request
    again = OpenAIGenerator(
        "http://fake.test/v1",
        "m",
        gen_cfg=GenerationConfig(max_new_tokens=50),
        concurrency=3,
        cache_dir=tmp_path / "cache",
        client=client_for(server),
    )
    assert again.generate([msgs(k) for k in range(10)]) == out
    assert len(server.requests) == 10 and again.calls == 0
    # other settings are another cache key
    assert gen.generate([msgs(0)], {"max_new_tokens": 2})[0].finish_reason == "length"
    assert len(server.requests) == 11


def test_retries_with_backoff(tmp_path):
    server = FakeServer(fail_first=2)
    gen = OpenAIGenerator(
        "http://fake.test/v1", "m", concurrency=1, cache_dir=None, retries=3, backoff_s=0.05, client=client_for(server)
    )
    t0 = time.perf_counter()
    assert gen.generate([msgs(1)])[0].text == "1 meti"
    assert len(server.requests) == 3
    assert time.perf_counter() - t0 >= 0.05 + 0.1  # waited 0.05 then 0.1 (doubling)


def test_client_error_is_not_retried(tmp_path):
    server = FakeServer(fail_first=5, fail_status=400)
    gen = OpenAIGenerator(
        "http://fake.test/v1", "m", cache_dir=None, retries=3, backoff_s=0.01, client=client_for(server)
    )
    with pytest.raises(ChefbotError, match="HTTP 400"):
        gen.generate([msgs(1)])
    assert len(server.requests) == 1


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_endpoint_keeps_finished_items(tmp_path):
    from chefbot.evaluate.predictions import read_predictions
    from chefbot.evaluate.run import generate_predictions

    items = [
        {"id": f"r{k}", "title": f"T{k}", "ner": ["egg"], "messages": msgs(k), "reference": f"ref {k}"}
        for k in range(4)
    ]
    cache = tmp_path / "cache"
    server = FakeServer()
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    up = OpenAIGenerator(url, "m", cache_dir=cache, client=client_for(server))
    up.generate([it["messages"] for it in items[:2]])  # this endpoint answered two items in an earlier run
    down = OpenAIGenerator(url, "m", cache_dir=cache, retries=2, backoff_s=0.01, api_key="k")
    path = tmp_path / "pred.jsonl"
    with pytest.raises(ChefbotError) as e:
        generate_predictions(down, items, path, "m")
    msg = str(e.value)
    assert url in msg and "3 tries" in msg and "2 of 4 items finished" in msg
    kept = [json.loads(x) for x in path.read_text().splitlines()]
    assert sorted(r["id"] for r in kept) == ["r0", "r1"]
    # the endpoint is back: the rerun resumes, asks only for the missing items, keeps item order
    back = OpenAIGenerator(url, "m", cache_dir=cache, client=client_for(server))
    n_before = len(server.requests)
    rows, timing = generate_predictions(back, items, path, "m")
    assert [r["id"] for r in rows] == ["r0", "r1", "r2", "r3"]
    assert len(server.requests) - n_before == 2 and timing["resumed_from_file"] == 2
    assert [r["id"] for r in read_predictions(path)] == ["r0", "r1", "r2", "r3"]


class HealthServer(FakeServer):
    """A FakeServer that answers in its own way and says at /health what it serves."""

    def __init__(self, style: str, health: dict | None):
        super().__init__()
        self.style, self.health = style, health

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200, json=self.health) if self.health else httpx.Response(404, json={})
        r = super().__call__(request)
        if self.style == "upper" and r.status_code == 200:
            body = r.json()
            text = json.loads(request.content)["messages"][-1]["content"].upper()
            body["choices"][0]["message"]["content"] = text
            return httpx.Response(200, json=body)
        return r


def test_two_servers_under_one_model_name_never_share_answers(tmp_path):
    """chefbot servers all call themselves "chefbot": the cache must tell them apart."""
    first, second = HealthServer("reverse", None), HealthServer("upper", None)
    a = OpenAIGenerator("http://127.0.0.1:8001/v1", "chefbot", cache_dir=tmp_path, client=client_for(first))
    b = OpenAIGenerator("http://127.0.0.1:8002/v1", "chefbot", cache_dir=tmp_path, client=client_for(second))
    assert a.generate([msgs(1)])[0].text == "1 meti"
    assert b.generate([msgs(1)])[0].text == "ITEM 1" and b.calls == 1
    # The same endpoint written another way is the same endpoint (and hits the cache).
    again = OpenAIGenerator("HTTP://127.0.0.1:8001/v1/", "chefbot", cache_dir=tmp_path, client=client_for(first))
    assert again.generate([msgs(1)])[0].text == "1 meti" and again.calls == 0


def test_one_address_serving_another_model_is_asked_again(tmp_path):
    """Same URL and name, but /health says another adapter is served now: no cached answer."""
    base = {"status": "ok", "model": "chefbot", "base_model": "smollm2", "adapter": None, "queue": {"running": 0}}
    tuned = {**base, "adapter": "runs/quickstart/adapter@3f2a", "queue": {"running": 3}}
    s1, s2 = HealthServer("reverse", base), HealthServer("upper", tuned)
    url = "http://127.0.0.1:8000/v1"
    g1 = OpenAIGenerator(url, "chefbot", cache_dir=tmp_path, client=client_for(s1))
    assert g1.generate([msgs(2)])[0].text == "2 meti"
    assert g1.describe()["server"] == {"model": "chefbot", "base_model": "smollm2", "adapter": None}
    g2 = OpenAIGenerator(url, "chefbot", cache_dir=tmp_path, client=client_for(s2))
    assert g2.generate([msgs(2)])[0].text == "ITEM 2" and g2.calls == 1
    # The queue changing is not a different model: a restart of the first server hits the cache.
    g3 = OpenAIGenerator(
        url, "chefbot", cache_dir=tmp_path, client=client_for(HealthServer("upper", {**base, "queue": {}}))
    )
    assert g3.generate([msgs(2)])[0].text == "2 meti" and g3.calls == 0


def test_cancel_stops_further_requests(tmp_path):
    """The ``Generator`` protocol's ``cancel``: once set, no further request (nor retry) is sent; a request in
    flight finishes and is kept; the rest are "cancelled" and not cached, so a rerun asks for them."""
    server = FakeServer()
    cancel = threading.Event()

    def cancelling(request: httpx.Request) -> httpx.Response:  # the caller gives up during the first request
        if not request.url.path.endswith("/chat/completions"):  # the /health probe (for the cache key)
            return httpx.Response(404)
        cancel.set()
        return server(request)

    client = openai.OpenAI(
        base_url="http://fake.test/v1",
        api_key="k",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(cancelling)),
    )
    gen = OpenAIGenerator(
        "http://fake.test/v1",
        "m",
        gen_cfg=GenerationConfig(max_new_tokens=50),
        concurrency=1,
        cache_dir=tmp_path / "cache",
        client=client,
    )
    out = gen.generate([msgs(k) for k in range(4)], cancel=cancel)
    assert [c.finish_reason for c in out] == ["stop"] + ["cancelled"] * 3
    assert len(server.requests) == 1
    fresh = OpenAIGenerator(
        "http://fake.test/v1",
        "m",
        gen_cfg=GenerationConfig(max_new_tokens=50),
        concurrency=1,
        cache_dir=tmp_path / "cache",
        client=client_for(server),
    )
    assert [c.finish_reason for c in fresh.generate([msgs(k) for k in range(4)])] == ["stop"] * 4
    assert len(server.requests) == 4  # the answered one was cached, the 3 cancelled were asked now
