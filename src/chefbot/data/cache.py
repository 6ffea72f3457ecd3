"""The prepared-data cache: where a run's output lives, when it can be reused, how it loads.

A prepared dataset lives in ``data.cache_dir/<fingerprint>/``.  The fingerprint covers
the source file(s), the tokenizer and its chat template, the prompt and every data
option that changes the output, so a second run with the same inputs is a cache hit.
The held-out items alone live in ``data.cache_dir/eval-<eval fingerprint>/``: that key
leaves out the tokenizer and the token options, so every model is scored on the same
items.  A folder counts only once its ``COMPLETE`` marker exists; ``prepare`` writes it
last, inside a temporary folder that is renamed into place, so an interrupted run never
leaves a cache that looks complete.  A killed run leaves its temporary folder behind
(``.<fingerprint>.<random>.tmp``, up to the size of the full output); ``claim_tmp`` tags it
with the writer's process id, and the next run of the same fingerprint removes it once
that process is gone (``remove_stale_tmp``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chefbot.config import DataConfig, ExperimentConfig
from chefbot.cooking.labels import labels_identity
from chefbot.cooking.substitutions import substitutions_identity
from chefbot.data.sources import SourceSpec, source_identity
from chefbot.errors import DataError
from chefbot.io import atomic_dir, atomic_write_text

PIPELINE_VERSION = 1  # bump when the output of the same inputs changes
COMPLETE = "COMPLETE"
OWNER = ".owner"  # in a temporary folder while it is written: "<host> <pid>"
EVAL_SPLITS = ("test", "validation")


@dataclass
class Prepared:
    train: Any  # datasets.Dataset
    validation: Any
    stats: dict
    cache_dir: Path
    cache_hit: bool = False


# ---------------------------------------------------------------- fingerprints


_IDENTITY_CACHE: dict[int, tuple[Any, dict]] = {}


def _tokenizer_identity(tokenizer: Any) -> dict:
    cached = _IDENTITY_CACHE.get(id(tokenizer))
    if cached is not None and cached[0] is tokenizer and cached[1]["chat_template"] == tokenizer.chat_template:
        return cached[1]
    vocab = tokenizer.get_vocab()
    h = hashlib.sha256(json.dumps(sorted(vocab.items()), ensure_ascii=False).encode()).hexdigest()
    ident = {
        "class": type(tokenizer).__name__,
        "vocab_sha256": h,
        "chat_template": tokenizer.chat_template
        if isinstance(tokenizer.chat_template, str)
        else json.dumps(tokenizer.chat_template, sort_keys=True),
        "special": {k: str(v) for k, v in sorted(tokenizer.special_tokens_map.items())},
    }
    _IDENTITY_CACHE[id(tokenizer)] = (tokenizer, ident)
    return ident


def split_settings(d: DataConfig) -> dict:
    return {k: getattr(d, k) for k in ("val_size", "test_size", "seed", "sources", "min_steps", "max_chars")}


def eval_fingerprint(cfg: ExperimentConfig, spec: SourceSpec) -> str:
    """The held-out items' key; ``spec`` is the run's source, resolved once by its caller."""
    key = {
        "v": PIPELINE_VERSION,
        "source": source_identity(spec),
        "format": spec.fmt,
        "split": split_settings(cfg.data),
        "prompt": cfg.prompt.model_dump(mode="json"),
        "labels": labels_identity(),  # eval items carry every recipe's labels
    }
    if cfg.grounding.enabled:  # the items' prompts hold retrieved recipes (data/retrieval.py)
        key["grounding"] = cfg.grounding.model_dump(mode="json", exclude={"library"})
    return "eval-" + hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def fingerprint(cfg: ExperimentConfig, tokenizer: Any, spec: SourceSpec) -> str:
    """The prepared dataset's key; ``spec`` is the run's source, resolved once by its caller
    (``sources.resolve_data_source``): resolving reads the file's first record to settle the format."""
    data = cfg.data.model_dump(mode="json")
    # These do not change the output.  tokenizer_backend: tiktoken is used only where it gives
    # tokenizers' ids, checked at the start of every run (data/text_backend.py).
    for k in ("num_proc", "cache_dir", "strict", "source", "tokenizer_backend"):
        data.pop(k, None)
    if not cfg.data.substitution_rate:  # off: the key of every dataset prepared before the option existed
        data.pop("substitution_rate", None)
    key = {
        "v": PIPELINE_VERSION,
        "source": source_identity(spec),
        "format": spec.fmt,
        "data": data,
        "prompt": cfg.prompt.model_dump(mode="json"),
        "tokenizer": _tokenizer_identity(tokenizer),
    }
    if cfg.prompt.constraints:  # the prompts ask for labels: the labelling rules shape the tokens
        key["labels"] = labels_identity()
    if cfg.data.substitution_rate:  # the swaps and the checks a built example passes shape the tokens
        key["substitutions"] = substitutions_identity()
    if cfg.grounding.enabled:  # the prompts hold retrieved recipes (data/retrieval.py); off: the key is unchanged
        key["grounding"] = cfg.grounding.model_dump(mode="json", exclude={"library"})
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- locations and validity


