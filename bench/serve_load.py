"""Load test for `chefbot serve`: N concurrent clients on loopback, bounded time and count.

Starts `chefbot serve CONFIG` (the real command) on 127.0.0.1 and a free port, drives it
with httpx async clients, and reports p50/p95 latency, time to first token, tokens/s and
the counts of answered, rejected (429/503, with Retry-After) and failed requests.
Nothing may be lost: every request sent must come back answered or clearly rejected;
the script exits non-zero otherwise.

    python bench/serve_load.py --config configs/quickstart.yaml --clients 4 --requests 24
    python bench/serve_load.py --quick     # CI size: 2 clients, 4 requests of 8 tokens, mixed
    python bench/serve_load.py --soak      # 10 minutes, 6 clients, more than the server's generating slots
    python bench/serve_load.py ... --publish serve_load   # also commit-ready: docs/results/serve_load.json

The server's resident memory (its process tree, psutil) is sampled every 5 s from the end of
the warm-up to the end of the run: a soak passes only with no failed request, and its RSS at
start, end and peak are reported beside the latencies.

Writes bench/out/serve_load.json by default (``--out``); ``--quick`` writes
bench/out/serve_load_quick.json and ``--soak`` bench/out/serve_soak.json (bench/out/ is git-ignored).
The serving section of docs/BENCHMARKS.md is written by hand and quotes only committed copies:
``--publish NAME`` copies the JSON to docs/results/NAME.json (refused with ``--quick``).
Traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))  # run from a checkout without `pip install -e`
from chefbot.evaluate.stats import resample_indices  # noqa: E402

INGREDIENTS = [
    ["eggs", "spinach", "feta"],
    ["chicken", "lemon", "garlic"],
    ["rice", "peas", "onion"],
    ["flour", "butter", "sugar"],
    ["potato", "leek", "cream"],
    ["tomato", "basil", "pasta"],
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(q / 100 * (len(v) - 1)))))]


async def one_request(client: httpx.AsyncClient, i: int, max_tokens: int, stream: bool) -> dict:
    ner = INGREDIENTS[i % len(INGREDIENTS)]
    body = {
        "model": "chefbot",
        "max_tokens": max_tokens,
        "stream": stream,
        "messages": [{"role": "user", "content": f"Include ingredients: {', '.join(ner)}"}],
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    t0 = time.perf_counter()
    rec: dict = {"i": i, "stream": stream}
    try:
        if not stream:
            r = await client.post("/v1/chat/completions", json=body)
            rec["status"] = r.status_code
            if r.status_code == 200:
                rec["tokens"] = r.json()["usage"]["completion_tokens"]
            else:
                rec["retry_after"] = r.headers.get("Retry-After")
        else:
            async with client.stream("POST", "/v1/chat/completions", json=body) as r:
                rec["status"] = r.status_code
                if r.status_code != 200:
                    await r.aread()
                    rec["retry_after"] = r.headers.get("Retry-After")
                else:
                    done = False
                    async for line in r.aiter_lines():
                        if not line.startswith("data: "):
                            continue
                        data = line[6:]
                        if data == "[DONE]":
                            done = True
                            break
                        ev = json.loads(data)
                        if "error" in ev:
                            rec["status"] = "stream-error"
                        if ev.get("choices") and ev["choices"][0]["delta"].get("content") and "ttft" not in rec:
                            rec["ttft"] = time.perf_counter() - t0
                        if ev.get("usage"):
                            rec["tokens"] = ev["usage"]["completion_tokens"]
                    if not done:
                        rec["status"] = "truncated"
    except Exception as e:  # a transport failure is a *failed* request, and is counted
        rec["status"] = f"error: {type(e).__name__}: {e}"
    rec["latency"] = time.perf_counter() - t0
    return rec


async def drive(
    url: str, clients: int, requests: int, duration: float, max_tokens: int, mode: str, seed: int
) -> tuple[list[dict], float]:
    rng = random.Random(seed)
    counter = iter(range(requests))
    deadline = time.perf_counter() + duration
    results: list[dict] = []

    async def worker(client: httpx.AsyncClient) -> None:
        for i in counter:
            if time.perf_counter() > deadline:
                return
            stream = mode == "stream" or (mode == "mixed" and rng.random() < 0.5)
            results.append(await one_request(client, i, max_tokens, stream))

    t0 = time.perf_counter()
    limits = httpx.Limits(max_connections=clients + 2)
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(600.0), limits=limits) as client:
        await asyncio.gather(*[worker(client) for _ in range(clients)])
    return results, time.perf_counter() - t0


def bootstrap_ci(values: list[float], q: float, n: int = 2000, seed: int = 0) -> list[float] | None:
    """95% percentile-bootstrap interval of the q-th percentile (requests resampled by the project's one resampler)."""
    if len(values) < 2:
        return None
    v = np.asarray(values)
    stats = sorted(pct(v[row].tolist(), q) for idx in resample_indices(len(v), n, seed) for row in idx)
    return [stats[int(0.025 * n)], stats[int(0.975 * n) - 1]]


def summarize(results: list[dict], wall: float) -> dict:
    ok = [r for r in results if r["status"] == 200]
    rejected = [r for r in results if r["status"] in (429, 503)]
    failed = [r for r in results if r not in ok and r not in rejected]
    tokens = sum(r.get("tokens", 0) for r in ok)
    lat = [r["latency"] for r in ok]
    ttft = [r["ttft"] for r in ok if "ttft" in r]
    return {
        "sent": len(results),
        "answered": len(ok),
        "rejected": len(rejected),
        "failed": len(failed),
        "rejections_with_retry_after": sum(bool(r.get("retry_after")) for r in rejected),
        "latency_p50_s": pct(lat, 50),
        "latency_p50_ci95": bootstrap_ci(lat, 50),
        "latency_p95_s": pct(lat, 95),
        "ttft_p50_ci95": bootstrap_ci(ttft, 50),
        "ttft_p50_s": pct(ttft, 50),
        "ttft_p95_s": pct(ttft, 95),
        "ttft_n": len(ttft),
        "completion_tokens": tokens,
        "wall_s": wall,
        "tokens_per_s": tokens / wall if wall else None,
        "mean_tokens_per_answer": statistics.mean([r.get("tokens", 0) for r in ok]) if ok else None,
        "failures": [r["status"] for r in failed][:10],
    }


class RssSampler:
    """Resident memory of the server's process tree, sampled in a thread every ``every`` seconds."""

    def __init__(self, pid: int, every: float = 5.0) -> None:
        import threading

        self.proc = psutil.Process(pid)
        self.every = every
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_mb(self) -> float:
        procs = [self.proc, *self.proc.children(recursive=True)]
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((round(time.perf_counter() - self._t0, 1), round(self.rss_mb(), 1)))
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((round(time.perf_counter() - self._t0, 1), round(self.rss_mb(), 1)))

    def summary(self) -> dict:
        mb = [m for _, m in self.samples]
        half = mb[len(mb) // 2 :]
        return {
            "rss_start_mb": mb[0],
            "rss_end_mb": mb[-1],
            "rss_max_mb": max(mb),
            "rss_second_half_min_mb": min(half),
            "rss_second_half_max_mb": max(half),
            "samples": len(mb),
            "every_s": self.every,
            "series": self.samples,
        }


def start_server(config: str, port: int, overrides: list[str], log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "chefbot.cli", "serve", config, *overrides, "--host", "127.0.0.1", "--port", str(port)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} before it was ready")
        try:
            return httpx.get(url + "/health", timeout=2).json()
        except httpx.HTTPError:
            time.sleep(0.5)
    raise SystemExit(f"server not ready after {timeout:.0f} s")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/quickstart.yaml")
    ap.add_argument("--override", action="append", default=[], help="serve key=value, e.g. serve.max_queue=2")
    ap.add_argument(
        "--engine",
        default="hf",
        choices=["auto", "hf", "llamacpp", "vllm"],
        help="chefbot serve --engine; pinned (not auto) so a run measures the same engine whether or not "
        "llama-cpp-python is installed (bench/serve_engines.py compares the engines)",
    )
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--requests", type=int, default=24, help="at most this many requests in all")
    ap.add_argument("--duration", type=float, default=300, help="stop sending new requests after this many seconds")
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--mode", choices=["stream", "plain", "mixed"], default="mixed")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="CI size: 2 clients, 4 requests, max_tokens 8, at most 60 s; writes bench/out/serve_load_quick.json",
    )
    ap.add_argument(
        "--soak",
        action="store_true",
        help="10 minutes of 6 clients (more than the server's generating slots, so some are queued or rejected), "
        "unbounded request count; writes bench/out/serve_soak.json",
    )
    ap.add_argument(
        "--out",
        default=None,
        help="JSON file (default bench/out/serve_load.json, or serve_load_quick.json with --quick)",
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
    if args.soak:
        args.clients, args.requests, args.duration = 6, 10**9, 600
        args.out = args.out or "bench/out/serve_soak.json"
    if args.quick:
        args.clients, args.requests, args.max_tokens = (
            min(args.clients, 2),
            min(args.requests, 4),
            min(args.max_tokens, 8),
        )
        args.duration = min(args.duration, 60)
    args.out = args.out or f"bench/out/{'serve_load_quick' if args.quick else 'serve_load'}.json"

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out = REPO / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    log = out.with_suffix(".server.log")
    proc = start_server(args.config, port, [*args.override, "--engine", args.engine], log)
    try:
        t_ready = time.perf_counter()
        health = wait_healthy(url, proc, timeout=600)
        startup = time.perf_counter() - t_ready
        # one warm-up request so lazy initialisation is not counted as latency
        asyncio.run(one_request(httpx.AsyncClient(base_url=url, timeout=600), -1, 4, False))
        with RssSampler(proc.pid) as rss:
            results, wall = asyncio.run(
                drive(url, args.clients, args.requests, args.duration, args.max_tokens, args.mode, args.seed)
            )
        server_side = httpx.get(url + "/health", timeout=5).json()["queue"]
    finally:
        stop_server(proc)
    summary = summarize(results, wall)
    argv = sys.argv[1:] if argv is None else argv
    report = {
        "command": " ".join(["python", "bench/serve_load.py", *argv]),
        "quick": args.quick,
        "config": args.config,
        "overrides": args.override,
        "clients": args.clients,
        "max_tokens": args.max_tokens,
        "mode": args.mode,
        "startup_s": startup,
        "capacity": health["queue"]["capacity"],
        "max_concurrency": health["queue"]["max_concurrency"],
        "summary": summary,
        "server": server_side,
        "memory": rss.summary(),
        "cpu_count": os.cpu_count(),
        "loadavg_after": os.getloadavg(),
        "requests": results,
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    s = summary
    f = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
    print(f"{s['sent']} sent: {s['answered']} answered, {s['rejected']} rejected (429/503), {s['failed']} failed")
    ci = s["latency_p50_ci95"] or [None, None]
    print(
        f"latency p50 {f(s['latency_p50_s'])} s (95% CI {f(ci[0])}-{f(ci[1])}), p95 {f(s['latency_p95_s'])} s; TTFT p50 {f(s['ttft_p50_s'])} s, "
        f"p95 {f(s['ttft_p95_s'])} s (n={s['ttft_n']}); {f(s['tokens_per_s'])} tokens/s over {s['wall_s']:.1f} s"
    )
    m = report["memory"]
    print(
        f"server: {server_side['batches']} batches, largest {server_side['max_batch_seen']}; RSS {m['rss_start_mb']:.0f} MB "
        f"at start, {m['rss_end_mb']:.0f} MB at end, {m['rss_max_mb']:.0f} MB peak ({m['samples']} samples); written {out}"
    )
    # Nothing lost: every request answered or clearly rejected.
    assert s["answered"] + s["rejected"] + s["failed"] == s["sent"]
    assert s["failed"] == 0, f"failed requests: {s['failures']}"
    assert s["rejections_with_retry_after"] == s["rejected"], "a rejection came without Retry-After"
    if args.publish:  # only a run that passed the checks above
        sys.path.insert(0, str(REPO / "bench"))
        import common

        print(f"published {common.publish_results(args.publish, out)}")
    return report


if __name__ == "__main__":
    main()
