"""``--push``: adapter and merged model to the Hugging Face Hub, with a model card.

The hub is checked before training starts (so an offline machine fails in a second,
not after an hour of training) and again right before the upload.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from chefbot.config import to_yaml
from chefbot.errors import ChefbotError


def _offline() -> bool:
    return any(
        os.environ.get(k, "0") not in ("0", "", "false", "False") for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def check_hub_access(repo_id: str | None) -> None:
    """Fail fast with one line when pushing cannot work (no repo id, offline, no token)."""
    if not repo_id:
        raise ChefbotError(
            "--push needs a repo id: set train.push_to_hub=<user>/<name> in the config or as an override"
        )
    if _offline():
        raise ChefbotError(
            f"--push to {repo_id}: the Hugging Face Hub is switched off here (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE=1); "
            "unset it on a machine with network and a token (huggingface-cli login), or drop --push"
        )
    from huggingface_hub import HfApi

    try:
        HfApi().whoami()
    except Exception as e:  # network down, bad or missing token
        raise ChefbotError(
            f"--push to {repo_id}: cannot reach the Hub or no valid token ({type(e).__name__}); run `huggingface-cli login` or drop --push"
        ) from None


def model_card(cfg: Any, train_summary: dict, eval_results: dict | None, merged: bool) -> str:
    """A README.md with the training setup and the evaluation results (with their n and method)."""
    base = cfg.model.name_or_path
    lines = [
        "---",
        "library_name: peft" if not merged else "library_name: transformers",
        f"base_model: {base}" if "/" in base and not base.startswith(("pkg:", "/", ".")) else "",
        "tags: [chefbot, recipes, lora, qlora]",
        "---",
        f"# {cfg.name} ({'merged bf16 model' if merged else 'LoRA adapter'})",
        "",
        f"Fine-tuned from `{base}` with chefbot to write recipes (`# Title`, `## Ingredients`, numbered `## Directions`) "
        "from a list of ingredients.",
        "",
        "## Training",
        f"- steps: {train_summary.get('steps')}, target tokens: {train_summary.get('target_tokens')}",
        f"- final train loss: {train_summary['train_loss'][-1]['loss']:.4f}" if train_summary.get("train_loss") else "",
        "- eval loss (validation, target tokens only): "
        + ", ".join(f"step {e['step']}: {e['loss']:.4f}" for e in train_summary.get("eval_loss", [])),
        "",
        "## Evaluation",
    ]
    if eval_results:
        lines += ["```json", json.dumps(eval_results, indent=2, default=str)[:20000], "```"]
    else:
        lines += ["No evaluation results were available when this was pushed (run `chefbot evaluate`)."]
    lines += ["", "## Config", "```yaml", to_yaml(cfg), "```", ""]
    return "\n".join(x for x in lines if x is not None)


def push(
    cfg: Any, repo_id: str, adapter_dir: Path, merged_dir: Path | None, train_summary: dict, eval_results: dict | None
) -> list[str]:
    """Upload the adapter to ``repo_id`` and the merged model to ``repo_id``-merged; returns URLs."""
    check_hub_access(repo_id)
    from huggingface_hub import HfApi

    api = HfApi()
    urls = []
    for folder, rid, merged in ((adapter_dir, repo_id, False), (merged_dir, f"{repo_id}-merged", True)):
        if folder is None:
            continue
        (Path(folder) / "README.md").write_text(model_card(cfg, train_summary, eval_results, merged), encoding="utf-8")
        api.create_repo(rid, exist_ok=True, private=True)
        urls.append(str(api.upload_folder(repo_id=rid, folder_path=str(folder), commit_message="chefbot upload")))
    return urls
