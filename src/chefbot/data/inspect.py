"""Human-readable views of prepared data: a coloured token/label dump and the statistics.

The dump is how a person checks the assistant-only mask (pitfall: masks that silently
cover nothing): trained tokens are green, untrained (-100) tokens dim, and each
example of a packed row starts on a new line with its position ids restarting.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from chefbot.cooking.labels import RecipeLabels
from chefbot.data.cache import EVAL_SPLITS, read_eval_items
from chefbot.data.constraint_prompts import LabelStats
from chefbot.data.tokenize import IGNORE_INDEX


def token_dump(input_ids: list[int], labels: list[int], position_ids: list[int], tokenizer: Any) -> Text:
    """Rich text: trained tokens bold green, untrained dim; a rule between packed examples."""
    out = Text()
    for i, (tok, lab, pos) in enumerate(zip(input_ids, labels, position_ids)):
        if pos == 0:
            if i:
                out.append("\n")
            out.append(f"── example at token {i} ──\n", style="bold cyan")
        piece = tokenizer.decode([tok])
        out.append(piece, style="bold green" if lab != IGNORE_INDEX else "dim")
    return out


def plain_dump(input_ids: list[int], labels: list[int], tokenizer: Any) -> str:
    """Text with trained spans wrapped in [[...]] (for logs and tests, no colours)."""
    parts: list[str] = []
    trained = False
    for tok, lab in zip(input_ids, labels):
        now = lab != IGNORE_INDEX
        if now != trained:
            parts.append("[[" if now else "]]")
            trained = now
        parts.append(tokenizer.decode([tok]))
    if trained:
        parts.append("]]")
    return "".join(parts)


def backend_line(tb: dict) -> str:
    """stats.json's ``tokenizer_backend`` in one line: what tokenized the texts, how it was checked."""
    line = tb["used"]
    if tb["used"].startswith("tiktoken"):
        line += f" (ids checked against tokenizers on {tb['checked_texts']:,} texts of the data + {tb['adversarial_texts']} adversarial"
        texts = tb.get("texts") or {}
        if texts.get("tokenizers"):
            line += f"; {texts['tokenizers']:,} of {sum(texts.values()):,} texts sent to tokenizers"
        line += ")"
    if tb.get("reason") and tb["requested"] != "tokenizers":
        line += f"; not tiktoken: {tb['reason']}"
    if tb.get("fallback_mid_run"):
        line += f"; {tb['fallback_mid_run']}"
    return line


def held_out_label_stats(cache_dir: Any) -> dict:
    """Label statistics of the held-out items (they always carry labels), for a dataset
    prepared without ``prompt.constraints`` (its training recipes were not labelled)."""
    stats = LabelStats()
    for split in EVAL_SPLITS:
        for item in read_eval_items(cache_dir, split):
            if item.get("labels"):
                lab = item["labels"]
                stats.add(RecipeLabels(**{**lab, "diets": tuple(lab["diets"])}))
    return stats.to_dict()


def _pct(n: int, total: int) -> str:
    return f"{n:,} ({n / max(total, 1):.1%})"


def label_rows(t: Table, lab: dict, where: str) -> None:
    """Coverage and class balance of the labels (``constraint_prompts.LabelStats.to_dict``)."""
    n = lab["recipes"]
    t.add_row(f"labels ({where})", f"{n:,} recipes")
    t.add_row("  diets", ", ".join(f"{d} {v['share']:.1%}" for d, v in lab["diets"].items()))
    diff = lab["difficulty"]
    timed_n = lab.get("time_labelled", n)  # time and difficulty: only where a prompt asks (constraint_prompts)
    if timed_n != n:
        t.add_row("  time and difficulty computed for", f"{_pct(timed_n, n)} (the recipes whose prompt asks)")
    t.add_row(
        "  difficulty easy / medium / hard / unlabelled",
        f"{diff['easy']:,} / {diff['medium']:,} / {diff['hard']:,} / {diff['unlabelled']:,}",
    )
    top = ", ".join(f"{k} {v:,}" for k, v in lab["cuisine_top"].items()) or "none"
    t.add_row("  cuisine labelled", f"{_pct(lab['cuisine_labelled'], n)}; top: {top}")
    t.add_row("  servings labelled", _pct(lab["servings_labelled"], n))
    for key, name in (("total_minutes", "total"), ("hands_on_minutes", "hands-on")):
        q = lab[key]
        if q:
            t.add_row(
                f"  {name} minutes p25 / p50 / p75",
                f"{q['p25']:.0f} / {q['p50']:.0f} / {q['p75']:.0f} (timed: {_pct(lab['timed'], timed_n)})",
            )
    if lab["prompts_with_constraints"]:
        asked = ", ".join(f"{k} {v:,}" for k, v in lab["asked"].items())
        t.add_row("  training prompts asking for labels", f"{_pct(lab['prompts_with_constraints'], n)}; {asked}")


