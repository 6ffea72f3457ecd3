"""The llamacpp engine (``chefbot.generate.llamacpp_engine``) against the hf engine, on tiny models.

What must hold for it to replace transformers when serving: the same prompt token ids (chefbot's one
prompt path, and llama.cpp's own reading of the GGUF's vocabulary agrees), the same stop ids, greedy
tokens equal to transformers' on an f32 GGUF, parallel sequences that never disturb one another,
cancellation, the GGUF cache, sampling as chefbot's settings say, and the server's endpoints.
In CI a missing llama-cpp-python is a failure (``make setup`` installs it); elsewhere the tests skip.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from serve_support import local_generator, serve_cfg

pytestmark = pytest.mark.llamacpp  # `make test` runs these once its background build of llama-cpp-python is done

MSGS = [{"role": "user", "content": "Chop the rice with lemon and garlic."}]


def need_llama_cpp() -> None:
    from chefbot.generate import llamacpp_available
    from chefbot.generate.llamacpp_engine import INSTALL_HINT

    if not llamacpp_available():
        if os.environ.get("CI"):
            pytest.fail(f"llama-cpp-python is not installed: {INSTALL_HINT}")
        pytest.skip(INSTALL_HINT)


def engine_for(model_dir, cache, quant="f32", **kw):
    from chefbot.generate import LlamaCppGenerator

    cfg = serve_cfg(model_dir)
    cfg.model.cache_dir = str(cache)
    return cfg, LlamaCppGenerator.from_config(cfg, quant=quant, **kw)


@pytest.fixture(scope="module")
def stopper_engine(stopper_dir, tmp_path_factory):
    need_llama_cpp()
    cfg, gen = engine_for(stopper_dir, tmp_path_factory.mktemp("gguf-stopper"), "q8_0")
    yield cfg, gen
    gen.close()


@pytest.fixture(scope="module")
def babbler_engine(babbler_dir, tmp_path_factory):
    need_llama_cpp()
    cfg, gen = engine_for(babbler_dir, tmp_path_factory.mktemp("gguf-babbler"), "f32", parallel=4)
    yield cfg, gen
    gen.close()


def llama_tokenize(gen, text: str) -> list[int]:
    """llama.cpp's own tokenization of ``text`` with the GGUF's vocabulary (special tokens parsed)."""
    lib = gen.lib
    vocab = lib.llama_model_get_vocab(gen.model_ptr)
    raw = text.encode()
    buf = (lib.llama_token * (len(raw) + 8))()
    n = lib.llama_tokenize(vocab, raw, len(raw), buf, len(buf), False, True)
    assert n >= 0
    return list(buf[:n])


def test_it_is_a_token_engine_of_the_contract(stopper_engine):
    """What the server asks of it (``isinstance``, chefbot.generate.completion): chat from ids, plain completions."""
    from chefbot.generate.completion import Generator, TokenEngine, TokenizedGenerator

    _, gen = stopper_engine
    assert isinstance(gen, Generator) and isinstance(gen, TokenizedGenerator) and isinstance(gen, TokenEngine)
    assert gen.identity() == {"backend": "llamacpp", "quant": "q8_0", "gguf": gen.gguf_path.name}
    assert gen.gguf_path.name.endswith(".gguf")


def test_prompt_ids_and_stop_ids_equal_the_hf_engine(stopper_dir, stopper_engine):
    from chefbot.chat import render_prompt

    _, gen = stopper_engine
    hf = local_generator(stopper_dir)
    convo = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Eggs, spinach; 2 cups rice!"},
        {"role": "assistant", "content": "1. Boil the rice."},
        {"role": "user", "content": "And then?"},
    ]
    for messages in (MSGS, convo):
        ids = gen.prompt_ids(messages)
        assert ids == hf.prompt_ids(messages)
        # llama.cpp reads the exported vocabulary the same way: its own tokenization of the prompt agrees
        assert llama_tokenize(gen, render_prompt(messages, hf.tokenizer)) == ids
    assert gen.stop_ids == hf.stop_ids and len(gen.stop_ids) == 2


def test_stops_by_itself_plain_and_streamed(stopper_engine):
    _, gen = stopper_engine
    c = gen.generate([MSGS])[0]
    assert (c.text, c.finish_reason, c.completion_tokens) == ("Chop the rice", "stop", 4)
    handle = gen.stream(MSGS)
    assert "".join(handle) == "Chop the rice"
    assert handle.completion.finish_reason == "stop" and handle.completion.text == "Chop the rice"
    assert gen.describe()["quant"] == "q8_0" and gen.describe()["backend"] == "llamacpp"


def test_greedy_tokens_equal_transformers_on_an_f32_gguf(babbler_dir, babbler_engine):
    _, gen = babbler_engine
    hf = local_generator(babbler_dir)
    prompts = [MSGS, [{"role": "user", "content": "Preheat the oven to 350 degrees."}]]
    for messages in prompts:
        ours = gen.complete_ids([gen.prompt_ids(messages)], max_tokens=24)[0]
        theirs = hf.complete_ids([hf.prompt_ids(messages)], max_tokens=24)[0]
        assert ours.ids == theirs.ids and ours.finish_reason == theirs.finish_reason == "length"
    a = gen.generate(prompts, {"max_new_tokens": 16})
    b = hf.generate(prompts, {"max_new_tokens": 16})
    assert [c.text for c in a] == [c.text for c in b]


def test_log_probabilities_match_a_transformers_forward_pass(babbler_dir, babbler_engine):
    _, gen = babbler_engine
    hf = local_generator(babbler_dir)
    seq = hf.prompt_ids(MSGS) + [5, 17, 42, 99]
    ours = gen.score([seq], top_k=3, next_token=True)[0]
    theirs = hf.score([seq], top_k=3, next_token=True)[0]
    # f32 weights, but llama.cpp keeps the KV cache in f16: differences of a few 1e-3 nats, never more
    np.testing.assert_allclose(ours.logprobs, theirs.logprobs, atol=1e-2)
    assert [[i for i, _ in t] for t in ours.top] == [[i for i, _ in t] for t in theirs.top]
    assert ours.next[0] == theirs.next[0]
    c = gen.complete_ids([seq], max_tokens=3, logprobs=2)[0]
    assert len(c.logprobs) == len(seq) - 1 + 3 and len(c.top[-1]) == 2


@pytest.mark.parametrize("design", ["parallel sequences", "pool of contexts"])
def test_concurrent_requests_do_not_disturb_each_other(babbler_engine, design):
    from chefbot.generate import LlamaCppGenerator

    _, gen = babbler_engine
    prompts = [
        [{"role": "user", "content": f"Recipe number {i} with {w}."}]
        for i, w in enumerate(["rice", "lemon", "garlic", "butter", "eggs", "flour"])
    ]
    alone = [gen.generate([p], {"max_new_tokens": 12})[0].text for p in prompts]
    if design == "pool of contexts":  # 3 contexts on the same GGUF, the CPU threads shared among the busy ones
        gen = LlamaCppGenerator(gen.gguf_path, gen.tokenizer, gen.gen_cfg, stop_ids=gen.stop_ids, contexts=3)
    together = [c.text for c in gen.generate(prompts, {"max_new_tokens": 12})]  # 6 prompts, 4 or 3 at a time
    assert together == alone
    results: dict[int, str] = {}

    def run(i: int) -> None:
        results[i] = "".join(gen.stream(prompts[i], {"max_new_tokens": 12}))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [results[i] for i in range(4)] == alone[:4]
    if design == "pool of contexts":
        gen.close()


def test_a_cancelled_stream_frees_its_sequence(babbler_engine):
    _, gen = babbler_engine
    handle = gen.stream(MSGS, {"max_new_tokens": 200})
    first = next(iter(handle))
    assert first
    handle.cancel()
    rest = list(handle)
    assert handle.completion.finish_reason == "cancelled" and handle.completion.completion_tokens < 200
    assert len(rest) < 200
    for _ in range(gen.parallel + 1):  # every sequence is free again: more requests than sequences still run
        assert gen.generate([MSGS], {"max_new_tokens": 2})[0].completion_tokens == 2


def _cancel_after_decodes(monkeypatch, gen, n: int) -> threading.Event:
    """An event set from inside the decoder thread at its ``n``-th ``llama_decode`` (a prefill chunk or one
    step of every running sequence): deterministic, whatever the machine's speed."""
    cancel, count = threading.Event(), [0]
    decoder = gen._decoders[0]
    real = decoder._decode

    def counting(items):
        count[0] += 1
        if count[0] == n:
            cancel.set()
        return real(items)

    monkeypatch.setattr(decoder, "_decode", counting)
    return cancel


