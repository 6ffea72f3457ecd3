"""Data preparation at full RecipeNLG scale (issue 7, item 3).

1. Builds a RecipeNLG-format CSV of ``--rows`` rows (default 2,231,142, the size of
   full_dataset.csv) by repeating and perturbing the real sample rows of
   ../shared/data/recipenlg/ (titles get a variant tag so dedup keeps them, steps and
   ingredients are reordered/dropped now and then, and 0.1% of rows are broken on
   purpose).  The file goes to bench/out/ (git-ignored) and is reused when present.
2. Runs ``chefbot data prepare`` on it end to end (Qwen2.5 tokenizer from ../shared,
   max_length 512, packing on, num_proc 2) in a subprocess, sampling the memory of the
   whole process tree (psutil, RSS summed over children) every 0.2 s.
   With ``--tokenizer-backend tokenizers,tiktoken`` it runs one arm per text backend
   (``chefbot.data.text_backend``; set through data.tokenizer_backend), one after the
   other (interleaved when repeated), and checks that they write identical train.arrow files.
   The 1-minute load average is sampled during each run: the machine is shared.
   With ``--constraints`` the arms are instead ``constraints-off`` and ``constraints-on``: the
   same prepare with ``prompt.constraints`` null and with quickstart's constraint prompts
   (``prompt.constraints`` set, ``prompt.constraint_prob`` 0.5, configs/quickstart.yaml), so
   every recipe is labelled (``cooking.labels.label_recipe``); interleaved when repeated, and
   the result's ``constraints`` holds the CPU-seconds of the whole process tree per arm and
   their ratio (issue 25: labelling must cost at most +25%).
3. Times the tokenizer alone: the texts chefbot tokenizes for the real sample rows,
   encoded on one thread by ``tokenizers`` and by the tiktoken copy (median of 5).
4. Runs the plain baseline -- ``datasets.map(num_proc=2)`` calling
   ``apply_chat_template`` for prompt and conversation -- on ``--baseline-rows`` rows,
   checks that it produces the same input_ids/labels as chefbot on a sample, and
   extrapolates its time linearly to the full row count (stated in the output).

Writes bench/out/data_prep_scale_<rows>.json (git-ignored; each run with the same row count
overwrites it).  It never rewrites docs/BENCHMARKS.md: that section is written by hand and
quotes only committed copies, which ``--publish NAME`` makes (docs/results/NAME.json; refused
with ``--quick``).  Usage:
    .venv/bin/python bench/data_prep_scale.py --quick               # CI size (make bench): 5,000 rows, baseline on 1,000
    .venv/bin/python bench/data_prep_scale.py --rows 20000          # quick check
    .venv/bin/python bench/data_prep_scale.py                       # full size
    .venv/bin/python bench/data_prep_scale.py --skip-baseline --tokenizer-backend tokenizers,tiktoken   # both backends
    .venv/bin/python bench/data_prep_scale.py ... --publish data_prep_scale_NAME   # + docs/results/data_prep_scale_NAME.json
    .venv/bin/python bench/data_prep_scale.py --rows 200000 --constraints --repeats 3 --skip-baseline --skip-tokenizer-alone
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
OUT = REPO / "bench" / "out"
FULL_ROWS = 2_231_142
TOKENIZER = SHARED / "tokenizers" / "qwen2.5"


def build_csv(path: Path, rows: int, seed: int = 0) -> Path:
    if (
        path.exists()
        and path.with_suffix(".rows").exists()
        and path.with_suffix(".rows").read_text().strip() == str(rows)
    ):
        return path
    csv.field_size_limit(1 << 30)
    samples = []
    for name in ("first_1000.csv", "acai_136.csv", "poutine_107.csv"):
        with open(SHARED / "recipenlg" / name, newline="", encoding="utf-8") as f:
            samples += [r[1:] for i, r in enumerate(csv.reader(f)) if i > 0]
    rng = random.Random(seed)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["", "title", "ingredients", "directions", "link", "source", "NER"])
        for i in range(rows):
            title, ingredients, directions, link, source, ner = samples[i % len(samples)]
            k = i // len(samples)
            if k:
                title = f"{title} {k}"  # a variant: a new dedup key, realistic length
                if rng.random() < 0.3:
                    d = json.loads(directions)
                    if len(d) > 2:
                        j = rng.randrange(len(d) - 1)
                        d[j], d[j + 1] = d[j + 1], d[j]
                        directions = json.dumps(d)
                if rng.random() < 0.2:
                    ing, names = json.loads(ingredients), json.loads(ner)
                    if len(ing) > 2:
                        ing.pop(rng.randrange(len(ing)))
                        ingredients = json.dumps(ing)
                        names = names[:-1] if len(names) > 1 else names
                        ner = json.dumps(names)
            r = rng.random()
            if r < 0.0004:
                directions = directions[:-5]  # broken JSON list
            elif r < 0.0007:
                title = ""
            elif r < 0.001:
                directions = "[]"
            w.writerow([i, title, ingredients, directions, link, source, ner])
    os.replace(tmp, path)
    path.with_suffix(".rows").write_text(str(rows))
    return path


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def tree_rss(proc) -> int:
    import psutil

    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_measured(cmd: list[str], env: dict) -> dict:
    import psutil

    cpu0 = _children_cpu()
    load0 = os.getloadavg()[0]
    t0 = time.time()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    proc = psutil.Process(p.pid)
    peak = [0]
    loads: list[float] = []
    done = threading.Event()

    def sample():
        n = 0
        while not done.is_set():
            try:
                peak[0] = max(peak[0], tree_rss(proc))
            except psutil.Error:
                pass
            if n % 25 == 0:  # every 5 s
                loads.append(os.getloadavg()[0])
            n += 1
            time.sleep(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, _ = p.communicate()
    done.set()
    th.join()
    return {
        "rc": p.returncode,
        "wall_s": round(time.time() - t0, 1),
        "cpu_s": round(_children_cpu() - cpu0, 1),  # user+sys of the whole reaped process tree
        "peak_rss_mb": round(peak[0] / 2**20),
        # 1-minute load average: at the start, the mean of 5-s samples during the run, the highest
        "load": {
            "start": round(load0, 2),
            "mean": round(sum(loads) / len(loads), 2) if loads else None,
            "max": max(loads, default=None),
        },
        "output": out[-4000:],
    }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


# The constraint prompts of configs/quickstart.yaml: every recipe labelled, each true label asked half the time.
CONSTRAINTS_ON = ["prompt.constraints=The recipe must be: {constraints}.", "prompt.constraint_prob=0.5"]
CONSTRAINTS_OFF = ["prompt.constraints=null"]


def chefbot_prepare(
    csv_path: Path,
    cache: Path,
    num_proc: int,
    backend: str = "auto",
    extra: list[str] | None = None,
    pythonpath: str | None = None,
) -> dict:
    cmd = [
        str(REPO / ".venv" / "bin" / "chefbot"),
        "data",
        "prepare",
        "configs/qwen2.5-1.5b-qlora.yaml",
        f"data.source={csv_path}",
        "data.format=recipenlg_csv",
        f"model.tokenizer={TOKENIZER}",
        f"data.num_proc={num_proc}",
        f"data.cache_dir={cache}",
        "data.max_length=512",
        "data.packing=true",
        f"data.tokenizer_backend={backend}",
        *(extra or []),
        "--force",
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", CHEFBOT_NO_PROGRESS="1", COLUMNS="120")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath  # another source tree (--baseline-src)
    res = run_measured(cmd, env)
    res["command"] = " ".join(cmd[1:]).replace(str(REPO) + "/", "")
    stats_files = sorted(cache.glob("*/stats.json"), key=lambda p: p.stat().st_mtime)
    if res["rc"] == 0 and stats_files:
        res["stats"] = json.loads(stats_files[-1].read_text())
        res["train_arrow_sha256"] = _sha256(stats_files[-1].parent / "train.arrow")
    return res


# ------------------------------------------------------------------ the tokenizer alone


def tokenizer_alone(repeats: int = 5) -> dict:
    """Tokens/s of each text backend on one thread, on the texts chefbot tokenizes for the real
    sample rows (the user turn and the answer of each recipe; the system turn is constant)."""
    from transformers import AutoTokenizer

    from chefbot.config import PromptConfig
    from chefbot.data.chat_encoder import ChatEncoder
    from chefbot.data.readers import parse_chunk, raw_chunks
    from chefbot.data.sources import resolve_data_source
    from chefbot.data.text_backend import ReferenceText, convert
    from chefbot.data.tokenize import messages_for, target_for
    from chefbot.recipe_format import Recipe

    tok = AutoTokenizer.from_pretrained(str(TOKENIZER))
    recs = []
    for name in ("first_1000.csv", "acai_136.csv", "poutine_107.csv"):
        spec = resolve_data_source(str(SHARED / "recipenlg" / name), "recipenlg_csv")
        recs += [r for c in raw_chunks(spec) for _, r in parse_chunk(c) if isinstance(r, Recipe)]
    texts = ChatEncoder(tok, 512).texts_for([(messages_for(r, PromptConfig()), target_for(r)) for r in recs])
    fast, ref = convert(tok), ReferenceText(tok)
    out: dict = {"texts": len(texts), "recipes": len(recs)}
    ids = {}
    for name, enc in (("tokenizers", ref), ("tiktoken", fast)):
        ids[name] = enc.encode(texts)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            enc.encode(texts)
            times.append(time.perf_counter() - t0)
        n, med = sum(map(len, ids[name])), sorted(times)[repeats // 2]
        out[name] = {"tokens": n, "median_s": round(med, 4), "tokens_per_s": round(n / med)}
    out["identical_ids"] = ids["tokenizers"] == ids["tiktoken"]
    out["speedup"] = round(out["tiktoken"]["tokens_per_s"] / out["tokenizers"]["tokens_per_s"], 2)
    out["note"] = (
        "one thread; tokenizers: backend_tokenizer.encode_batch with TOKENIZERS_PARALLELISM=false; tiktoken: chefbot.data.text_backend.TiktokenText.encode"
    )
    return out


def _arm_summary(runs: list[dict], rows: int) -> dict:
    walls = sorted(r["wall_s"] for r in runs)
    cpus = sorted(r["cpu_s"] for r in runs)
    return {
        "median_wall_s": walls[len(walls) // 2],
        "walls_s": walls,
        "rows_per_s": round(rows / walls[len(walls) // 2], 1),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "cpu_s": [r["cpu_s"] for r in runs],
        "cpu_s_per_1k_rows": round(1000 * cpus[len(runs) // 2] / rows, 2),
        # wall time on 2 dedicated cores if the CPU work parallelised perfectly (the machine was shared)
        "estimated_full_wall_s_on_2_free_cores": round(cpus[len(runs) // 2] / rows * FULL_ROWS / 2),
        "load": [r["load"] for r in runs],
        "started": [r["started"] for r in runs],
        "train_arrow_sha256": sorted({r.get("train_arrow_sha256") for r in runs} - {None}),
        "command": runs[0]["command"],
        "stats": runs[-1].get("stats"),
    }


# ------------------------------------------------------------------ baseline


def _baseline_map(batch, tokenizer=None, system=None, user=None, max_length=512):
    """What people write by hand: apply_chat_template twice per row, label after the prompt."""
    out = {"input_ids": [], "labels": []}
    for title, ing, dirs, ner in zip(batch["title"], batch["ingredients"], batch["directions"], batch["NER"]):
        from chefbot.recipe_format import render_recipe

        try:
            ing, dirs, ner = json.loads(ing), json.loads(dirs), json.loads(ner)
        except Exception:
            out["input_ids"].append(None)
            out["labels"].append(None)
            continue
        msgs = [{"role": "system", "content": system}, {"role": "user", "content": user.format(ner=", ".join(ner))}]
        target = render_recipe(title, ing, dirs)
        prompt = tokenizer.apply_chat_template(msgs, tokenize=True, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(msgs + [{"role": "assistant", "content": target}], tokenize=True)
        prompt = list(prompt["input_ids"] if hasattr(prompt, "keys") else prompt)
        full = list(full["input_ids"] if hasattr(full, "keys") else full)
        full = full[:-1]  # Qwen's trailing "\n" after <|im_end|> (chefbot stops at the end-of-turn too)
        full = full[:max_length]
        out["input_ids"].append(full)
        out["labels"].append([-100] * len(prompt) + full[len(prompt) :])
    return out


def baseline(csv_path: Path, rows: int, num_proc: int) -> dict:
    import datasets
    from transformers import AutoTokenizer

    from chefbot.config import PromptConfig

    datasets.disable_progress_bars()
    tok = AutoTokenizer.from_pretrained(str(TOKENIZER))
    pc = PromptConfig()
    ds = datasets.load_dataset(
        "csv", data_files=str(csv_path), split=f"train[:{rows}]", cache_dir=str(OUT / "hf-cache")
    )
    t0 = time.time()
    cpu0 = time.process_time() + _children_cpu()
    mapped = ds.map(
        _baseline_map,
        batched=True,
        num_proc=num_proc,
        remove_columns=ds.column_names,
        load_from_cache_file=False,
        fn_kwargs={"tokenizer": tok, "system": pc.system, "user": pc.user},
    )
    wall = time.time() - t0
    cpu = time.process_time() + _children_cpu() - cpu0
    # Same outputs: compare with chefbot's encode_example on a sample of rows.
    from chefbot.data.tokenize import encode_example, messages_for, target_for
    from chefbot.recipe_format import Recipe

    same = checked = 0
    for i in range(0, min(rows, 2000), 10):
        row = ds[i]
        try:
            r = Recipe(
                id="x",
                title=row["title"],
                ingredients=json.loads(row["ingredients"]),
                ner=json.loads(row["NER"]),
                directions=json.loads(row["directions"]),
            )
        except Exception:
            continue
        ref = encode_example(messages_for(r, pc), target_for(r), tok, 512)
        checked += 1
        same += ref is not None and ref["input_ids"] == mapped[i]["input_ids"] and ref["labels"] == mapped[i]["labels"]
    return {
        "rows": rows,
        "wall_s": round(wall, 1),
        "rows_per_s": round(rows / wall, 1),
        "extrapolated_full_s": round(FULL_ROWS / (rows / wall), 0),
        "cpu_s": round(cpu, 1),
        "cpu_s_per_1k_rows": round(1000 * cpu / rows, 2),
        "note": f"datasets.map(num_proc={num_proc}) over apply_chat_template on the first {rows:,} rows; tokenization only "
        "(no validation, dedup, split or packing); full-size time extrapolated linearly",
        "same_outputs_checked": checked,
        "same_outputs_equal": same,
    }


def _constraints_summary(off: dict, on: dict, rows: int) -> dict:
    """The cost of prompt.constraints: CPU of the on arm against the off arm (issue 25: goal <= 1.25)."""
    cpu_off, cpu_on = statistics.median(off["cpu_s"]), statistics.median(on["cpu_s"])
    return {
        "what": "CPU-seconds of the whole process tree (user+sys, RUSAGE_CHILDREN), median of the repeats",
        "cpu_s_off": cpu_off,
        "cpu_s_on": cpu_on,
        "ratio_on_off": round(cpu_on / cpu_off, 3),
        # each repeat's on/off pair ran back to back: their ratios show the spread
        "ratio_per_repeat": [round(b / a, 3) for a, b in zip(off["cpu_s"], on["cpu_s"])],
        "extra_cpu_s": round(cpu_on - cpu_off, 1),
        "extra_us_per_row": round((cpu_on - cpu_off) / rows * 1e6, 1),
        "extra_cpu_s_at_full_size": round((cpu_on - cpu_off) / rows * FULL_ROWS),
        "goal_ratio": 1.25,
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=FULL_ROWS)
    ap.add_argument("--baseline-rows", type=int, default=20_000)
    ap.add_argument("--num-proc", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument(
        "--tokenizer-backend",
        default="auto",
        help="text backend per arm, comma-separated from auto, tiktoken, tokenizers (e.g. tokenizers,tiktoken); arms run one after the other",
    )
    ap.add_argument(
        "--skip-tokenizer-alone", action="store_true", help="do not time the two text backends on their own"
    )
    ap.add_argument("--quick", action="store_true", help="CI size: 5,000 rows, baseline on 1,000 rows, one repeat")
    ap.add_argument(
        "--baseline-src",
        type=Path,
        default=None,
        help="with --constraints: also run both arms on this source tree (a 'src' folder, e.g. git archive main src), interleaved",
    )
    ap.add_argument(
        "--constraints",
        action="store_true",
        help="two arms, prompt.constraints off and on (the first --tokenizer-backend), to measure labelling's cost",
    )
    ap.add_argument(
        "--publish",
        metavar="NAME",
        default=None,
        help="also copy the JSON to docs/results/NAME.json, the committed record the docs quote (not with --quick)",
    )
    args = ap.parse_args(argv)
    if args.publish and args.quick:
        ap.error("--publish: a --quick run is never published to docs/results")
    arms = list(dict.fromkeys(a.strip() for a in args.tokenizer_backend.split(",") if a.strip()))
    if not arms or any(a not in ("auto", "tiktoken", "tokenizers") for a in arms):
        ap.error(f"--tokenizer-backend {args.tokenizer_backend!r}: expected auto, tiktoken and/or tokenizers")
    if args.quick:
        args.rows, args.baseline_rows, args.repeats = min(args.rows, 5_000), min(args.baseline_rows, 1_000), 1
    if not SHARED.is_dir():
        sys.exit(f"needs ../shared beside the repo ({SHARED} is absent)")
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    csv_path = build_csv(OUT / f"recipenlg_synth_{args.rows}.csv", args.rows)
    build_s = round(time.time() - t0, 1)
    # arm name -> (text backend, config overrides)
    plan = {a: (a, [], None) for a in arms}
    if args.constraints:
        plan = {"constraints-off": (arms[0], CONSTRAINTS_OFF, None), "constraints-on": (arms[0], CONSTRAINTS_ON, None)}
        if args.baseline_src:
            base = str(args.baseline_src.resolve())
            plan = {
                "baseline-constraints-off": (arms[0], CONSTRAINTS_OFF, base),
                "constraints-off": plan["constraints-off"],
                "baseline-constraints-on": (arms[0], CONSTRAINTS_ON, base),
                "constraints-on": plan["constraints-on"],
            }
        arms = list(plan)
    runs: dict[str, list[dict]] = {a: [] for a in arms}
    for _ in range(args.repeats):
        for arm in arms:  # one after the other, never in parallel
            backend, extra, pythonpath = plan[arm]
            started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            print(f"[{started}] chefbot data prepare, {args.rows:,} rows, arm {arm}", flush=True)
            r = chefbot_prepare(csv_path, OUT / "cache", args.num_proc, backend, extra, pythonpath)
            r["started"] = started
            if r["rc"] != 0:
                print(r["output"], file=sys.stderr)
                sys.exit(f"chefbot data prepare failed (rc {r['rc']}, tokenizer backend {arm})")
            print(
                f"  wall {r['wall_s']} s, CPU {r['cpu_s']} s, peak {r['peak_rss_mb']} MB, load {r['load']}", flush=True
            )
            runs[arm].append(r)
    by_arm = {arm: _arm_summary(rs, args.rows) for arm, rs in runs.items()}
    result = {
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": args.quick,
        "rows": args.rows,
        "csv_bytes": csv_path.stat().st_size,
        "csv_build_s": build_s,
        # the chefbot the prepare subprocesses import (PYTHONPATH is passed on to them)
        "chefbot_src": str(Path(importlib.util.find_spec("chefbot").origin).parent),
        "git_head": subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "chefbot": by_arm[arms[0]],
        "arms": by_arm,
    }
    if args.constraints:
        result["cpu"] = _cpu_model()
        result["constraints"] = _constraints_summary(by_arm["constraints-off"], by_arm["constraints-on"], args.rows)
        if args.baseline_src:
            result["baseline_src"] = str(args.baseline_src.resolve())
            result["baseline_constraints"] = _constraints_summary(
                by_arm["baseline-constraints-off"], by_arm["baseline-constraints-on"], args.rows
            )
            result["extra_cpu_after_over_before"] = round(
                result["constraints"]["extra_cpu_s"] / result["baseline_constraints"]["extra_cpu_s"], 3
            )
    elif len(arms) > 1:
        result["identical_train_arrow"] = len({h for a in by_arm.values() for h in a["train_arrow_sha256"]}) == 1
    if "tokenizers" in by_arm and "tiktoken" in by_arm:
        slow, fast = by_arm["tokenizers"], by_arm["tiktoken"]
        result["tiktoken_vs_tokenizers"] = {
            "wall_speedup": round(slow["median_wall_s"] / fast["median_wall_s"], 2),
            "cpu_speedup": round(slow["cpu_s_per_1k_rows"] / fast["cpu_s_per_1k_rows"], 2),
        }
    if not args.skip_tokenizer_alone:
        result["tokenizer_alone"] = tokenizer_alone()
    if not args.skip_baseline:
        result["baseline"] = baseline(csv_path, min(args.baseline_rows, args.rows), args.num_proc)
        result["speedup_vs_baseline_wall"] = round(
            result["baseline"]["extrapolated_full_s"] * args.rows / FULL_ROWS / result["chefbot"]["median_wall_s"], 2
        )
        result["speedup_vs_baseline_cpu"] = round(
            result["baseline"]["cpu_s_per_1k_rows"] / result["chefbot"]["cpu_s_per_1k_rows"], 2
        )
    out = OUT / f"data_prep_scale_{args.rows}.json"
    out.write_text(json.dumps(result, indent=2))
    if args.publish:
        sys.path.insert(0, str(REPO / "bench"))
        import common

        print(f"published {common.publish_results(args.publish, out)}")
    print(
        json.dumps(
            {k: v for k, v in result.items() if k not in ("chefbot", "arms")}
            | {"arms": {a: {k: v for k, v in s.items() if k != "stats"} for a, s in result["arms"].items()}},
            indent=2,
        )
    )
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
