"""POST /v1/completions (issue 13): plain completions of text or token ids, no chat template, with
log-probabilities that are exactly the served model's, and what /health says is served."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from serve_support import FastGenerator, live_app, local_generator, serve_cfg

from chefbot.serve.app import create_app

DONE = "[DONE]"
PROMPT = "Boil the rice in salted water"


def sse_data(text: str) -> list:
    return [None if d == DONE else json.loads(d) for d in re.findall(r"^data: (.*)$", text, re.MULTILINE)]


@pytest.fixture(scope="module")
def babbler(babbler_dir, babbler_generator):
    cfg = serve_cfg(babbler_dir, max_prompt_tokens=64, max_prompt_chars=400)
    with TestClient(create_app(cfg, babbler_generator)) as c:
        yield c, babbler_generator


def plain(tokenizer, ids: list[int]) -> str:
    return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def reference(gen, ids: list[int]):
    """log_softmax in fp32 of one plain forward pass over ``ids``, computed here, independently."""
    import torch

    with torch.no_grad():
        logits = gen.model(torch.tensor([ids])).logits[0].float()
    return torch.log_softmax(logits, dim=-1)


def test_logprobs_are_the_models_own_and_the_prompt_is_not_templated(babbler):
    c, gen = babbler
    tok = gen.tokenizer
    ids = tok(PROMPT)["input_ids"]
    r = c.post(
        "/v1/completions",
        json={"model": "chefbot", "prompt": PROMPT, "max_tokens": 6, "echo": True, "logprobs": 5, "temperature": 0},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "text_completion" and body["usage"]["prompt_tokens"] == len(ids)
    chat = c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 1})
    assert chat.json()["usage"]["prompt_tokens"] > len(ids)  # the chat endpoint adds the template; this one does not
    ch = body["choices"][0]
    new = gen.complete_ids([ids], max_tokens=6)[0].ids  # the same greedy tokens
    assert ch["text"] == PROMPT + plain(tok, new) and ch["finish_reason"] == "length"
    lp, full = ch["logprobs"], ids + new
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == len(full)
    assert lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None
    ref = reference(gen, full)
    for i in range(1, len(full)):
        assert lp["token_logprobs"][i] == ref[i - 1, full[i]].item()  # bit for bit
        values, top_ids = ref[i - 1].topk(5)
        want = {plain(tok, [t]): v for t, v in zip(top_ids.tolist(), values.tolist())}
        want.setdefault(lp["tokens"][i], lp["token_logprobs"][i])
        assert lp["top_logprobs"][i] == want
    for i in range(len(ids), len(full)):  # greedy: each new token is the likeliest there
        assert full[i] == int(ref[i - 1].argmax())
    offsets = lp["text_offset"] + [len(ch["text"])]
    assert [ch["text"][a:b] for a, b in zip(offsets, offsets[1:])] == lp["tokens"]

    # without echo: only the new tokens, at the same offsets (prompt + completion), the same numbers
    r = c.post("/v1/completions", json={"prompt": ids, "max_tokens": 6, "logprobs": 0})
    ch2 = r.json()["choices"][0]
    assert ch2["text"] == plain(tok, new)
    assert ch2["logprobs"]["token_logprobs"] == lp["token_logprobs"][len(ids) :]
    assert ch2["logprobs"]["text_offset"] == lp["text_offset"][len(ids) :]
    assert all(list(t) == [tok_] for t, tok_ in zip(ch2["logprobs"]["top_logprobs"], ch2["logprobs"]["tokens"]))


def test_echo_with_max_tokens_0_scores_the_prompt_only(babbler):
    c, gen = babbler
    ids = gen.tokenizer(PROMPT)["input_ids"]
    r = c.post("/v1/completions", json={"prompt": [ids], "max_tokens": 0, "echo": True, "logprobs": 1})
    body = r.json()
    ch = body["choices"][0]
    assert ch["text"] == PROMPT and ch["finish_reason"] == "length" and body["usage"]["completion_tokens"] == 0
    ref = reference(gen, ids)
    assert ch["logprobs"]["token_logprobs"] == [None] + [ref[i - 1, ids[i]].item() for i in range(1, len(ids))]


def test_one_greedy_token_as_lm_eval_asks_is_the_argmax_of_the_same_forward_pass(babbler):
    """lm-evaluation-harness: token ids, echo, logprobs 1, max_tokens 1, temperature 0; it reads the
    continuation's log-probabilities before the last (generated) entry."""
    c, gen = babbler
    ids = gen.tokenizer(PROMPT)["input_ids"]
    r = c.post(
        "/v1/completions",
        json={"prompt": [ids, ids[:-2]], "max_tokens": 1, "echo": True, "logprobs": 1, "temperature": 0, "seed": 1234},
    )
    first, second = r.json()["choices"]
    assert (first["index"], second["index"]) == (0, 1)
    ref = reference(gen, ids)
    best = int(ref[-1].argmax())
    lp = first["logprobs"]
    assert len(lp["tokens"]) == len(ids) + 1
    assert lp["token_logprobs"][1:-1] == [ref[i - 1, ids[i]].item() for i in range(1, len(ids))]
    assert lp["token_logprobs"][-1] == ref[-1, best].item() == max(lp["top_logprobs"][-1].values())
    assert first["text"] == PROMPT + plain(gen.tokenizer, [best])
    # the two-token path generates the same first token
    two = c.post("/v1/completions", json={"prompt": ids, "max_tokens": 2}).json()["choices"][0]["text"]
    assert two.startswith(plain(gen.tokenizer, [best]))
    # a shorter sequence is another forward pass: the same numbers up to float rounding (not bit for bit)
    assert second["logprobs"]["token_logprobs"][1:-1] == pytest.approx(lp["token_logprobs"][1 : len(ids) - 2], rel=1e-5)


