"""Serving engines side by side, in one run: `chefbot serve --engine hf`, `--engine llamacpp` and bare
llama-cpp-python on the same GGUF; one stream and 4 concurrent clients; then quality, q8_0 against fp32.

    python bench/serve_engines.py --adapter runs/quickstart/adapter            # the numbers in docs/BENCHMARKS.md
    python bench/serve_engines.py --adapter runs/quickstart/adapter --quick    # a smoke run (bench/out only)

Speed: each repeat starts each server (the real command, 127.0.0.1, `serve.max_concurrency=4`) and sends
streamed chat requests (the training prompt, greedy, at most ``--max-tokens`` new tokens) from 1 client,
then from 4 concurrent clients (``bench/serve_load.py``'s client); bare llama-cpp-python is a ``Llama``
on the very GGUF file the llamacpp engine serves (``create_chat_completion``, the GGUF's own chat
template, temperature 0, 2 threads), one call at a time behind a lock for the 4 clients (one ``Llama``
object cannot run two at once).  Engines alternate within each repeat; medians of the repeats are
reported, and the ratios that matter are within this one run.  Also the concurrency design of the
engine, in process: one context with 4 parallel sequences against pools of contexts.

Quality: the quickstart's held-out items generated greedily by the fp32 hf engine and by the q8_0
llamacpp engine (``chefbot.evaluate.run.run_one``: the evaluation's own generation, scoring and
paired comparison), recipe checks and directions ROUGE-L with their 95% intervals.

Every run records the CPU (``machine.cpu_info``: model and the SIMD flags that decide llama.cpp's kernels,
avx2/avx512*/amx*/vnni/bf16/fp16), the installed llama-cpp-python build, llama.cpp's own ``system_info``
(``llama_cpp_system_info``: e.g. whether AMX_INT8 is compiled in) and the engine probe's verdict
(``llamacpp_probe``; a failed probe stops the run with its reason before any server starts).

Writes bench/out/serve_engines.json (``--quick``: serve_engines_quick.json).  ``--doc-section NAME`` (full runs
only) also renders the run into the block ``<!-- section:NAME -->`` ... ``<!-- end:NAME -->`` of
docs/BENCHMARKS.md (one sub-block per CPU kind inside "Serving engines", so the runs of different CPUs stand
side by side) and copies the JSON to docs/results/<--name>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import cpu_features, machine, md_table, median, replace_section, run_name, write_json  # noqa: E402
from serve_load import INGREDIENTS, drive, free_port, start_server, stop_server, summarize, wait_healthy  # noqa: E402


def load() -> dict:
    return {"loadavg": [round(x, 2) for x in os.getloadavg()], "at": time.strftime("%H:%M:%S")}


def serve_round(
    config: str,
    adapter: str | None,
    engine: str,
    quant: str,
    rounds: list[tuple[int, int]],
    max_tokens: int,
    log_dir: Path,
    overrides: list[str] = (),
) -> tuple[dict, list[dict]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["serve.max_concurrency=4", *overrides, "--engine", engine, "--quant", quant, "--dtype", "fp32"] + (
        ["--adapter", adapter] if adapter else []
    )
    proc = start_server(config, port, args, log_dir / f"serve_engines.{engine}.log")
    try:
        t0 = time.perf_counter()
        health = wait_healthy(url, proc, timeout=900)
        startup = time.perf_counter() - t0
        with httpx.Client(base_url=url, timeout=600) as c:  # warm-up, not measured
            c.post(
                "/v1/chat/completions",
                json={"messages": [{"role": "user", "content": "Include ingredients: salt"}], "max_tokens": 4},
            )
        out = []
        for clients, requests in rounds:
            results, wall = asyncio.run(drive(url, clients, requests, 3600, max_tokens, "stream", 0))
            s = summarize(results, wall)
            assert s["failed"] == 0 and s["rejected"] == 0, s
            out.append({"clients": clients, **s, "load": load()})
    finally:
        stop_server(proc)
    ident = {k: health.get(k) for k in ("backend", "quant", "gguf", "dtype", "base_model", "adapter")}
    return {"startup_s": round(startup, 2), **ident}, out


class Bare:
    """llama-cpp-python as its users call it: a ``Llama`` and ``create_chat_completion`` on the same GGUF."""

    def __init__(self, gguf: Path, threads: int) -> None:
        from llama_cpp import Llama

        self.llm = Llama(model_path=str(gguf), n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False)
        self.lock = threading.Lock()

    def one(self, i: int, max_tokens: int, t_submit: float) -> dict:
        ner = INGREDIENTS[i % len(INGREDIENTS)]
        messages = [{"role": "user", "content": f"Include ingredients: {', '.join(ner)}"}]
        rec: dict = {"i": i, "stream": True, "status": 200, "tokens": 0}
        with self.lock:
            for chunk in self.llm.create_chat_completion(
                messages, max_tokens=max_tokens, temperature=0.0, repeat_penalty=1.0, stream=True
            ):
                delta = chunk["choices"][0]["delta"].get("content")
                if delta:
                    rec.setdefault("ttft", time.perf_counter() - t_submit)
                    rec["tokens"] += 1  # one event per generated token (the stop token sends none)
        rec["latency"] = time.perf_counter() - t_submit
        return rec

    def run(self, clients: int, requests: int, max_tokens: int) -> tuple[list[dict], float]:
        todo = iter(range(requests))
        results: list[dict] = []
        guard = threading.Lock()

        def worker() -> None:
            while True:
                with guard:
                    i = next(todo, None)
                if i is None:
                    return
                results.append(self.one(i, max_tokens, time.perf_counter()))

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results, time.perf_counter() - t0


def concurrency_design(cfg, adapter: str | None, quant: str, max_tokens: int, requests: int) -> list[dict]:
    """The engine in process, 4 requests at once: one context decoding 4 parallel sequences in one batch
    against pools of contexts (one sequence each, the CPU threads shared among the busy ones)."""
    from chefbot.generate import LlamaCppGenerator

    prompts = [
        [{"role": "user", "content": f"Include ingredients: {', '.join(INGREDIENTS[i % len(INGREDIENTS)])}"}]
        for i in range(requests)
    ]
    out = []
    for label, kw in [
        ("llama.cpp parallel sequences: 1 context, 4 sequences batched", {"parallel": 4, "contexts": 1}),
        ("pool: 2 contexts, threads shared by the busy ones", {"parallel": 1, "contexts": 2}),
        ("pool: 4 contexts, threads shared by the busy ones (the served design)", {"parallel": 1, "contexts": 4}),
    ]:
        gen = LlamaCppGenerator.from_config(cfg, adapter=adapter, quant=quant, **kw)
        gen.generate([prompts[0]], {"max_new_tokens": 4})  # warm-up
        t0 = time.perf_counter()
        done = gen.generate(prompts, {"max_new_tokens": max_tokens})
        wall = time.perf_counter() - t0
        gen.close()
        tokens = sum(c.completion_tokens for c in done)
        out.append(
            {
                "design": label,
                **kw,
                "requests": requests,
                "completion_tokens": tokens,
                "wall_s": round(wall, 2),
                "tokens_per_s": round(tokens / wall, 1),
                "load": load(),
            }
        )
        print(f"  {label}: {tokens / wall:.1f} tokens/s", file=sys.stderr)
    return out


def quality(cfg, adapter: str | None, quant: str, out_dir: Path) -> dict:
    """Greedy outputs of the q8_0 llamacpp engine against the fp32 hf engine on the held-out items, scored
    and compared by the evaluation's own functions (BERTScore off: checks and ROUGE are the question)."""
    from chefbot.evaluate.run import eval_items, run_one
    from chefbot.evaluate.score import compare_results
    from chefbot.generate import make_generator

    cfg = cfg.model_copy(
        update={
            "eval": cfg.eval.model_copy(update={"bertscore_model": "none"}),
            "engine": cfg.engine.model_copy(update={"endpoint": None}),
        }
    )
    items = eval_items(cfg)
    scored, rows_by, models = {}, {}, {}
    for name, update in (
        ("hf-fp32", {"kind": "hf", "dtype": "fp32"}),
        (f"llamacpp-{quant}", {"kind": "llamacpp", "quantization": quant}),
    ):
        c = cfg.model_copy(update={"engine": cfg.engine.model_copy(update=update)})
        gen = make_generator(c, adapter=adapter, purpose="exact")
        folder = out_dir / "serve_engines_quality"
        (folder / "predictions" / f"{name}.jsonl").unlink(missing_ok=True)  # generate afresh, never resume
        t0 = time.perf_counter()
        s, rows = run_one(c, gen, items, folder, name)
        seconds = time.perf_counter() - t0
        if hasattr(gen, "close"):
            gen.close()
        scored[name], rows_by[name] = s, rows
        settings = s["generation"]["settings"]
        models[name] = {
            "engine": settings.get("backend"),
            "quant": settings.get("quant"),
            "dtype": settings.get("dtype"),
            "seconds": round(seconds, 1),
            "checks": s["checks"],
            "directions_rougeL": s["rouge"]["directions"]["rougeL"],
            "rougeL": s["rouge"]["whole"]["rougeL"],
            "stopped_by_itself": sum(r.get("finish_reason") == "stop" for r in rows),
        }
    a, b = list(scored)
    same = sum(x["prediction"] == y["prediction"] for x, y in zip(rows_by[a], rows_by[b]))
    metrics = ["rouge_directions.rougeL", "rouge.rougeL", "checks.well_formed", "checks.ner_used"]
    return {
        "n": len(items),
        "identical_outputs": same,
        "models": models,
        "paired_difference_b_minus_a": compare_results(scored[a], scored[b], metrics=metrics, seed=cfg.seed),
    }