def test_generate_and_complete_ids_stop_when_cancel_is_set(babbler_engine, monkeypatch):
    """The server's queue sets ``cancel`` when every caller of a batch (or a plain completion) timed out or
    left: running sequences stop at their next token, those still waiting for a sequence are handed back at
    once, every completion says "cancelled", and the sequences are free for the next request."""
    from chefbot.generate import LlamaCppGenerator

    _, big = babbler_engine
    gen = LlamaCppGenerator(big.gguf_path, big.tokenizer, big.gen_cfg, stop_ids=big.stop_ids, contexts=1, parallel=2)
    prompts = [[{"role": "user", "content": f"Recipe number {i}."}] for i in range(4)]  # 2 run, 2 wait
    try:
        cancel = _cancel_after_decodes(monkeypatch, gen, 8)  # 2 prefills, then 6 steps
        out = gen.generate(prompts, {"max_new_tokens": 1000}, cancel=cancel)
        assert [c.finish_reason for c in out] == ["cancelled"] * 4
        # the running two: a token from the prefill, one per step but the last (how many steps each shared
        # depends on when the second was admitted); the waiting two: none
        n = sorted(c.completion_tokens for c in out)
        assert n[:2] == [0, 0] and all(1 <= k <= 6 for k in n[2:]), out
        monkeypatch.undo()

        ids = gen.prompt_ids(MSGS)
        cancel = _cancel_after_decodes(monkeypatch, gen, 5)  # 2 prefills, then 3 steps
        done = gen.complete_ids([ids, ids], max_tokens=1000, logprobs=1, cancel=cancel)
        assert [c.finish_reason for c in done] == ["cancelled"] * 2
        assert all(1 <= len(c.ids) <= 3 and c.logprobs is None for c in done)  # no scoring pass for no one
        monkeypatch.undo()
        for _ in range(gen.parallel + 1):  # every sequence is free again
            assert gen.generate([MSGS], {"max_new_tokens": 2}, cancel=threading.Event())[0].completion_tokens == 2
    finally:
        monkeypatch.undo()
        gen.close()


