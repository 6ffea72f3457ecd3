"""Run chefbot training from a resolved config in a separate process (for kill and DDP tests).

usage: train_worker.py CONFIG.yaml OUT.json [--kill-at-save STEP]
--kill-at-save STEP: SIGKILL this process in the middle of writing checkpoint STEP
(after the adapter is written, before optimizer/scheduler/marker), like a power cut.
"""

import json
import os
import signal
import sys

from chefbot.config import load_config
from chefbot.train import loop

cfg_path, out_path = sys.argv[1], sys.argv[2]
if "--kill-at-save" in sys.argv:
    kill_step = int(sys.argv[sys.argv.index("--kill-at-save") + 1])
    real_save = loop.save_checkpoint

    def save(output_dir, step, save_model, *a, **k):
        if step == kill_step:
            def half(folder):
                save_model(folder)
                os.kill(os.getpid(), signal.SIGKILL)
            return real_save(output_dir, step, half, *a, **k)
        return real_save(output_dir, step, save_model, *a, **k)

    loop.save_checkpoint = save

summary = loop.train(load_config(cfg_path))
rank = int(os.environ.get("RANK", "0"))
with open(f"{out_path}.rank{rank}", "w") as f:
    json.dump(summary, f)