def part(name: str, args: argparse.Namespace) -> dict:
    """Run one part of the benchmark in a fresh process of its own (its own OpenMP runtime and settings:
    bare llama-cpp-python gets exactly the environment a user's script would), its JSON back."""
    cmd = [
        sys.executable,
        __file__,
        "--part",
        name,
        "--config",
        args.config,
        "--quant",
        args.quant,
        "--max-tokens",
        str(args.max_tokens),
        "--requests-1",
        str(args.requests_1),
        "--requests-4",
        str(args.requests_4),
    ]
    cmd += (["--adapter", args.adapter] if args.adapter else []) + (
        ["--threads", str(args.threads)] if args.threads else []
    )
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent)
    if r.returncode != 0:
        raise SystemExit(f"{name} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_part(args: argparse.Namespace) -> None:
    from chefbot.config import load_config
    from chefbot.generate.gguf import cached_gguf
    from chefbot.generate.llamacpp_engine import default_threads

    cfg = load_config(Path(args.config), [])
    if args.part == "bare":
        bare = Bare(cached_gguf(cfg, args.adapter, args.quant), args.threads or default_threads())
        bare.one(-1, 4, time.perf_counter())  # warm-up
        res = []
        for clients, requests in ((1, args.requests_1), (4, args.requests_4)):
            results, wall = bare.run(clients, requests, args.max_tokens)
            res.append(
                {
                    "clients": clients,
                    **summarize(results, wall),
                    "load": load(),
                    "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                }
            )
        bare.llm.close()
        print(json.dumps(res))
    elif args.part == "sysinfo":  # llama.cpp's own account of its build (a fresh process: nothing else loaded)
        import llama_cpp

        print(
            json.dumps(
                {
                    "llama_cpp_python": llama_cpp.__version__,
                    "system_info": llama_cpp.llama_print_system_info().decode(errors="replace").strip(),
                }
            )
        )
    else:
        print(json.dumps(concurrency_design(cfg, args.adapter, args.quant, args.max_tokens, 4)))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/quickstart.yaml")
    ap.add_argument("--adapter", default=None)
    ap.add_argument("--quant", default="q8_0")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=160)
    ap.add_argument("--requests-1", type=int, default=4, help="requests of the one-client round")
    ap.add_argument("--requests-4", type=int, default=8, help="requests of the 4-client round")
    ap.add_argument("--threads", type=int, default=None, help="bare llama.cpp threads (default: the usable cores)")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-design", action="store_true")
    ap.add_argument(
        "--llamacpp-override",
        action="append",
        default=[],
        help="config key=value for the llamacpp server only, e.g. engine.threads=1",
    )
    ap.add_argument("--name", default="serve_engines", help="bench/out/NAME.json")
    ap.add_argument("--quick", action="store_true", help="1 repeat, 2+4 requests of 24 tokens, no quality, no design")
    ap.add_argument(
        "--doc-section",
        default=None,
        metavar="NAME",
        help="render this full run into <!-- section:NAME --> of docs/BENCHMARKS.md (+ docs/results/<--name>.json)",
    )
    ap.add_argument(
        "--part", choices=["bare", "design", "sysinfo"], help=argparse.SUPPRESS
    )  # internal: one part, JSON out
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE.parent / "src"))
    if args.part:
        run_part(args)
        return {}
    if args.quick:
        args.repeats, args.max_tokens, args.requests_1, args.requests_4, args.skip_quality = 1, 24, 2, 4, True

    from chefbot.config import load_config
    from chefbot.generate.engine_probe import cpu_info, probe_llamacpp
    from chefbot.generate.gguf import cached_gguf
    from chefbot.generate.llamacpp_engine import default_threads

    if args.doc_section and args.quick:
        raise SystemExit("--doc-section renders full runs only (a --quick run never rewrites the docs)")
    cfg = load_config(Path(args.config), [])
    threads = args.threads or default_threads()
    gguf = cached_gguf(cfg, args.adapter, args.quant)  # the file the llamacpp engine serves (exported once)
    cpu = cpu_info()
    print(f"CPU: {cpu['model']} ({cpu_features(cpu)}); flags {' '.join(cpu['flags'])}")
    probe = probe_llamacpp(gguf, cfg.engine.threads or threads)  # what `chefbot serve` checks first
    if not probe.ok:
        raise SystemExit(f"the llamacpp engine's probe failed on this machine: {probe.reason}")
    sysinfo = part("sysinfo", args)
    print(f"llama.cpp: {sysinfo['system_info']}")
    log_dir = HERE / "out"
    log_dir.mkdir(parents=True, exist_ok=True)
    rounds = [(1, args.requests_1), (4, args.requests_4)]
    runs: dict[str, list] = {"hf": [], "llamacpp": [], "bare": []}
    servers: dict[str, dict] = {}
    print(f"load before: {load()}")
    for r in range(args.repeats):
        for engine in ("hf", "llamacpp"):
            info, res = serve_round(
                args.config,
                args.adapter,
                engine,
                args.quant,
                rounds,
                args.max_tokens,
                log_dir,
                args.llamacpp_override if engine == "llamacpp" else [],
            )
            servers[engine] = info
            runs[engine].append(res)
            print(
                f"repeat {r}: {engine}: "
                + ", ".join(f"{x['clients']} client(s) {x['tokens_per_s']:.1f} tokens/s" for x in res)
            )
        res = part("bare", args)
        runs["bare"].append(res)
        print(
            f"repeat {r}: bare: " + ", ".join(f"{x['clients']} client(s) {x['tokens_per_s']:.1f} tokens/s" for x in res)
        )

    table = {}
    for engine, reps in runs.items():
        table[engine] = {}
        for k, (clients, _) in enumerate(rounds):
            xs = [rep[k] for rep in reps]
            table[engine][f"{clients}_clients"] = {
                "tokens_per_s": round(median(x["tokens_per_s"] for x in xs), 1),
                "tokens_per_s_repeats": [round(x["tokens_per_s"], 1) for x in xs],
                "ttft_p50_s": round(median(x["ttft_p50_s"] for x in xs), 3),
                "latency_p50_s": round(median(x["latency_p50_s"] for x in xs), 2),
                "latency_p95_s": round(median(x["latency_p95_s"] for x in xs), 2),
                "mean_tokens_per_answer": round(statistics.mean(x["mean_tokens_per_answer"] for x in xs), 1),
            }
    ratios = {}
    for k, (clients, _) in enumerate(rounds):
        key = f"{clients}_clients"
        per = {e: [rep[k]["tokens_per_s"] for rep in runs[e]] for e in runs}
        ratios[key] = {
            "llamacpp_over_hf": round(table["llamacpp"][key]["tokens_per_s"] / table["hf"][key]["tokens_per_s"], 2),
            "llamacpp_over_bare": round(table["llamacpp"][key]["tokens_per_s"] / table["bare"][key]["tokens_per_s"], 2),
            "per_repeat_llamacpp_over_hf": [round(x / y, 2) for x, y in zip(per["llamacpp"], per["hf"])],
            "per_repeat_llamacpp_over_bare": [round(x / y, 2) for x, y in zip(per["llamacpp"], per["bare"])],
        }
    report: dict = {
        "command": " ".join(["python", "bench/serve_engines.py", *(sys.argv[1:] if argv is None else argv)]),
        "config": args.config,
        "adapter": args.adapter,
        "quant": args.quant,
        "gguf": gguf.name,
        "max_tokens": args.max_tokens,
        "repeats": args.repeats,
        "bare_threads": threads,
        "cpu": cpu,
        "llama_cpp_system_info": sysinfo,
        "llamacpp_probe": probe.to_json(),
        "rounds": [{"clients": c, "requests": n} for c, n in rounds],
        "servers": servers,
        "speed": table,
        "ratios": ratios,
        "runs": runs,
    }
    if not (args.quick or args.skip_design):
        print("concurrency design (in process, 4 streams at once):")
        report["concurrency_design"] = part("design", args)
    if not args.skip_quality:
        report["quality"] = quality(cfg, args.adapter, args.quant, log_dir)
    report["load_after"] = load()
    report["llamacpp_overrides"] = args.llamacpp_override
    report["quick"] = args.quick
    path = write_json(run_name(args.name, args.quick), report)
    print(json.dumps({"speed": table, "ratios": ratios}, indent=1))
    print(f"machine: {machine()['cpu']}; written {path}")
    if args.doc_section:
        payload = json.loads(path.read_text(encoding="utf-8"))
        replace_section(args.doc_section, render(payload), results=path, results_name=args.name)
        print(f"rendered into <!-- section:{args.doc_section} --> of docs/BENCHMARKS.md")
    return report


