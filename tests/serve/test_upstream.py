"""ChefBot in front of a model served elsewhere (``engine.kind: openai``, ``chefbot.generate.upstream``).

The upstream is a second chefbot server (a tiny transformers model that answers "Chop the rice", or a model call
that never returns) in uvicorn on a free port; the front is ``chefbot serve --engine openai`` built by
``make_generator`` from the same config keys the CLI sets.  Every answer through the front is compared with the
upstream's own answer to the same request, not with a fixed text.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Literal

import httpx
import pytest
from openai import OpenAI
from pydantic import BaseModel, Field
from serve_support import ScriptedGenerator, StuckGenerator, live_app, local_generator, serve_cfg

from chefbot.errors import ChefbotError
from chefbot.generate import make_generator
from chefbot.generate.upstream import UpstreamGenerator, display_url

UP = "upstream-chef"  # the upstream's served model name (GET /v1/models)
MSGS = [{"role": "user", "content": "Rice, lemon and garlic: what can I cook?"}]


@pytest.fixture(scope="module")
def upstream(stopper_dir, tmp_path_factory):
    cfg = serve_cfg(stopper_dir, model_name=UP, max_prompt_chars=400)
    cfg.kitchen.db_path = str(tmp_path_factory.mktemp("upstream") / "kitchen.db")
    with live_app(cfg, local_generator(stopper_dir, cfg)) as srv:
        yield srv


def front_cfg(tmp_path: Path, endpoint: str, **engine):
    """``chefbot serve CONFIG --engine openai --endpoint URL`` as a config (quick retries for the tests)."""
    cfg = serve_cfg(Path("unused"))
    cfg.kitchen.db_path = str(tmp_path / "front-kitchen.db")
    cfg.engine.kind, cfg.engine.endpoint = "openai", endpoint
    cfg.engine.retries, cfg.engine.backoff_s = 1, 0.05
    for key, value in engine.items():
        setattr(cfg.engine, key, value)
    return cfg


def front(cfg):
    return live_app(cfg, make_generator(cfg, purpose="serving"))


def sse_events(response: httpx.Response) -> list:
    out = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line[len("data: ") :]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens there now: connections are refused


def test_chat_through_the_front_is_the_upstreams_answer_streamed_or_not(upstream, tmp_path):
    asked = {"messages": MSGS, "max_tokens": 8, "temperature": 0}
    direct = OpenAI(base_url=f"{upstream.url}/v1", api_key="x").chat.completions.create(model=UP, **asked)
    # credentials in the endpoint URL are never shown (the upstream has no keys: it ignores them)
    endpoint = upstream.url.replace("http://", "http://cook:secret-pw@") + "/v1"
    with front(front_cfg(tmp_path, endpoint)) as srv:
        client = OpenAI(base_url=f"{srv.url}/v1", api_key="x")
        via = client.chat.completions.create(model="chefbot", **asked)
        chunks = list(
            client.chat.completions.create(
                model="chefbot", stream=True, stream_options={"include_usage": True}, **asked
            )
        )
        health = httpx.get(f"{srv.url}/health").json()
    assert direct.choices[0].message.content  # the tiny model says something
    assert via.choices[0].message.content == direct.choices[0].message.content
    assert via.choices[0].finish_reason == direct.choices[0].finish_reason == "stop"
    assert (via.usage.prompt_tokens, via.usage.completion_tokens) == (
        direct.usage.prompt_tokens,
        direct.usage.completion_tokens,
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == direct.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.completion_tokens == direct.usage.completion_tokens
    assert health["backend"] == "openai" and health["base_model"] == UP and health["adapter"] is None
    assert health["upstream"] == {"url": f"{upstream.url}/v1", "model": UP, "models": [UP], "models_error": None}
    assert "secret-pw" not in json.dumps(health)
    assert health["features"]["completions"] is True and health["tokenizer"] is None


def test_plain_completions_are_forwarded_as_text_and_what_needs_token_ids_is_refused(upstream, tmp_path):
    body = {"prompt": "Chop", "max_tokens": 6, "temperature": 0}
    direct = httpx.post(f"{upstream.url}/v1/completions", json=body).json()["choices"][0]
    with front(front_cfg(tmp_path, f"{upstream.url}/v1")) as srv, httpx.Client(base_url=srv.url, timeout=60) as c:
        plain = c.post("/v1/completions", json=body).json()["choices"][0]
        echoed = c.post("/v1/completions", json={**body, "echo": True}).json()["choices"][0]
        with c.stream("POST", "/v1/completions", json={**body, "stream": True}) as r:
            events = sse_events(r)
        ids = c.post("/v1/completions", json={**body, "prompt": [1, 2, 3]})
        logprobs = c.post("/v1/completions", json={**body, "logprobs": 2})
    assert plain["text"] == direct["text"] and plain["finish_reason"] == direct["finish_reason"]
    assert plain["logprobs"] is None
    assert echoed["text"] == "Chop" + direct["text"]
    assert events[-1] == "[DONE]"
    assert "".join(e["choices"][0]["text"] for e in events[:-1]) == direct["text"]
    assert events[-2]["choices"][0]["finish_reason"] == direct["finish_reason"]
    for r, param in ((ids, "prompt"), (logprobs, "logprobs")):
        error = r.json()["error"]
        assert r.status_code == 501 and error["param"] == param and error["code"] == "unsupported_by_engine", r.text


CHICKEN = """# Chicken Rice

