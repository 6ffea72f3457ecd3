"""Structured output (issue 27, part 1): ``response_format`` enforced by constrained decoding, with the real clients.

The model is the babbler (serve_support: random weights that favour word tokens and never end a turn by
themselves), so a schema-valid answer can only come from the grammar: llguidance in the hf engine,
llama.cpp's grammar sampler in the llama.cpp engine.  The schema has a finite language (an enum, a boolean,
a bounded string), so the grammar must also end the answer.  Fields that would change the answer and are not
supported are refused with 400 naming them; schema keywords the grammars do not enforce, naming the keyword.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

import openai
import pytest
from fastapi.testclient import TestClient
from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel, ConfigDict, Field
from serve_support import FastGenerator, ScriptedGenerator, live_app, local_generator, serve_cfg
from test_llamacpp_engine import engine_for, need_llama_cpp

MSGS = [{"role": "user", "content": "Chop the rice with lemon and garlic."}]


class Dish(BaseModel):
    dish: Literal["soup", "salad", "stew"]
    vegan: bool
    note: str = Field(max_length=12)


# as the openai client sends it (additionalProperties false: pydantic's own schema would allow more keys)
class StrictDish(Dish):
    """instructor sends pydantic's own schema: no further keys only when the model forbids them."""

    model_config = ConfigDict(extra="forbid")


SCHEMA_FORMAT = {"type": "json_schema", "json_schema": {"name": "dish", "schema": to_strict_json_schema(Dish)}}


def _client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="EMPTY", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def hf_engine(babbler_dir):
    cfg = serve_cfg(babbler_dir)
    cfg.engine.generation.max_new_tokens = 96
    return cfg, local_generator(babbler_dir, cfg)


@pytest.fixture(scope="module")
def llama_engine(babbler_dir, tmp_path_factory):
    need_llama_cpp()
    cfg, gen = engine_for(babbler_dir, tmp_path_factory.mktemp("gguf-structured"), "f32", contexts=1)
    cfg.engine.generation.max_new_tokens = 96
    yield cfg, gen
    gen.close()


def test_without_a_grammar_the_babbler_writes_no_json(hf_engine):
    """The control: free generation from this model is not JSON, so the tests below measure the grammar."""
    cfg, gen = hf_engine
    text = gen.generate([MSGS], {"max_new_tokens": 32})[0].text
    with pytest.raises(ValueError):
        json.loads(text)


