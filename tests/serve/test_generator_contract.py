"""The generator contract (``chefbot.generate.completion``): every engine and every server test double declares
what it can do, the server asks ``isinstance`` and refuses what is not a generator, and a conversation is
rendered (``chefbot.chat.prompt_token_ids``, through ``token_engine.chat_prompt_ids``) once per request."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serve_support import FastGenerator, ScriptedGenerator, StuckGenerator, local_generator, serve_cfg

from chefbot.generate import token_engine
from chefbot.generate.completion import Generator, TokenEngine, TokenizedGenerator

MSGS = [{"role": "user", "content": "Rice, lemon and garlic: what can I cook?"}]


def kinds(obj) -> tuple[bool, bool, bool]:
    return isinstance(obj, Generator), isinstance(obj, TokenizedGenerator), isinstance(obj, TokenEngine)


def test_the_transformers_engine_is_a_token_engine(stopper_dir):
    gen = local_generator(stopper_dir)
    assert kinds(gen) == (True, True, True)
    assert gen.identity() == {"backend": "hf", "dtype": "float32"}


def test_vllm_is_fed_ids_but_does_no_plain_completions(fake_vllm):
    from serve_support import make_tiny_tokenizer

    from chefbot.config import GenerationConfig
    from chefbot.generate import VLLMGenerator

    gen = VLLMGenerator("some/model", make_tiny_tokenizer(), GenerationConfig(max_new_tokens=8))
    assert kinds(gen) == (True, True, False)
    handle = gen.stream(MSGS)  # it cannot stream: the whole answer comes as one delta
    assert list(handle) == ["Boil."] and handle.completion.text == "Boil."
    assert gen.llm.prompts == [{"prompt_token_ids": gen.prompt_ids(MSGS)}]


def test_an_openai_endpoint_is_a_generator_without_tokens(tmp_path):
    from chefbot.generate import OpenAIGenerator

    gen = OpenAIGenerator(base_url="http://Example.org:80/v1/", model="m", client=object(), cache_dir=tmp_path)
    assert kinds(gen) == (True, False, False)
    assert gen.identity() == {"backend": "openai", "endpoint": "http://example.org/v1"}


def test_the_server_test_doubles_implement_the_contract():
    assert kinds(FastGenerator()) == (True, True, True)
    assert kinds(StuckGenerator()) == (True, False, False)
    assert kinds(ScriptedGenerator(["x"])) == (True, False, False)


def test_the_server_refuses_an_object_that_is_no_generator_and_names_what_it_lacks():
    from chefbot.serve.state import ServerState

    class OnlyGenerate:
        backend = "half"

        def generate(self, batch, settings_override=None, on_result=None, cancel=None):
            return []

    with pytest.raises(TypeError) as err:
        ServerState(serve_cfg(Path("unused")), OnlyGenerate())
    message = str(err.value)
    assert "OnlyGenerate is not a chefbot Generator" in message
    assert all(m in message for m in ("describe", "gen_cfg", "identity", "stream"))
    assert "generate," not in message and "backend" not in message


@pytest.fixture
def renders(monkeypatch):
    """Every rendering of a conversation into prompt ids (the one prompt path all engines share), counted."""
    calls: list[list[dict]] = []
    real = token_engine.prompt_token_ids

    def counted(messages, tokenizer, fold="auto"):
        calls.append(list(messages))
        return real(messages, tokenizer, fold)

    monkeypatch.setattr(token_engine, "prompt_token_ids", counted)
    return calls


@pytest.mark.parametrize("stream", [False, True])
def test_a_chat_request_is_rendered_once(stopper_dir, renders, stream):
    """The size check's ids go with the job to the model (before: rendered for the check, then again to generate)."""
    from chefbot.serve.app import create_app

    gen = local_generator(stopper_dir)
    with TestClient(create_app(serve_cfg(stopper_dir), gen)) as c:
        r = c.post("/v1/chat/completions", json={"messages": MSGS, "max_tokens": 8, "stream": stream})
    assert r.status_code == 200, r.text
    if stream:
        deltas = [json.loads(d) for d in re.findall(r"^data: (\{.*)$", r.text, re.MULTILINE)]
        text = "".join(d["choices"][0]["delta"].get("content", "") for d in deltas)
    else:
        text = r.json()["choices"][0]["message"]["content"]
    assert text == "Chop the rice"  # the stopper model's answer: the ids the model was fed are the prompt's
    assert renders == [MSGS]


def test_a_recipe_with_retries_is_rendered_once(tmp_path, renders):
    """/v1/recipes with enforce asks again with the same conversation: its ids are made once for all attempts."""
    from chefbot.serve.app import create_app

    gen = FastGenerator()  # SHORT_RECIPE has rice: not vegetarian-breaking, but "max_minutes" 5 fails every time
    with TestClient(create_app(serve_cfg(tmp_path, enforce_attempts=3), gen)) as c:
        r = c.post("/v1/recipes", json={"ingredients": "rice, egg", "constraints": {"max_minutes": 5}, "enforce": True})
    assert r.status_code == 200, r.text
    assert gen.calls == 3 and len(renders) == 1


def test_a_plain_completion_is_tokenized_once_and_never_rendered(stopper_dir, renders, monkeypatch):
    from chefbot.serve.app import create_app

    gen = local_generator(stopper_dir)
    encoded: list[str] = []
    tokenizer_type = type(gen.tokenizer)

    class CountingTokenizer(tokenizer_type):  # __call__ is looked up on the type: count it there
        def __call__(self, text, *args, **kwargs):
            if text == "Boil the rice":
                encoded.append(text)
            return super().__call__(text, *args, **kwargs)

    monkeypatch.setattr(gen.tokenizer, "__class__", CountingTokenizer)
    with TestClient(create_app(serve_cfg(stopper_dir), gen)) as c:
        for stream in (False, True):
            r = c.post("/v1/completions", json={"prompt": "Boil the rice", "max_tokens": 3, "stream": stream})
            assert r.status_code == 200, r.text
    assert encoded == ["Boil the rice"] * 2 and renders == []
