"""FSDP (version 1, through accelerate's plugin) for LoRA and QLoRA: wrapping, adapter I/O, CPU runs.

``accelerate launch --config_file configs/accelerate/fsdp_qlora.yaml`` sets
``ACCELERATE_USE_FSDP`` and the ``FSDP_*`` variables; accelerate builds the plugin from
them.  What chefbot adds, each the documented QLoRA + FSDP recipe or a CPU necessity:

- ``wrap_lora_units``: peft's ``fsdp_auto_wrap_policy`` (what transformers' Trainer
  applies to PEFT models): every decoder layer is an FSDP unit and so is every leaf
  module whose weight trains (each ``lora_A``/``lora_B``).  With
  ``use_orig_params: false`` a flat parameter must be all-trainable or all-frozen;
  this keeps the frozen (4-bit) base out of the gradients and the optimizer.
- The optimizer is built *after* wrapping (``loop.setup``): FSDP replaces the module
  parameters with flat shards, and an optimizer holding the old ones would step nothing.
- ``trainable_state`` / ``load_trainable_state``: the adapter is gathered (and written
  back on resume) one LoRA unit at a time, so a checkpoint never gathers the frozen base.
- ``enable_on_cpu``: accelerate only turns FSDP on for accelerator devices (its
  ``AcceleratorState`` leaves a CPU group at ``MULTI_CPU``, and the plugin's
  ``sync_module_states`` asks for a GPU).  With no GPU, chefbot switches the gloo group to
  FSDP itself, with ``sync_module_states`` and ``cpu_ram_efficient_loading`` off (every
  rank loads the same weights from disk), so CI runs the FSDP path on CPU processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import torch

FLAT_PREFIX = "_fsdp_wrapped_module."


def requested() -> bool:
    """``accelerate launch`` with an FSDP config sets ACCELERATE_USE_FSDP=true."""
    return os.environ.get("ACCELERATE_USE_FSDP", "false").lower() in ("1", "true", "yes")


def cpu_plugin() -> Any:
    """The FSDP plugin from the launcher's FSDP_* variables, minus what needs a GPU.

    ``sync_module_states`` broadcasts rank 0's weights with ``to_empty`` on a GPU (accelerate
    raises without one); on CPU every rank loads the same files instead, so it is not needed.
    """
    from accelerate.utils import FullyShardedDataParallelPlugin

    return FullyShardedDataParallelPlugin(sync_module_states=False, cpu_ram_efficient_loading=False)


def enable_on_cpu(accelerator: Any, plugin: Any) -> bool:
    """Switch accelerate's CPU process group (gloo) to FSDP; returns whether it did."""
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType

    if accelerator.distributed_type != DistributedType.MULTI_CPU:
        return False
    # Both shared states: a later AcceleratorState() copies PartialState's fields back.
    for state in (PartialState(), AcceleratorState()):
        state.distributed_type = DistributedType.FSDP
        # accelerate names CPU ranks cpu:0, cpu:1; FSDP's device_id must equal the
        # parameters' device, which is plain "cpu".
        state.device = torch.device("cpu")
    AcceleratorState().fsdp_plugin = plugin
    return True


def wrap_lora_units(accelerator: Any, peft_model: Any) -> None:
    """Use peft's FSDP wrap policy: decoder layers plus every trainable leaf module."""
    from peft.utils.other import fsdp_auto_wrap_policy

    accelerator.state.fsdp_plugin.auto_wrap_policy = fsdp_auto_wrap_policy(peft_model)


def adapter_file_keys(peft_model: Any) -> dict[str, str]:
    """Trainable parameter name -> its key in ``adapter_model.safetensors``, as peft saves it.

    Called before wrapping: peft finds its layers by module name, and FSDP inserts
    ``_fsdp_wrapped_module`` into those names, after which peft's selection finds nothing.
    """
    from peft import get_peft_model_state_dict

    names = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    markers = {n: torch.tensor(i) for i, n in enumerate(names)}  # peft passes the tensors through: find them back
    saved = get_peft_model_state_dict(peft_model, state_dict=markers)
    return {names[int(v)]: key for key, v in saved.items()}


def _clean(name: str) -> str:
    return name.replace(FLAT_PREFIX, "")


def _init_root(wrapped: Any) -> None:
    """FSDP decides which instance is the root at its first forward (or summon).  Summoning
    an inner unit first (a resume before any step) would make that unit a root and break
    the next forward, so the real root is initialised first (a no-op once it is)."""
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    if getattr(wrapped, "_is_root", None) is None:
        with FSDP.summon_full_params(wrapped, recurse=False, writeback=False):
            pass


def trainable_units(wrapped: Any) -> Iterator[tuple[str, Any]]:
    """(clean module name, FSDP unit) of every unit whose flat parameter trains, in module order.

    Every rank walks the same modules in the same order, so the collective calls match.
    """
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    for name, module in wrapped.named_modules():
        if isinstance(module, FSDP) and module is not wrapped:
            params = list(module.module.parameters(recurse=False))  # the unit's flat parameter (not its children's)
            if params and all(p.requires_grad for p in params):
                yield _clean(name), module


def _unit_tensors(unit: Any) -> Iterator[tuple[str, Any]]:
    """Inside ``summon_full_params``: the unit's original parameters, full size, by their own names."""
    for pname, p in unit.named_parameters():
        if "_flat_param" not in pname:
            yield _clean(pname), p


def trainable_state(wrapped: Any, is_main: bool) -> dict | None:
    """Full (unsharded) trainable weights, gathered unit by unit; on the main process only.

    Keys are the module's own names without FSDP's prefixes, e.g.
    ``model.base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight``.
    """
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    _init_root(wrapped)
    out: dict = {}
    for name, unit in trainable_units(wrapped):
        with FSDP.summon_full_params(unit, recurse=False, writeback=False):
            if is_main:
                for pname, p in _unit_tensors(unit):
                    out[f"{name}.{pname}"] = p.detach().to("cpu", copy=True)
    return out if is_main else None


def load_trainable_state(wrapped: Any, state: dict) -> list[str]:
    """Write full trainable weights (keys as ``trainable_state`` gives them) into the shards.

    Every rank passes the same ``state``; returns the names of units' tensors it did not
    contain (the caller decides whether that is an error).
    """
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    _init_root(wrapped)
    missing = []
    with torch.no_grad():
        for name, unit in trainable_units(wrapped):
            with FSDP.summon_full_params(unit, recurse=False, writeback=True):
                for pname, p in _unit_tensors(unit):
                    key = f"{name}.{pname}"
                    if key in state:
                        p.copy_(state[key].to(p.device, p.dtype))
                    else:
                        missing.append(key)
    return missing


def to_cpu(obj: Any) -> Any:
    """A copy of a (nested) state dict with every tensor on the CPU (for pickling across ranks)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def gather_to_main(obj: Any, accelerator: Any) -> list | None:
    """Every rank's ``obj`` in rank order on the main process (None elsewhere)."""
    import torch.distributed as dist

    out = [None] * accelerator.num_processes if accelerator.is_main_process else None
    dist.gather_object(obj, out, dst=0)
    return out