def test_stop_strings_and_streams_give_the_same_text(babbler):
    c, gen = babbler
    full = c.post("/v1/completions", json={"prompt": PROMPT, "max_tokens": 16}).json()["choices"][0]["text"]
    stop = full.split()[2]
    body = {"prompt": PROMPT, "max_tokens": 16, "stop": [stop, "never here"]}
    cut = c.post("/v1/completions", json=body).json()
    assert cut["choices"][0]["text"] == full[: full.index(stop)] and cut["choices"][0]["finish_reason"] == "stop"
    assert cut["usage"]["completion_tokens"] < 16  # generation stopped at the stop string
    events = sse_data(c.post("/v1/completions", json={**body, "stream": True}).text)
    assert events[-1] is None
    chunks = [e["choices"][0] for e in events[:-1]]
    assert "".join(ch["text"] for ch in chunks) == cut["choices"][0]["text"]
    assert [ch["finish_reason"] for ch in chunks][-1] == "stop" and all(
        ch["finish_reason"] is None for ch in chunks[:-1]
    )
    # with logprobs a stream carries, per token, the very numbers of the non-streamed answer
    plain = c.post("/v1/completions", json={**body, "echo": True, "logprobs": 2}).json()
    events = sse_data(
        c.post(
            "/v1/completions",
            json={**body, "echo": True, "logprobs": 2, "stream": True, "stream_options": {"include_usage": True}},
        ).text
    )
    chunks = [e["choices"][0] for e in events[:-1] if e["choices"]]
    assert "".join(ch["text"] for ch in chunks) == plain["choices"][0]["text"]
    merged = {
        k: sum((ch["logprobs"][k] for ch in chunks if ch["logprobs"]), []) for k in plain["choices"][0]["logprobs"]
    }
    assert merged == plain["choices"][0]["logprobs"]
    assert events[-2]["usage"] == plain["usage"] and events[-2]["choices"] == []


def test_a_stop_id_ends_the_text_and_is_listed_last(stopper_dir):
    """The stopper writes "Chop the rice" and <|im_end|>: the text stops before it, the token list ends with it."""
    gen = local_generator(stopper_dir)
    ids = gen.prompt_ids([{"role": "user", "content": "dinner?"}])  # the chat prompt, sent as plain token ids
    with TestClient(create_app(serve_cfg(stopper_dir), gen)) as c:
        r = c.post("/v1/completions", json={"prompt": ids, "max_tokens": 10, "logprobs": 1})
        ch = r.json()["choices"][0]
        assert ch["text"] == "Chop the rice" and ch["finish_reason"] == "stop"
        assert ch["logprobs"]["tokens"] == ["Chop", " the", " rice", "<|im_end|>"]
        assert ch["logprobs"]["text_offset"][-1] == len(plain(gen.tokenizer, ids)) + len("Chop the rice")
        assert r.json()["usage"]["completion_tokens"] == 4
        one = c.post("/v1/completions", json={"prompt": ids, "max_tokens": 1}).json()["choices"][0]
        assert one["text"] == "Chop" and one["finish_reason"] == "length"


