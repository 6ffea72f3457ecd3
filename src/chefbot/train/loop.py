"""The training loop: setup -> fit -> validate, on accelerate (litgpt style).

Why a hand-written loop instead of transformers.Trainer: the loss must be normalized by
the target tokens of the whole optimizer step across micro-batches *and ranks*, the
output layer must only see target positions, and resume must restore the exact data
position; each of these is a patch on Trainer but a few lines here.  Everything else
(DDP/FSDP, autocast, optimizers, schedules, trackers) comes from the libraries.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from chefbot.config import ExperimentConfig, save_resolved
from chefbot.data.collate import collate_packed, collate_padding_free
from chefbot.data.prepare import prepare
from chefbot.errors import ChefbotError
from chefbot.io import atomic_dir, atomic_write_json
from chefbot.model import load_model, load_tokenizer, resolve_dtype
from chefbot.progress import make_progress
from chefbot.stops import generation_config_for
from chefbot.train import fsdp, packed_attention
from chefbot.train import setup as S
from chefbot.train.checkpoint import latest_checkpoint, load_checkpoint, read_state, rng_state, save_checkpoint
from chefbot.train.history import log_path, truncate_log
from chefbot.train.loss import TargetTokenLoss, count_targets
from chefbot.train.setup import is_fsdp

# ----------------------------------------------------------------------------- data order


def epoch_batches(n_rows: int, epoch: int, seed: int, batch_size: int, world: int, rank: int) -> list[list[int]]:
    """This rank's micro-batches (row indices) for one epoch.

    The order depends only on (seed, epoch), so it is rebuilt identically on resume; a
    global micro-batch of ``batch_size * world`` rows is split across ranks, so N ranks x
    batch B see the same rows per step as 1 process x batch N*B.
    """
    perm = np.random.default_rng([seed, epoch]).permutation(n_rows)
    out = []
    for start in range(0, n_rows, batch_size * world):
        parts = np.array_split(perm[start : start + batch_size * world], world)
        if any(len(p) == 0 for p in parts):
            break  # a tail too short to give every rank a row
        out.append(parts[rank].tolist())
    return out


def steps_per_epoch(n_rows: int, cfg: ExperimentConfig, world: int) -> int:
    n_micro = len(epoch_batches(n_rows, 0, 0, cfg.train.batch_size, world, 0))
    return max(1, math.ceil(n_micro / cfg.train.grad_accum))


def total_steps(n_rows: int, cfg: ExperimentConfig, world: int) -> int:
    """``train.epochs`` decides the length when set, otherwise ``train.max_steps``."""
    if cfg.train.epochs is not None:
        return max(1, math.ceil(cfg.train.epochs * steps_per_epoch(n_rows, cfg, world)))
    return int(cfg.train.max_steps)


def collator(cfg: ExperimentConfig, pad_id: int) -> Callable[[list[dict]], dict]:
    if cfg.data.packing:
        return lambda rows: collate_packed(rows, pad_id=pad_id)
    return collate_padding_free


# ----------------------------------------------------------------------------- one step


def accumulate_gradients(loss_module: Any, micro_batches: list[dict], accelerator: Any) -> tuple[float, int]:
    """Forward/backward over one optimizer step's micro-batches; returns (loss, target tokens).

    Every micro-batch's summed loss is divided by the target tokens of the *whole step on
    all ranks* (all-reduced first).  DDP averages gradients over ranks, so we multiply by
    the world size to make the result the gradient of (sum of token losses) / (all tokens).
    """
    local = torch.tensor(sum(count_targets(b["labels"]) for b in micro_batches), device=accelerator.device)
    n_total = int(accelerator.reduce(local, reduction="sum").item())
    scale = accelerator.num_processes / max(n_total, 1)
    loss_sum = torch.zeros((), device=accelerator.device)
    for i, batch in enumerate(micro_batches):
        last = i == len(micro_batches) - 1
        sync = contextlib.nullcontext() if last or accelerator.num_processes == 1 else accelerator.no_sync(loss_module)
        with sync, accelerator.autocast():
            s, _ = loss_module(**batch)
            accelerator.backward(s * scale)
        loss_sum += s.detach().float()
    total = accelerator.reduce(loss_sum, reduction="sum").item()
    return total / max(n_total, 1), n_total


@torch.no_grad()
def evaluate_loss(loss_module: Any, dataset: Any, collate: Callable, accelerator: Any, cfg: ExperimentConfig) -> float:
    """Mean target-token loss over the validation split (or its first eval_batches)."""
    was_training = loss_module.training
    loss_module.eval()
    b, world = cfg.train.batch_size, accelerator.num_processes
    loss_sum = torch.zeros((), device=accelerator.device)
    count = torch.zeros((), device=accelerator.device)
    n_batches = 0
    for start in range(0, len(dataset), b * world):
        idx = np.array_split(np.arange(start, min(start + b * world, len(dataset))), world)[accelerator.process_index]
        if cfg.train.eval_batches and n_batches >= cfg.train.eval_batches:
            break
        n_batches += 1
        if len(idx) == 0:
            if not is_fsdp(accelerator):
                continue
            # FSDP gathers each layer's shards inside forward: every rank must run it, so a
            # rank without rows of this batch runs one row and does not count it.
            batch = _to_device(collate([dataset[0]]), accelerator.device)
            with accelerator.autocast():
                loss_module(**batch)
            continue
        batch = _to_device(collate([dataset[int(i)] for i in idx]), accelerator.device)
        with accelerator.autocast():
            s, n = loss_module(**batch)
        loss_sum += s.float()
        count += n
    loss_module.train(was_training)
    total, n = accelerator.reduce(loss_sum, reduction="sum").item(), accelerator.reduce(count, reduction="sum").item()
    return total / n if n else float("nan")


def _to_device(batch: dict, device: Any) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def peak_memory_mb(device: Any) -> float:
    """GPU: torch.cuda.max_memory_allocated; CPU: peak resident set size of this process."""
    if getattr(device, "type", "cpu") == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ----------------------------------------------------------------------------- the run


@dataclass
class Run:
    """What fit() needs; built by setup() (tests build it directly around a tiny model)."""

    cfg: ExperimentConfig
    accelerator: Any
    model: Any  # the PEFT model (unwrapped)
    loss_module: Any  # prepared (DDP-wrapped when distributed)
    optimizer: Any
    scheduler: Any
    train_data: Any
    val_data: Any
    collate: Callable
    total_steps: int
    tokenizer: Any = None
    # FSDP + LoRA: parameter name (as before wrapping) -> key in adapter_model.safetensors
    adapter_keys: dict[str, str] | None = None


def setup(cfg: ExperimentConfig, prepared: Any = None, tokenizer: Any = None) -> Run:
    dtype = resolve_dtype(cfg.train.precision)
    accelerator = S.make_accelerator(cfg, dtype)
    torch.manual_seed(cfg.seed)
    tokenizer = tokenizer or load_tokenizer(cfg.model)
    if prepared is None:
        # Rank 0 builds the data cache first; the others then read it.
        with accelerator.main_process_first():
            prepared = prepare(cfg, tokenizer, progress=accelerator.is_main_process)
    if len(prepared.train) == 0:
        raise ChefbotError(
            f"no training rows after preparing {cfg.data.source} (see the data stats in {prepared.cache_dir})"
        )
    model = load_model(cfg, device_map=S.device_map_for(accelerator), dtype=dtype)
    if accelerator.device.type == "cpu":
        packed_attention.enable(model)  # no varlen kernel on CPU: attend within each example
        S.keep_4bit_training_layout(model)  # validation would otherwise repack NF4 weights for inference only
    sharded = is_fsdp(accelerator)
    model = S.attach_adapter(model, cfg, sharded=sharded)
    loss_module = TargetTokenLoss(model)
    steps = total_steps(len(prepared.train), cfg, accelerator.num_processes)
    adapter_keys = None
    if sharded and cfg.lora.enabled:
        adapter_keys = fsdp.adapter_file_keys(model)  # before wrapping, while peft still recognises its layers
        fsdp.wrap_lora_units(accelerator, model)
    # device_placement=False: the model was loaded onto this rank's device already
    # (bitsandbytes weights cannot be moved afterwards).  The model is wrapped first and the
    # optimizer built from the wrapped parameters: FSDP replaces them with flat shards (under
    # DDP they are the same objects, in the same order).  The scheduler is not prepared:
    # accelerate would step it once per process.
    loss_module = accelerator.prepare(loss_module, device_placement=[False])
    optimizer = accelerator.prepare(S.make_optimizer(S.trainable_parameters(loss_module), cfg))
    scheduler = S.make_scheduler(optimizer, cfg, steps)
    return Run(
        cfg,
        accelerator,
        model,
        loss_module,
        optimizer,
        scheduler,
        prepared.train,
        prepared.validation,
        collator(cfg, tokenizer.pad_token_id or 0),
        steps,
        tokenizer,
        adapter_keys,
    )


def _save_weights(run: Run, folder: Path, state_dict: dict | None = None) -> None:
    unwrapped = run.accelerator.unwrap_model(run.loss_module).model
    if state_dict is not None and run.adapter_keys is not None:
        # FSDP: peft picks adapter weights by module names, which FSDP has changed
        # (``layers.0._fsdp_wrapped_module.self_attn...``), so it would select none.  peft
        # writes the config; the weights go under the keys peft chose before wrapping.
        from safetensors.torch import save_file

        unwrapped.save_pretrained(folder, safe_serialization=True, state_dict={})
        save_file(
            {key: state_dict[name].contiguous() for name, key in run.adapter_keys.items()},
            str(folder / "adapter_model.safetensors"),
            metadata={"format": "pt"},
        )
        return
    unwrapped.save_pretrained(folder, safe_serialization=True, state_dict=state_dict)


def _gathered_state(run: Run) -> dict | None:
    """Under FSDP the weights are sharded: every rank joins the gather, rank 0 writes.

    With LoRA only the trainable units are gathered, one at a time (train/fsdp.py): a
    checkpoint of a 32B run gathers its adapter, not 18 GB of frozen 4-bit base.
    """
    acc = run.accelerator
    if not is_fsdp(acc):
        return None
    if run.cfg.lora.enabled:
        state = fsdp.trainable_state(run.loss_module, acc.is_main_process)
    else:
        state = acc.get_state_dict(run.loss_module)
    return {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")} if state else None


def _load_weights(run: Run, folder: Path) -> None:
    from safetensors.torch import load_file

    if (folder / "adapter_model.safetensors").exists():
        from peft import set_peft_model_state_dict

        adapter = load_file(folder / "adapter_model.safetensors")
        if run.adapter_keys is not None:  # FSDP: write each LoRA unit's full weights back into its shards
            state = {"model." + name: adapter[key] for name, key in run.adapter_keys.items() if key in adapter}
            missing = fsdp.load_trainable_state(run.loss_module, state)
            if missing:
                raise ChefbotError(
                    f"{folder}: the adapter lacks {len(missing)} trained weights of this model, e.g. {missing[0]}"
                )
            return
        set_peft_model_state_dict(run.model, adapter)
    else:
        from transformers.modeling_utils import load_sharded_checkpoint

        load_sharded_checkpoint(run.model, str(folder), strict=False)


class Logger:
    """train_log.jsonl (one row per step, continued across resumes) plus accelerate's trackers.

    A run that starts at ``start_step`` first drops the log's rows of later steps (they
    were trained by a process that died after its last checkpoint and are trained again),
    so a resumed run's log equals an uninterrupted run's.
    """

    def __init__(self, run: Run, start_step: int = 0):
        self.run = run
        self.main = run.accelerator.is_main_process
        self.path = log_path(run.cfg.output_dir)
        if self.main:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            truncate_log(self.path, start_step)

    def log(self, row: dict, step: int, track: bool = True) -> None:
        if not self.main:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        if track:
            self.run.accelerator.log(
                {k: v for k, v in row.items() if isinstance(v, (int, float)) and k != "step"}, step=step
            )


def fit(run: Run) -> dict:
    """Train to ``run.total_steps``, resuming from the newest complete checkpoint."""
    cfg, acc, t = run.cfg, run.accelerator, run.cfg.train
    world, rank = acc.num_processes, acc.process_index
    out = Path(cfg.output_dir)
    step, epoch, micro = 0, 0, 0
    ckpt = latest_checkpoint(out) if t.resume == "auto" else None
    if ckpt is not None:
        state = read_state(ckpt)
        layout = (t.batch_size, t.grad_accum, world)
        if tuple(state.get("layout", layout)) != layout:
            raise ChefbotError(
                f"{ckpt} was written with batch_size, grad_accum, world_size = {tuple(state['layout'])}, now {layout}; "
                "resume needs the same data layout (or set train.resume=never / a new output_dir)"
            )
        _load_weights(run, ckpt)
        load_checkpoint(ckpt, run.optimizer, run.scheduler, rank=rank, world_size=world)
        step, epoch, micro = state["step"], state["epoch"], state["micro_batch"]
        if acc.is_main_process:
            acc.print(f"Resuming from {ckpt} (step {step}, epoch {epoch}, micro-batch {micro})")
    logger = Logger(run, start_step=step)
    if acc.is_main_process:
        save_resolved(cfg, out)
    train_losses: list[dict] = []
    eval_losses: list[dict] = []
    tokens, train_time = 0, 0.0
    if t.eval_steps and step == 0 and len(run.val_data):
        eval_losses.append({"step": 0, "loss": evaluate_loss(run.loss_module, run.val_data, run.collate, acc, cfg)})
        logger.log({"step": 0, "eval_loss": eval_losses[-1]["loss"]}, 0)
    run.loss_module.train()
    batches = epoch_batches(len(run.train_data), epoch, cfg.seed, t.batch_size, world, rank)
    progress = make_progress() if acc.is_main_process else contextlib.nullcontext()
    with progress as bar:
        task = bar.add_task("training", total=run.total_steps, completed=step, info="") if bar else None
        while step < run.total_steps:
            if micro >= len(batches):
                epoch, micro = epoch + 1, 0
                batches = epoch_batches(len(run.train_data), epoch, cfg.seed, t.batch_size, world, rank)
                continue
            group = batches[micro : micro + t.grad_accum]
            micro_batches = [
                _to_device(run.collate([run.train_data[int(i)] for i in idx]), acc.device) for idx in group
            ]
            t0 = time.perf_counter()
            loss, n_targets = accumulate_gradients(run.loss_module, micro_batches, acc)
            grad_norm = None
            if t.max_grad_norm:
                grad_norm = float(acc.clip_grad_norm_(run.loss_module.parameters(), t.max_grad_norm))
            run.optimizer.step()
            run.scheduler.step()
            run.optimizer.zero_grad(set_to_none=True)
            step_seconds = time.perf_counter() - t0
            train_time += step_seconds
            tokens += n_targets
            step, micro = step + 1, micro + len(group)
            if not math.isfinite(loss):
                raise ChefbotError(f"training loss became {loss} at step {step}; lower train.lr or check the data")
            train_losses.append({"step": step, "loss": loss})
            row = {
                "step": step,
                "loss": loss,
                "lr": run.scheduler.get_last_lr()[0],
                "target_tokens": n_targets,
                "epoch": epoch,
                "grad_norm": grad_norm,
                "step_seconds": step_seconds,
                "peak_mem_mb": peak_memory_mb(acc.device),
                "target_tokens_per_s": tokens / max(train_time, 1e-9),
            }
            logger.log(row, step, track=step % t.logging_steps == 0 or step == run.total_steps)
            if bar:
                bar.update(task, completed=step, info=f"loss {loss:.3f}  {row['target_tokens_per_s']:.0f} tok/s")
            if t.eval_steps and len(run.val_data) and (step % t.eval_steps == 0 or step == run.total_steps):
                eval_losses.append(
                    {"step": step, "loss": evaluate_loss(run.loss_module, run.val_data, run.collate, acc, cfg)}
                )
                logger.log({"step": step, "eval_loss": eval_losses[-1]["loss"]}, step)
                if bar:
                    bar.console.print(f"step {step}: eval loss {eval_losses[-1]['loss']:.4f}")
            if (t.save_steps and step % t.save_steps == 0) or step == run.total_steps:
                _checkpoint(
                    run,
                    step,
                    {
                        "epoch": epoch,
                        "micro_batch": micro,
                        "sampler_seed": cfg.seed,
                        "layout": [t.batch_size, t.grad_accum, world],
                    },
                )
    return {
        "steps": step,
        "train_loss": train_losses,
        "eval_loss": eval_losses,
        "target_tokens": tokens,
        "target_tokens_per_s": tokens / train_time if train_time else None,
        "train_seconds": train_time,
        "peak_mem_mb": peak_memory_mb(acc.device),
        "world_size": world,
        "distributed_type": str(acc.distributed_type).rsplit(".", 1)[-1],  # NO, MULTI_GPU, MULTI_CPU (DDP) or FSDP
        "device": str(acc.device),
        "resumed_from": str(ckpt) if ckpt else None,
    }


def _checkpoint(run: Run, step: int, position: dict) -> None:
    acc = run.accelerator
    acc.wait_for_everyone()
    state = _gathered_state(run)
    # Each rank draws its own dropout masks, so each rank's RNG state is saved; gathered
    # first, so rank 0 writes every rank's file into the folder before the COMPLETE marker.
    rngs = None
    if acc.num_processes > 1:
        rngs = [None] * acc.num_processes
        torch.distributed.all_gather_object(rngs, rng_state())
    # FSDP: each rank's optimizer holds the moments of its own shards (bitsandbytes 8-bit
    # state included); they are gathered to rank 0 and saved one file per rank.
    shards = fsdp.gather_to_main(fsdp.to_cpu(run.optimizer.state_dict()), acc) if is_fsdp(acc) else None
    if acc.is_main_process:  # only rank 0 writes (DDP ranks hold identical weights and optimizer state)
        save_checkpoint(
            run.cfg.output_dir,
            step,
            lambda d: _save_weights(run, d, state),
            None if shards else run.optimizer,
            run.scheduler,
            position,
            keep=run.cfg.train.save_total_limit,
            rng_states=rngs,
            optimizer_shards=shards,
        )
    acc.wait_for_everyone()


def save_final(run: Run, summary: dict) -> Path:
    """The adapter with tokenizer, chat template and a generation_config that stops right."""
    out = Path(run.cfg.output_dir) / "adapter"
    acc = run.accelerator
    acc.wait_for_everyone()
    state = _gathered_state(run)
    if acc.is_main_process:
        model = acc.unwrap_model(run.loss_module).model
        with atomic_dir(out) as tmp:
            _save_weights(run, tmp, state)
            run.tokenizer.save_pretrained(tmp)  # writes chat_template.jinja too
            generation_config_for(run.tokenizer, model).save_pretrained(tmp)
        atomic_write_json(Path(run.cfg.output_dir) / "train_summary.json", {**summary, "adapter_dir": str(out)})
    acc.wait_for_everyone()
    return out


def train(cfg: ExperimentConfig, prepared: Any = None, tokenizer: Any = None) -> dict:
    """Prepare data, train (resuming when possible), save the adapter; returns the summary."""
    run = setup(cfg, prepared, tokenizer)
    acc = run.accelerator
    if acc.is_main_process and cfg.train.report_to:
        init = {"wandb": {"mode": cfg.train.wandb_mode, "dir": cfg.output_dir, "name": cfg.name}}
        if "wandb" in cfg.train.report_to:
            os.environ.setdefault("WANDB_MODE", cfg.train.wandb_mode)
        acc.init_trackers(
            cfg.train.wandb_project if "wandb" in cfg.train.report_to else "tensorboard",
            config=_flat_config(cfg),
            init_kwargs=init,
        )
    summary = fit(run)
    summary["adapter_dir"] = str(save_final(run, summary))
    summary["total_steps"] = run.total_steps
    acc.end_training()
    return summary


def _flat_config(cfg: ExperimentConfig) -> dict:
    """Scalars only (TensorBoard hparams reject lists and None)."""
    flat = {}

    def walk(prefix: str, d: dict) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(f"{prefix}{k}.", v)
            elif isinstance(v, (int, float, str, bool)):
                flat[prefix + k] = v
            elif v is not None:
                flat[prefix + k] = str(v)

    walk("", cfg.model_dump(mode="json"))
    return flat
