"""bf16 against fp32 on this CPU: the one measurement every "bf16 is slower on CPU" line cites.

chefbot's ``precision: auto`` picks fp32 on CPUs without native bf16 matmuls (AVX-512 BF16 or
AMX: ``chefbot.model.cpu_has_fast_bf16``, which reads the CPU's feature bits), and its inference dtype rule
(``chefbot.model.inference_precision``) picks bf16 for serving and chat where they are native and fp32
for evaluation.  This script measures why,
three ways, fp32 and bf16 interleaved in one process, medians of repeats:

* a square matmul (GFLOP/s);
* a training step of SmolLM2-135M (the quickstart model: forward + backward on 4 × 256 tokens);
* greedy generation with SmolLM2-135M (new tokens/s, batch 1).

    python bench/cpu_precision.py            # 5 repeats; rewrites its section of docs/BENCHMARKS.md
    python bench/cpu_precision.py --quick    # CI size: 1 repeat, small shapes, a tiny model; docs untouched
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import machine, machine_line, md_table, median, replace_section, run_name, spread, write_json


def _matmul(n: int, dtype, repeats: int) -> float:
    import torch

    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


def _model(quick: bool, dtype):
    import torch

    if quick:
        from transformers import LlamaConfig, LlamaForCausalLM

        torch.manual_seed(0)
        cfg = LlamaConfig(
            vocab_size=512,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
        )
        return LlamaForCausalLM(cfg).to(dtype), 512
    from chefbot.config import ExperimentConfig
    from chefbot.model import load_model

    cfg = ExperimentConfig.model_validate({"name": "cpu_precision", "quant": {"mode": "none"}})  # SmolLM2-135M
    model = load_model(cfg, dtype=dtype, quantize=False)
    return model, model.config.vocab_size


def _train_step_s(model, vocab: int, batch: int, length: int) -> float:
    import torch

    ids = torch.randint(0, vocab, (batch, length))
    t0 = time.perf_counter()
    out = model(input_ids=ids, labels=ids)
    out.loss.backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - t0


def _generate_tok_s(model, vocab: int, new_tokens: int) -> float:
    import torch

    ids = torch.randint(0, vocab, (1, 32))
    with torch.inference_mode():
        t0 = time.perf_counter()
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            pad_token_id=0,
        )
    return (out.shape[1] - ids.shape[1]) / (time.perf_counter() - t0)


def measure(quick: bool, repeats: int) -> dict:
    import torch

    n, batch, length, new = (256, 2, 32, 8) if quick else (2048, 4, 256, 64)
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    models = {k: _model(quick, d) for k, d in dtypes.items()}
    for m, vocab in models.values():  # warm-up: first calls allocate and pick kernels
        _train_step_s(m, vocab, 1, 8)
    rows: dict[str, dict[str, list[float]]] = {
        k: {"matmul_gflops": [], "train_step_s": [], "generate_tok_s": []} for k in dtypes
    }
    for _ in range(repeats):  # interleaved, so load changes hit both dtypes alike
        for k, d in dtypes.items():
            m, vocab = models[k]
            rows[k]["matmul_gflops"].append(_matmul(n, d, 3))
            rows[k]["train_step_s"].append(_train_step_s(m, vocab, batch, length))
            rows[k]["generate_tok_s"].append(_generate_tok_s(m, vocab, new))
    med = {k: {m: median(v) for m, v in r.items()} for k, r in rows.items()}
    ratio = {  # bf16's speed over fp32's on each measure: above 1, bf16 is faster
        "matmul": med["bf16"]["matmul_gflops"] / med["fp32"]["matmul_gflops"],
        "train_step": med["fp32"]["train_step_s"] / med["bf16"]["train_step_s"],
        "generate": med["bf16"]["generate_tok_s"] / med["fp32"]["generate_tok_s"],
    }
    from chefbot.model import cpu_has_fast_bf16

    return {
        "quick": quick,
        "repeats": repeats,
        "shapes": {"matmul_n": n, "train_batch": batch, "train_length": length, "new_tokens": new},
        "native_bf16": cpu_has_fast_bf16(),
        "repeats_raw": rows,
        "median": med,
        "bf16_speedup": ratio,
    }


HEADING = "## bf16 against fp32 on this CPU"
SECTION = "cpu-precision"


def section(r: dict, m: dict, heading: str = HEADING) -> str:
    s = r["shapes"]
    rows = []
    for label, key, unit, lower_better in (
        ("matmul", "matmul_gflops", "GFLOP/s", False),
        ("training step", "train_step_s", "s", True),
        ("greedy generation", "generate_tok_s", "new tokens/s", False),
    ):
        lo32, hi32 = spread(r["repeats_raw"]["fp32"][key])
        lo16, hi16 = spread(r["repeats_raw"]["bf16"][key])
        short = {"matmul_gflops": "matmul", "train_step_s": "train_step", "generate_tok_s": "generate"}[key]
        rows.append(
            [
                f"{label} ({unit}{', lower is better' if lower_better else ''})",
                f"{r['median']['fp32'][key]:.2f} ({lo32:.2f}–{hi32:.2f})",
                f"{r['median']['bf16'][key]:.2f} ({lo16:.2f}–{hi16:.2f})",
                f"**{r['bf16_speedup'][short]:.2f}×**",
            ]
        )
    return "\n".join(
        [
            heading,
            "",
            f"Command: `python bench/cpu_precision.py{'' if heading == HEADING else ' --doc-section ' + r['doc_section']}`  ",
            f"Machine: {machine_line(m)}; native bf16 matmuls: {'yes' if r['native_bf16'] else 'no'}  ",
            f"{r['repeats']} interleaved repeats, medians (range). Shapes: a {s['matmul_n']}² matmul; SmolLM2-135M-Instruct "
            f"forward + backward on {s['train_batch']} × {s['train_length']} tokens; greedy generation of {s['new_tokens']} "
            "new tokens at batch 1 after a 32-token prompt.",
            "",
            md_table(["measure", "fp32", "bf16", "bf16 speed ÷ fp32 speed"], rows),
            "",
            "The code and the other docs cite this section rather than a number: the ratio depends on whether the CPU "
            "has native bf16 matmuls (AVX512-BF16 or AMX: `chefbot.model.cpu_has_fast_bf16`; oneDNN's own "
            "`_is_mkldnn_bf16_supported()` also says yes where bf16 is emulated), and the same cloud machine "
            "type has come with and without them. `precision: auto` trains in bf16 only where they are native; "
            "generation (`chefbot.model.inference_precision`, `engine.dtype: auto`) runs bf16 for `chefbot serve` "
            "and `chat` where they are native, and fp32 for evaluation, the precision the merge check and the "
            "reference numbers use.",
        ]
    )


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="CI size: 1 repeat, small shapes, a tiny random model")
    ap.add_argument("--out", type=Path, default=None, help="folder for the JSON (default bench/out)")
    ap.add_argument(
        "--doc-section",
        default=SECTION,
        help=f"the BENCHMARKS.md section to write (default {SECTION}); another name keeps a second CPU's figures "
        "beside the first (its JSON is named after it)",
    )
    args = ap.parse_args(argv)
    r = {**measure(args.quick, 1 if args.quick else args.repeats), "doc_section": args.doc_section}
    m = machine()
    out = write_json(run_name(args.doc_section.replace("-", "_"), args.quick), r, args.out)
    if not args.quick:
        heading = HEADING if args.doc_section == SECTION else f"## bf16 against fp32 on {m['cpu']}"
        replace_section(args.doc_section, section(r, m, heading), results=out, results_name=out.stem)
    print(" ".join(f"{k}: bf16 at {v:.2f}x fp32's speed" for k, v in r["bf16_speedup"].items()))
    return r


if __name__ == "__main__":
    main()