@pytest.mark.parametrize("engine", ["hf_engine", pytest.param("llama_engine", marks=pytest.mark.llamacpp)])
def test_openai_parse_returns_the_pydantic_object(engine, request):
    cfg, gen = request.getfixturevalue(engine)
    with live_app(cfg, gen) as srv:
        client = _client(srv.url)
        r = client.chat.completions.parse(model="chefbot", messages=MSGS, response_format=Dish, max_tokens=96)
        dish = r.choices[0].message.parsed
        assert isinstance(dish, Dish) and r.choices[0].finish_reason == "stop"
        # the stream is the same answer, token for token (greedy), and it is the schema's JSON too
        chunks = client.chat.completions.create(
            model="chefbot", messages=MSGS, max_tokens=96, stream=True, response_format=SCHEMA_FORMAT
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert Dish.model_validate_json(text) == dish


def test_streaming_helper_of_the_openai_client_parses_too(hf_engine):
    cfg, gen = hf_engine
    with live_app(cfg, gen) as srv:
        with _client(srv.url).chat.completions.stream(
            model="chefbot", messages=MSGS, response_format=Dish, max_tokens=96
        ) as stream:
            final = stream.get_final_completion()
        assert isinstance(final.choices[0].message.parsed, Dish)


def test_json_object_starts_an_object_and_completions_take_a_schema(hf_engine):
    cfg, gen = hf_engine
    with live_app(cfg, gen) as srv:
        client = _client(srv.url)
        r = client.chat.completions.create(
            model="chefbot", messages=MSGS, max_tokens=8, response_format={"type": "json_object"}
        )
        assert r.choices[0].message.content.startswith("{")
        c = client.completions.create(
            model="chefbot", prompt="Chop the rice", max_tokens=96, extra_body={"response_format": SCHEMA_FORMAT}
        )
        assert isinstance(Dish.model_validate_json(c.choices[0].text), Dish)
        one = client.completions.create(
            model="chefbot", prompt="Chop", max_tokens=1, extra_body={"response_format": {"type": "json_object"}}
        )
        assert one.choices[0].text == "{"  # the one-token fast path is not taken: the grammar holds there too


@pytest.mark.parametrize("engine", ["hf_engine", pytest.param("llama_engine", marks=pytest.mark.llamacpp)])
def test_instructor_gets_a_validated_object(engine, request):
    try:
        import instructor
    except ImportError:
        if os.environ.get("CI"):  # make setup installs it (CLIENT_PKGS)
            raise
        pytest.skip("instructor is not installed: make setup installs it (the Makefile's CLIENT_PKGS)")
    cfg, gen = request.getfixturevalue(engine)
    with live_app(cfg, gen) as srv:
        client = instructor.from_openai(_client(srv.url), mode=instructor.Mode.JSON_SCHEMA)
        dish = client.chat.completions.create(
            model="chefbot", messages=MSGS, response_model=StrictDish, max_tokens=96, max_retries=0
        )
        assert isinstance(dish, StrictDish)
        # instructor's default mode asks for tool calls: refused, naming the field, never ignored
        tools = instructor.from_openai(_client(srv.url))
        with pytest.raises(Exception, match="tools"):
            tools.chat.completions.create(
                model="chefbot", messages=MSGS, response_model=Dish, max_tokens=96, max_retries=0
            )


# -- refusals ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app_client():
    from chefbot.serve.app import create_app

    with TestClient(create_app(serve_cfg(Path("unused")), FastGenerator())) as c:
        yield c


@pytest.mark.parametrize(
    "field,value",
    [
        ("tools", [{"type": "function", "function": {"name": "f"}}]),
        ("tool_choice", "required"),
        ("functions", [{"name": "f"}]),
        ("logit_bias", {"12": 5}),
        ("logprobs", True),
        ("top_logprobs", 3),
        ("presence_penalty", 0.5),
        ("stop", ["\n"]),
        ("audio", {"voice": "alloy", "format": "wav"}),
        ("modalities", ["text", "audio"]),
        ("prediction", {"type": "content", "content": "x"}),
        ("n", 2),
    ],
)
def test_a_field_that_would_change_the_answer_is_refused_by_name(app_client, field, value):
    r = app_client.post("/v1/chat/completions", json={"messages": MSGS, field: value})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == field and err["code"] == "unsupported_field"


def test_harmless_values_and_ignored_fields_are_served(app_client):
    from chefbot.serve.schemas_openai import IGNORED_FIELDS, UNSUPPORTED_FIELDS

    harmless = {"tools": [], "tool_choice": "none", "logprobs": False, "modalities": ["text"], "presence_penalty": 0}
    ignored = {"user": "u1", "store": False, "metadata": {"a": "b"}, "service_tier": "auto"}
    assert set(ignored) <= set(IGNORED_FIELDS) and not set(IGNORED_FIELDS) & set(UNSUPPORTED_FIELDS)
    r = app_client.post("/v1/chat/completions", json={"messages": MSGS, **harmless, **ignored})
    assert r.status_code == 200, r.text
    r = app_client.post("/v1/completions", json={"prompt": "x", "max_tokens": 2, "best_of": 2})
    assert r.status_code == 400 and r.json()["error"]["param"] == "best_of"
    r = app_client.post("/v1/completions", json={"prompt": "x", "max_tokens": 2, "best_of": 1, "suffix": ""})
    assert r.status_code == 200, r.text


def _nested(depth: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "array", "items": schema}
    return schema


@pytest.mark.parametrize(
    "schema,keyword",
    [
        ({"type": "integer", "minimum": 1}, "minimum"),
        ({"type": "object", "properties": {"a": {"type": "string", "pattern": "^a+$"}}}, "pattern"),
        ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, "oneOf"),
        ({"type": "string", "format": "email"}, "format"),
        ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, "uniqueItems"),
        ({"$ref": "https://example.com/s.json"}, "$ref"),
        ({"type": "string", "maxLength": 100000}, "maxLength"),  # llama.cpp would nest 100000 rules
        (_nested(40), "(depth)"),
    ],
)
def test_an_unsupported_schema_keyword_is_refused_by_name(app_client, schema, keyword):
    body = {
        "messages": MSGS,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }
    r = app_client.post("/v1/chat/completions", json=body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "unsupported_schema" and repr(keyword) in err["message"]
    assert err["param"].startswith("response_format")


def test_an_unknown_response_format_is_refused(app_client):
    r = app_client.post("/v1/chat/completions", json={"messages": MSGS, "response_format": {"type": "grammar"}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unsupported_response_format"
    assert r.json()["error"]["param"] == "response_format"


def test_the_schemas_pydantic_and_openai_make_are_supported():
    """What the clients send (openai's strict schema of a model with nested models, optionals and lists)."""
    from chefbot.generate.structured import check_schema
    from chefbot.serve.schemas_recipes import RECIPE_FORMAT

    class Step(BaseModel):
        text: str
        minutes: int | None

    class Plan(BaseModel):
        title: str
        steps: list[Step]
        tags: list[Literal["quick", "vegan"]]

    check_schema(to_strict_json_schema(Plan))
    check_schema(RECIPE_FORMAT.json_schema)


def test_the_openai_engine_sends_response_format_on():
    from chefbot.config import GenerationConfig
    from chefbot.generate.completion import resolve_settings
    from chefbot.generate.openai_compat import OpenAIGenerator
    from chefbot.generate.structured import StructuredOutput

    fmt = StructuredOutput(kind="json_schema", json_schema=Dish.model_json_schema(), name="dish", strict=True)
    req = OpenAIGenerator._request_settings(resolve_settings(GenerationConfig(), {"structured": fmt.model_dump()}))
    assert req["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "dish", "schema": Dish.model_json_schema(), "strict": True},
    }
    assert "response_format" not in OpenAIGenerator._request_settings(resolve_settings(GenerationConfig()))


# -- /v1/recipes as JSON ----------------------------------------------------------------------------------
def test_recipes_as_json_are_decoded_under_the_recipe_schema_and_checked(tmp_path):
    """The route asks the engine for RECIPE_FORMAT, reads the JSON back by the schema and runs the text checks on
    it (a scripted model: the babbler cannot finish a whole recipe's JSON within a test's tokens)."""
    from chefbot.serve.app import create_app
    from chefbot.serve.schemas_recipes import RECIPE_FORMAT, RecipeJSON

    answer = RecipeJSON(
        title="Lemon rice",
        servings=2,
        total_time_minutes=25,
        ingredients=["1 cup rice", "1 lemon", "2 cups water"],
        directions=["Boil the rice in the water for 15 minutes.", "Squeeze the lemon over and serve."],
    )
    gen = ScriptedGenerator([answer.model_dump_json()])
    cfg = serve_cfg(Path("unused"))
    cfg.kitchen.db_path = str(tmp_path / "kitchen.db")
    with TestClient(create_app(cfg, gen)) as c:
        body = {"ingredients": ["rice", "lemon"], "constraints": {"diets": ["vegan"]}, "format": "json"}
        out = c.post("/v1/recipes", json=body).json()
        assert gen.calls[-1]["settings"]["structured"] == RECIPE_FORMAT.model_dump()
        assert out["recipe_json"] == answer.model_dump()
        assert out["recipe"]["title"] == "Lemon rice" and out["recipe"]["ingredients"] == answer.ingredients
        assert [st["text"] for st in out["recipe"]["steps"]] == answer.directions
        assert out["well_formed"] and out["valid"], out["problems"]
        assert [ch["name"] for ch in out["checks"]] == ["vegan"] and out["checks"][0]["satisfied"] is True
        text = c.post("/v1/recipes", json={**body, "format": "text"}).json()
        assert "structured" not in gen.calls[-1]["settings"] and text["recipe_json"] is None


def test_recipes_as_json_from_a_random_model(hf_engine, tmp_path):
    """The babbler under the recipe schema: the answer opens the schema's object; cut, it is no recipe_json and
    the problems say why."""
    from chefbot.serve.app import create_app

    cfg, gen = hf_engine
    cfg = cfg.model_copy(deep=True)
    cfg.kitchen.db_path = str(tmp_path / "kitchen.db")
    with TestClient(create_app(cfg, gen)) as c:
        body = {"ingredients": ["rice", "lemon"], "format": "json", "max_tokens": 24}
        cut = c.post("/v1/recipes", json=body).json()
        assert cut["raw"].startswith('{"title":"')
        assert cut["recipe_json"] is None and cut["valid"] is False and cut["finish_reason"] == "length"
        assert "recipe schema" in cut["problems"][0]


def test_serving_md_lists_every_refused_and_ignored_field(repo_dir):
    from chefbot.serve.schemas_openai import _FIELD_NAME, IGNORED_FIELDS, UNSUPPORTED_FIELDS

    doc = (repo_dir / "docs" / "SERVING.md").read_text(encoding="utf-8")
    section = doc.split("### Structured output", 1)[1].split("\n### ", 1)[0]
    for key in [*UNSUPPORTED_FIELDS, *IGNORED_FIELDS, "n"]:
        assert f"| `{_FIELD_NAME.get(key, key)}` |" in section, key
