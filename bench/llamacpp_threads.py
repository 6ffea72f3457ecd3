"""llama.cpp threads per context, in one run: `chefbot serve --engine llamacpp` with 1 and with 2 threads per
busy context, and bare llama-cpp-python with 1 and with 2 threads, on the same GGUF, for 1 and 4 clients.

    python bench/llamacpp_threads.py --adapter runs/quickstart/adapter --doc-section llamacpp-threads
    python bench/llamacpp_threads.py --adapter runs/quickstart/adapter --quick    # a smoke run (bench/out only)

Why: the threads setting of engine llamacpp was chosen from chefbot at 1 thread against bare llama-cpp-python
at 2, in another run (docs/results/serve_engines_threads1.json); that compares two things at once.  Here all four
arms run in each repeat, their order rotated from repeat to repeat, and medians of the repeats are reported with
every repeat beside them.

The chefbot arms are the real server (``serve_engines.serve_round``: 127.0.0.1, ``serve.max_concurrency=4``, streamed
greedy chat requests from ``serve_load``'s client).  The engine's threads setting is a total that the busy contexts
share (each gets ``threads // busy``, at least one), so "T threads per context" for C concurrent clients is the
setting T*C, with a server started per round.  The bare arms are ``serve_engines.Bare`` in a fresh process each
(the environment a user's script gets: libgomp's default wait policy, recorded as ``omp_wait_policy``), one
``Llama`` of T threads serving one request at a time.

Writes bench/out/llamacpp_threads.json (``--quick``: llamacpp_threads_quick.json) with the CPU (``machine.cpu_info``),
the probe's verdict and the load average per round.  ``--doc-section NAME`` (full runs only) renders the run into
``<!-- section:NAME -->`` of docs/BENCHMARKS.md and copies the JSON to docs/results/<--name>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import cpu_features, md_table, median, replace_section, run_name, write_json  # noqa: E402
from serve_engines import load, part, serve_round  # noqa: E402

THREADS = (1, 2)  # per context: the two settings the docs chose between
ARMS = [(engine, t) for engine in ("chefbot", "bare") for t in THREADS]


def arm_name(engine: str, threads: int) -> str:
    return f"{engine}_{threads}"


THREADS_KEY = "engine.threads"  # the total the busy contexts share (config.EngineConfig.threads)


def arm_order(repeat: int) -> list[tuple[str, int]]:
    """The arms of one repeat, rotated by the repeat's index, so no arm always runs first (on a cold machine)
    or right after another one."""
    k = repeat % len(ARMS)
    return ARMS[k:] + ARMS[:k]


def threads_setting(key: str, per_context: int, clients: int) -> str:
    """The server override giving each of ``clients`` busy contexts ``per_context`` threads: the setting is the
    total the busy contexts share (``LlamaCppGenerator._share``: ``threads // busy``)."""
    return f"{key}={per_context * clients}"


def summary(runs: dict[str, list[list[dict]]], rounds: list[tuple[int, int]]) -> tuple[dict, dict]:
    """Medians over the repeats per arm and round, and the ratios between arms (of the medians, and per repeat).

    ``runs[arm]`` holds one list per repeat, one summary (``serve_load.summarize``) per round, in ``rounds``' order."""
    speed: dict[str, dict] = {}
    for arm, reps in runs.items():
        speed[arm] = {}
        for k, (clients, _) in enumerate(rounds):
            xs = [rep[k] for rep in reps]
            speed[arm][f"{clients}_clients"] = {
                "tokens_per_s": round(median(x["tokens_per_s"] for x in xs), 1),
                "tokens_per_s_repeats": [round(x["tokens_per_s"], 1) for x in xs],
                "ttft_p50_s": round(median(x["ttft_p50_s"] for x in xs), 3),
                "latency_p50_s": round(median(x["latency_p50_s"] for x in xs), 2),
                "mean_tokens_per_answer": round(median(x["mean_tokens_per_answer"] for x in xs), 1),
            }
    pairs = {
        "chefbot_1_over_chefbot_2": ("chefbot_1", "chefbot_2"),
        "bare_1_over_bare_2": ("bare_1", "bare_2"),
        "chefbot_1_over_bare_1": ("chefbot_1", "bare_1"),
        "chefbot_2_over_bare_2": ("chefbot_2", "bare_2"),
    }
    ratios: dict[str, dict] = {}
    for k, (clients, _) in enumerate(rounds):
        key = f"{clients}_clients"
        ratios[key] = {}
        for name, (a, b) in pairs.items():
            per = [x[k]["tokens_per_s"] / y[k]["tokens_per_s"] for x, y in zip(runs[a], runs[b])]
            med_a, med_b = (median(x[k]["tokens_per_s"] for x in runs[arm]) for arm in (a, b))  # unrounded
            ratios[key][name] = {"median": round(med_a / med_b, 2), "per_repeat": [round(r, 2) for r in per]}
    return speed, ratios


def verdict(ratio: dict, faster: str, slower: str) -> str:
    """What a ratio a/b supports: a is faster only when every repeat says so (one repeat: "in the one repeat")."""
    per = ratio["per_repeat"]
    how = "in the one repeat" if len(per) == 1 else f"in all {len(per)} repeats"
    if all(r > 1 for r in per):
        return f"{faster} faster {how} ({ratio['median']}×)"
    if all(r < 1 for r in per):
        return f"{slower} faster {how} ({round(1 / ratio['median'], 2)}×)"
    return f"no consistent difference (repeats {', '.join(map(str, per))} on both sides of 1)"


LABELS = {"chefbot": "`chefbot serve --engine llamacpp` ({quant})", "bare": "bare llama-cpp-python, same GGUF"}


def render(report: dict) -> str:
    """The "llama.cpp threads" subsection of docs/BENCHMARKS.md, from a full run's JSON."""
    m, cpu = report["machine"], report["cpu"]
    rows = []
    for rnd in report["rounds"]:
        key = f"{rnd['clients']}_clients"
        for engine, t in ARMS:
            x = report["speed"][arm_name(engine, t)][key]
            rows.append(
                [
                    LABELS[engine].format(quant=report["quant"]),
                    t,
                    rnd["clients"],
                    f"**{x['tokens_per_s']}** ({', '.join(map(str, x['tokens_per_s_repeats']))})",
                    f"{x['ttft_p50_s']} s",
                    f"{x['latency_p50_s']} s",
                    x["mean_tokens_per_answer"],
                ]
            )
    table = md_table(
        [
            "engine",
            "threads per context",
            "clients",
            "tokens/s (median; repeats)",
            "TTFT p50",
            "latency p50",
            "tokens per answer",
        ],
        rows,
    )
    findings = []
    for key, r in report["ratios"].items():
        clients = key.split("_")[0]
        chefbot = verdict(r["chefbot_1_over_chefbot_2"], "1 thread", "2 threads")
        bare = verdict(r["bare_1_over_bare_2"], "1 thread", "2 threads")
        findings.append(
            f"- {clients} client(s): chefbot {chefbot}; bare llama-cpp-python {bare}; chefbot over "
            f"bare at equal threads: {r['chefbot_1_over_bare_1']['median']}× at 1, "
            f"{r['chefbot_2_over_bare_2']['median']}× at 2."
        )
    loads = [x["load"]["loadavg"][0] for reps in report["runs"].values() for rep in reps for x in rep]
    return f"""### {cpu["model"]} ({cpu_features(cpu)}), {report["written_at"][:10]}

```bash
{report["command"]}
```

{m.get("cpu_cores_usable", m.get("cpu_cores"))} usable cores; 1-minute load average {min(loads):.1f}–{max(loads):.1f}
during the rounds. GGUF `{report["gguf"]}`; {report["repeats"]} repeat(s), the four arms in rotated order within each;
at most {report["max_tokens"]} new tokens per streamed greedy request; chefbot's setting `{report["threads_key"]}` =
threads per context × clients (a server per round); bare llama-cpp-python with libgomp's default wait policy.

{table}

{chr(10).join(findings)}
"""


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/quickstart.yaml")
    ap.add_argument("--adapter", default=None)
    ap.add_argument("--quant", default="q8_0")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=160)
    ap.add_argument("--requests-1", type=int, default=4, help="requests of the one-client round")
    ap.add_argument("--requests-4", type=int, default=8, help="requests of the 4-client round")
    ap.add_argument("--name", default="llamacpp_threads", help="bench/out/NAME.json")
    ap.add_argument("--quick", action="store_true", help="1 repeat, 2+4 requests of 24 tokens")
    ap.add_argument(
        "--doc-section",
        default=None,
        metavar="NAME",
        help="render this full run into <!-- section:NAME --> of docs/BENCHMARKS.md (+ docs/results/<--name>.json)",
    )
    args = ap.parse_args(argv)
    if args.doc_section and args.quick:
        raise SystemExit("--doc-section renders full runs only (a --quick run never rewrites the docs)")
    if args.quick:
        args.repeats, args.max_tokens, args.requests_1, args.requests_4 = 1, 24, 2, 4
    sys.path.insert(0, str(HERE.parent / "src"))
    from chefbot.config import load_config
    from chefbot.generate.engine_probe import cpu_info, probe_llamacpp
    from chefbot.generate.gguf import cached_gguf

    cfg = load_config(Path(args.config), [])
    key = THREADS_KEY
    gguf = cached_gguf(cfg, args.adapter, args.quant)  # the file both engines run (exported once)
    cpu = cpu_info()
    print(f"CPU: {cpu['model']} ({cpu_features(cpu)})")
    probe = probe_llamacpp(gguf, max(THREADS))
    if not probe.ok:
        raise SystemExit(f"the llamacpp engine's probe failed on this machine: {probe.reason}")
    log_dir = HERE / "out"
    log_dir.mkdir(parents=True, exist_ok=True)
    rounds = [(1, args.requests_1), (4, args.requests_4)]
    runs: dict[str, list] = {arm_name(*a): [] for a in ARMS}
    for r in range(args.repeats):
        for engine, t in arm_order(r):
            if engine == "chefbot":
                res = []
                for clients, requests in rounds:
                    _, out = serve_round(
                        args.config,
                        args.adapter,
                        "llamacpp",
                        args.quant,
                        [(clients, requests)],
                        args.max_tokens,
                        log_dir,
                        [threads_setting(key, t, clients)],
                    )
                    res += out
            else:
                res = part("bare", argparse.Namespace(**{**vars(args), "threads": t}))
            runs[arm_name(engine, t)].append(res)
            print(
                f"repeat {r}: {engine} {t} thread(s) per context: "
                + ", ".join(f"{x['clients']} client(s) {x['tokens_per_s']:.1f} tokens/s" for x in res)
            )
    speed, ratios = summary(runs, rounds)
    report = {
        "command": " ".join(["python", "bench/llamacpp_threads.py", *(sys.argv[1:] if argv is None else argv)]),
        "config": args.config,
        "adapter": args.adapter,
        "quant": args.quant,
        "gguf": gguf.name,
        "max_tokens": args.max_tokens,
        "repeats": args.repeats,
        "threads_key": key,
        "cpu": cpu,
        "llamacpp_probe": probe.to_json(),
        "rounds": [{"clients": c, "requests": n} for c, n in rounds],
        "speed": speed,
        "ratios": ratios,
        "runs": runs,
        "load_after": load(),
        "quick": args.quick,
    }
    path = write_json(run_name(args.name, args.quick), report)
    print(json.dumps({"speed": speed, "ratios": ratios}, indent=1))
    print(f"written {path}")
    if args.doc_section:
        replace_section(
            args.doc_section, render(json.loads(path.read_text(encoding="utf-8"))), results=path, results_name=args.name
        )
        print(f"rendered into <!-- section:{args.doc_section} --> of docs/BENCHMARKS.md")
    return report


if __name__ == "__main__":
    main()
