"""DPO on top of the SFT adapter with TRL's ``DPOTrainer`` (the transformers Trainer underneath).

The policy is the base model with the SFT adapter loaded trainable (``PeftModel.from_pretrained(...,
is_trainable=True)``); with no ``ref_model``, TRL 1.16 copies that adapter into a frozen "ref" adapter
and computes the reference log-probabilities with it: the reference model is the SFT model, at the
cost of one extra adapter (a few MB), not a second base model.  The prompts are the requests'
messages after chefbot's system-folding policy (``chat.adapt_to_template``); TRL renders them with the
tokenizer's own chat template, the one template of training, evaluation and serving.

Checkpoints: the Trainer writes ``OUTPUT_DIR/align/trainer/checkpoint-N`` (adapter, optimizer,
scheduler, RNG state, ``trainer_state.json`` with the data position and the log).  The Trainer does not
write them atomically, but ``trainer_state.json`` is written last, so a checkpoint counts as complete
only when it has one (``complete_checkpoint``); a half-written folder left by a kill is removed before
resuming.  Resume restores optimizer, scheduler, RNG and the data position (the Trainer skips the
batches already trained), so a run killed with SIGKILL ends with the same adapter and the same logged
losses as one never interrupted (tests/align/test_align_resume.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

from chefbot.align.samples import check_settings
from chefbot.chat import adapt_to_template
from chefbot.config import ExperimentConfig
from chefbot.errors import ChefbotError
from chefbot.io import atomic_dir, atomic_write_text
from chefbot.model import adapter_identity, load_model, load_tokenizer, resolve_dtype
from chefbot.progress import enabled as progress_enabled
from chefbot.stops import generation_config_for

STATE_FILE = "trainer_state.json"  # written last into a Trainer checkpoint
_CKPT_RE = re.compile(r"^checkpoint-(\d+)$")


def complete_checkpoint(trainer_dir: Path) -> Path | None:
    """The newest Trainer checkpoint with its ``trainer_state.json``; incomplete newer ones are removed."""
    found = []
    if trainer_dir.is_dir():
        for d in trainer_dir.iterdir():
            m = _CKPT_RE.match(d.name)
            if m and d.is_dir():
                found.append((int(m.group(1)), d))
    found.sort()
    while found and not (found[-1][1] / STATE_FILE).exists():
        shutil.rmtree(found.pop()[1], ignore_errors=True)  # cut short by a kill: the Trainer would trip on it
    return found[-1][1] if found else None


RUN_FILE = "run.json"  # what the checkpoints in trainer/ were trained on


def dpo_identity(cfg: ExperimentConfig, sft_adapter: Path, pairs: list[dict]) -> dict:
    """What a resumed DPO run must share with the one that wrote its checkpoints: the pairs (by hash), the
    SFT adapter and every setting that shapes the steps (the schedule decays to ``max_steps``)."""
    text = json.dumps([[p["prompt"], p["chosen"], p["rejected"]] for p in pairs], ensure_ascii=False)
    keep = ("beta", "lr", "max_steps", "batch_size", "grad_accum", "max_length")
    return {
        "pairs_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "pairs": len(pairs),
        "sft_adapter": adapter_identity(sft_adapter),
        "align": {k: getattr(cfg.align, k) for k in keep},
        "precision": cfg.train.precision,
        "seed": cfg.seed,
    }


def check_run(trainer_dir: Path, identity: dict, resuming: bool) -> None:
    """Record ``identity`` for a new run; refuse to resume checkpoints trained on other pairs or settings
    (resuming them would silently mix two runs), naming what differs."""
    path = trainer_dir / RUN_FILE
    if not resuming:  # no complete checkpoint: whatever was recorded belongs to nothing that is kept
        path.unlink(missing_ok=True)
    trainer_dir.mkdir(parents=True, exist_ok=True)
    check_settings(path, identity, what="its DPO checkpoints were trained", redo="train DPO again on these")


def pair_dataset(pairs: list[dict], tokenizer: Any, fold: str) -> Any:
    """TRL's conversational preference format: ``prompt`` messages, ``chosen``/``rejected`` assistant turns."""
    from datasets import Dataset

    return Dataset.from_list(
        [
            {
                "prompt": adapt_to_template(p["prompt"], tokenizer, fold),
                "chosen": [{"role": "assistant", "content": p["chosen"]}],
                "rejected": [{"role": "assistant", "content": p["rejected"]}],
            }
            for p in pairs
        ]
    )


def dpo_args(cfg: ExperimentConfig, trainer_dir: Path) -> Any:
    import torch
    from trl import DPOConfig

    a = cfg.align
    dtype = resolve_dtype(cfg.train.precision)
    return DPOConfig(
        output_dir=str(trainer_dir),
        max_steps=a.max_steps,
        per_device_train_batch_size=a.batch_size,
        gradient_accumulation_steps=a.grad_accum,
        learning_rate=a.lr,
        lr_scheduler_type="linear",
        warmup_steps=0,
        beta=a.beta,
        max_length=a.max_length,
        truncation_mode="keep_start",  # cut the answer's tail, never the prompt
        save_strategy="steps",
        save_steps=a.save_steps,
        logging_steps=a.logging_steps,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=dtype == torch.bfloat16,
        fp16=dtype == torch.float16,
        use_cpu=not torch.cuda.is_available(),
        gradient_checkpointing=False,
        dataloader_num_workers=0,
        report_to=[r for r in cfg.train.report_to if r == "tensorboard"],
        disable_tqdm=not progress_enabled(),
        max_grad_norm=cfg.train.max_grad_norm or 0.0,
    )


def train_dpo(cfg: ExperimentConfig, sft_adapter: Path, pairs: list[dict], align_dir: Path) -> dict:
    """Train ``cfg.align.max_steps`` DPO steps on ``pairs`` (resuming from the newest complete checkpoint)
    and write ``align_dir/adapter``; returns the Trainer's log (every step's loss and reward margins)."""
    import torch
    from peft import PeftModel
    from trl import DPOTrainer

    if not pairs:
        raise ChefbotError(
            f"align: no preference pairs (every request's answers were within align.min_margin="
            f"{cfg.align.min_margin} of each other; see {align_dir / 'samples.jsonl'}): lower align.min_margin "
            "or raise align.samples_per_prompt / align.prompts"
        )
    trainer_dir = align_dir / "trainer"
    resume = complete_checkpoint(trainer_dir)
    check_run(trainer_dir, dpo_identity(cfg, sft_adapter, pairs), resuming=resume is not None)
    torch.manual_seed(cfg.seed)
    tokenizer = load_tokenizer(cfg.model)
    model = load_model(cfg, dtype=resolve_dtype(cfg.train.precision))
    model = PeftModel.from_pretrained(model, str(sft_adapter), is_trainable=True)
    trainer = DPOTrainer(
        model=model,
        args=dpo_args(cfg, trainer_dir),
        train_dataset=pair_dataset(pairs, tokenizer, cfg.prompt.fold_system),
        processing_class=tokenizer,
    )
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    out = align_dir / "adapter"
    policy = trainer.accelerator.unwrap_model(trainer.model)
    with atomic_dir(out) as tmp:
        policy.save_pretrained(tmp, selected_adapters=["default"], safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        generation_config_for(tokenizer, policy).save_pretrained(tmp)
    log = list(trainer.state.log_history)
    atomic_write_text(align_dir / "train_log.jsonl", "".join(_json_line(r) for r in log))
    return {"adapter_dir": str(out), "resumed_from": str(resume) if resume else None, "log": log}


def _json_line(row: dict) -> str:
    return json.dumps(row) + "\n"