def test_sampling_follows_chefbot_settings(babbler_engine):
    from chefbot.config import GenerationConfig
    from chefbot.generate.llamacpp_engine import pick_token

    _, gen = babbler_engine
    logits = np.array([0.1, 3.0, 2.9, -1.0, 0.0], dtype=np.float32)
    rng = np.random.default_rng(0)
    assert pick_token(logits, GenerationConfig(), rng, []) == 1
    assert pick_token(logits, GenerationConfig(do_sample=True, top_k=1), rng, []) == 1
    # repetition penalty (transformers' rule): a seen positive logit is divided
    assert pick_token(logits, GenerationConfig(repetition_penalty=2.0), rng, [1]) == 2
    draws = {
        pick_token(logits, GenerationConfig(do_sample=True, top_p=0.6), np.random.default_rng(s), []) for s in range(40)
    }
    assert draws == {1, 2}
    s = {"do_sample": True, "temperature": 1.5, "seed": 7, "max_new_tokens": 10}
    a, b = gen.generate([MSGS], s)[0].text, gen.generate([MSGS], s)[0].text
    assert a == b and a != gen.generate([MSGS], {**s, "seed": 8})[0].text


def test_the_gguf_is_exported_once_per_fingerprint(stopper_dir, tmp_path):
    from chefbot.generate.gguf import cached_gguf

    cfg = serve_cfg(stopper_dir)
    cfg.model.cache_dir = str(tmp_path)
    first = cached_gguf(cfg, None, "q8_0")
    stamp = first.stat().st_mtime_ns
    assert cached_gguf(cfg, None, "q8_0") == first and first.stat().st_mtime_ns == stamp
    other = cached_gguf(cfg, None, "q4_0")
    assert other != first and other.name.startswith("model-q4_0-")
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_the_server_reports_the_engine_and_answers_completions(stopper_engine):
    from fastapi.testclient import TestClient

    from chefbot.serve.app import create_app

    cfg, gen = stopper_engine
    with TestClient(create_app(cfg, gen)) as client:
        h = client.get("/health").json()
        assert h["backend"] == "llamacpp" and h["quant"] == "q8_0" and h["gguf"].startswith("model-q8_0-")
        assert h["cpu"]["model"] and isinstance(h["cpu"]["flags"], list)  # what decides llama.cpp's kernels
        assert h["features"]["completions"]
        r = client.post("/v1/chat/completions", json={"messages": MSGS}).json()
        assert r["choices"][0]["message"]["content"] == "Chop the rice" and r["choices"][0]["finish_reason"] == "stop"
        prompt = gen.prompt_ids(MSGS)
        r = client.post(
            "/v1/completions", json={"prompt": prompt, "max_tokens": 8, "logprobs": 1, "temperature": 0}
        ).json()
        choice = r["choices"][0]
        assert choice["text"] == "Chop the rice" and choice["finish_reason"] == "stop"
        assert choice["logprobs"]["tokens"][-1] == "<|im_end|>" and len(choice["logprobs"]["token_logprobs"]) == 4


