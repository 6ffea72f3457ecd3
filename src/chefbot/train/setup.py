"""Everything before the first step: processes, model + LoRA, optimizer, schedule.

Only library pieces: accelerate for processes, PEFT for adapters,
bitsandbytes for 4/8-bit weights and 8-bit optimizers, transformers for schedules.
"""

from __future__ import annotations

import os
from typing import Any

from chefbot.config import ExperimentConfig
from chefbot.errors import ChefbotError
from chefbot.train import fsdp


def make_accelerator(cfg: ExperimentConfig, dtype: Any) -> Any:
    """An Accelerator with the precision and trackers of ``cfg``; checks the world size."""
    import torch
    from accelerate import Accelerator

    mixed = "no"
    if torch.cuda.is_available():
        # On GPU autocast runs the bf16/fp16 compute; on CPU the weights are already in
        # ``dtype`` and CPU autocast would only add casts.
        mixed = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "no")
    log_with = list(cfg.train.report_to)
    if "wandb" in log_with:
        try:
            import wandb  # noqa: F401
        except ImportError:
            raise ChefbotError(
                "train.report_to includes wandb but wandb is not installed: pip install wandb (or pip install 'chefbot[wandb]')"
            ) from None
    cpu = not torch.cuda.is_available()
    # FSDP asked for by the launcher (configs/accelerate/fsdp_qlora.yaml): on a GPU accelerate
    # builds the plugin itself; on CPU it would fail (sync_module_states needs a GPU) or
    # quietly run DDP, so chefbot builds the plugin and switches the gloo group (train/fsdp.py).
    plugin = fsdp.cpu_plugin() if cpu and fsdp.requested() else None
    # cpu=True without a GPU: only then does accelerate set up a gloo group under torchrun.
    accelerator = Accelerator(
        mixed_precision=mixed, log_with=log_with or None, project_dir=cfg.output_dir, cpu=cpu, fsdp_plugin=plugin
    )
    if plugin is not None:
        fsdp.enable_on_cpu(accelerator, plugin)
    check_world_size(accelerator)
    return accelerator


def check_world_size(accelerator: Any) -> None:
    """A launcher that promised N processes must have given us an N-process group.

    Without this a multi-GPU QLoRA run can quietly train N independent copies
    (axolotl PR #3839, accelerate #2713).
    """
    expected = int(os.environ.get("WORLD_SIZE", "1"))
    if expected > 1 and accelerator.num_processes != expected:
        raise ChefbotError(
            f"WORLD_SIZE={expected} but accelerate sees {accelerator.num_processes} process(es): "
            "launch with `accelerate launch --config_file configs/accelerate/ddp.yaml -m chefbot.cli train ...` "
            "or `torchrun --nproc_per_node N -m chefbot.cli train ...`"
        )


def is_fsdp(accelerator: Any) -> bool:
    return str(accelerator.distributed_type).endswith("FSDP")


def device_map_for(accelerator: Any) -> Any:
    """One whole model per rank on its own GPU; bitsandbytes needs the placement at load time.

    Under FSDP the model is loaded without a device map and accelerate shards it
    (bnb_4bit_quant_storage=bf16 makes the 4-bit weights shardable).
    """
    if is_fsdp(accelerator):
        return None
    if accelerator.device.type == "cuda":
        return {"": accelerator.local_process_index}
    return None


def keep_4bit_training_layout(model: Any) -> int:
    """Stop bitsandbytes from repacking 4-bit weights for CPU inference mid-training.

    On a CPU with AVX512-BF16, bitsandbytes (0.48-0.50 at least) repacks a ``Linear4bit``'s
    weight in place the first time it runs in eval mode without gradients (a validation
    pass) and does not unpack it on ``train()``; the next training step then takes the
    inference-only kernel and fails ("a view of a leaf Variable that requires grad is
    being used in an in-place operation" with biased layers such as Qwen's q/k/v).  A model
    that trains keeps the training layout; returns the number of layers switched.
    """
    n = 0
    for module in model.modules():
        if getattr(module, "support_avx512bf16_for_cpu", False):
            module.support_avx512bf16_for_cpu = False
            n += 1
    return n


