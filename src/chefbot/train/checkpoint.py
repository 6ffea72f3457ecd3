"""Checkpoints that resume exactly, and are never picked up half-written.

Layout: ``<output_dir>/checkpoints/step-<N>/`` holding the adapter (or full weights),
``optimizer.pt`` (bitsandbytes 8-bit state included: it is part of the optimizer's
state_dict), ``scheduler.pt``, ``rng.pt`` (python, numpy, torch CPU/CUDA) and
``state.json`` (global step, epoch, batch position, sampler seed).  Each checkpoint is
written into a hidden temporary folder and renamed into place (``chefbot.io.atomic_dir``);
the ``COMPLETE`` marker is written last inside it.  Resume only considers folders that
have the marker, so a SIGKILL or a full disk mid-save leaves the previous checkpoint
as the one used.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from chefbot.errors import ChefbotError
from chefbot.io import atomic_dir, atomic_write_json
from chefbot.progress import console

MARKER = "COMPLETE"
_STEP_RE = re.compile(r"^step-(\d+)$")


def checkpoints_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def complete_checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, folder) of every complete checkpoint, oldest first."""
    root = checkpoints_dir(output_dir)
    found = []
    if root.is_dir():
        for d in root.iterdir():
            m = _STEP_RE.match(d.name)
            if m and d.is_dir() and (d / MARKER).exists():
                found.append((int(m.group(1)), d))
    return sorted(found)


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    found = complete_checkpoints(output_dir)
    return found[-1][1] if found else None


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    output_dir: str | Path,
    step: int,
    save_model: Any,
    optimizer: Any,
    scheduler: Any,
    position: dict,
    keep: int | None = None,
) -> Path:
    """Write checkpoint ``step`` atomically; ``save_model(folder)`` writes the weights.

    Called on the main process only.  On any error (disk full included) the temporary
    folder is removed and the previous checkpoints stay untouched.
    """
    target = checkpoints_dir(output_dir) / f"step-{step}"
    try:
        with atomic_dir(target) as tmp:
            save_model(tmp)
            if optimizer is not None:
                torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
            torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
            torch.save(rng_state(), tmp / "rng.pt")
            atomic_write_json(tmp / "state.json", {"step": step, **position})
            (tmp / MARKER).write_text("ok\n")  # last: its presence means everything above is on disk
    except OSError as e:
        last = latest_checkpoint(output_dir)
        raise ChefbotError(
            f"saving checkpoint {target} failed ({e}); the last complete checkpoint "
            f"{last if last else '(none)'} is unchanged and resume will use it"
        ) from e
    if keep:
        for _, old in complete_checkpoints(output_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return target


def load_checkpoint(folder: Path, optimizer: Any, scheduler: Any) -> dict:
    """Restore optimizer, scheduler and RNG; returns state.json (step and data position)."""
    if (folder / "optimizer.pt").exists():
        optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=False, map_location="cpu"))
    else:  # FSDP runs: sharded optimizer state is not saved; the moments restart

        console.print(f"[yellow]{folder}: no optimizer state saved (FSDP); Adam moments restart from zero[/]")
    scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=False))
    set_rng_state(torch.load(folder / "rng.pt", weights_only=False))
    return json.loads((folder / "state.json").read_text())