## Ingredients
- 1 lb chicken thighs
- 1 cup rice

## Directions
1. Brown the chicken in a pan for 10 minutes.
2. Simmer the rice for 15 minutes and serve."""

TOFU = CHICKEN.replace("Chicken", "Tofu").replace("1 lb chicken thighs", "1 block tofu").replace("chicken", "tofu")


def test_recipes_with_checks_and_enforce_run_on_the_upstreams_answers(tmp_path):
    """The upstream (a chefbot server answering from a script) first writes chicken for a vegetarian: the front's
    checker refuses it and enforce asks the upstream again, sampled, and keeps the answer that passes."""
    scripted = ScriptedGenerator([CHICKEN, TOFU, CHICKEN, TOFU])
    cfg = serve_cfg(Path("unused"), model_name=UP)
    cfg.kitchen.db_path = str(tmp_path / "up-kitchen.db")
    request = {"ingredients": ["rice"], "constraints": {"diets": ["vegetarian"]}, "enforce": True}
    with live_app(cfg, scripted) as up, front(front_cfg(tmp_path, f"{up.url}/v1")) as srv:
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            r = c.post("/v1/recipes", json=request)
            with c.stream("POST", "/v1/recipes", json={**request, "stream": True}) as s:
                events = sse_events(s)
            health = c.get("/health").json()
    body = r.json()
    assert r.status_code == 200, r.text
    assert body["attempts"] == 2 and body["attempt"] == 2 and body["raw"] == TOFU and body["constraints_met"]
    assert [v["name"] for v in body["retries"][0]["violated"]] == ["vegetarian"]
    assert [c["satisfied"] for c in body["checks"]] == [True]
    assert body["recipe"]["title"] == "Tofu Rice"
    done = events[-2]
    assert events[-1] == "[DONE]" and done["done"] is True and done["attempts"] == 2 and done["raw"] == TOFU
    assert "".join(e["delta"] for e in events if "delta" in e) == CHICKEN + TOFU  # each attempt streamed
    # every attempt went upstream: the prompt chefbot built, the first greedy, the retries sampled
    assert len(scripted.calls) == 4
    assert "vegetarian" in scripted.calls[0]["messages"][-1]["content"].lower()
    assert [c["settings"].get("do_sample", False) for c in scripted.calls] == [False, True, False, True]
    assert health["queue"]["max_concurrency"] == 4  # engine.concurrency, not serve.max_concurrency


def test_an_upstream_refusal_is_passed_back_with_its_status_and_message(upstream, tmp_path):
    too_long = [{"role": "user", "content": "rice " * 100}]  # 500 characters: the upstream takes 400
    with front(front_cfg(tmp_path, f"{upstream.url}/v1")) as srv, httpx.Client(base_url=srv.url, timeout=60) as c:
        plain = c.post("/v1/chat/completions", json={"messages": too_long})
        streamed = c.post("/v1/chat/completions", json={"messages": too_long, "stream": True})
        unknown = make_generator(
            front_cfg(tmp_path, f"{upstream.url}/v1", api_model="no-such-model"), purpose="serving"
        )
        with pytest.raises(ChefbotError, match="HTTP 404"):
            unknown.generate([MSGS])
    for r in (plain, streamed):  # a stream is refused before its status line, not in-band
        error = r.json()["error"]
        assert r.status_code == 413 and error["code"] == "prompt_too_long", r.text
        assert "serve.max_prompt_chars" in error["message"] and upstream.url in error["message"]


def test_an_upstream_that_is_down_is_a_502_with_the_cause_at_once(tmp_path):
    url = closed_port_url()
    with pytest.raises(ChefbotError, match="lists no model"):  # no model to ask for, none to be learned
        make_generator(front_cfg(tmp_path, url), purpose="serving")
    cfg = front_cfg(tmp_path, url, api_model="m", retries=2)
    with front(cfg) as srv, httpx.Client(base_url=srv.url, timeout=60) as c:
        health = c.get("/health").json()["upstream"]
        t0 = time.monotonic()
        plain = c.post("/v1/chat/completions", json={"messages": MSGS})
        streamed = c.post("/v1/chat/completions", json={"messages": MSGS, "stream": True})
        recipe = c.post("/v1/recipes", json={"ingredients": ["rice"]})
        took = time.monotonic() - t0
    assert health["models"] is None and "Connect" in health["models_error"]
    for r in (plain, streamed, recipe):
        error = r.json()["error"]
        assert r.status_code == 502 and error["code"] == "upstream_unreachable", r.text
        assert "cannot connect" in error["message"] and "ConnectError" in error["message"]
        assert "3 tries" in error["message"]
    assert took < 10  # three requests, three tries each, 0.05 s and 0.1 s apart: no hang


@pytest.fixture
def stuck_upstream(tmp_path):
    """An upstream whose model never answers, one request at a time and none waiting (a second gets 429)."""
    stuck = StuckGenerator()
    cfg = serve_cfg(Path("unused"), model_name=UP, max_concurrency=1, max_queue=0)
    cfg.kitchen.db_path = str(tmp_path / "stuck-kitchen.db")
    with live_app(cfg, stuck) as srv:
        yield srv, stuck
        stuck.release()


def test_a_busy_upstream_is_a_503_with_retry_after(stuck_upstream, tmp_path):
    srv_up, stuck = stuck_upstream
    holder = threading.Thread(
        target=lambda: httpx.post(f"{srv_up.url}/v1/chat/completions", json={"messages": MSGS}, timeout=60)
    )
    holder.start()  # takes the upstream's only slot until released
    assert stuck.started.wait(10)
    with front(front_cfg(tmp_path, f"{srv_up.url}/v1")) as srv:
        r = httpx.post(f"{srv.url}/v1/chat/completions", json={"messages": MSGS}, timeout=60)
    stuck.release()
    holder.join(10)
    error = r.json()["error"]
    assert r.status_code == 503 and error["code"] == "upstream_busy", r.text
    assert int(r.headers["Retry-After"]) >= 1 and "HTTP 429" in error["message"]


def test_an_upstream_that_does_not_answer_is_a_504_and_a_stream_ends_with_an_error(stuck_upstream, tmp_path):
    srv_up, stuck = stuck_upstream
    with front(front_cfg(tmp_path, f"{srv_up.url}/v1", timeout_s=0.5)) as srv, httpx.Client(base_url=srv.url) as c:
        t0 = time.monotonic()
        plain = c.post("/v1/chat/completions", json={"messages": MSGS}, timeout=30)
        took = time.monotonic() - t0
        assert stuck.started.is_set()
        # the upstream saw the front leave and stopped its model call; its one slot is free for the stream
        with c.stream("POST", "/v1/chat/completions", json={"messages": MSGS, "stream": True}, timeout=30) as s:
            status, events = s.status_code, sse_events(s)
    error = plain.json()["error"]
    assert plain.status_code == 504 and error["code"] == "upstream_timeout" and "engine.timeout_s" in error["message"]
    assert took < 5  # never retried, never a hang
    assert status == 200 and events[-1] == "[DONE]"  # the upstream answered 200, then fell silent
    assert "error" in events[-2] and "engine.timeout_s" in events[-2]["error"]["message"]


def test_display_url_drops_credentials_and_query():
    assert display_url("HTTP://me:pw@Example.org:80/v1/?key=abc") == "http://example.org/v1"
    assert display_url("https://host:8443/v1") == "https://host:8443/v1"


def test_the_serving_engine_takes_no_adapter_and_needs_an_endpoint(tmp_path):
    cfg = front_cfg(tmp_path, None)
    with pytest.raises(ChefbotError, match="--endpoint URL"):
        make_generator(cfg, purpose="serving")
    cfg.engine.endpoint = closed_port_url()
    with pytest.raises(ChefbotError, match="cannot go with engine.kind=openai"):
        make_generator(cfg, adapter="runs/x/adapter", purpose="serving")
    cfg.engine.api_key_env = "CHEFBOT_TEST_UNSET_KEY"
    with pytest.raises(ChefbotError, match="CHEFBOT_TEST_UNSET_KEY is not set"):
        make_generator(cfg, purpose="serving")


def test_the_upstream_generator_is_a_text_completer_without_tokens(upstream):
    from chefbot.generate.completion import CompletesText, Generator, TokenizedGenerator

    gen = UpstreamGenerator(f"{upstream.url}/v1", None)
    assert isinstance(gen, Generator) and isinstance(gen, CompletesText)
    assert not isinstance(gen, TokenizedGenerator)
    assert gen.model == UP  # learned from /v1/models


# -- docs/SERVING.md, "Another model behind ChefBot": its commands and the apps' settings -----------------------
REPO = Path(__file__).resolve().parents[2]


def upstream_section() -> str:
    text = (REPO / "docs" / "SERVING.md").read_text(encoding="utf-8")
    return text.split("## Another model behind ChefBot", 1)[1].split("\n## ", 1)[0]


def test_the_documented_commands_parse_and_set_the_engine():
    import re

    from test_readme import chefbot_args, parse

    from chefbot.config import CLI_ALIASES, load_config

    commands = []
    for block in re.findall(r"```bash\n(.*?)```", upstream_section(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"^(\w+=\S+\s+)+", "", line.strip())  # VAR=value chefbot ...
            if line.startswith("chefbot "):
                commands.append(line)
    assert len(commands) >= 5
    endpoints = set()
    for command in commands:
        params = parse(chefbot_args(command)).params
        flags = {f: params.get(f.lstrip("-").replace("-", "_")) for f in CLI_ALIASES}
        cfg = load_config(REPO / params["config"], params.get("overrides") or [], flags)
        if "--engine openai" in command:
            assert cfg.engine.kind == "openai" and cfg.engine.endpoint.endswith("/v1"), command
            endpoints.add(cfg.engine.endpoint.rsplit(":", 1)[-1])
    assert endpoints == {"11434/v1", "8080/v1", "8000/v1"}  # Ollama, llama-server, vLLM


def test_the_documented_mealie_and_tandoor_settings_point_at_a_default_chefbot():
    import re

    from chefbot.config import ServeConfig

    section = upstream_section()
    settings = dict(re.findall(r"^([A-Z_]+)=(\S+)$", section, re.M))
    form = dict(re.findall(r"^(Model name|URL|API key): (.+)$", section, re.M))
    serve = ServeConfig()
    base = f"http://host.docker.internal:{serve.port}/v1"
    assert settings["OPENAI_BASE_URL"] == base == form["URL"] == settings["AI_ALLOWED_URLS"]
    assert settings["OPENAI_MODEL"] == serve.model_name and form["Model name"] == f"openai/{serve.model_name}"
    assert settings["OPENAI_API_KEY"] == form["API key"] == "<CHEFBOT_KEY>"


def test_chefbot_chat_with_engine_openai_streams_the_upstreams_answer(upstream, tmp_path):
    from chefbot.serve.terminal_chat import local_stream_fn

    gen = make_generator(front_cfg(tmp_path, f"{upstream.url}/v1"), purpose="serving")
    direct = OpenAI(base_url=f"{upstream.url}/v1", api_key="x").chat.completions.create(
        model=UP, messages=MSGS, max_tokens=32, temperature=0
    )
    pieces = list(local_stream_fn(gen, {"max_new_tokens": 32})(MSGS))
    assert "".join(pieces) == direct.choices[0].message.content
    assert gen._slots.acquire(blocking=False)  # the stream gave its concurrency slot back


def test_retry_waits_double_honour_retry_after_and_are_capped():
    from chefbot.generate.openai_compat import MAX_RETRY_WAIT_S, retry_wait

    waits = [retry_wait(n, 1.0) for n in (1, 2, 3, 4)]
    assert all(b <= w <= b * 1.1 for w, b in zip(waits, (1, 2, 4, 8)))
    assert 5.0 <= retry_wait(1, 1.0, "5") <= 5.0 and retry_wait(1, 1.0, "Wed, 21 Oct 2015 07:28:00 GMT") <= 1.1
    assert retry_wait(10, 1.0) == retry_wait(1, 1.0, "3600") == MAX_RETRY_WAIT_S


def test_the_upstreams_key_comes_from_the_variable_named_and_a_wrong_one_or_model_is_a_502(tmp_path, monkeypatch):
    """An upstream with keys (a chefbot with serve.api_keys, vLLM with --api-key): the key is read from the
    environment variable engine.api_key_env names; a missing key or an unknown model is ChefBot's own configuration
    (502 naming the key to fix), not the client's 401 or 404."""
    cfg = serve_cfg(Path("unused"), model_name=UP, api_keys=["upstream-secret"])
    cfg.kitchen.db_path = str(tmp_path / "keyed-kitchen.db")
    monkeypatch.setenv("CHEFBOT_TEST_UPSTREAM_KEY", "upstream-secret")
    with live_app(cfg, ScriptedGenerator([TOFU])) as up:
        endpoint = f"{up.url}/v1"
        keyed = front_cfg(tmp_path, endpoint, api_key_env="CHEFBOT_TEST_UPSTREAM_KEY")
        with front(keyed) as srv:
            ok = httpx.post(f"{srv.url}/v1/chat/completions", json={"messages": MSGS}, timeout=60)
        with front(front_cfg(tmp_path, endpoint, api_model=UP)) as srv:  # no key
            no_key = httpx.post(f"{srv.url}/v1/chat/completions", json={"messages": MSGS}, timeout=60)
        with front(front_cfg(tmp_path, endpoint, api_model="nope", api_key_env="CHEFBOT_TEST_UPSTREAM_KEY")) as srv:
            no_model = httpx.post(f"{srv.url}/v1/chat/completions", json={"messages": MSGS}, timeout=60)
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] == TOFU
    for r, code, hint in (
        (no_key, "upstream_auth", "engine.api_key_env"),
        (no_model, "upstream_not_found", "api_model"),
    ):
        error = r.json()["error"]
        assert r.status_code == 502 and error["code"] == code and hint in error["message"], r.text
        assert "upstream-secret" not in r.text


class Dish(BaseModel):
    dish: Literal["soup", "salad", "stew"]
    vegan: bool
    note: str = Field(max_length=12)


def test_response_format_reaches_the_upstream_and_parse_gets_an_object(upstream, tmp_path):
    """Mealie and Tandoor ask for structured output: through the front, the upstream's grammar enforces it."""
    with front(front_cfg(tmp_path, f"{upstream.url}/v1")) as srv:
        client = OpenAI(base_url=f"{srv.url}/v1", api_key="x", max_retries=0)
        done = client.chat.completions.parse(model="chefbot", messages=MSGS, response_format=Dish, max_tokens=200)
    dish = done.choices[0].message.parsed
    assert isinstance(dish, Dish) and dish.dish in ("soup", "salad", "stew")  # a random tiny model, held to the schema
