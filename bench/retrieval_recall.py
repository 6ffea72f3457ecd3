"""Which grounding retrieval finds real recipes: recall@k of BM25 (SQLite FTS5) and all-MiniLM-L6-v2.

Relevance (known-item): a request is a held-out recipe's ingredient names (what the free request set
asks, and what /v1/recipes gets: no title); the one relevant recipe is that source recipe, which is in
the index (the whole deduplicated corpus, as serving searches it).  recall@k = the share of requests
whose source recipe is among the k retrieved (one relevant item per request, so recall@k is the hit
rate), with a Wilson 95% interval.  Two kinds of request:

* ``all names``: every ingredient name of the source;
* ``half the names``: a seeded random half of them (at least 2), as a cook types a few ingredients.

This measures whether a method finds *the* recipe with these ingredients when it exists; training and
evaluation prompts then exclude it and its near-duplicates (``retrieval.exclusion_keys``), so what they
get is the next most similar recipes by the same ranking.  "Same dish" relevance would need dish labels
the corpus does not have.

Requests: the first ``--n`` recipes in split-hash order (the test split of ``data.test_size=n``).
Also timed: index build (BM25: the SQLite file; MiniLM: the embeddings, on top), ms per query, and
the token lengths of grounded prompts of training recipes under the quickstart config (what
``data.max_length`` they need).

    .venv/bin/python bench/retrieval_recall.py                 # n=500 -> docs/results/retrieval_recall.json
    .venv/bin/python bench/retrieval_recall.py --quick         # n=40, bench/out/retrieval_recall_quick.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, median, publish_results, write_json

sys.path.insert(0, str(ROOT / "src"))
from chefbot.config import load_config  # noqa: E402
from chefbot.data.records import from_record  # noqa: E402
from chefbot.data.retrieval import (  # noqa: E402
    CorpusIndex,
    build_index,
    exclusion_keys,
    grounded_messages,
    index_path,
    minilm_vectors,
)
from chefbot.data.sources import resolve_data_source  # noqa: E402
from chefbot.evaluate.stats import wilson_interval  # noqa: E402

KS = (1, 3, 5, 10)


def requests(index: CorpusIndex, n: int, seed: int) -> list[dict]:
    """The n recipes of the held-out order (test first, then validation, then the reserve, then train by
    rowid: the index keeps no u for training rows), with both request kinds."""
    order = "CASE split WHEN 'test' THEN 0 WHEN 'validation' THEN 1 WHEN 'reserve' THEN 2 ELSE 3 END, rowid"
    rows = index.db.execute(f"SELECT rowid, record FROM recipes ORDER BY {order} LIMIT ?", (n,)).fetchall()
    out = []
    for rowid, rec in rows:
        r = from_record(json.loads(rec))
        names = list(dict.fromkeys(r.ner))
        rng = random.Random(f"{seed}:{r.id}")
        half = rng.sample(names, max(2, len(names) // 2)) if len(names) > 2 else names
        out.append({"rowid": rowid, "id": r.id, "all names": ", ".join(names), "half the names": ", ".join(half)})
    return out


def recall(index: CorpusIndex, reqs: list[dict], kind: str) -> dict:
    hits = {k: 0 for k in KS}
    times = []
    for q in reqs:
        t0 = time.perf_counter()
        found = index.search(q[kind], max(KS))
        times.append((time.perf_counter() - t0) * 1000)
        ids = [h.recipe.id for h in found]
        for k in KS:
            hits[k] += q["id"] in ids[:k]
    n = len(reqs)
    return {
        "recall_at_k": {str(k): {"hits": hits[k], **wilson_interval(hits[k], n)} for k in KS},
        "ms_per_query": {"median": round(median(times), 3), "p90": round(float(np.percentile(times, 90)), 3)},
    }


def prompt_lengths(cfg, index: CorpusIndex, n: int, ks=(1, 2, 3)) -> dict:
    """Token counts of grounded prompts (chat template included) and whole examples (prompt + target)."""
    from chefbot.chat import prompt_token_ids
    from chefbot.model import load_tokenizer

    tok = load_tokenizer(cfg.model)
    rows = index.db.execute("SELECT record FROM recipes WHERE split = 'train' ORDER BY rowid LIMIT ?", (n,))

    recipes = [from_record(json.loads(r[0])) for r in rows]
    out = {}
    for k in (0, *ks):
        g = cfg.model_copy(update={"grounding": cfg.grounding.model_copy(update={"enabled": k > 0, "k": max(k, 1)})})
        prompts, whole = [], []
        for r in recipes:
            msgs, _ = grounded_messages(g, index, r.ner, r.title, exclude_keys=exclusion_keys(r.title, r.ner))
            p = len(prompt_token_ids(msgs, tok))
            prompts.append(p)
            whole.append(p + len(tok(r.render(), add_special_tokens=False)["input_ids"]) + 2)
        q = lambda x: {f"p{p}": int(np.percentile(x, p)) for p in (50, 90, 99)}  # noqa: E731
        out[f"k={k}"] = {"prompt_tokens": q(prompts), "example_tokens": q(whole), "n": len(recipes)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI size: 40 requests, 40 prompts for token lengths")
    ap.add_argument("--n", type=int, default=500, help="requests (held-out order)")
    ap.add_argument("--config", default=str(ROOT / "configs" / "quickstart.yaml"))
    ap.add_argument("--methods", default="bm25,minilm")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for MiniLM (1: one query at a time; 2 oversubscribed a shared CPU)",
    )
    args = ap.parse_args(argv)
    n = 40 if args.quick else args.n
    import torch

    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    spec = resolve_data_source(cfg.data.source, cfg.data.format)
    path = index_path(cfg, spec)
    with tempfile.TemporaryDirectory() as tmp:  # the build, timed from nothing (the cached index is searched)
        t0 = time.perf_counter()
        build_index(cfg, spec, Path(tmp) / path.name, progress=False)
        build_s = time.perf_counter() - t0
    if not path.exists():
        build_index(cfg, spec, path)
    results: dict = {
        "quick": args.quick,
        "config": str(Path(args.config).relative_to(ROOT)) if args.config.startswith(str(ROOT)) else args.config,
        "source": spec.describe(),
        "relevance": "known-item: the request's source recipe (in the index); requests are its ingredient names",
        "n_requests": n,
        "torch_threads": args.threads,
        "index": {"recipes": None, "bm25_build_s": round(build_s, 2)},
        "methods": {},
    }
    for method in args.methods.split(","):
        index = CorpusIndex(path, method)
        results["index"]["recipes"] = len(index)
        if method == "minilm":
            vec = index.path.with_suffix(".minilm.npy")
            fresh = not vec.exists()
            t0 = time.perf_counter()
            minilm_vectors(index)
            results["index"]["minilm_embed_s"] = round(time.perf_counter() - t0, 2) if fresh else "cached"
        reqs = requests(index, n, cfg.seed)
        results["methods"][method] = {kind: recall(index, reqs, kind) for kind in ("all names", "half the names")}
        for kind, r in results["methods"][method].items():
            at = r["recall_at_k"]
            print(
                f"{method:7s} {kind:15s} "
                + "  ".join(
                    f"@{k} {at[str(k)]['value']:.3f} [{at[str(k)]['low']:.3f}, {at[str(k)]['high']:.3f}]" for k in KS
                )
                + f"  {r['ms_per_query']['median']} ms/query"
            )
    index = CorpusIndex(path, "bm25")
    results["prompt_lengths"] = prompt_lengths(cfg, index, 40 if args.quick else 300)
    print("prompt lengths:", results["prompt_lengths"])
    out = write_json("retrieval_recall_quick" if args.quick else "retrieval_recall", results)
    if not args.quick:
        print("published:", publish_results("retrieval_recall", out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
