"""A blind tasting's base side without a second server: the served engine answers as its base model with the
adapter left out (``AnswersAsBase``).  On tiny models with a deliberately non-zero adapter: the base answer is
the base weights' answer (equal to a generator that never had the adapter) and differs from the adapter's; the
hf engine's model-wide switch never leaks into answers running beside it; the llama.cpp engine serves the base's
own GGUF; and the kitchen API and page default to base vs final model, or say why they cannot."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serve_support import FastGenerator, local_generator, serve_cfg
from test_llamacpp_engine import need_llama_cpp

from chefbot.generate.completion import AnswersAsBase, TokenizedGenerator
from chefbot.generate.local import AdapterGate
from chefbot.serve.app import create_app

PROMPTS = [
    [{"role": "user", "content": "Chop the rice with lemon and garlic."}],
    [{"role": "user", "content": "Preheat the oven to 350 degrees."}],
]
GREEDY = {"max_new_tokens": 12, "do_sample": False}


@pytest.fixture(scope="module")
def adapter_dir(babbler_dir, tmp_path_factory) -> Path:
    """A LoRA adapter of the babbler with random (non-zero) B matrices: it changes the model's answers."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(str(babbler_dir), dtype=torch.float32)
    lora = get_peft_model(
        base, LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False)
    )
    folder = tmp_path_factory.mktemp("adapter")
    lora.save_pretrained(folder)
    return folder


def peft_generator(model_dir: Path, adapter: Path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from chefbot.config import GenerationConfig
    from chefbot.generate import LocalGenerator

    base = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(adapter)).eval()
    return LocalGenerator(model, AutoTokenizer.from_pretrained(str(model_dir)), GenerationConfig(max_new_tokens=12))


@pytest.fixture(scope="module")
def answers(babbler_dir, adapter_dir):
    """The generator with the adapter, and the reference answers of the base alone and of base + adapter."""
    gen = peft_generator(babbler_dir, adapter_dir)
    base_only = local_generator(babbler_dir)
    return gen, [c.text for c in base_only.generate(PROMPTS, GREEDY)], [c.text for c in gen.generate(PROMPTS, GREEDY)]


def test_the_hf_engine_answers_as_its_base_weights(answers, babbler_dir):
    gen, base_texts, adapter_texts = answers
    assert isinstance(gen, AnswersAsBase) and gen.serves_adapter()
    assert base_texts != adapter_texts  # the adapter is not zero: otherwise this test could not tell them apart
    base = gen.without_adapter()
    assert isinstance(base, TokenizedGenerator) and not base.serves_adapter() and base.model is gen.model
    assert [c.text for c in base.generate(PROMPTS, GREEDY)] == base_texts
    assert [c.text for c in gen.generate(PROMPTS, GREEDY)] == adapter_texts  # switched on again after it
    assert base.without_adapter() is base and gen.without_adapter() is base
    assert base.identity()["without_adapter"] is True and "without_adapter" not in gen.identity()
    # log-probabilities too (plain completions go through the same switch)
    ids = gen.prompt_ids(PROMPTS[0])
    plain = local_generator(babbler_dir)
    assert base.score([ids])[0].logprobs == pytest.approx(plain.score([ids])[0].logprobs, abs=1e-5)
    assert gen.score([ids])[0].logprobs != pytest.approx(plain.score([ids])[0].logprobs, abs=1e-3)


def test_a_generator_without_an_adapter_has_no_base_to_switch_to(babbler_dir):
    from chefbot.errors import ChefbotError

    plain = local_generator(babbler_dir)
    assert not plain.serves_adapter()
    with pytest.raises(ChefbotError, match="no adapter"):
        plain.without_adapter()


def test_base_answers_never_leak_into_answers_beside_them(answers):
    """Base and adapter answers asked for at once from several threads (the server's model threads and a stream):
    every one is exactly its reference, so the model-wide switch never caught a call with the adapter."""
    gen, base_texts, adapter_texts = answers
    base = gen.without_adapter()

    def ask(k: int) -> tuple[str, list[str]]:
        if k % 3 == 0:
            handle = gen.stream(PROMPTS[k % 2], GREEDY)
            return "adapter-stream", ["".join(handle)]
        which = base if k % 3 == 1 else gen
        return ("base" if which is base else "adapter"), [c.text for c in which.generate(PROMPTS, GREEDY)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(ask, range(12)))
    for k, (kind, texts) in enumerate(results):
        if kind == "adapter-stream":
            assert texts == [adapter_texts[k % 2]], k
        else:
            assert texts == (base_texts if kind == "base" else adapter_texts), (k, kind)


def test_the_gate_lets_a_call_without_the_adapter_run_only_alone():
    gate, log = AdapterGate(), []
    inside, release = threading.Event(), threading.Event()

    class Switch:
        def __enter__(self):
            log.append("off")

        def __exit__(self, *exc):
            log.append("on")

    def sharer():
        with gate.shared():
            log.append("shared in")
            inside.set()
            release.wait(5)
            log.append("shared out")

    def alone():
        with gate.alone(Switch):
            log.append("alone")

    t1 = threading.Thread(target=sharer)
    t1.start()
    assert inside.wait(5)
    t2 = threading.Thread(target=alone)
    t2.start()
    time.sleep(0.2)
    assert log == ["shared in"]  # the base call waits while an adapter call runs
    late = threading.Thread(target=lambda: gate.shared().__enter__() or log.append("late shared"))
    late.start()
    time.sleep(0.2)
    assert "late shared" not in log  # and a call arriving after it waits for it (no starvation)
    release.set()
    for t in (t1, t2, late):
        t.join(5)
    assert log == ["shared in", "shared out", "off", "alone", "on", "late shared"]


