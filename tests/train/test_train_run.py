"""End-to-end training on the tiny model: learning, QLoRA on CPU, outputs, bad input."""

from __future__ import annotations

import json
import math

import pytest
import torch
from train_support import make_cfg


def test_loss_falls_on_a_repeated_batch(tiny_model_dir):
    from accelerate import Accelerator
    from transformers import AutoModelForCausalLM

    from chefbot.config import load_config
    from chefbot.data.collate import collate_padding_free
    from chefbot.train.loop import accumulate_gradients
    from chefbot.train.loss import TargetTokenLoss
    from chefbot.train.setup import attach_adapter, make_optimizer, trainable_parameters

    cfg = load_config(
        None,
        [
            "lora.r=8",
            "lora.dropout=0",
            "train.lr=1e-2",
            "train.optimizer=adamw_torch",
            "train.gradient_checkpointing=false",
        ],
    )
    torch.manual_seed(0)
    model = attach_adapter(AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32), cfg)
    ids = list(range(100, 140))
    batch = collate_padding_free([{"input_ids": ids, "labels": [-100] * 10 + ids[10:]}])
    opt, acc, module = make_optimizer(trainable_parameters(model), cfg), Accelerator(cpu=True), TargetTokenLoss(model)
    losses = []
    for _ in range(6):
        losses.append(accumulate_gradients(module, [batch], acc)[0])
        opt.step()
        opt.zero_grad()
    assert all(math.isfinite(x) for x in losses)
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < losses[0] - 0.1, losses


def test_train_end_to_end_outputs(tiny_model_dir, recipes_jsonl, tmp_path):
    """train(cfg): summary, checkpoints, and an adapter saved with tokenizer, template and stop ids."""
    from chefbot.stops import stop_token_ids
    from chefbot.train.checkpoint import complete_checkpoints
    from chefbot.train.loop import train

    cfg = make_cfg(
        tiny_model_dir,
        recipes_jsonl,
        tmp_path / "run",
        "train.max_steps=3",
        "train.batch_size=2",
        "train.save_steps=1",
        "train.save_total_limit=2",
        "train.report_to=[tensorboard]",
    )
    s = train(cfg)
    assert s["steps"] == 3 and len(s["train_loss"]) == 3
    assert all(math.isfinite(r["loss"]) for r in s["train_loss"])
    assert [e["step"] for e in s["eval_loss"]] == [0, 2, 3]
    assert s["target_tokens_per_s"] > 0 and s["peak_mem_mb"] > 0
    assert [step for step, _ in complete_checkpoints(cfg.output_dir)] == [2, 3]  # save_total_limit=2
    adapter = tmp_path / "run" / "adapter"
    assert (adapter / "adapter_model.safetensors").exists() and (adapter / "chat_template.jinja").exists()
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(adapter)
    gen = json.loads((adapter / "generation_config.json").read_text())
    assert set(stop_token_ids(tok)) <= set(gen["eos_token_id"]) and tok.eos_token_id in gen["eos_token_id"]
    assert any((tmp_path / "run").rglob("events.out.tfevents*"))  # TensorBoard by default
    log = [json.loads(x) for x in (tmp_path / "run" / "logs" / "train_log.jsonl").read_text().splitlines()]
    assert any("target_tokens_per_s" in r for r in log)


