"""Run ``chefbot.align.dpo.train_dpo`` in its own process (for the kill test).

usage: dpo_worker.py CONFIG.yaml PAIRS.json SFT_ADAPTER ALIGN_DIR [--kill-at-step N]

--kill-at-step N: SIGKILL this process when optimizer step N+1 starts (after checkpoint N was written),
in the middle of training, like a power cut.
"""

import json
import os
import signal
import sys
from pathlib import Path

import torch

from chefbot.align.dpo import train_dpo
from chefbot.config import load_config

args = sys.argv[1:]
kill = None
if "--kill-at-step" in args:
    i = args.index("--kill-at-step")
    kill = int(args[i + 1])
    del args[i : i + 2]
cfg_path, pairs_path, sft, align_dir = args
torch.set_num_threads(1)
if kill is not None:
    import trl

    real = trl.DPOTrainer.training_step

    def training_step(self, *a, **k):
        if self.state.global_step == kill:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, *a, **k)

    trl.DPOTrainer.training_step = training_step
train_dpo(load_config(cfg_path), Path(sft), json.loads(Path(pairs_path).read_text()), Path(align_dir))
