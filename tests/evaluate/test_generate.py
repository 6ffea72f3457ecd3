"""Local generation: batching, left padding, stop ids, settings, streaming, cancellation."""

from __future__ import annotations

import time

import pytest
import torch

from chefbot.config import GenerationConfig
from chefbot.generate import Completion, LocalGenerator, hf_generation_config

HIDDEN = 64


def tiny_qwen(tokenizer, seed: int = 0, init: float = 0.02, tied: bool = True):
    from transformers import GenerationConfig as HFGen
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    cfg = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=tied,
        initializer_range=init,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen2ForCausalLM(cfg).eval()
    model.generation_config = HFGen(eos_token_id=cfg.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return model


def bigram_model(tokenizer, chain: dict[int, list[tuple[int, float]]]):
    """A model whose next token depends only on the current one: every layer's output is zeroed,
    so the residual stream is the token's embedding; ``chain[t] = [(next, logit), ...]``."""
    model = tiny_qwen(tokenizer, tied=False)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.lm_head.weight.zero_()
        model.model.embed_tokens.weight.mul_(0.01)
        for k, (tok, nexts) in enumerate(chain.items()):
            e = torch.zeros(HIDDEN)
            e[k] = 1.0
            model.model.embed_tokens.weight[tok] = e
            for nxt, logit in nexts:  # RMSNorm scales a unit basis vector by sqrt(HIDDEN)
                model.lm_head.weight[nxt, k] = logit / HIDDEN**0.5
    return model


@pytest.fixture(scope="module")
def tok(qwen_tokenizer):
    return qwen_tokenizer


@pytest.fixture(scope="module")
def varied_model(tok):
    return tiny_qwen(tok, seed=3, init=0.5)  # large init: varied, prompt-dependent outputs


def ids(tok, *pieces):
    return [tok.convert_tokens_to_ids(p) for p in pieces]


MSGS = [
    [
        {"role": "system", "content": "Cook."},
        {"role": "user", "content": "Include ingredients: " + ", ".join(["egg"] * k)},
    ]
    for k in (1, 7, 3, 12, 2)
]


def test_batched_left_padding_equals_one_at_a_time(tok, varied_model):
    gen = LocalGenerator(varied_model, tok, GenerationConfig(max_new_tokens=8, batch_size=3))
    batched = gen.generate(MSGS)
    single = [gen.generate([m], {"batch_size": 1})[0] for m in MSGS]
    assert [c.text for c in batched] == [c.text for c in single]
    assert len({c.text for c in single}) > 1, "outputs should differ between prompts for the test to mean anything"
    # right padding would break this equality; prove the prompts really had different lengths
    assert len({c.prompt_tokens for c in batched}) == len(MSGS)
    # results come back in input order even though batches are sorted by length
    assert [c.prompt_tokens for c in batched] == [len(gen.prompt_ids(m)) for m in MSGS]


def test_stops_on_im_end_and_endoftext(tok):
    nl, a, b, c = ids(tok, "Ċ", "Hello", "Ġworld", "!")
    im_end, eot = ids(tok, "<|im_end|>", "<|endoftext|>")
    model = bigram_model(tok, {nl: [(a, 10.0)], a: [(b, 10.0)], b: [(c, 10.0)], c: [(im_end, 10.0)]})
    gen = LocalGenerator(model, tok, GenerationConfig(max_new_tokens=20))
    assert {im_end, eot} <= set(gen.stop_ids)
    out = gen.generate([[{"role": "user", "content": "hi"}]])[0]
    assert out == Completion(
        text="Hello world!", finish_reason="stop", prompt_tokens=out.prompt_tokens, completion_tokens=4
    )
    short = gen.generate([[{"role": "user", "content": "hi"}]], {"max_new_tokens": 2})[0]
    assert (short.text, short.finish_reason, short.completion_tokens) == ("Hello world", "length", 2)
    # <|endoftext|> (config.json's eos, pitfall 3) stops generation as well
    model2 = bigram_model(tok, {nl: [(a, 10.0)], a: [(eot, 10.0)]})
    out2 = LocalGenerator(model2, tok, GenerationConfig(max_new_tokens=20)).generate(
        [[{"role": "user", "content": "hi"}]]
    )[0]
    assert (out2.text, out2.finish_reason) == ("Hello", "stop")


def test_model_generation_config_does_not_leak(tok):
    nl, a, b = ids(tok, "Ċ", "Hello", "Ġworld")
    # after "Hello": "Hello" (8) beats " world" (7.2) unless a repetition penalty of 1.3 divides it to 6.15
    model = bigram_model(tok, {nl: [(a, 8.0)], a: [(a, 8.0), (b, 7.2)]})
    model.generation_config.repetition_penalty = 1.3
    model.generation_config.no_repeat_ngram_size = 0
    prompt = [[{"role": "user", "content": "hi"}]]
    gen_ids = LocalGenerator(
        bigram_model(tok, {nl: [(a, 8.0)], a: [(a, 8.0), (b, 7.2)]}), tok, GenerationConfig()
    ).prompt_ids(prompt[0])
    with torch.no_grad():  # the model's own config really would change the output
        raw = model.generate(torch.tensor([gen_ids]), max_new_tokens=3)[0, len(gen_ids) :].tolist()
    assert raw[:2] == [a, b]
    gen = LocalGenerator(model, tok, GenerationConfig(max_new_tokens=3))
    assert gen.generate(prompt)[0].text == "HelloHelloHello"
    assert gen.describe()["ignored_model_generation_config"]["repetition_penalty"] == 1.3
    assert gen.describe()["repetition_penalty"] == 1.0
    # chefbot's own knob is applied when asked for
    assert gen.generate(prompt, {"repetition_penalty": 1.3})[0].text.startswith("Hello world")


def test_settings_recorded_and_explicit(tok, varied_model):
    s = GenerationConfig(max_new_tokens=7, do_sample=True, temperature=0.7, top_p=0.9, top_k=20, seed=5, batch_size=3)
    gen = LocalGenerator(varied_model, tok, s)
    d = gen.describe()
    for k, v in s.model_dump().items():
        assert d[k] == v
    assert d["padding_side"] == "left" and d["kv_cache"] and d["stop_tokens"][:2] == ["<|im_end|>", "<|endoftext|>"]
    hf = hf_generation_config(s, gen.stop_ids, gen.pad_id)
    assert (hf.max_new_tokens, hf.temperature, hf.top_p, hf.top_k, hf.repetition_penalty) == (7, 0.7, 0.9, 20, 1.0)
    assert hf.eos_token_id == gen.stop_ids
    # sampling is reproducible from the recorded seed
    a = gen.generate(MSGS[:2])
    b = gen.generate(MSGS[:2])
    assert [c.text for c in a] == [c.text for c in b]
    with pytest.raises(Exception, match="max_new_tokens"):
        gen.generate(MSGS[:1], {"max_new_tokens": 0})


def test_stream_matches_generate(tok, varied_model):
    gen = LocalGenerator(varied_model, tok, GenerationConfig(max_new_tokens=16))
    full = gen.generate(MSGS[:1])[0]
    handle = gen.stream(MSGS[0])
    deltas = list(handle)
    assert "".join(deltas) == full.text
    assert handle.completion == full


def test_cancel_stops_stream(tok):
    nl, a = ids(tok, "Ċ", "Hello")
    model = bigram_model(tok, {nl: [(a, 10.0)], a: [(a, 10.0)]})  # never stops by itself
    gen = LocalGenerator(model, tok, GenerationConfig(max_new_tokens=5000))
    handle = gen.stream([{"role": "user", "content": "hi"}])
    t0 = time.time()
    got = []
    for d in handle:
        got.append(d)
        if len(got) == 3:
            handle.cancel()
    comp = handle.join(timeout=30)
    assert time.time() - t0 < 30
    assert comp is not None and comp.finish_reason == "cancelled"
    assert comp.completion_tokens < 5000


def _never_stops(tok):
    nl, a = ids(tok, "Ċ", "Hello")
    return bigram_model(tok, {nl: [(a, 10.0)], a: [(a, 10.0)]})


def _count_steps_then_set(monkeypatch, gen, event, n):
    """Set ``event`` once the model has run ``n`` forward passes (the decode loop's steps), from inside the loop."""
    calls = [0]
    forward = gen.model.forward

    def counting(*args, **kw):
        calls[0] += 1
        if calls[0] == n:
            event.set()
        return forward(*args, **kw)

    monkeypatch.setattr(gen.model, "forward", counting)
    return calls


def test_generate_stops_when_its_cancel_is_set(tok, monkeypatch):
    """The server's queue sets ``cancel`` once every caller of a batch has gone: a batch that would run 5000
    tokens stops at the next token, each completion "cancelled", and a later sub-batch never runs."""
    import threading

    gen = LocalGenerator(_never_stops(tok), tok, GenerationConfig(max_new_tokens=5000, batch_size=2))
    cancel = threading.Event()
    calls = _count_steps_then_set(monkeypatch, gen, cancel, 6)
    batch = [[{"role": "user", "content": f"hi {k}"}] for k in range(3)]
    out = gen.generate(batch, cancel=cancel)
    assert [c.finish_reason for c in out] == ["cancelled"] * 3
    assert calls[0] <= 7  # stopped at the next token, and the second sub-batch was not run
    assert sorted(c.completion_tokens for c in out) == [0, 6, 6]
    assert all(c.prompt_tokens == len(gen.prompt_ids(m)) for c, m in zip(out, batch))
    # without a cancel (or one never set) the same call runs as before
    short = LocalGenerator(_never_stops(tok), tok, GenerationConfig(max_new_tokens=4))
    assert [c.finish_reason for c in short.generate(batch[:1], cancel=threading.Event())] == ["length"]


def test_complete_ids_stops_when_its_cancel_is_set(tok, monkeypatch):
    import threading

    gen = LocalGenerator(_never_stops(tok), tok, GenerationConfig(max_new_tokens=32))
    cancel = threading.Event()
    calls = _count_steps_then_set(monkeypatch, gen, cancel, 4)
    prompt = tok("hi", add_special_tokens=False)["input_ids"]
    out = gen.complete_ids([prompt], max_tokens=5000, logprobs=2, cancel=cancel)
    assert out[0].finish_reason == "cancelled" and len(out[0].ids) == 4 and calls[0] == 4
    assert out[0].logprobs is None  # nobody waits for them: no scoring pass