def test_qlora_nf4_on_cpu(tiny_model_dir, recipes_jsonl, tmp_path):
    """4-bit NF4 base + LoRA + paged 8-bit AdamW + non-reentrant checkpointing, on CPU (bitsandbytes >= 0.48)."""
    pytest.importorskip("bitsandbytes")
    from chefbot.train.checkpoint import latest_checkpoint
    from chefbot.train.loop import train

    cfg = make_cfg(
        tiny_model_dir,
        recipes_jsonl,
        tmp_path / "q",
        "quant.mode=nf4",
        "train.precision=bf16",
        "train.optimizer=paged_adamw_8bit",
        "train.gradient_checkpointing=true",
        "train.max_steps=2",
        "train.batch_size=2",
        "train.eval_steps=null",
        "train.save_steps=2",
        "lora.target_modules=all-linear",
    )
    s = train(cfg)
    assert all(math.isfinite(r["loss"]) for r in s["train_loss"])
    opt_state = torch.load(latest_checkpoint(cfg.output_dir) / "optimizer.pt", weights_only=False)
    assert opt_state["state"]  # the bitsandbytes optimizer state is in the checkpoint
    # Resume of a finished run loads the 8-bit state and trains nothing more.
    s2 = train(cfg)
    assert s2["resumed_from"] and s2["steps"] == 2 and s2["train_loss"] == []