def test_refusals_before_the_queue(babbler):
    c, gen = babbler
    vocab = len(gen.tokenizer)
    cases = [
        ({"prompt": PROMPT, "model": "gpt-4"}, 404, "model_not_found"),
        ({"prompt": [1, 2, vocab]}, 422, "token_id"),
        ({"prompt": [[1, 2], "mixed"]}, 422, "prompt_type"),
        ({"prompt": ""}, 422, "empty_prompt"),
        ({"prompt": []}, 422, "empty_prompt"),
        ({"prompt": [True, 2]}, 422, "token_id"),
        ({"prompt": ["a"] * 33}, 400, "too_many_prompts"),
        ({"prompt": [1] * 65}, 413, "prompt_too_long"),  # serve.max_prompt_tokens = 64
        ({"prompt": "salt " * 100}, 413, "prompt_too_long"),  # serve.max_prompt_chars = 400
        ({"prompt": PROMPT, "logprobs": 21}, 422, None),
        ({"prompt": PROMPT, "max_tokens": -1}, 422, None),
        ({"prompt": PROMPT, "stop": [""]}, 422, None),
        ({"prompt": PROMPT, "echo": "yes"}, 422, None),
    ]
    before = c.get("/health").json()["queue"]["answered"]
    for body, status, code in cases:
        r = c.post("/v1/completions", json=body)
        assert r.status_code == status, (body, r.text)
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}
        assert code is None or r.json()["error"]["code"] == code, r.json()
    assert c.get("/health").json()["queue"]["answered"] == before  # none of them reached the model
    doc = c.get("/openapi.json").json()["paths"]["/v1/completions"]["post"]
    # 501, 502: only with a model served elsewhere (engine openai: no token ids, no logprobs; it failed)
    assert set(doc["responses"]) == {"200", "400", "404", "413", "422", "429", "500", "501", "502", "503", "504"}
    assert set(doc["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}


class SlowCompletions(FastGenerator):
    """Plain completions that wait until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release, self.started = threading.Event(), threading.Event()

    def complete_ids(self, prompts, settings_override=None, **kw):
        self.started.set()
        self.release.wait(30)
        return super().complete_ids(prompts, settings_override, **kw)


def test_the_same_queue_limits_and_timeouts_as_chat():
    gen = SlowCompletions()
    cfg = serve_cfg(Path("unused"), max_concurrency=1, max_queue=0, request_timeout_s=1.0)
    with live_app(cfg, gen) as srv, httpx.Client(base_url=srv.url, timeout=30) as c:
        result: dict = {}
        t = threading.Thread(target=lambda: result.update(r=c.post("/v1/completions", json={"prompt": "x"})))
        t.start()
        assert gen.started.wait(10)
        busy = c.post("/v1/completions", json={"prompt": "y"})
        assert busy.status_code == 429 and busy.headers["Retry-After"] and busy.json()["error"]["code"] == "queue_full"
        t0 = time.perf_counter()
        t.join(10)
        assert result["r"].status_code == 504 and time.perf_counter() - t0 < 5
        assert c.get("/health").json()["queue"]["running"] == 1  # the model call is still running: its slot stays taken
        gen.release.set()
        deadline = time.time() + 10
        while c.get("/health").json()["queue"]["running"] and time.time() < deadline:
            time.sleep(0.02)
        assert c.post("/v1/completions", json={"prompt": "z", "max_tokens": 2}).status_code == 200


def test_health_names_the_base_model_adapter_dtype_and_tokenizer(babbler_dir, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model

    from chefbot.generate import LocalGenerator, OpenAIGenerator
    from chefbot.generate.token_engine import tokenizer_fingerprint

    base = local_generator(babbler_dir)
    torch.manual_seed(0)
    lora = get_peft_model(
        local_generator(babbler_dir).model,
        LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    lora.save_pretrained(tmp_path / "adapter")
    tuned = LocalGenerator(lora.eval(), base.tokenizer, base.gen_cfg)
    cfg = serve_cfg(babbler_dir)
    with live_app(cfg, base) as b, TestClient(create_app(cfg, tuned, adapter=str(tmp_path / "adapter"))) as t:
        h = httpx.get(b.url + "/health").json()
        assert h["base_model"] == str(babbler_dir) and h["adapter"] is None and h["backend"] == "hf"
        assert h["dtype"] == "float32" and h["quant"] == "none" and h["features"]["completions"] is True
        assert h["tokenizer"] == tokenizer_fingerprint(base.tokenizer) and len(h["tokenizer"]) == 12
        assert h["limits"]["max_tokens_cap"] == cfg.serve.max_tokens_cap and h["uptime_s"] >= 0
        a = t.get("/health").json()["adapter"]
        weights = (tmp_path / "adapter" / "adapter_model.safetensors").read_bytes()
        conf = (tmp_path / "adapter" / "adapter_config.json").read_bytes()
        assert a == {
            "path": str(tmp_path / "adapter"),
            "sha256": hashlib.sha256(weights).hexdigest()[:12],
            "config_sha256": hashlib.sha256(conf).hexdigest()[:12],
        }
        # The eval-side answer cache keys on /health without its volatile fields: stable while the queue moves
        client = OpenAIGenerator(b.url + "/v1", "chefbot", cache_dir=None)
        ident = client.server_identity()
        assert set(ident) == set(h) - {"status", "queue", "uptime_s"} and ident["base_model"] == str(babbler_dir)
        httpx.post(b.url + "/v1/completions", json={"prompt": "x", "max_tokens": 1})
        again = OpenAIGenerator(b.url + "/v1", "chefbot", cache_dir=None).server_identity()
        assert again == ident
    with TestClient(create_app(cfg, FastGenerator())) as c:
        h = c.get("/health").json()
        assert h["dtype"] is None and h["quant"] is None and h["adapter"] is None
