"""Run chefbot training from resolved configs in a separate process (for kill and DDP tests).

usage: train_worker.py CONFIG.yaml OUT [CONFIG.yaml OUT ...] [--kill-at-save STEP] [--grads]

Trains each config in turn (one launch for several tiny runs: starting the processes and
importing the libraries takes most of a tiny run's time) and writes each run's summary
to OUT.rank<R> (R: this process's rank).
--kill-at-save STEP: SIGKILL this process (rank 0, the one that writes) in the middle of
writing checkpoint STEP of the *last* run (after the adapter is written, before optimizer/
scheduler/RNG/marker), like a power cut.  Under torchrun the other ranks are then torn down.
--grads: save every step's LoRA gradients, as they are after backward and the DDP
all-reduce and before clipping and the optimizer step, to OUT.grads.rank<R>.pt
({step: {parameter name: gradient}}; under FSDP every rank's shards gathered).
--recompute-head: recompute each LM-head chunk in the backward pass as on a GPU
(chefbot.train.loss.KEEP_LOGITS_BYTES = 0) instead of keeping the logits as on CPU.
Launch with torchrun (DDP) or with
`accelerate launch --config_file configs/accelerate/fsdp_qlora.yaml` (FSDP).
"""

import faulthandler
import json
import os
import signal
import sys
from pathlib import Path

import torch
from accelerate.state import PartialState

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/train: train_support

from train_support import record_gradients

from chefbot.config import load_config
from chefbot.model import load_tokenizer
from chefbot.train import loop
from chefbot.train.checkpoint import latest_checkpoint, read_state

faulthandler.register(signal.SIGUSR1, all_threads=True)  # a hung collective: kill -USR1 <pid> prints where
args = sys.argv[1:]
kill_step = None
if "--kill-at-save" in args:
    i = args.index("--kill-at-save")
    kill_step = int(args[i + 1])
    del args[i : i + 2]
record = "--grads" in args
if "--recompute-head" in args:  # the GPU's path: each LM-head chunk recomputed in backward, not kept
    import chefbot.train.loss as loss_module

    loss_module.KEEP_LOGITS_BYTES = 0
args = [a for a in args if a not in ("--grads", "--recompute-head")]
runs = list(zip(args[0::2], args[1::2]))
rank = int(os.environ.get("RANK", "0"))
real_accumulate, real_save, real_destroy = (
    loop.accumulate_gradients,
    loop.save_checkpoint,
    PartialState.destroy_process_group,
)
real_setup, setups = loop.setup, []


def setup_and_keep(*a, **k):
    setups.append(real_setup(*a, **k))
    return setups[-1]


def fsdp_units(run) -> dict:
    """{unit: [this rank's flat-parameter elements, all of them, trainable, parameter names]} under FSDP."""
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    out = {}
    for name, m in run.loss_module.named_modules():
        if isinstance(m, FSDP) and m._handle is not None:
            flat = m._handle.flat_param
            out[name.replace("_fsdp_wrapped_module.", "") or "<root>"] = [
                flat.numel(),
                flat._unpadded_unsharded_size.numel(),
                flat.requires_grad,
                list(flat._fqns),
            ]
    return out


loop.setup = setup_and_keep


def save_then_die(output_dir, step, save_model, *a, **k):
    if step == kill_step:

        def half(folder):
            save_model(folder)
            os.kill(os.getpid(), signal.SIGKILL)

        return real_save(output_dir, step, half, *a, **k)
    return real_save(output_dir, step, save_model, *a, **k)


tokenizers: dict = {}
for n, (cfg_path, out_path) in enumerate(runs):
    last = n == len(runs) - 1
    cfg = load_config(cfg_path)
    # train() ends with accelerate's end_training, which destroys the process group: keep it for the next run.
    PartialState.destroy_process_group = real_destroy if last else (lambda self, group=None: None)
    loop.save_checkpoint = save_then_die if last and kill_step is not None else real_save
    grads: dict = {}
    if record:
        ckpt = latest_checkpoint(cfg.output_dir) if cfg.train.resume == "auto" else None
        loop.accumulate_gradients = record_gradients(
            real_accumulate, grads, first_step=read_state(ckpt)["step"] + 1 if ckpt else 1
        )
    key = (cfg.model.name_or_path, cfg.model.tokenizer)
    if key not in tokenizers:  # loading Qwen's 151k-token tokenizer takes 2 s: once per launch
        tokenizers[key] = load_tokenizer(cfg.model)
    summary = loop.train(cfg, tokenizer=tokenizers[key])
    summary["fsdp_units"] = fsdp_units(setups[-1])
    with open(f"{out_path}.rank{rank}", "w") as f:
        json.dump(summary, f)
    if record:
        torch.save(grads, f"{out_path}.grads.rank{rank}.pt")
