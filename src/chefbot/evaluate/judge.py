"""Head to head: an LLM judge compares two models' recipes for the same request.

Each item is judged twice, with the two recipes in both orders, so a judge that
prefers whichever answer comes first (position bias) cancels out: model B (the
candidate, e.g. the fine-tuned model) wins an item only when it wins on balance over
the two orders (win + win, or win + tie); opposite verdicts count as a tie.  Counts
are B's wins/ties/losses against A, matching the report's "B wins" columns.  Wins, ties and losses are reported with Wilson
95% intervals, and the win rate (tie = half) with a bootstrap interval over items.
The judge is any OpenAI-compatible endpoint (``OpenAIGenerator``: cache, retries,
bounded concurrency), so a rerun costs nothing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from chefbot.config import GenerationConfig
from chefbot.evaluate.predictions import check_same_items, read_predictions
from chefbot.evaluate.stats import bootstrap_mean, wilson_interval
from chefbot.generate import OpenAIGenerator
from chefbot.io import atomic_write_json, atomic_write_text

JUDGE_SYSTEM = (
    "You are an expert chef judging two recipes written for the same request. Judge which recipe better "
    "answers the request: uses the requested ingredients, is complete, correct, safe and clearly written "
    "(a title, an ingredient list with quantities, numbered steps). Ignore length unless it hurts quality. "
    "End your reply with one final line that is exactly VERDICT: A, VERDICT: B or VERDICT: TIE."
)
JUDGE_USER = (
    "Request: {request}\n\n[Recipe A]\n{a}\n[End of recipe A]\n\n[Recipe B]\n{b}\n[End of recipe B]\n\n"
    "Which is better? Final line: VERDICT: A, VERDICT: B or VERDICT: TIE"
)
JUDGE_SETTINGS = GenerationConfig(max_new_tokens=256, do_sample=False, temperature=0.0)

VERDICTS = ("A", "B", "TIE")
_FINAL_LINE = re.compile(r"^[*_`\s]*VERDICT[*_`\s]*:[*_`\s]*(A|B|TIE)[*_`.\s]*$", re.I)
_BARE = re.compile(r"^[*_`\s]*(A|B|TIE)[*_`.\s]*$", re.I)


def parse_verdict(text: str) -> str | None:
    """ "A", "B" or "TIE" from a reply in one of the accepted forms, else None (unparsable).

    Accepted: a last line ``VERDICT: X``, a reply that is only ``X`` (markdown emphasis and a
    full stop allowed), or JSON ``{"verdict": "X"}``.  Nothing is guessed from prose: "As a
    chef, I prefer B" is unparsable, not a vote (a loose search once read it as A).
    """
    text = (text or "").strip()
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and str(obj.get("verdict", "")).upper() in VERDICTS:
        return str(obj["verdict"]).upper()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return None
    m = _FINAL_LINE.match(lines[-1]) or (_BARE.match(text) if len(lines) == 1 else None)
    return m.group(1).upper() if m else None


def judge_messages(request: str, a: str, b: str) -> list[dict]:
    return [
        {"role": "system", "content": JUDGE_SYSTEM},
        {
            "role": "user",
            "content": JUDGE_USER.format(request=request, a=a.strip() or "(empty)", b=b.strip() or "(empty)"),
        },
    ]


def _request_text(row: dict) -> str:
    inputs = row.get("inputs") or {}
    msgs = inputs.get("messages")
    if msgs:
        return "\n".join(m["content"] for m in msgs if m.get("role") == "user")
    ner = inputs.get("ner")
    return "Include ingredients: " + (", ".join(ner) if isinstance(ner, list) else str(ner or ""))


def item_outcome(a_first: str | None, b_first: str | None) -> float | None:
    """Model B's result on one item from the two orders: 1 win, 0.5 tie, 0 loss.

    ``a_first`` is the verdict with model A's recipe shown first (as "A"); ``b_first``
    the verdict with model B's recipe shown first.
    """
    if a_first is None or b_first is None:
        return None
    score = {"B": 1, "TIE": 0, "A": -1}[a_first] + {"A": 1, "TIE": 0, "B": -1}[b_first]
    return 1.0 if score > 0 else 0.0 if score < 0 else 0.5


def judge_pairs(
    rows_a: list[dict],
    rows_b: list[dict],
    judge: Any,
    name_a: str = "a",
    name_b: str = "b",
    bootstrap_samples: int = 1000,
    seed: int = 0,
) -> dict:
    """Judge two predictions lists over the same items (same ids, same order)."""
    check_same_items(rows_a, rows_b, name_a, name_b)
    forward = [judge_messages(_request_text(ra), ra["prediction"], rb["prediction"]) for ra, rb in zip(rows_a, rows_b)]
    backward = [judge_messages(_request_text(ra), rb["prediction"], ra["prediction"]) for ra, rb in zip(rows_a, rows_b)]
    replies = judge.generate(forward + backward)
    n = len(rows_a)
    per_item = []
    for k, row in enumerate(rows_a):
        v1, v2 = parse_verdict(replies[k].text), parse_verdict(replies[n + k].text)
        per_item.append(
            {"id": row["id"], "verdict_a_first": v1, "verdict_b_first": v2, "outcome": item_outcome(v1, v2)}
        )
    unparsable = sum(v is None for p in per_item for v in (p["verdict_a_first"], p["verdict_b_first"]))
    valid = [p["outcome"] for p in per_item if p["outcome"] is not None]
    m = len(valid)
    wins, ties, losses = sum(v == 1.0 for v in valid), sum(v == 0.5 for v in valid), sum(v == 0.0 for v in valid)
    # Position consistency: how often the judge picked the same model in both orders.
    decided = [p for p in per_item if p["verdict_a_first"] in ("A", "B") and p["verdict_b_first"] in ("A", "B")]
    consistent = sum((p["verdict_a_first"] == "B") == (p["verdict_b_first"] == "A") for p in decided)
    first_pos = sum(v in ("A",) for p in per_item for v in (p["verdict_a_first"], p["verdict_b_first"]))
    return {
        "a": name_a,
        "b": name_b,
        "n": n,
        "n_judged": m,
        "invalid": n - m,  # items without a verdict in both orders
        "unparsable": unparsable,  # replies (of 2n) in none of the accepted verdict forms
        "wins": wins,  # B's
        "ties": ties,
        "losses": losses,
        "shares": {
            "wins": wilson_interval(wins, m),
            "ties": wilson_interval(ties, m),
            "losses": wilson_interval(losses, m),
        },
        "win_rate": bootstrap_mean(valid, samples=bootstrap_samples, seed=seed),  # B's wins + half ties
        "position_consistency": (consistent / len(decided)) if decided else None,
        "first_position_share": first_pos / (2 * n) if n else None,
        "method": "each item judged in both orders; win = wins on balance over the two orders, opposite "
        "verdicts = tie; Wilson 95% intervals for shares; win rate (tie = 1/2) with a percentile "
        f"bootstrap over items ({bootstrap_samples} resamples)",
        "judge_model": getattr(judge, "model", str(judge)),
        "judge": judge.describe(JUDGE_SETTINGS.model_dump()) if hasattr(judge, "describe") else str(judge),
        "per_item": per_item,
    }


def judge_files(
    pred_a: str | Path,
    pred_b: str | Path,
    endpoint: str | None,
    model: str,
    out_dir: str | Path,
    concurrency: int = 4,
    cache_dir: str | Path = ".cache/chefbot/judge",
    client: Any = None,
    limit: int | None = None,
) -> dict:

    rows_a, rows_b = read_predictions(pred_a), read_predictions(pred_b)
    if limit:
        rows_a, rows_b = rows_a[:limit], rows_b[:limit]
    name_a = rows_a[0]["model"] if rows_a else Path(pred_a).stem
    name_b = rows_b[0]["model"] if rows_b else Path(pred_b).stem
    judge = OpenAIGenerator(
        base_url=endpoint,
        model=model,
        gen_cfg=JUDGE_SETTINGS,
        concurrency=concurrency,
        cache_dir=cache_dir,
        client=client,
    )
    res = judge_pairs(rows_a, rows_b, judge, name_a, name_b)
    out = Path(out_dir)
    atomic_write_json(out / "judge.json", res)
    atomic_write_text(out / "judge.md", judge_markdown(res))
    return res


def judge_markdown(r: dict) -> str:
    def share(k: str) -> str:
        x = r["shares"][k]
        return (
            f"{r[k]} ({x['value']:.1%}, 95% CI {x['low']:.1%}–{x['high']:.1%})" if x["value"] is not None else str(r[k])
        )

    wr = r["win_rate"]
    wr_txt = f"{wr['mean']:.3f} [{wr['low']:.3f}, {wr['high']:.3f}]" if wr["mean"] is not None else "n/a"
    pc = r["position_consistency"]
    return (
        f"# Pairwise judge: {r['a']} vs {r['b']}\n\n"
        f"Judge: {r['judge_model']}; n = {r['n']} items "
        f"({r['n_judged']} with a verdict in both orders, {r['invalid']} without).\n\n"
        f"| {r['b']} against {r['a']} | items |\n|---|---|\n"
        f"| wins | {share('wins')} |\n| ties | {share('ties')} |\n| losses | {share('losses')} |\n"
        f"| unparsable replies | {r.get('unparsable', 0)} of {2 * r['n']} (their items are left out above) |\n\n"
        f"Win rate of {r['b']} (tie = 1/2): {wr_txt}, n = {wr['n']}.\n\n"
        f"Position consistency (same winner in both orders): {pc if pc is None else f'{pc:.1%}'}; "
        f"share of verdicts for the first-shown recipe: {r['first_position_share']:.1%}.\n\n"
        f"Method: {r['method']}.\n"
    )