ENGINE_LABELS = {
    "hf": "`chefbot serve --engine hf` (fp32, transformers)",
    "llamacpp": "`chefbot serve --engine llamacpp` ({quant} GGUF)",
    "bare": "bare llama-cpp-python, same GGUF ({threads} threads)",
}


def goals_text(speed: dict, ratios: dict) -> str:
    """The engine's goals (≥ 0.9× bare llama-cpp-python, the best ratio over hf this CPU allows; 5× where
    llama.cpp allows it) checked per round, with the reason when the ratio over hf is below 5×."""
    lines = []
    for key, r in ratios.items():
        clients = key.split("_")[0]
        hf, lc, bare = (speed[e][key]["tokens_per_s"] for e in ("hf", "llamacpp", "bare"))
        line = (
            f"{clients} client(s): llamacpp over hf **{r['llamacpp_over_hf']}×** "
            f"({', '.join(map(str, r['per_repeat_llamacpp_over_hf']))}), over bare llama-cpp-python "
            f"**{r['llamacpp_over_bare']}×** ({', '.join(map(str, r['per_repeat_llamacpp_over_bare']))}): "
            f"≥ 0.9× bare {'met' if r['llamacpp_over_bare'] >= 0.9 else '**not met**'}"
        )
        if r["llamacpp_over_hf"] >= 5:
            line += "; ≥ 5× hf met."
        elif bare / hf < 5:
            line += (
                f"; below 5× hf because llama.cpp itself is on this CPU: bare llama-cpp-python on the same GGUF "
                f"and threads does {bare} tokens/s, only {bare / hf:.2f}× the hf engine's {hf}, and the engine "
                f"({lc}, {lc / bare:.2f}× bare) "
                + (
                    "keeps pace with it: llama.cpp's speed here, not chefbot's engine, is the limit."
                    if lc / bare >= 0.9
                    else "falls behind even that (to investigate)."
                )
            )
        else:
            line += (
                f"; **below 5× hf although bare llama-cpp-python reaches {bare / hf:.2f}× here**: the engine "
                "loses speed of its own on this CPU (to investigate)."
            )
        lines.append("- " + line)
    return "\n".join(lines)


