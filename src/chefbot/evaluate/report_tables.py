"""The report's tables: one ``Table`` per section (markdown and HTML), and the number formats they share."""

from __future__ import annotations

import html

from chefbot.evaluate.rouge import ROUGE_LABELS
from chefbot.evaluate.score import compare_results
from chefbot.evaluate.stats import wilson_interval

CHECK_LABELS = {
    "well_formed": "well formed (title, ingredients, numbered steps)",
    "has_directions": "has directions",
    "numbered_directions": "numbered directions",
    "ner_used": "requested ingredients used in directions",
    "introduced": "ingredients introduced (count)",
    "introduced_any": "introduces an unrequested ingredient",
    "oven_temp_ok": "oven temperatures plausible and consistent",
    "oven_temp_consistent": "°F/°C pairs consistent",
    "repeated_4gram_rate": "repeated 4-gram rate",
    "duplicate_line_rate": "duplicate line rate",
    "degenerate": "degenerate (looping)",
    "stopped": "stopped by itself",
}


def fmt_interval(a: dict | None, digits: int = 3) -> str:
    """``mean [low, high]`` of an interval dict (``stats.bootstrap_mean``/``wilson_interval``), or "–"."""
    if not a or a.get("mean") is None and a.get("value") is None:
        return "–"
    v = a.get("mean", a.get("value"))
    if a.get("low") is None:
        return f"{v:.{digits}f}"
    return f"{v:.{digits}f} [{a['low']:.{digits}f}, {a['high']:.{digits}f}]"


def fmt_relative(d: dict) -> str:
    """A paired comparison's relative change with its interval, in percent."""
    if d.get("relative") is None:
        return "–"
    return f"{100 * d['relative']:+.0f}% [{100 * d['relative_low']:+.0f}%, {100 * d['relative_high']:+.0f}%]"


class Table:
    def __init__(self, title: str, header: list[str], note: str = ""):
        self.title, self.header, self.note, self.rows = title, header, note, []

    def add(self, *cells) -> None:
        self.rows.append([str(c) for c in cells])

    def md(self) -> str:
        out = [f"### {self.title}", ""]
        if self.note:
            out += [self.note, ""]
        out.append("| " + " | ".join(self.header) + " |")
        out.append("|" + "|".join("---" for _ in self.header) + "|")
        out += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(out) + "\n"

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self.rows)
        note = f"<p class='note'>{html.escape(self.note)}</p>" if self.note else ""
        return f"<h3>{html.escape(self.title)}</h3>{note}<table><tr>{head}</tr>{body}</table>"


def comparisons(results: dict) -> list[dict]:
    if results.get("comparisons") is not None:
        return results["comparisons"]
    base = results.get("baseline")
    models = results["models"]
    if not base or len(models) < 2:
        return []

    a = next((m for m in models if m["model"] == base), None)
    if a is None:
        return []
    return [compare_results(a, b) for b in models if b is not a and "per_item" in b and "per_item" in a]


def judge_win_rate(judge: dict) -> dict:
    """Win rate counting a tie as half a win, with a Wilson interval."""
    n = judge.get("n") or (judge["wins"] + judge["ties"] + judge["losses"])
    return wilson_interval(judge["wins"] + 0.5 * judge["ties"], n)


def training_table(tr: dict) -> Table:
    """The training run behind the tuned model, as read back from its own log (``train.history``)."""
    t = Table("Training", ["what", "value", "how measured"], tr.get("note", ""))
    ev = tr.get("eval_loss") or []
    if ev:
        t.add(
            f"validation loss, step {ev[0]['step']} → {ev[-1]['step']}",
            f"{ev[0]['loss']:.3f} → {ev[-1]['loss']:.3f}",
            "mean cross-entropy per target token (assistant answer + end of turn) on the validation batches; "
            "step 0 is the base model (LoRA B = 0)",
        )
    t.add("optimizer steps", tr["steps"], f"from {tr.get('log', 'the training log')}")
    t.add("target tokens", f"{tr['target_tokens']:,}", "tokens with a label (the loss is computed on these only)")
    rate = tr.get("target_tokens_per_s")
    t.add(
        "target tokens / s",
        f"{rate:.0f}" if rate else "–",
        "target tokens / time in forward + backward + optimizer (validation and checkpoints excluded)",
    )
    if tr.get("train_seconds") is not None:
        t.add("training seconds", f"{tr['train_seconds']:.0f}", "sum of optimizer-step times over the whole run")
    if tr.get("peak_mem_mb") is not None:
        t.add(
            "peak memory",
            f"{tr['peak_mem_mb']:.0f} MB",
            "largest peak logged by training (GPU: max allocated; CPU: peak RSS)",
        )
    for k, v in (tr.get("extra") or {}).items():
        t.add(k, v, "")
    return t