def test_target_modules_matching_nothing_lists_names(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    from chefbot.config import load_config
    from chefbot.errors import ChefbotError
    from chefbot.train.setup import attach_adapter

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with pytest.raises(ChefbotError, match=r"match no module.*q_proj.*v_proj") as e:
        attach_adapter(
            model, load_config(None, ["lora.target_modules=[query_key_value]", "train.gradient_checkpointing=false"])
        )
    assert "o_proj" in str(e.value) and "\n" not in str(e.value)


def test_half_written_and_disk_full_checkpoints(tmp_path, monkeypatch):
    """A checkpoint without its marker is ignored; a failing save keeps the last good one."""
    import errno

    from chefbot.errors import ChefbotError
    from chefbot.train import checkpoint as C

    w = torch.nn.Linear(2, 2)
    opt = torch.optim.AdamW(w.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    save = lambda d: torch.save(w.state_dict(), d / "weights.pt")  # noqa: E731
    C.save_checkpoint(tmp_path, 2, save, opt, sched, {"epoch": 0, "micro_batch": 2})
    # A killed save: the step-4 folder exists but has no COMPLETE marker.
    (tmp_path / "checkpoints" / "step-4").mkdir()
    (tmp_path / "checkpoints" / "step-4" / "optimizer.pt").write_bytes(b"partial")
    assert C.latest_checkpoint(tmp_path).name == "step-2"

    real_save = torch.save

    def full_disk(obj, f, *a, **k):
        if str(f).endswith("scheduler.pt"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(ChefbotError, match="step-2.*unchanged"):
        C.save_checkpoint(tmp_path, 6, save, opt, sched, {"epoch": 0, "micro_batch": 6})
    assert C.latest_checkpoint(tmp_path).name == "step-2"
    assert not list((tmp_path / "checkpoints").glob(".step-6*"))  # no temp left behind
    state = C.load_checkpoint(C.latest_checkpoint(tmp_path), opt, sched)
    assert state["step"] == 2 and state["micro_batch"] == 2


def test_each_rank_restores_its_own_rng_and_other_world_sizes_are_refused(tmp_path):
    """One RNG file per rank, restored by that rank; old single rng.pt checkpoints still load in one process."""
    import json
    import random

    from chefbot.errors import ChefbotError
    from chefbot.train import checkpoint as C

    w = torch.nn.Linear(2, 2)
    opt = torch.optim.AdamW(w.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)

    def save(d):
        return torch.save(w.state_dict(), d / "weights.pt")

    states = []
    for seed in (1, 2):  # what two ranks would hand over (gathered by the loop)
        torch.manual_seed(seed)
        random.seed(seed)
        states.append(C.rng_state())
    folder = C.save_checkpoint(
        tmp_path, 2, save, opt, sched, {"epoch": 0, "micro_batch": 2, "layout": [2, 1, 2]}, rng_states=states
    )
    assert sorted(f.name for f in folder.glob("rng*")) == ["rng-rank0.pt", "rng-rank1.pt"]
    for rank in (1, 0):
        torch.manual_seed(99)
        C.load_checkpoint(folder, opt, sched, rank=rank, world_size=2)
        assert torch.equal(torch.get_rng_state(), states[rank]["torch"]) and random.getstate() == states[rank]["python"]
    with pytest.raises(
        ChefbotError, match=r"written by 2 process\(es\), this run has 1; resume needs the same world size"
    ):
        C.load_checkpoint(folder, opt, sched)

    # A checkpoint of an older chefbot: one rng.pt, no world_size in state.json.
    old = C.save_checkpoint(tmp_path, 4, save, opt, sched, {"epoch": 0, "micro_batch": 4})
    (old / "rng-rank0.pt").rename(old / "rng.pt")
    state = json.loads((old / "state.json").read_text())
    del state["world_size"]
    (old / "state.json").write_text(json.dumps(state))
    want = torch.load(old / "rng.pt", weights_only=False)["torch"]
    torch.manual_seed(99)
    assert C.load_checkpoint(old, opt, sched)["step"] == 4
    assert torch.equal(torch.get_rng_state(), want)


def test_resume_with_another_batch_layout_is_refused(tiny_model_dir, recipes_jsonl, tmp_path):
    """The data position of a checkpoint means other rows under another batch size: refused."""
    from chefbot.errors import ChefbotError
    from chefbot.train.loop import train

    common = ("train.max_steps=1", "train.save_steps=1", "train.eval_steps=null")
    train(make_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "run", "train.batch_size=2", *common))
    cfg = make_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "run", "train.batch_size=4", *common)
    with pytest.raises(ChefbotError, match=r"batch_size, grad_accum, world_size = \(2, 1, 1\), now \(4, 1, 1\)"):
        train(cfg)


def test_every_end_of_turn_is_a_target(tiny_model_dir, recipes_jsonl, tmp_path):
    """Pitfall 2: pad = eos must never mask the real end-of-turn token out of the labels."""
    from transformers import AutoTokenizer

    from chefbot.data.prepare import prepare

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    eot = tok.convert_tokens_to_ids("<|im_end|>")
    for packing in ("true", "false"):
        cfg = make_cfg(tiny_model_dir, recipes_jsonl, tmp_path / packing, f"data.packing={packing}")
        rows = prepare(cfg, tok, progress=False).train
        assert len(rows) > 0
        for row in rows:
            starts = [i for i, p in enumerate(row["position_ids"]) if p == 0] + [len(row["input_ids"])]
            for a, b in zip(starts, starts[1:]):
                labelled = [i for i in range(a, b) if row["labels"][i] != -100]
                assert labelled, "an example with no target"
                last = labelled[-1]
                assert (
                    row["input_ids"][last] == eot and row["labels"][last] == eot
                )  # the answer ends on a trained <|im_end|>


def test_world_size_mismatch_is_an_error(monkeypatch):
    """Pitfall 11: a launcher that promised 2 processes but gave one group of 1 must not train quietly."""
    from types import SimpleNamespace

    from chefbot.errors import ChefbotError
    from chefbot.train.setup import check_world_size

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ChefbotError, match="WORLD_SIZE=2 but accelerate sees 1"):
        check_world_size(SimpleNamespace(num_processes=1))
    check_world_size(SimpleNamespace(num_processes=2))


def test_wandb_offline_logs_without_network(tiny_model_dir, recipes_jsonl, tmp_path, monkeypatch):
    """report_to=[wandb] with wandb_mode=offline writes a local run and never needs a network."""
    pytest.importorskip("wandb")
    from chefbot.train.loop import train

    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    cfg = make_cfg(
        tiny_model_dir,
        recipes_jsonl,
        tmp_path / "run",
        "train.max_steps=2",
        "train.batch_size=2",
        "train.save_steps=null",
        "train.report_to=[wandb]",
        "train.wandb_mode=offline",
    )
    s = train(cfg)
    assert s["steps"] == 2
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert runs, "no offline W&B run was written"
    assert any(p.suffix == ".wandb" for p in runs[0].iterdir())
