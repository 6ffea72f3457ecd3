"""A run's training history, read back from its own ``logs/train_log.jsonl``.

The trainer appends one row per optimizer step (and one per validation).  A resumed run
first drops the rows of steps after its checkpoint (``truncate_log``), so a step that ran
before a kill and again after it appears once.  Logs written before that (or edited by
hand) may still hold a step twice: the last row of a step wins, which is the row of the
checkpointed run that continued.  Reports of a run that was resumed, or reused once
finished, come from here rather than from what the last process happened to train (which
may be nothing).
"""

from __future__ import annotations

import json
from pathlib import Path

from chefbot.errors import DataError
from chefbot.io import atomic_write_text


def log_path(output_dir: str | Path) -> Path:
    return Path(output_dir) / "logs" / "train_log.jsonl"


def truncate_log(path: str | Path, last_step: int) -> int:
    """Keep only the rows of steps up to ``last_step`` (none when it is 0: a fresh start).

    Called by the trainer before it continues from the checkpoint of ``last_step``: later
    rows were logged by a process that died before saving them, and are trained again.
    Lines that are not log rows (a line cut short by the kill) go too.  The file is
    rewritten atomically, and only when something is dropped; returns the lines dropped.
    """
    path = Path(path)
    if not path.exists():
        return 0
    lines = path.read_text(encoding="utf-8").splitlines()
    keep = []
    for line in lines:
        try:
            step = int(json.loads(line)["step"])
        except (ValueError, KeyError, TypeError):
            continue
        if 0 < last_step and step <= last_step:
            keep.append(line)
    if len(keep) != len(lines):
        atomic_write_text(path, "".join(x + "\n" for x in keep))
    return len(lines) - len(keep)


def read_history(output_dir: str | Path) -> dict:
    """Steps, per-step losses, validation losses, target tokens and throughput of the whole run.

    ``target_tokens_per_s`` is target tokens of all logged steps over their summed
    ``step_seconds`` (forward + backward + optimizer, no eval or checkpoint time); logs
    written before ``step_seconds`` existed fall back to the last step row's running rate.
    ``peak_mem_mb`` is the largest peak any training process logged (GPU: allocated; CPU: RSS).
    """
    path = log_path(output_dir)
    if not path.exists():
        raise DataError(f"{path}: no training log; train first (chefbot train CONFIG)")
    steps: dict[int, dict] = {}
    evals: dict[int, float] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            step = int(row["step"])
        except (ValueError, KeyError, TypeError) as e:
            raise DataError(f"{path}:{lineno}: not a training log row ({e})") from None
        if "eval_loss" in row:
            evals[step] = float(row["eval_loss"])
        elif "loss" in row:
            steps[step] = row
    rows = [steps[s] for s in sorted(steps)]
    tokens = sum(int(r.get("target_tokens", 0)) for r in rows)
    timed = [r for r in rows if r.get("step_seconds") is not None]
    if rows and len(timed) == len(rows):
        seconds = sum(float(r["step_seconds"]) for r in rows)
        rate = tokens / seconds if seconds > 0 else None
    else:
        seconds = None
        rate = rows[-1].get("target_tokens_per_s") if rows else None
    return {
        "steps": rows[-1]["step"] if rows else 0,
        "train_loss": [{"step": r["step"], "loss": r["loss"]} for r in rows],
        "eval_loss": [{"step": s, "loss": evals[s]} for s in sorted(evals)],
        "target_tokens": tokens,
        "train_seconds": seconds,
        "target_tokens_per_s": rate,
        "peak_mem_mb": max((r["peak_mem_mb"] for r in rows if r.get("peak_mem_mb") is not None), default=None),
        "log": str(path),
    }