def cache_folder(cfg: ExperimentConfig, key: str) -> Path:
    """``data.cache_dir/<key>``, ``key`` being a ``fingerprint`` or an ``eval_fingerprint``."""
    return Path(cfg.data.cache_dir) / key


def eval_dir(cfg: ExperimentConfig, spec: SourceSpec) -> Path:
    """The held-out items' folder: the same for every tokenizer and token option."""
    return cache_folder(cfg, eval_fingerprint(cfg, spec))


def is_complete(folder: Path) -> bool:
    return (Path(folder) / COMPLETE).exists()


def mark_complete(folder: Path, text: str = "") -> None:
    """Write the ``COMPLETE`` marker: the last file of a cache folder."""
    atomic_write_text(Path(folder) / COMPLETE, text + "\n")


def claim_tmp(tmp: Path) -> None:
    """Tag a temporary output folder with this process, so a later run can tell it is stale."""
    (Path(tmp) / OWNER).write_text(f"{socket.gethostname()} {os.getpid()}\n", encoding="utf-8")


def release_tmp(tmp: Path) -> None:
    """Remove the tag before the folder is renamed into place."""
    (Path(tmp) / OWNER).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_tmp(folder: Path) -> list[Path]:
    """Delete the temporary folders that killed runs left for ``folder`` (their writer, on this
    host, is gone); untagged ones and those of live processes are left alone.  Returns what went."""
    folder = Path(folder)
    gone = []
    host = socket.gethostname()
    for tmp in folder.parent.glob(f".{folder.name}.*.tmp"):
        try:
            who, pid = (tmp / OWNER).read_text(encoding="utf-8").split()
            stale = who == host and not _alive(int(pid))
        except (OSError, ValueError):
            continue
        if stale:
            shutil.rmtree(tmp, ignore_errors=True)
            gone.append(tmp)
    return gone


def load_prepared(folder: Path, cache_hit: bool = False) -> Prepared:
    import datasets

    folder = Path(folder)
    if not is_complete(folder):
        raise DataError(
            f"{folder}: not a complete prepared dataset (no {COMPLETE} marker); run `chefbot data prepare` again"
        )
    stats = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
    train = datasets.Dataset.from_file(str(folder / "train.arrow"))
    val = datasets.Dataset.from_file(str(folder / "validation.arrow"))
    return Prepared(train=train, validation=val, stats=stats, cache_dir=folder, cache_hit=cache_hit)


# ---------------------------------------------------------------- the held-out items


def save_eval_cache(cfg: ExperimentConfig, spec: SourceSpec, prepared: Path) -> None:
    """Copy a prepared folder's held-out items into the eval cache (unless it is there)."""
    target = eval_dir(cfg, spec)
    if is_complete(target):
        return
    with atomic_dir(target) as tmp:
        for name in EVAL_SPLITS:
            (tmp / f"eval_{name}.jsonl").write_bytes((prepared / f"eval_{name}.jsonl").read_bytes())
        mark_complete(tmp)


def write_eval_items(folder: Path, items: dict[str, list[dict]]) -> None:
    """``eval_test.jsonl`` and ``eval_validation.jsonl``: one held-out item per line."""
    for name in EVAL_SPLITS:
        atomic_write_text(
            Path(folder) / f"eval_{name}.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items[name])
        )


def read_eval_items(folder: Path, split: str) -> list[dict]:
    lines = (Path(folder) / f"eval_{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines if x.strip()]