def build_tables(results: dict) -> list[Table]:
    models = results["models"]
    tables: list[Table] = []
    if results.get("training"):
        tables.append(training_table(results["training"]))
    types = list(models[0]["rouge"]["whole"].keys()) if models else []
    for section, title in (
        ("whole", "ROUGE per model (whole text)"),
        ("directions", "ROUGE per model (directions only)"),
    ):
        if not any(section in m["rouge"] for m in models):
            continue
        m0 = models[0]["method"]
        t = Table(
            title,
            ["model", "n", *[ROUGE_LABELS.get(x, x) for x in types]],
            f"Mean F-measure over items [95% {m0.get('interval', 'bootstrap')}]; stemmer {'on' if m0.get('stemmer') else 'off'}.",
        )
        for m in models:
            if section in m["rouge"]:
                t.add(m["model"], m["n"], *[fmt_interval(m["rouge"][section].get(x)) for x in types])
        tables.append(t)
    comps = comparisons(results)
    if comps:
        metrics = list(comps[0]["metrics"].keys())
        t = Table(
            f"Relative improvement over {comps[0]['a']}",
            ["model", "n", *metrics],
            "Paired bootstrap over the same items: mean difference / baseline mean, 95% interval; p = two-sided bootstrap share.",
        )
        for c in comps:
            t.add(
                c["b"],
                next(iter(c["metrics"].values()))["n"],
                *[f"{fmt_relative(d)} (p={d['p_value']:.3f})" for d in c["metrics"].values()],
            )
        tables.append(t)
    bs = [m for m in models if m.get("bertscore")]
    if bs:
        b0 = bs[0]["bertscore"]
        t = Table(
            "BERTScore",
            ["model", "n", "encoder (layer)", "rescaled", "precision", "recall", "F1"],
            b0.get("note", ""),
        )
        for m in bs:
            b = m["bertscore"]
            t.add(
                m["model"],
                m["n"],
                f"{b['model']} ({b['num_layers']})",
                "yes" if b["rescaled"] else "no",
                fmt_interval(b["precision"]),
                fmt_interval(b["recall"]),
                fmt_interval(b["f1"]),
            )
        tables.append(t)
    ck = [m for m in models if m.get("checks")]
    if ck:
        names = [c for c in CHECK_LABELS if c in ck[0]["checks"]]
        t = Table(
            "Recipe checks",
            ["check", *[m["model"] for m in ck]],
            "Share of items [95% Wilson interval] for yes/no checks, mean [95% bootstrap interval] for rates "
            "(n = items where the check applies).",
        )
        for c in names:
            t.add(CHECK_LABELS[c], *[f"{fmt_interval(m['checks'][c], 2)} (n={m['checks'][c]['n']})" for m in ck])
        tables.append(t)
    ks = [m for m in models if m.get("kitchen_sense")]
    if ks:
        tables.append(kitchen_sense_table(ks))
    if results.get("constraints"):
        tables.append(constraint_table(results["constraints"]))
    tables += benchmark_tables(results.get("benchmarks") or {})
    judge = results.get("judge")
    if judge:
        wr = judge.get("win_rate") or judge_win_rate(judge)
        t = Table(
            "Pairwise judge",
            ["A", "B", "judge", "n", "B wins", "ties", "B losses", "B win rate [95% CI]"],
            "Both orders asked for every item to cancel position bias; a tie counts as half a win; Wilson interval.",
        )
        t.add(
            judge["a"],
            judge["b"],
            judge.get("judge_model", "?"),
            judge.get("n", "?"),
            judge["wins"],
            judge["ties"],
            judge["losses"],
            fmt_interval(wr),
        )
        tables.append(t)
    return tables


def kitchen_sense_table(models: list[dict]) -> Table:
    """Kitchen-sense pass rates per model (``score.score_kitchen_sense``): safe, then every check."""
    t = Table(
        "Kitchen sense",
        ["check", "kind", *[m["model"] for m in models]],
        "Share of answers that pass [95% Wilson interval] (passed/n; n = answers where the check applies). "
        "Each answer is read by recipe_format.parse_recipe and judged by cooking/kitchen_sense.py "
        "check_kitchen_sense, the checker of /v1/recipes and `chefbot check`; safe = no safety check failed "
        "(over every answer); is_recipe = directions and named ingredients.",
    )
    for name, row in models[0]["kitchen_sense"].items():
        cells = []
        for m in models:
            r = m["kitchen_sense"].get(name)
            cells.append("–" if not r or not r["n"] else f"{fmt_interval(r, 2)} ({r['passed']}/{r['n']})")
        t.add(name, row["kind"], *cells)
    return t


