"""Checkpoints that resume exactly, and are never picked up half-written.

Layout: ``<output_dir>/checkpoints/step-<N>/`` holding the adapter (or full weights),
``optimizer.pt`` (bitsandbytes 8-bit state included: it is part of the optimizer's
state_dict; under FSDP one ``optimizer-rank<R>.pt`` per process instead, each rank's
moments of its own shards), ``scheduler.pt``, one ``rng-rank<R>.pt`` per process (python,
numpy, torch CPU/CUDA: each rank draws its own dropout masks, so each rank gets its own state back)
and ``state.json`` (global step, epoch, batch position, sampler seed, world size).  Each
checkpoint is written into a hidden temporary folder and renamed into place
(``chefbot.io.atomic_dir``); the ``COMPLETE`` marker is written last inside it.  The
ranks' RNG states are gathered to the main process before it starts writing, so every
rank's file is in the folder before the marker.  Resume only considers folders that have
the marker, so a SIGKILL or a full disk mid-save leaves the previous checkpoint as the
one used.  Checkpoints of older versions hold a single ``rng.pt`` (rank 0's state).
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
OLD_RNG_FILE = "rng.pt"  # before per-rank files: rank 0's state only
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


def rng_file(rank: int) -> str:
    return f"rng-rank{rank}.pt"


def optimizer_file(rank: int) -> str:
    """One rank's optimizer state under FSDP (each rank holds the moments of its own shards)."""
    return f"optimizer-rank{rank}.pt"


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
    rng_states: list[dict] | None = None,
    optimizer_shards: list[dict] | None = None,
) -> Path:
    """Write checkpoint ``step`` atomically; ``save_model(folder)`` writes the weights.

    Called on the main process only.  ``rng_states`` holds every rank's ``rng_state()``
    in rank order (gathered by the caller); None means a single process, this one.
    ``optimizer_shards`` (FSDP) holds every rank's optimizer state_dict in rank order,
    written as ``optimizer-rank<R>.pt`` instead of one ``optimizer.pt``.  On
    any error (disk full included) the temporary folder is removed and the previous
    checkpoints stay untouched.
    """
    target = checkpoints_dir(output_dir) / f"step-{step}"
    rng_states = [rng_state()] if rng_states is None else rng_states
    try:
        with atomic_dir(target) as tmp:
            save_model(tmp)
            if optimizer is not None:
                torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
            for rank, shard in enumerate(optimizer_shards or []):
                torch.save(shard, tmp / optimizer_file(rank))
            torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
            for rank, state in enumerate(rng_states):
                torch.save(state, tmp / rng_file(rank))
            atomic_write_json(tmp / "state.json", {"step": step, **position, "world_size": len(rng_states)})
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


def read_state(folder: Path) -> dict:
    """state.json of a checkpoint: step, data position, layout and world size."""
    return json.loads((folder / "state.json").read_text())


def saved_world_size(folder: Path, state: dict | None = None) -> int:
    """How many processes wrote ``folder`` (older checkpoints: from the layout, else 1)."""
    state = read_state(folder) if state is None else state
    if "world_size" in state:
        return int(state["world_size"])
    if state.get("layout"):
        return int(state["layout"][2])
    return 1


def load_checkpoint(folder: Path, optimizer: Any, scheduler: Any, rank: int = 0, world_size: int = 1) -> dict:
    """Restore optimizer, scheduler and this rank's RNG; returns state.json (step and data position).

    A checkpoint written by a different number of processes is refused: its data
    position and RNG states belong to another split of each step's rows.
    """
    state = read_state(folder)
    saved = saved_world_size(folder, state)
    if saved != world_size:
        raise ChefbotError(
            f"{folder} was written by {saved} process(es), this run has {world_size}; resume needs the same "
            "world size (every rank restores its own RNG state and data split), or set train.resume=never / a new output_dir"
        )
    sharded = folder / optimizer_file(rank)
    if sharded.exists():  # FSDP: this rank's shards of the moments
        optimizer.load_state_dict(torch.load(sharded, weights_only=False, map_location="cpu"))
    elif (folder / "optimizer.pt").exists():
        optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=False, map_location="cpu"))
    else:  # FSDP checkpoints of older versions saved no optimizer state
        console.print(
            f"[yellow]{folder}: no optimizer state saved (FSDP run of an older chefbot); Adam moments restart from zero[/]"
        )
    scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=False))
    rng = folder / rng_file(rank)
    if not rng.exists() and (folder / OLD_RNG_FILE).exists():  # written before per-rank RNG files
        rng = folder / OLD_RNG_FILE
        if world_size > 1:
            console.print(
                f"[yellow]{folder}: only rank 0's RNG state was saved (older chefbot); rank {rank} "
                "restores it, so its dropout masks differ from an uninterrupted run[/]"
            )
    set_rng_state(torch.load(rng, weights_only=False))
    return state
