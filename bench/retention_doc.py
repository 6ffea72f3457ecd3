"""Retention (HellaSwag, ARC-Easy, PIQA, MMLU: the tasks run; base vs base + adapter) from finished runs into a
committed results file and its section of docs/EVALUATION.md.

It measures nothing itself (so ``bench/run_all.py`` does not run it): ``chefbot eval
benchmarks`` does (hours on a CPU, resumable), and this script publishes what those runs wrote,
with a dtype check beside them.  ``COMMANDS`` below is how the quickstart's were made.

``--full`` and ``--check`` are ``--out`` folders (``benchmarks.json``, and ``run.log`` when the
run's output was saved there: its progress bars give the time per model).  Writes
docs/results/retention_<name>.json (no per-item lists) and rewrites the
``retention-<name>`` section of docs/EVALUATION.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
from common import ROOT, machine, md_table, replace_section

from chefbot.evaluate.benchmark_tasks import METRICS
from chefbot.model import adapter_identity

EVALUATION_MD = ROOT / "docs" / "EVALUATION.md"
COMMANDS = """\
# both models, every item (14,042 MMLU questions + 10,042 HellaSwag items each); output saved as run.log
chefbot eval benchmarks configs/quickstart.yaml engine.dtype=bf16 --adapter runs/quickstart-20261125-182346/adapter \\
    --source local --out runs/quickstart/benchmarks-bf16
# the dtype check: the same models in fp32 on the first 20 items of every MMLU subject and of HellaSwag
chefbot eval benchmarks configs/quickstart.yaml --adapter runs/quickstart-20261125-182346/adapter --source local --limit 20 \\
    --out runs/quickstart/benchmarks
python bench/retention_doc.py --full runs/quickstart/benchmarks-bf16 --check runs/quickstart/benchmarks"""


def _blocks(entry: dict) -> list[tuple[str, int]]:
    """(subtask, n) in the order the per-item lists hold them (one block for a single task)."""
    subs = entry.get("subtasks")
    return [(name, int(s["n"])) for name, s in subs.items()] if subs else [("", int(entry["n"]))]


def first_items(entry: dict, per_block: int) -> np.ndarray:
    """Indices of the first ``per_block`` items of every subtask in a full run's per-item lists:
    the items lm-eval's ``--limit per_block`` evaluates."""
    idx, start = [], 0
    for _, n in _blocks(entry):
        idx.extend(range(start, start + min(n, per_block)))
        start += n
    return np.asarray(idx, dtype=int)


def dtype_agreement(full: dict, check: dict, per_block: int) -> dict:
    """Per task: the check run (another dtype, ``--limit per_block``) against the same items of the
    full run: 0/1 agreement per metric, accuracies in both, and the largest log-likelihood gap."""
    out = {}
    for task, metrics in METRICS.items():
        if task not in full or task not in check:
            continue
        f, c = full[task], check[task]
        if task == "mmlu" and [s for s, _ in _blocks(c)] != [s for s, _ in _blocks(f)][: len(_blocks(c))]:
            raise SystemExit(f"{task}: the check run's subjects are not the full run's")
        idx = first_items(f, per_block)
        if len(idx) != c["n"]:
            raise SystemExit(
                f"{task}: the check run has {c['n']} items, the full run's first {per_block} per subject are {len(idx)}"
            )
        row = {"n": int(c["n"])}
        for m in metrics:
            a, b = np.asarray(f["items"][m])[idx], np.asarray(c["items"][m])
            row[m] = {"agree": int((a == b).sum()), "full_dtype": float(a.mean()), "check_dtype": float(b.mean())}
        lf = [f["loglikelihoods"][i] for i in idx]
        gaps = [abs(x - y) for p, q in zip(lf, c["loglikelihoods"]) for x, y in zip(p, q)]
        row["max_abs_loglikelihood_diff"] = float(max(gaps))
        row["median_abs_loglikelihood_diff"] = float(np.median(gaps))
        out[task] = row
    return out