def substitution_rows(t: Table, st: dict) -> None:
    """The extra substitution examples (``constraint_prompts.SubstitutionStats.to_dict``)."""
    t.add_row(
        f"substitution examples (data.substitution_rate {st['rate']:g})",
        f"{_pct(st['built'], st['drawn'])} of {st['drawn']:,} drawn training recipes added",
    )
    for reason, n in st["rejected"].items():
        t.add_row(f"  not used: {reason}", f"{n:,}")
    if st["no_target"]:
        t.add_row("  not used: no answer token fits data.max_length", f"{st['no_target']:,}")
    per = ", ".join(f"{d} {v.get('built', 0)}/{v['drawn']}" for d, v in st["by_diet"].items())
    t.add_row("  built / drawn per diet", per)


def print_examples(
    prepared: Any, tokenizer: Any, n: int = 2, split: str = "train", console: Console | None = None
) -> None:
    console = console or Console()
    ds = prepared.train if split == "train" else prepared.validation
    console.print(
        f"[bold]{split}[/]: {len(ds):,} rows; [bold green]green[/] = trained (label = token), [dim]dim[/] = untrained (-100)"
    )
    for i in range(min(n, len(ds))):
        row = ds[i]
        console.rule(f"{split} row {i} ({len(row['input_ids'])} tokens)")
        console.print(token_dump(row["input_ids"], row["labels"], row["position_ids"], tokenizer))


def print_summary(prepared: Any, console: Console | None = None) -> None:
    console = console or Console()
    s = prepared.stats
    if not prepared.cache_hit:  # prepare() already printed "cache hit: <dir>"
        console.print(f"[bold]prepared[/]: {prepared.cache_dir}")
    t = Table(title=f"data: {s['source']} ({s['format']})", show_header=False)
    sp = s["split"]
    t.add_row("rows read", f"{s['rows_read']:,}")
    t.add_row("valid / kept after dedup", f"{s['valid']:,} / {s['kept_after_dedup']:,}")
    t.add_row("bad rows skipped", f"{s['bad_rows']:,}")
    for reason, count in s["dropped"].items():
        t.add_row(f"  dropped: {reason}", f"{count:,}")
    nt = s.get("no_target_by_split")
    if nt and any(nt.values()):
        t.add_row(
            "no target after truncation train / validation / test",
            f"{nt['train']:,} / {nt['validation']:,} / {nt['test']:,}",
        )
    t.add_row("split train / validation / test", f"{sp['train_recipes']:,} / {sp['validation']:,} / {sp['test']:,}")
    t.add_row("held-out reserve (never trained)", f"{sp['held_out_reserve']:,}")
    if sp.get("train_left_out_by_max_train"):
        t.add_row("left out by data.max_train", f"{sp['train_left_out_by_max_train']:,}")
    pe = s.get("tokens_per_example") or {}
    if pe:
        t.add_row(
            "tokens per example p50/p90/p99/max", f"{pe['p50']:.0f} / {pe['p90']:.0f} / {pe['p99']:.0f} / {pe['max']}"
        )
    t.add_row("truncated (recipe tail cut)", f"{s['truncated_examples']:,}")
    t.add_row(
        f"train rows ({'packed' if s['packing'] else 'unpacked'}, max_length {s['max_length']})", f"{s['train_rows']:,}"
    )
    t.add_row("train tokens / target tokens", f"{s['train_tokens']:,} / {s['train_target_tokens']:,}")
    if s["packing"]:
        t.add_row("packing efficiency", f"{s['packing_efficiency']:.1%}")
    tb = s.get("tokenizer_backend")
    if tb:
        t.add_row("tokenizer backend", backend_line(tb))
    if s.get("labels"):
        label_rows(t, s["labels"], "kept recipes")
    elif (prepared.cache_dir / "eval_test.jsonl").exists():
        label_rows(t, held_out_label_stats(prepared.cache_dir), "held-out recipes only: prompt.constraints is off")
    if s.get("substitutions"):
        substitution_rows(t, s["substitutions"])
    t.add_row("time", f"{s['seconds']:.1f} s ({s['rows_per_s']:,.0f} rows/s)")
    console.print(t)
    console.print(f"counts saved in {prepared.cache_dir / 'stats.json'}")
