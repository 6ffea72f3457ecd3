"""Batched generation (chefbot) vs the reference's approach, side by side in one run.

    python bench/generation_speed.py                 # 50 test items (the issue's setting)
    python bench/generation_speed.py --items 12      # quicker
    python bench/generation_speed.py --quick         # CI size (6 items, short outputs); docs untouched

Reference arm: a transformers ``text-generation`` pipeline, batch 4, max_new_tokens 1000,
on the model as loaded (its own generation_config).  chefbot arm: ``LocalGenerator``
(left padding, KV cache, prompts sorted by length, batch ``--batch-size``, stops on every
end-of-turn id, max_new_tokens 512).  Both arms: SmolLM2-135M-Instruct (the quickstart
model), the same items and prompts (system + user through the chat template), greedy
decoding, the same dtype and thread count, each with its own copy of the model.  The
arms' batches are interleaved (whichever arm is proportionally behind goes next) so a
noisy shared machine slows both alike.  Reports recipes/s per arm, the ratio, and how
many outputs hit each arm's token limit.  Writes bench/out/generation_speed.json, its
committed copy docs/results/generation_speed.json and the ``generation`` section of
docs/BENCHMARKS.md; ``--quick`` writes
bench/out/generation_speed_quick.json and leaves the docs alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, machine_line, md_table, replace_section, run_name, write_json  # noqa: E402


def load_items(config: str, n: int, overrides: list[str]) -> list[dict]:
    from chefbot.config import load_config
    from chefbot.data.prepare import load_eval_items

    # enough held-out items: the quickstart split holds 24 test items; the bench needs n
    cfg = load_config(config, [f"data.test_size={max(n, 24)}", *overrides])
    items = load_eval_items(cfg, "test")[:n]
    if len(items) < n:
        raise SystemExit(f"only {len(items)} test items available, asked for {n}")
    return items


def render_section(payload: dict) -> str:
    """The ``generation`` section, every figure from ``payload`` (the run's JSON)."""
    arms, n = payload["arms"], payload["items"]
    ref, cb = arms["reference pipeline"], arms["chefbot LocalGenerator"]
    rows = [
        [
            name,
            f"{a['recipes_per_s']:.4f}",
            f"{a['seconds']:.0f}",
            a["batch_size"],
            a["max_new_tokens"],
            f"{a['hit_token_limit']}/{n}",
            a["generated_tokens"],
        ]
        for name, a in arms.items()
    ]
    table = md_table(
        ["arm", "recipes/s", "seconds", "batch", "max_new_tokens", "hit token limit", "tokens generated"], rows
    )
    ref_tok_s, cb_tok_s = ref["generated_tokens"] / ref["seconds"], cb["generated_tokens"] / cb["seconds"]
    return (
        "## Batched generation vs the reference's pipeline\n\n"
        f"Command: `{payload['command']}`  \nMachine: {machine_line(payload['machine'])}  \n"
        f"Model: SmolLM2-135M-Instruct ({payload['model']}, dequantized, {payload['dtype']}); "
        f"{n} held-out test items of `{payload['config']}`; greedy decoding in both arms; "
        f"arms' batches interleaved in one process so machine noise hits both.\n\n"
        f"{table}\n\n"
        # The headline is per token: recipes/s also counts the arms' different token caps (outputs that
        # never stop generate up to the cap, so the lower cap alone makes recipes/s look faster).
        f"**Speed-up per generated token: {cb_tok_s / ref_tok_s:.1f}x** (chefbot {cb_tok_s:.0f} tokens/s, "
        f"reference {ref_tok_s:.0f} tokens/s). {payload['identical_outputs']}/{n} outputs are identical text in both "
        "arms.\n\n"
        f"Recipes/s: {payload['speedup']:.2f}x (chefbot / reference), not like for like: a token cap of "
        f"{cb['max_new_tokens']} against {ref['max_new_tokens']}, which {cb['hit_token_limit']}/{n} and "
        f"{ref['hit_token_limit']}/{n} outputs hit, so chefbot generated {cb['generated_tokens']} tokens to the "
        f"reference's {ref['generated_tokens']}.\n\n"
        f"What differs between the arms: batch {cb['batch_size']} against {ref['batch_size']}, chefbot's prompts sorted "
        f"by length, and a token cap of {cb['max_new_tokens']} against {ref['max_new_tokens']} for outputs that do not "
        "stop; both arms stop on the model's end-of-turn token.\n"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="configs/quickstart.yaml")
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=16, help="chefbot arm batch size")
    ap.add_argument("--max-new-tokens", type=int, default=512, help="chefbot arm limit (issue default)")
    ap.add_argument("--ref-batch-size", type=int, default=4)
    ap.add_argument("--ref-max-new-tokens", type=int, default=1000)
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="CI size: 6 items, limits 64/128; writes generation_speed_quick.json, not the docs",
    )
    ap.add_argument("--out", type=Path, default=None, help="folder for the JSON (default bench/out)")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite docs/BENCHMARKS.md")
    ap.add_argument("overrides", nargs="*", help="config key=value overrides")
    args = ap.parse_args(argv)
    if args.quick:
        args.items, args.max_new_tokens, args.ref_max_new_tokens = 6, 64, 128

    import torch
    from transformers import pipeline

    from chefbot.chat import adapt_to_template
    from chefbot.config import GenerationConfig, load_config
    from chefbot.generate import LocalGenerator
    from chefbot.model import load_model, load_tokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config, args.overrides)
    items = load_items(args.config, args.items, args.overrides)
    dtype = torch.float32 if args.dtype == "fp32" else torch.bfloat16
    tok = load_tokenizer(cfg.model)
    ref_model = load_model(cfg, dtype=dtype, quantize=False).eval()
    cb_model = load_model(cfg, dtype=dtype, quantize=False).eval()

    # Reference arm: what the reference project did (pipeline over chat messages, batch 4).
    pipe = pipeline("text-generation", model=ref_model, tokenizer=tok, batch_size=args.ref_batch_size)
    ref_eos = ref_model.generation_config.eos_token_id
    ref_msgs = [adapt_to_template(it["messages"], tok, cfg.prompt.fold_system) for it in items]
    ref_batches = [
        list(range(i, min(i + args.ref_batch_size, len(items)))) for i in range(0, len(items), args.ref_batch_size)
    ]

    gen = LocalGenerator(
        cb_model,
        tok,
        GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size),
        fold=cfg.prompt.fold_system,
    )
    # chefbot's own batching: longest prompts first, fixed batch size (what generate() does internally)
    order = sorted(range(len(items)), key=lambda i: -len(gen.prompt_ids(items[i]["messages"])))
    cb_batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]

    ref_out: dict[int, dict] = {}
    cb_out: dict[int, dict] = {}
    ref_s = cb_s = 0.0
    done_ref = done_cb = 0
    # warm-up outside the clock (first-call allocations, lazy imports) for both arms
    pipe([ref_msgs[0]], max_new_tokens=2, do_sample=False)
    gen.generate([items[0]["messages"]], {"max_new_tokens": 2})
    while done_ref < len(ref_batches) or done_cb < len(cb_batches):
        ref_behind = done_cb >= len(cb_batches) or (
            done_ref < len(ref_batches) and done_ref / len(ref_batches) <= done_cb / len(cb_batches)
        )
        if ref_behind:
            idx = ref_batches[done_ref]
            t0 = time.perf_counter()
            outs = pipe(
                [ref_msgs[i] for i in idx],
                max_new_tokens=args.ref_max_new_tokens,
                do_sample=False,
                return_full_text=False,
            )
            ref_s += time.perf_counter() - t0
            for i, o in zip(idx, outs):
                text = o[0]["generated_text"]
                # the pipeline returns text only: re-tokenize to count (exact up to a token or two)
                k = len(tok(text, add_special_tokens=False)["input_ids"])
                ref_out[i] = {"tokens": k, "hit_limit": k >= args.ref_max_new_tokens - 2, "text": text}
            done_ref += 1
        else:
            idx = cb_batches[done_cb]
            t0 = time.perf_counter()
            comps = gen.generate([items[i]["messages"] for i in idx])
            cb_s += time.perf_counter() - t0
            for i, c in zip(idx, comps):
                cb_out[i] = {"tokens": c.completion_tokens, "hit_limit": c.finish_reason == "length", "text": c.text}
            done_cb += 1
        print(
            f"ref {done_ref}/{len(ref_batches)} ({ref_s:.0f} s)  chefbot {done_cb}/{len(cb_batches)} ({cb_s:.0f} s)",
            file=sys.stderr,
            flush=True,
        )

    n = len(items)
    arms = {
        "reference pipeline": {
            "seconds": ref_s,
            "recipes_per_s": n / ref_s,
            "batch_size": args.ref_batch_size,
            "max_new_tokens": args.ref_max_new_tokens,
            "stop_ids": ref_eos,
            "hit_token_limit": sum(o["hit_limit"] for o in ref_out.values()),
            "generated_tokens": sum(o["tokens"] for o in ref_out.values()),
        },
        "chefbot LocalGenerator": {
            "seconds": cb_s,
            "recipes_per_s": n / cb_s,
            "batch_size": args.batch_size,
            "max_new_tokens": args.max_new_tokens,
            "stop_ids": gen.stop_ids,
            "hit_token_limit": sum(o["hit_limit"] for o in cb_out.values()),
            "generated_tokens": sum(o["tokens"] for o in cb_out.values()),
        },
    }
    ratio = arms["chefbot LocalGenerator"]["recipes_per_s"] / arms["reference pipeline"]["recipes_per_s"]
    same_text = sum(ref_out[i]["text"].strip() == cb_out[i]["text"].strip() for i in range(n))
    command = "python bench/generation_speed.py " + " ".join(argv if argv is not None else sys.argv[1:])
    info = machine()
    payload = {
        "command": command.strip(),
        "quick": args.quick,
        "machine": info,
        "config": args.config,
        "items": n,
        "dtype": args.dtype,
        "arms": arms,
        "speedup": ratio,
        "identical_outputs": same_text,
        "model": cfg.model.name_or_path,
        "samples": {"reference": ref_out[0]["text"][:400], "chefbot": cb_out[0]["text"][:400]},
    }
    out = write_json(run_name("generation_speed", args.quick), payload, out_dir=args.out)
    body = render_section(json.loads(out.read_text()))
    if not (args.quick or args.no_doc):  # a CI-size run never replaces the real numbers
        replace_section("generation", body, results=out, results_name=out.stem)
    print(body)
    print(f"json: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
