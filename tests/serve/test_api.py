"""The HTTP API on a real uvicorn socket with a tiny real model (the 'babbler', which never stops)."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from serve_support import GatedStreams, StuckGenerator, live_app, serve_cfg, wait_until

CHAT = "/v1/chat/completions"


def user(text: str = "hello") -> list[dict]:
    return [{"role": "user", "content": text}]


def sse_events(response: httpx.Response):
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line[6:]
            yield None if data == "[DONE]" else json.loads(data)


@pytest.fixture(scope="module")
def server(babbler_dir, babbler_generator):
    """A babbler whose streams, while a test has closed ``srv.gate``, hold after 3 deltas until it opens it
    again (or the client leaves)."""
    cfg = serve_cfg(babbler_dir, max_concurrency=2, max_queue=4, max_tokens_cap=300, max_prompt_chars=2000)
    gated = GatedStreams(babbler_generator)
    with live_app(cfg, gated) as srv:
        srv.gate = gated.gate
        srv.gate.set()
        yield srv


def test_health_models_and_a_plain_completion(server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        h = c.get("/health").json()
        assert h["status"] == "ok" and h["model"] == "chefbot" and h["queue"]["capacity"] == 6
        assert [m["id"] for m in c.get("/v1/models").json()["data"]] == ["chefbot"]
        r = c.post(CHAT, json={"model": "chefbot", "messages": user(), "max_tokens": 7})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["object"] == "chat.completion" and body["choices"][0]["message"]["role"] == "assistant"
        assert body["choices"][0]["message"]["content"].strip()
        assert body["choices"][0]["finish_reason"] == "length" and body["usage"]["completion_tokens"] == 7


def test_max_tokens_is_capped(babbler_dir, babbler_generator):
    cfg = serve_cfg(babbler_dir, max_tokens_cap=12)
    with live_app(cfg, babbler_generator) as srv, httpx.Client(base_url=srv.url, timeout=120) as c:
        r = c.post(CHAT, json={"messages": user(), "max_tokens": 100000})
        assert r.status_code == 200
        assert r.json()["usage"]["completion_tokens"] == 12  # serve.max_tokens_cap


def test_bad_requests_during_a_running_stream_leave_it_intact(server):
    """422/413/404/400 (and 401 on a keyed server) answered at once while a stream runs on."""
    received: list[dict | None] = []
    started = threading.Event()

    def read_stream():
        with httpx.Client(base_url=server.url, timeout=120) as c:
            with c.stream(
                "POST",
                CHAT,
                json={
                    "messages": user("tell me"),
                    "max_tokens": 120,
                    "stream": True,
                    "stream_options": {"include_usage": True},
                },
            ) as r:
                assert r.status_code == 200
                for ev in sse_events(r):
                    received.append(ev)
                    if len(received) >= 3:
                        started.set()

    server.gate.clear()  # the stream holds after 3 deltas: it is still running while the bad requests come
    t = threading.Thread(target=read_stream)
    t.start()
    try:
        assert started.wait(60), "the stream did not start"
        with httpx.Client(base_url=server.url, timeout=10) as c:
            bad_role = c.post(CHAT, json={"messages": [{"role": "chef", "content": "x"}]})
            not_json = c.post(CHAT, content=b'{"messages": [', headers={"content-type": "application/json"})
            missing = c.post(CHAT, json={"model": "chefbot"})
            wrong_type = c.post(CHAT, json={"messages": user(), "max_tokens": "many"})
            too_long = c.post(CHAT, json={"messages": user("salt " * 1000)})
            huge_body = c.post(CHAT, content=b"x" * 200_000, headers={"content-type": "application/json"})
            unknown = c.post(CHAT, json={"model": "gpt-9", "messages": user()})
            empty = c.post("/v1/recipes", json={"ingredients": []})
            blank = c.post("/v1/recipes", json={"ingredients": " , \n"})
        still_running = t.is_alive()  # each bad request was answered while the stream was held open
    finally:
        server.gate.set()
        t.join(120)
    assert bad_role.status_code == 422 and bad_role.json()["error"]["param"] == "messages.0.role"
    assert not_json.status_code == 422 and "not valid JSON" in not_json.json()["error"]["message"]
    assert missing.status_code == 422 and missing.json()["error"]["param"] == "messages"
    assert wrong_type.status_code == 422 and wrong_type.json()["error"]["param"] == "max_tokens"
    assert too_long.status_code == 413 and "max_prompt_chars" in too_long.json()["error"]["message"]
    assert huge_body.status_code == 413
    assert unknown.status_code == 404 and "gpt-9" in unknown.json()["error"]["message"]
    assert empty.status_code == 400 and "at least one ingredient" in empty.json()["error"]["message"]
    assert blank.status_code == 400
    assert received[-1] is None  # [DONE]
    final = [e for e in received if e and e["choices"] and e["choices"][0]["finish_reason"]]
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in received if e and e["choices"])
    assert final and final[0]["choices"][0]["finish_reason"] == "length" and text.strip()
    usage = [e["usage"] for e in received if e and "usage" in e]
    assert usage == [
        {
            "prompt_tokens": usage[0]["prompt_tokens"],
            "completion_tokens": 120,
            "total_tokens": usage[0]["prompt_tokens"] + 120,
        }
    ]  # not one token lost or cut
    assert still_running, "the stream had already ended: the test did not overlap with it"
    assert wait_until(lambda: httpx.get(server.url + "/health").json()["queue"]["running"] == 0)


def test_disconnect_mid_stream_cancels_and_frees_the_slot(server):
    sched = server.app.state.scheduler
    before = sched.stats.cancelled
    server.gate.clear()  # the generation holds after 3 deltas: the client leaves while it still runs
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            with c.stream("POST", CHAT, json={"messages": user(), "max_tokens": 300, "stream": True}) as r:
                n = 0
                for ev in sse_events(r):
                    n += 1
                    if n == 2:
                        break  # leave: the connection closes with the block
        assert wait_until(lambda: sched.stats.cancelled == before + 1, timeout=20), "the generation was not cancelled"
        assert wait_until(lambda: sched.stats.running == 0 and sched.stats.admitted == 0, timeout=10)
    finally:
        server.gate.set()


def test_full_queue_answers_429_at_once(babbler_dir):
    """The one slot is held by a model call that cannot finish until released (a babbler's 200-token
    stream used to hold it, but on a loaded machine it could finish before the second request came:
    the test then saw 200 instead of 429)."""
    gen = StuckGenerator()
    cfg = serve_cfg(babbler_dir, max_concurrency=1, max_queue=0)
    with live_app(cfg, gen) as srv, httpx.Client(base_url=srv.url, timeout=60) as c:
        holder = threading.Thread(target=lambda: c.post(CHAT, json={"messages": user(), "max_tokens": 5}))
        holder.start()
        try:
            assert gen.started.wait(30)
            t0 = time.perf_counter()
            busy = c.post(CHAT, json={"messages": user(), "max_tokens": 5})
            assert time.perf_counter() - t0 < 2
            assert busy.status_code == 429 and int(busy.headers["Retry-After"]) >= 1
            assert busy.json()["error"]["code"] == "queue_full"
        finally:
            gen.release()
            holder.join(60)
        assert wait_until(lambda: c.get("/health").json()["queue"]["running"] == 0)
        assert c.post(CHAT, json={"messages": user(), "max_tokens": 3}).status_code == 200  # slot free again


def test_timeout_answers_504(babbler_dir, babbler_generator):
    cfg = serve_cfg(babbler_dir, request_timeout_s=0.3)
    with live_app(cfg, babbler_generator) as srv, httpx.Client(base_url=srv.url, timeout=60) as c:
        r = c.post(CHAT, json={"messages": user(), "max_tokens": 1000})
        assert r.status_code == 504 and "request_timeout_s" in r.json()["error"]["message"]
        with c.stream("POST", CHAT, json={"messages": user(), "max_tokens": 1000, "stream": True}) as s:
            events = list(sse_events(s))
        assert events[-1] is None and any(e and "error" in e for e in events)


def test_api_keys_and_cors(babbler_dir, babbler_generator):
    cfg = serve_cfg(babbler_dir, api_keys=["k-123"])
    with live_app(cfg, babbler_generator) as srv, httpx.Client(base_url=srv.url, timeout=60) as c:
        assert c.get("/health").status_code == 200  # open: monitoring needs no key
        assert c.get("/").status_code == 200  # the page asks for the key itself
        assert c.get("/v1/models").status_code == 401
        wrong = c.post(CHAT, json={"messages": user()}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
        ok = c.post(CHAT, json={"messages": user(), "max_tokens": 2}, headers={"Authorization": "Bearer k-123"})
        assert ok.status_code == 200
        # CORS is off by default: no Access-Control-Allow-Origin for another site
        r = c.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers
    cfg = serve_cfg(babbler_dir, cors_origins=["https://app.example"])
    with live_app(cfg, babbler_generator) as srv:
        r = httpx.get(srv.url + "/health", headers={"Origin": "https://app.example"})
        assert r.headers["access-control-allow-origin"] == "https://app.example"


def test_web_page_and_static_files(server):
    with httpx.Client(base_url=server.url, timeout=10) as c:
        page = c.get("/")
        assert page.status_code == 200 and 'id="ingredients"' in page.text and "/static/app.js" in page.text
        assert "readEvents" in c.get("/static/app.js").text
        assert c.get("/static/style.css").status_code == 200
        assert c.get("/static/../app.py").status_code == 404