_BAR = re.compile(r"Running loglikelihood requests: 100%\|[^|]*\| (\d+)/(\d+) \[([\d:]+)<")


_WALL = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)")


def _seconds(clock: str) -> float:
    return sum(float(p) * 60**i for i, p in enumerate(reversed(clock.split(":"))))


def request_times(log: Path) -> dict:
    """From a run's saved output (``/usr/bin/time -v`` around each start; a killed run started
    again appends to it): every finished 'Running loglikelihood requests' bar (one per model and
    start; a resumed start only counts the requests its cache lacked) and the wall time of
    all starts together."""
    if not log.exists():
        return {"bars": [], "starts": 0, "wall_s": None}
    text = log.read_text(errors="replace").replace("\r", "\n")
    # tqdm shows 99.5% as "100%": a bar is finished only when its count has reached its total
    bars = [
        {"requests": int(m.group(2)), "seconds": round(_seconds(m.group(3)))}
        for m in _BAR.finditer(text)
        if m.group(1) == m.group(2)
    ]
    walls = [_seconds(m.group(1)) for m in _WALL.finditer(text)]
    return {"bars": bars, "starts": len(walls), "wall_s": round(sum(walls)) if walls else None}


def summarize(full: dict, check: dict | None, per_block: int, times: dict, command: str) -> dict:
    runs = {
        label: {
            t: {k: v for k, v in e.items() if k not in ("items", "loglikelihoods", "subtasks")}
            for t, e in run.items()
            if t in METRICS
        }
        for label, run in full["runs"].items()
    }
    settings = full["runs"]["base"]["settings"]
    return {
        "command": command,
        "machine": machine(),
        "model": full["model"],
        "adapter": full["adapter"],
        # runs before benchmarks.json recorded it: the folder's weights, if it is still there
        "adapter_identity": full.get("adapter_identity")
        or (adapter_identity(full["adapter"]) if full.get("adapter") and Path(full["adapter"]).is_dir() else None),
        "dtype": {label: run["settings"].get("dtype") for label, run in full["runs"].items()},
        "settings": {
            k: settings.get(k)
            for k in ("harness", "tasks", "num_fewshot", "limit_per_task", "data_sources", "batch_size")
        },
        "runs": runs,
        "retention": full["retention"],
        "request_times": times,
        "dtype_check": None
        if check is None
        else {
            "limit_per_task": per_block,
            "dtype": {label: run["settings"].get("dtype") for label, run in check["runs"].items()},
            "per_model": {
                label: dtype_agreement(full["runs"][label], check["runs"][label], per_block)
                for label in full["runs"]
                if label in check["runs"]
            },
        },
    }


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def section(s: dict, name: str) -> str:
    rows = []
    for t, metrics in METRICS.items():
        for m in metrics:
            b, u, r = s["runs"]["base"].get(t), s["runs"]["tuned"].get(t), (s["retention"] or {}).get(t, {}).get(m)
            if not (b and u and r):
                continue
            rows.append(
                [
                    t,
                    m,
                    b["n"],
                    f"{b[m]:.4f} ± {b[m + '_stderr']:.4f}",
                    f"{u[m]:.4f} ± {u[m + '_stderr']:.4f}",
                    f"**{r['value']:.3f}** [{r['low']:.3f}, {r['high']:.3f}]",
                ]
            )
    complete = all(e.get("complete") for run in s["runs"].values() for e in run.values())
    methods = sorted(
        {r["method"] for task in (s["retention"] or {}).values() for r in task.values() if r.get("method")}
    )
    lines = [
        f"### Full-size retention: {name}",
        "",
        f"Base `{s['model']}` vs base + adapter `{s['adapter']}`"
        + (f" (weights sha256 `{s['adapter_identity']['sha256']}`)" if s.get("adapter_identity") else "")
        + f"; {s['settings']['harness']}, standard tasks, "
        f"{s['settings']['num_fewshot']} shots, dtype {s['dtype']['base']} for both"
        + (" (the dtype check below compares it with another dtype on a subset)" if s.get("dtype_check") else "")
        + ", "
        f"{'every item of both benchmarks' if complete else 'NOT every item: see n'}. Accuracy ± the harness's "
        f"standard error; retention = tuned / base, 95% interval: {'; '.join(methods) or 'none computed'}.",
        "",
        md_table(["benchmark", "metric", "n", "base", "base + adapter", "retention [95%]"], rows),
        "",
    ]
    t = s["request_times"]
    if t["wall_s"]:
        machine = s.get("machine") or {}
        lines += [
            f"Wall time: {t['wall_s'] / 60:.0f} min for both models, over {t['starts']} start(s) of the command "
            "(a start resumes from lm-eval's response cache) on "
            f"{machine.get('cpu', 'the CPU')} ({machine.get('cpu_cores', '?')} cores, torch {machine.get('torch', '?')}); "
            "each model's finished progress bar, in order (a resumed start counts only the requests its cache "
            "lacked): "
            + ", ".join(
                f"{b['requests']:,} requests in {b['seconds'] / 60:.0f} min ({b['requests'] / max(b['seconds'], 1):.1f}/s)"
                for b in t["bars"]
            )
            + ".",
            "",
        ]
    chk = s.get("dtype_check")
    if chk:
        crow = []
        for label, tasks in chk["per_model"].items():
            for t, r in tasks.items():
                for m in METRICS[t]:
                    crow.append(
                        [
                            label,
                            t,
                            m,
                            r["n"],
                            f"{r[m]['agree']}/{r['n']} ({_pct(r[m]['agree'] / r['n'])})",
                            f"{r[m]['full_dtype']:.4f}",
                            f"{r[m]['check_dtype']:.4f}",
                            f"{r['median_abs_loglikelihood_diff']:.3f} / {r['max_abs_loglikelihood_diff']:.3f}",
                        ]
                    )
        full_dt, check_dt = s["dtype"]["base"], chk["dtype"]["base"]
        lines += [
            f"**dtype check.** The same models in {check_dt} on the first {chk['limit_per_task']} items of every MMLU "
            f"subject and of HellaSwag, against the {full_dt} answers to those items:",
            "",
            md_table(
                ["model", "benchmark", "metric", "n", "same 0/1", full_dt, check_dt, "|Δ log-likelihood| median / max"],
                crow,
            ),
            "",
        ]
    lines += [
        "Commands (the section is written by `bench/retention_doc.py` from the runs' own files):",
        "",
        "```bash",
        s["command"],
        "```",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", type=Path, required=True, help="--out folder of the full-size run")
    ap.add_argument("--check", type=Path, help="--out folder of the other-dtype run with --limit")
    ap.add_argument("--name", default="quickstart", help="results file retention_NAME.json and section retention-NAME")
    ap.add_argument("--command", default=COMMANDS, help="the commands that made the runs, as the doc shows them")
    ap.add_argument("--dry-run", action="store_true", help="print the section; write nothing")
    args = ap.parse_args(argv)
    full = json.loads((args.full / "benchmarks.json").read_text())
    if not full.get("retention"):
        raise SystemExit(f"{args.full}/benchmarks.json has no retention: run it with --adapter")
    check = json.loads((args.check / "benchmarks.json").read_text()) if args.check else None
    per_block = check["runs"]["base"]["settings"]["limit_per_task"] if check else 0
    s = summarize(full, check, per_block, request_times(args.full / "run.log"), args.command)
    body = section(s, args.name)
    print(body)
    if not args.dry_run:  # the results file beside the doc (docs/results/), then the section naming it
        replace_section(f"retention-{args.name}", body, EVALUATION_MD, results=s, results_name=f"retention_{args.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