# -- the kitchen API and the page's default ----------------------------------------------------------------
def tasting_client(tmp_path: Path, generator, adapter: Path | None = None, tasting_models: dict | None = None):
    cfg = serve_cfg(Path("unused"))
    cfg.kitchen.db_path = str(tmp_path / "k.db")
    cfg.kitchen.tasting_models = tasting_models or {}
    return TestClient(create_app(cfg, generator, adapter=str(adapter) if adapter else None))


def test_a_tasting_of_base_vs_final_model_on_one_server(answers, adapter_dir, tmp_path):
    gen, base_texts, adapter_texts = answers
    with tasting_client(tmp_path, gen, adapter_dir) as c:
        sides = c.get("/api/tastings/sides").json()
        assert sides["default"] == {"a": {"model": "served"}, "b": {"model": "base"}}
        assert sides["models"] == ["served", "base"] and "switched off" in sides["base"]
        assert str(adapter_dir) in sides["served"] and sides["note"].startswith("Base vs final model")
        body = {"ingredients": ["rice", "lemon"], "a": {"model": "served", "temperature": 0}}
        body["b"] = {"model": "base", "temperature": 0}
        r = c.post("/api/tastings/pair", json=body)
        assert r.status_code == 201, r.text
        shown = {a["label"]: a["text"] for a in r.json()["answers"]}
        v = c.post("/api/tastings", json={"pair_id": r.json()["pair_id"], "choice": "A", "rater": "Kim"}).json()
        v = c.post(f"/api/tastings/{v['pair_id']}/reveal").json()
        by_model = {v["revealed"][label]["model"]: text for label, text in shown.items()}
    # the same prompt straight to the two generators: the served side is base + adapter, the base side is not
    from chefbot.cooking.recipe_constraints import RecipeConstraints
    from chefbot.serve.recipes import recipe_messages

    messages = recipe_messages(["rice", "lemon"], RecipeConstraints(), serve_cfg(Path("unused")).prompt)
    settings = {"max_new_tokens": 12, "do_sample": False}  # the generator's max_new_tokens; temperature 0
    assert by_model["served"] == gen.generate([messages], settings)[0].text
    assert by_model["base"] == gen.without_adapter().generate([messages], settings)[0].text
    assert by_model["base"] != by_model["served"]


def test_without_an_adapter_the_page_falls_back_and_says_why(tmp_path):
    with tasting_client(tmp_path, FastGenerator()) as c:
        sides = c.get("/api/tastings/sides").json()
        assert sides["base"] is None and sides["models"] == ["served"]
        assert sides["default"]["a"] == {"model": "served", "temperature": 0.0}
        assert sides["default"]["b"] == {"model": "served", "temperature": 0.8}
        assert "serves no adapter" in sides["note"]
        r = c.post("/api/tastings/pair", json={"ingredients": ["rice"], "b": {"model": "base"}})
        assert r.status_code == 400 and r.json()["error"]["code"] == "no_base_model"
        assert r.json()["error"]["param"] == "b.model" and "--adapter" in r.json()["error"]["message"]


def test_a_configured_base_server_still_answers_as_base(tmp_path):
    models = {"base": {"endpoint": "http://127.0.0.1:9/v1", "model": "chefbot"}}
    with tasting_client(tmp_path, FastGenerator(), tasting_models=models) as c:
        sides = c.get("/api/tastings/sides").json()
        assert sides["base"].startswith("kitchen.tasting_models.base") and sides["default"]["b"] == {"model": "base"}
        r = c.post("/api/tastings/pair", json={"ingredients": ["rice"], "b": {"model": "base"}})
        assert r.status_code == 502 and r.json()["error"]["code"] == "tasting_model_failed"  # nothing on port 9


@pytest.mark.llamacpp  # needs llama-cpp-python: `make test` runs it once its background build is done
def test_the_llamacpp_engine_answers_as_the_base_gguf(babbler_dir, adapter_dir, tmp_path):
    need_llama_cpp()  # fails in CI, skips elsewhere
    from chefbot.generate import LlamaCppGenerator

    cfg = serve_cfg(babbler_dir)
    cfg.model.cache_dir = str(tmp_path / "cache")
    served = LlamaCppGenerator.from_config(cfg, adapter=str(adapter_dir), quant="f32", contexts=1)
    plain = LlamaCppGenerator.from_config(cfg, quant="f32", contexts=1)
    try:
        assert served.serves_adapter() and not plain.serves_adapter()
        base = served.without_adapter()
        assert base.gguf_path == plain.gguf_path != served.gguf_path  # the base's own cached GGUF
        assert served.without_adapter() is base and not base.serves_adapter()
        ours = [c.text for c in base.generate(PROMPTS, GREEDY)]
        assert ours == [c.text for c in plain.generate(PROMPTS, GREEDY)]
        assert ours != [c.text for c in served.generate(PROMPTS, GREEDY)]
        assert base._all_decoders is served._all_decoders and len(served._all_decoders) == 2  # one thread budget
    finally:
        served.close()
        plain.close()