def render(report: dict) -> str:
    """One CPU's subsection of "Serving engines" in docs/BENCHMARKS.md, from a full run's JSON."""
    m, cpu = report["machine"], report["cpu"]
    threads = report["bare_threads"]
    rows = []
    for key in (f"{r['clients']}_clients" for r in report["rounds"]):
        for engine in ("hf", "llamacpp", "bare"):
            x = report["speed"][engine][key]
            rows.append(
                [
                    ENGINE_LABELS[engine].format(quant=report["quant"], threads=threads),
                    key.split("_")[0],
                    f"**{x['tokens_per_s']}** ({', '.join(map(str, x['tokens_per_s_repeats']))})",
                    f"{x['ttft_p50_s']} s",
                    f"{x['latency_p50_s']} s",
                    f"{x['latency_p95_s']} s",
                    x["mean_tokens_per_answer"],
                ]
            )
    table = md_table(
        ["engine", "clients", "tokens/s (median; repeats)", "TTFT p50", "latency p50", "p95", "tokens per answer"], rows
    )
    loads = [x["load"]["loadavg"][0] for reps in report["runs"].values() for rep in reps for x in rep]
    sysinfo = report.get("llama_cpp_system_info", {}).get("system_info", "?")
    probe = report.get("llamacpp_probe", {})
    over = ", ".join(report.get("llamacpp_overrides") or []) or "none"
    text = f"""### {cpu["model"]} ({cpu_features(cpu)}), {report["written_at"][:10]}

```bash
{report["command"]}
```

CPU flags that decide the kernels: `{" ".join(cpu["flags"])}`; {m.get("cpu_cores_usable", m.get("cpu_cores"))} usable
cores; 1-minute load average {min(loads):.1f}–{max(loads):.1f} during the rounds, {report["load_after"]["loadavg"][0]:.1f}
at the end. llama-cpp-python {report.get("llama_cpp_system_info", {}).get("llama_cpp_python", "?")} built by
`make setup-llamacpp` (build `{(m.get("llama_cpp") or {}).get("build")}`); llama.cpp's system info: `{sysinfo}`.
Engine probe: {"passed" if probe.get("ok") else "FAILED: " + str(probe.get("reason"))} ({probe.get("seconds", "?")} s,
cached per build, CPU and GGUF). GGUF `{report["gguf"]}`; {report["repeats"]} repeat(s), the engines alternating
within each; at most {report["max_tokens"]} new tokens per streamed greedy request; llamacpp server overrides:
{over}.

{table}

{goals_text(report["speed"], report["ratios"])}
"""
    design = report.get("concurrency_design")
    if design:
        text += (
            "\nConcurrency design (in process, 4 requests at once): "
            + "; ".join(f"{d['design']} **{d['tokens_per_s']}** tokens/s" for d in design)
            + ".\n"
        )
    q = report.get("quality")
    if q:
        a, b = list(q["models"])

        def mean(x: Any) -> str:
            return (
                f"{x['mean']:.3f} [{x['low']:.3f}, {x['high']:.3f}]" if isinstance(x, dict) and "low" in x else str(x)
            )

        text += (
            f"\nQuality on {q['n']} held-out items, {a} against {b}: directions ROUGE-L "
            f"{mean(q['models'][a]['directions_rougeL'])} against {mean(q['models'][b]['directions_rougeL'])}, "
            f"well-formed {mean(q['models'][a]['checks']['well_formed'])} against "
            f"{mean(q['models'][b]['checks']['well_formed'])}; identical outputs {q['identical_outputs']}/{q['n']} "
            "(paired differences in the JSON's `quality`).\n"
        )
    return text


if __name__ == "__main__":
    main()