def constraint_table(cons: dict) -> Table:
    """Constraint satisfaction per kind of request and constraint (``evaluate/constraint_eval.py``)."""
    base, others = cons["baseline"], [m for m in cons["models"] if m != cons["baseline"]]
    n = cons.get("n", {})
    t = Table(
        "Constraint satisfaction",
        [
            "request",
            "constraint",
            "n",
            *cons["models"],
            *[f"{m} − {base} (paired)" for m in others],
            "unknown (" + " / ".join(cons["models"]) + ")",
        ],
        f"Share of requests the checker confirms satisfied [95% Wilson interval] (violated and unknown both "
        f"count against; the last column counts the unknowns: answers that do not tell). Requests: "
        f"{n.get('own labels', 0)} held-out recipes asked for a random subset of their own labels, "
        f"{n.get('counterfactual', 0)} asked for a diet their source recipe breaks. Paired: difference of the "
        f"shares on the same requests [95% Newcombe paired score interval], exact McNemar p.",
    )
    for row in cons["rows"]:
        cells = [
            fmt_interval(row["models"][m], 2) + f" ({row['models'][m]['satisfied']}/{row['n']})" for m in cons["models"]
        ]
        diffs = []
        for m in others:
            d = row["paired"].get(m) or {}
            diffs.append(
                "–"
                if d.get("diff") is None
                else f"{d['diff']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}] (p={d['p_value']:.3f})"
            )
        t.add(
            row["condition"],
            row["constraint"],
            row["n"],
            *cells,
            *diffs,
            " / ".join(str(row["models"][m]["unknown"]) for m in cons["models"]),
        )
    return t


def benchmark_tables(bench: dict) -> list[Table]:
    """MMLU/HellaSwag per model and retention, from ``report_benchmarks``' layout (the report and benchmarks.md)."""
    tables = []
    if bench.get("models"):
        t = Table(
            "Benchmarks (lm-evaluation-harness)",
            ["model", "task", "metric", "n", "value [95% CI]", "stderr"],
            "Interval = value ± 1.96 × the harness's standard error.",
        )
        for model, rows in bench["models"].items():
            for r in rows:
                se = r.get("stderr")
                ci = {
                    "value": r["value"],
                    **({"low": r["value"] - 1.96 * se, "high": r["value"] + 1.96 * se} if se is not None else {}),
                }
                t.add(
                    model,
                    r["task"],
                    r["metric"],
                    r.get("n", "?"),
                    fmt_interval(ci, 4),
                    f"{se:.4f}" if se is not None else "–",
                )
        tables.append(t)
    if bench.get("retention"):
        t = Table(
            "Benchmark retention (tuned / base)",
            ["task", "metric", "base → tuned", "n", "retention [95% CI]", "method"],
        )
        for r in bench["retention"]:
            value = fmt_interval(r, 4) if r.get("value") is not None else "n/a (base is 0)"
            t.add(
                r["task"],
                r["metric"],
                f"{r.get('base_model', 'base')} → {r.get('tuned_model', 'tuned')}",
                r.get("n", r.get("n_base", "?")),
                value,
                r.get("method", ""),
            )
        tables.append(t)
    return tables


def _paired_cell(d: dict) -> str:
    if not d or d.get("diff") is None:
        return "–"
    p = f"p={d['p_value']:.3f}" if d.get("p_value") is not None else ""
    return f"{d['diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] {p}".strip()


def request_set_tables(results: dict) -> list[Table]:
    """Per request set (``evaluate/request_sets.py``): every metric per model, then the paired differences."""
    tables = []
    models = results["models"]
    for name, s in results["sets"].items():
        t = Table(
            f"Request set {name!r}: per model (n = {s['n']} requests)",
            ["metric", "n", *models],
            "0/1 metrics: share [95% Wilson] (passed/n; a constraint's n counts the requests asking it, unknown "
            "answers count against: their number follows 'unknown'); continuous: mean [95% bootstrap].",
        )
        for metric, first in s["metrics"][models[0]].items():
            cells = []
            for m in models:
                a = s["metrics"][m][metric]
                cell = fmt_interval(a, 3)
                if "passed" in a:
                    cell += f" ({a['passed']}/{a['n']}" + (f", unknown {a['unknown']})" if a["unknown"] else ")")
                cells.append(cell)
            t.add(metric, first["n"], *cells)
        tables.append(t)
        if s["paired"]:
            p = Table(
                f"Request set {name!r}: paired differences (B − A on the same requests)",
                ["metric", *[f"{c['b']} − {c['a']}" for c in s["paired"]]],
                "0/1: difference of the shares [95% Newcombe paired score interval], exact McNemar p; continuous: "
                "mean difference [95% paired bootstrap], bootstrap p.",
            )
            for metric in s["metrics"][models[0]]:
                p.add(metric, *[_paired_cell(c["metrics"].get(metric)) for c in s["paired"]])
            tables.append(p)
    return tables