def test_missing_llama_cpp_is_a_clear_error(monkeypatch, stopper_dir):
    import chefbot.generate as g
    import chefbot.generate.llamacpp_engine as eng
    from chefbot.errors import ChefbotError

    monkeypatch.setattr(g, "llamacpp_available", lambda: False)
    monkeypatch.setattr(eng, "llamacpp_available", lambda: False)
    cfg = serve_cfg(stopper_dir)
    cfg.engine.kind = "llamacpp"
    with pytest.raises(ChefbotError, match=r"make setup-llamacpp.*without llama.cpp's AMX path"):
        g.make_generator(cfg, None, purpose="serving")
    with pytest.raises(ChefbotError, match="make setup"):
        eng.LlamaCppGenerator.from_config(serve_cfg(stopper_dir))


def test_evaluation_predictions_record_the_engine_and_quantization(stopper_engine, tmp_path):
    import json

    from chefbot.evaluate.run import generate_predictions

    _, gen = stopper_engine
    items = [{"id": "r1", "title": "Rice", "ner": ["rice"], "messages": MSGS, "reference": "Chop the rice"}]
    rows, timing = generate_predictions(gen, items, tmp_path / "p.jsonl", "tiny+llamacpp")
    assert rows[0]["prediction"] == "Chop the rice" and rows[0]["finish_reason"] == "stop"
    written = json.loads((tmp_path / "p.jsonl").read_text().splitlines()[0])
    assert written["settings"]["backend"] == "llamacpp" and written["settings"]["quant"] == "q8_0"
    assert written["settings"]["gguf"].startswith("model-q8_0-")


def test_auto_resolves_per_purpose_llama_cpp_serves_on_a_cpu_and_vllm_on_a_gpu(monkeypatch):
    import torch

    import chefbot.generate as g

    monkeypatch.setattr(g, "vllm_available", lambda: False)
    monkeypatch.setattr(g, "llamacpp_available", lambda: True)
    from chefbot.config import EngineConfig

    auto, hf = EngineConfig(), EngineConfig(kind="hf")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert g.resolve_engine(auto, "serving") == "llamacpp" and g.resolve_engine(hf, "serving") == "hf"
    assert g.resolve_engine(auto, "exact") == "hf"  # evaluation stays on the exact engine
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert g.resolve_engine(auto, "serving") == "hf"  # a GPU without vLLM: transformers on the GPU
    monkeypatch.setattr(g, "vllm_available", lambda: True)
    assert g.resolve_engine(auto, "serving") == "vllm" and g.resolve_engine(auto, "exact") == "vllm"
    monkeypatch.setattr(g, "llamacpp_available", lambda: False)
    monkeypatch.setattr(g, "vllm_available", lambda: False)
    assert g.resolve_engine(auto, "serving") == "hf"
    assert g.resolve_engine(EngineConfig(endpoint="http://127.0.0.1:9/v1"), "exact") == "openai"
    assert g.resolve_engine(EngineConfig(endpoint="http://127.0.0.1:9/v1"), "serving") == "hf"  # not re-served


def test_the_4_bit_option_serves_too(stopper_dir, tmp_path):
    need_llama_cpp()
    _, gen = engine_for(stopper_dir, tmp_path, "q4_0")
    try:
        c = gen.generate([MSGS])[0]
        assert (c.text, c.finish_reason) == ("Chop the rice", "stop")
        assert gen.describe()["quant"] == "q4_0" and gen.gguf_path.name.startswith("model-q4_0-")
    finally:
        gen.close()
