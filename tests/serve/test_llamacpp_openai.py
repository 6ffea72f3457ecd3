"""Issue #14's "done when": `chefbot serve configs/quickstart.yaml --adapter runs/quickstart/adapter
--engine llamacpp` answers the official `openai` client, streaming and not, and stops by itself.

The real command in a subprocess (the GGUF export on first use included).  With the trained quickstart
adapter (``make demo``) it is asked for a recipe; in a fresh clone (CI) there is none, so a LoRA adapter
initialised as peft does (B = 0: the base's answers) is made on the quickstart base and the model is asked
a short question it answers and ends by itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import openai
import pytest
from test_llamacpp_engine import need_llama_cpp

pytestmark = pytest.mark.llamacpp  # `make test` runs these once its background build of llama-cpp-python is done


def zero_adapter(repo_dir, folder):
    import torch
    from peft import LoraConfig, get_peft_model

    from chefbot.config import load_config
    from chefbot.model import load_model

    cfg = load_config(repo_dir / "configs" / "quickstart.yaml")
    torch.manual_seed(0)  # the same bytes every run: the GGUF cache's fingerprint stays the same
    model = get_peft_model(load_model(cfg, dtype=torch.float32), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    model.save_pretrained(folder)
    return folder


def test_chefbot_serve_llamacpp_answers_the_openai_client(repo_dir, tmp_path):
    need_llama_cpp()
    adapter = repo_dir / "runs" / "quickstart" / "adapter"
    if (adapter / "adapter_config.json").is_file():
        question, budget = "Include ingredients: eggs, spinach, feta", 224
    else:
        adapter = zero_adapter(repo_dir, tmp_path / "adapter")
        question, budget = "What is the capital of France? Answer in one sentence.", 64
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "chefbot.cli",
        "serve",
        "configs/quickstart.yaml",
        "--adapter",
        str(adapter),
        "--engine",
        "llamacpp",
        "--port",
        str(port),
    ]
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        cmd,
        cwd=repo_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 600  # the first run exports the GGUF (merge, quantize)
        health = None
        while time.time() < deadline and proc.poll() is None:
            try:
                health = httpx.get(url + "/health", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert health is not None, (tmp_path / "serve.log").read_text()[-3000:]
        assert health["backend"] == "llamacpp" and health["quant"] == "q8_0"
        assert health["adapter"]["sha256"] and health["gguf"].startswith("model-q8_0-")

        client = openai.OpenAI(base_url=url + "/v1", api_key="EMPTY", max_retries=0, timeout=300)
        messages = [{"role": "user", "content": question}]
        r = client.chat.completions.create(model="chefbot", messages=messages, max_tokens=budget, temperature=0)
        text = r.choices[0].message.content
        assert text.strip() and "<|im_end|>" not in text
        assert r.choices[0].finish_reason == "stop" and r.usage.completion_tokens < budget  # it stopped by itself
        chunks = list(
            client.chat.completions.create(
                model="chefbot", messages=messages, max_tokens=budget, temperature=0, stream=True
            )
        )
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
        assert chunks[-1].choices[0].finish_reason == "stop"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