def linear_module_names(model: Any) -> list[str]:
    """Leaf names of the model's linear layers (what target_modules may name)."""
    import torch

    names = set()
    for full, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) or type(module).__name__ in ("Linear4bit", "Linear8bitLt"):
            names.add(full.rsplit(".", 1)[-1])
    return sorted(names)


def check_target_modules(model: Any, target_modules: list[str] | str) -> None:
    """A list naming no module of this model fails with the names that exist."""
    if target_modules == "all-linear":
        return
    available = linear_module_names(model)
    leaves = {full.rsplit(".", 1)[-1] for full, _ in model.named_modules()}
    missing = [
        t for t in target_modules if t not in leaves and not any(f.endswith("." + t) for f, _ in model.named_modules())
    ]
    if len(missing) == len(target_modules):
        raise ChefbotError(
            f"lora.target_modules {list(target_modules)} match no module of this model; "
            f"its linear layers are: {', '.join(available)} (or use lora.target_modules=all-linear)"
        )
    if missing:
        raise ChefbotError(
            f"lora.target_modules {missing} match no module of this model; its linear layers are: {', '.join(available)}"
        )


def attach_adapter(model: Any, cfg: ExperimentConfig, sharded: bool = False) -> Any:
    """Prepare for k-bit training (when quantized), gradient checkpointing, then LoRA/DoRA via PEFT.

    ``sharded`` (FSDP): peft's ``prepare_model_for_kbit_training`` is skipped, as TRL does for
    sharded QLoRA: it casts norms and embeddings to fp32 while the 4-bit weights are stored
    as ``bnb_4bit_quant_storage`` (bf16), and FSDP cannot flatten one decoder layer's
    parameters of two dtypes into one shard.  Everything stays in the storage dtype.
    """
    quantized = cfg.quant.mode != "none"
    gc_kwargs = {"use_reentrant": False}  # reentrant checkpointing breaks DDP ("ready only once")
    if not cfg.lora.enabled:
        if quantized:
            raise ChefbotError(
                "lora.enabled=false (full fine-tuning) cannot train quantized weights: set quant.mode=none"
            )
        if cfg.train.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=gc_kwargs)
        model.config.use_cache = False
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    check_target_modules(model, cfg.lora.target_modules)
    if quantized and not sharded:
        # Casts norms/embeddings to fp32 and enables input grads: the standard QLoRA recipe.
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=cfg.train.gradient_checkpointing, gradient_checkpointing_kwargs=gc_kwargs
        )
    elif cfg.train.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=gc_kwargs)
        model.enable_input_require_grads()
    model.config.use_cache = False
    lora = LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=cfg.lora.target_modules,
        use_rslora=cfg.lora.use_rslora,
        use_dora=cfg.lora.use_dora,
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def trainable_parameters(model: Any) -> list[Any]:
    return [p for p in model.parameters() if p.requires_grad]


def make_optimizer(params: list[Any], cfg: ExperimentConfig) -> Any:
    import torch

    t = cfg.train
    if t.optimizer == "adamw_torch":
        return torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay)
    try:
        import bitsandbytes as bnb
    except ImportError:
        raise ChefbotError(
            f"train.optimizer={t.optimizer} needs bitsandbytes (pip install bitsandbytes), or use train.optimizer=adamw_torch"
        ) from None
    cls = {
        "paged_adamw_8bit": bnb.optim.PagedAdamW8bit,
        "adamw_8bit": bnb.optim.AdamW8bit,
        "paged_adamw_32bit": bnb.optim.PagedAdamW32bit,
    }[t.optimizer]
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Paged optimizers are not supported on CPU")  # bnb falls back, fine
        return cls(params, lr=t.lr, weight_decay=t.weight_decay)


def make_scheduler(optimizer: Any, cfg: ExperimentConfig, total_steps: int) -> Any:
    from transformers import get_scheduler

    name = {"cosine": "cosine", "linear": "linear", "constant": "constant_with_warmup"}[cfg.train.scheduler]
    return get_scheduler(
        name, optimizer, num_warmup_steps=min(cfg.train.warmup_steps, total_steps), num_training_steps=total_steps
    )
