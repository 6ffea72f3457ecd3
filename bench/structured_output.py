"""Structured output in the hf engine: tokens/s under a JSON-schema grammar vs free generation, per library.

    python bench/structured_output.py                       # the quickstart model, 3 repeats, 48 new tokens
    python bench/structured_output.py --doc-section structured-output   # ... and rewrite that docs section
    python bench/structured_output.py --quick               # a smoke run (bench/out only)

Which library turns the schema into token masks in ``LocalGenerator`` (goal: at most 10% slower than free generation,
issue 27): llguidance (chefbot's ``GuidanceProcessor``), outlines-core (its regex index, masks by its torch kernels)
and xgrammar (its own transformers LogitsProcessor), each where it imports (xgrammar's wheel requires triton on
Linux; install it with ``--no-deps`` into a folder on PYTHONPATH to measure it).  Every arm: the same model
object (the quickstart's SmolLM2-135M-Instruct as ``chefbot serve`` loads it, engine hf), the same prompt (the
user asks for a recipe as JSON), greedy, ``--tokens`` new tokens with the stop ids masked (so every arm decodes
the same number of tokens), the schema ``/v1/recipes`` uses for ``"format": "json"`` (``RecipeJSON``).  A repeat
runs every arm once, in an order rotated per repeat; the time of an arm includes building its grammar for the
request (what a request pays), and the libraries' one-off tokenizer setup is done before timing.
Reports, per arm, the median of the repeats in tokens per CPU second of the process (with one torch thread,
time spent waiting for a core on a busy machine does not count) and its ratio to free generation, and tokens per
wall-clock second, with every repeat.  Run it with OMP_NUM_THREADS=1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import machine, machine_line, md_table, median, replace_section, run_name, write_json  # noqa: E402

PROMPT = "Write a recipe with rice, lemon and garlic as JSON: title, servings, time, ingredients, directions."


class NoStop:
    """Masks the stop ids, so every arm decodes exactly the same number of tokens."""

    def __init__(self, stop_ids: list[int]) -> None:
        self.stop_ids = stop_ids

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        scores[:, self.stop_ids] = float("-inf")
        return scores


def llguidance_arm(gen: Any, fmt: Any, width: int) -> Any:
    from chefbot.generate.structured import GuidanceProcessor

    return GuidanceProcessor(fmt, gen.tokenizer, gen.stop_ids, 1, width)


class OutlinesCoreProcessor:
    """outlines-core: the schema as a regex (its ``build_regex_from_schema``), an ``Index`` over the vocabulary
    (byte-level tokens as bytes, as vLLM builds it), a ``Guide`` advanced per token."""

    vocabulary: Any = None

    def __init__(self, gen: Any, fmt: Any, width: int) -> None:
        import json

        from outlines_core import Guide, Index
        from outlines_core.json_schema import build_regex_from_schema
        from outlines_core.kernels.torch import allocate_token_bitmask

        regex = build_regex_from_schema(json.dumps(fmt.json_schema), r"[ ]?")
        self.guide = Guide(Index(regex, self.vocab(gen)))
        self.mask = allocate_token_bitmask(len(gen.tokenizer))
        self.width, self.stop_ids = width, gen.stop_ids

    @classmethod
    def vocab(cls, gen: Any) -> Any:
        if cls.vocabulary is None:
            from outlines_core import Vocabulary
            from transformers.convert_slow_tokenizer import bytes_to_unicode

            to_byte = {v: k for k, v in bytes_to_unicode().items()}
            special = set(gen.tokenizer.all_special_ids)
            eos = gen.stop_ids[0]
            table: dict[bytes, list[int]] = {}
            for tok, i in gen.tokenizer.get_vocab().items():
                if i in special or i == eos or any(c not in to_byte for c in tok):
                    continue
                table.setdefault(bytes(to_byte[c] for c in tok), []).append(i)
            cls.vocabulary = Vocabulary(eos, table)
        return cls.vocabulary

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        from outlines_core.kernels.torch import apply_token_bitmask_inplace, fill_next_token_bitmask

        if input_ids.shape[1] > self.width and not self.guide.is_finished():
            self.guide.advance(int(input_ids[0, -1]), return_tokens=False)
        fill_next_token_bitmask(self.guide, self.mask)
        apply_token_bitmask_inplace(scores, self.mask)
        return scores


def outlines_core_arm(gen: Any, fmt: Any, width: int) -> Any:
    return OutlinesCoreProcessor(gen, fmt, width)


def _build_index(conn: Any, gen: Any, fmt: Any) -> None:
    OutlinesCoreProcessor(gen, fmt, 0)
    conn.send("ok")


def outlines_core_builds(gen: Any, fmt: Any, limit_s: float) -> str | None:
    """None if outlines-core builds its index for ``fmt`` within ``limit_s`` seconds (in a forked child, so a
    build that never ends, or eats the memory, costs this run nothing more); else why not."""
    import multiprocessing as mp

    import outlines_core  # noqa: F401 - ImportError: the arm is skipped as not importable

    parent, child = mp.get_context("fork").Pipe()
    proc = mp.get_context("fork").Process(target=_build_index, args=(child, gen, fmt), daemon=True)
    t0 = time.perf_counter()
    proc.start()
    ready = parent.poll(limit_s)
    proc.kill()
    proc.join()
    if ready:
        return None
    return f"its Index for the schema's regex was not built within {limit_s:.0f} s ({time.perf_counter() - t0:.0f} s)"


_XGR: dict[str, Any] = {}


def xgrammar_arm(gen: Any, fmt: Any, width: int) -> Any:
    import json

    import xgrammar as xgr
    from xgrammar.contrib.hf import LogitsProcessor

    if "compiler" not in _XGR:
        info = xgr.TokenizerInfo.from_huggingface(gen.tokenizer, vocab_size=len(gen.tokenizer))
        _XGR["compiler"] = xgr.GrammarCompiler(info)
    grammar = _XGR["compiler"].compile_json_schema(json.dumps(fmt.json_schema), any_whitespace=False)
    return LogitsProcessor(grammar)


ARMS = {"llguidance": llguidance_arm, "outlines-core": outlines_core_arm, "xgrammar": xgrammar_arm}


def one_run(gen: Any, prompt: list[int], tokens: int, make: Any, fmt: Any) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of this process, text) of one greedy generation of ``tokens`` tokens; ``make``
    builds the arm's processor."""
    import torch
    from transformers import LogitsProcessorList

    from chefbot.generate.completion import resolve_settings
    from chefbot.generate.local import hf_generation_config

    s = resolve_settings(gen.gen_cfg, {"max_new_tokens": tokens, "do_sample": False})
    ids = torch.tensor([prompt])
    t0, c0 = time.perf_counter(), time.process_time()
    procs = [NoStop(gen.stop_ids)] + ([make(gen, fmt, ids.shape[1])] if make else [])
    with torch.inference_mode():
        out = gen.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            generation_config=hf_generation_config(s, gen.stop_ids, gen.pad_id),
            logits_processor=LogitsProcessorList(procs),
        )
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    new = out[0, ids.shape[1] :].tolist()
    assert len(new) == tokens, (len(new), tokens)
    return seconds, cpu, gen.tokenizer.decode(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/quickstart.yaml")
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="16 tokens, 1 repeat, 10 s for the index, bench/out only")
    ap.add_argument("--build-limit-s", type=float, default=60, help="longest wait for outlines-core's index")
    ap.add_argument("--doc-section", default=None, help="rewrite this section of docs/BENCHMARKS.md")
    args = ap.parse_args()
    if args.quick:
        args.tokens, args.repeats, args.build_limit_s = 16, 1, min(args.build_limit_s, 10)

    from chefbot.config import load_config
    from chefbot.generate import make_generator
    from chefbot.serve.schemas_recipes import RECIPE_FORMAT

    cfg = load_config(args.config, ["engine.kind=hf"])
    gen = make_generator(cfg, None, purpose="serving")  # what `chefbot serve --engine hf` loads
    prompt = gen.prompt_ids([{"role": "user", "content": PROMPT}])
    arms: dict[str, Any] = {"free": None}
    skipped = {}
    for name, make in ARMS.items():
        if name == "outlines-core":
            try:
                why = outlines_core_builds(gen, RECIPE_FORMAT, args.build_limit_s)
            except ImportError as e:
                why = f"not importable: {e}"
            if why is not None:
                skipped[name] = why
                continue
        try:
            one_run(gen, prompt, 2, make, RECIPE_FORMAT)  # imports, tokenizer setup, first-call compiles
            arms[name] = make
        except ImportError as e:
            skipped[name] = f"not importable: {e}"
    one_run(gen, prompt, 2, None, RECIPE_FORMAT)
    names = list(arms)
    runs: dict[str, list[float]] = {n: [] for n in names}  # tokens per wall second
    cpu_runs: dict[str, list[float]] = {n: [] for n in names}  # tokens per CPU second of this process
    texts: dict[str, str] = {}
    for r in range(args.repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for n in order:
            seconds, cpu, text = one_run(gen, prompt, args.tokens, arms[n], RECIPE_FORMAT)
            runs[n].append(args.tokens / seconds)
            cpu_runs[n].append(args.tokens / cpu)
            texts[n] = text
            print(
                f"repeat {r + 1} {n}: {args.tokens / seconds:.2f} tokens/s, {args.tokens / cpu:.2f} per CPU s",
                flush=True,
            )
    free, free_cpu = median(runs["free"]), median(cpu_runs["free"])
    payload = {
        "machine": machine(),
        "model": cfg.model.name_or_path,
        "engine": gen.describe({"max_new_tokens": args.tokens}),
        "tokens": args.tokens,
        "repeats": args.repeats,
        "schema": "RecipeJSON (chefbot.serve.schemas_recipes.RECIPE_FORMAT)",
        "tokens_per_s": runs,
        "median_tokens_per_s": {n: median(v) for n, v in runs.items()},
        "ratio_to_free": {n: median(v) / free for n, v in runs.items()},
        "tokens_per_cpu_s": cpu_runs,
        "median_tokens_per_cpu_s": {n: median(v) for n, v in cpu_runs.items()},
        "cpu_ratio_to_free": {n: median(v) / free_cpu for n, v in cpu_runs.items()},
        "load_average": os.getloadavg(),
        "skipped": skipped,
        "texts": texts,
    }
    path = write_json(run_name("structured_output", args.quick), payload)
    print(f"wrote {path}")
    if args.doc_section and not args.quick:
        rows = [
            [
                n,
                f"{median(cpu_runs[n]):.2f}",
                f"{median(cpu_runs[n]) / free_cpu:.3f}",
                ", ".join(f"{x:.2f}" for x in cpu_runs[n]),
                f"{median(runs[n]):.2f}",
                ", ".join(f"{x:.2f}" for x in runs[n]),
            ]
            for n in names
        ]
        rows += [[n, "-", "-", why, "-", "-"] for n, why in skipped.items()]
        header = [
            "arm",
            "median tokens per CPU s",
            "ratio to free",
            "repeats (per CPU s)",
            "median tokens per wall s",
            "repeats (per wall s)",
        ]
        body = (
            "## Structured output: the hf engine's grammar library\n\n"
            "`python bench/structured_output.py --doc-section structured-output` (issue 27): tokens/s of the hf "
            "engine generating under the `/v1/recipes` recipe schema with each structured-generation library, "
            "against free generation on the same model object, prompt and token count (stop ids masked); "
            "the time includes building the request's grammar. The goal was at most 10% slower than free "
            "generation; chefbot uses llguidance (`chefbot.generate.structured.GuidanceProcessor`).\n\n"
            f"{machine_line(payload['machine'])}; {cfg.model.name_or_path} (engine hf, "
            f"{payload['engine']['dtype']}), greedy, {args.tokens} new tokens, {args.repeats} repeats, "
            f"the RecipeJSON schema; grammar construction per request included; load average during the run "
            f"{payload['load_average'][0]:.1f} on {os.cpu_count()} cores, so the comparison is by tokens per CPU "
            "second of the process (one torch thread: waiting for a core does not count), with the wall-clock "
            "figures beside.\n\n" + md_table(header, rows)
        )
        replace_section(args.doc_section, body, results=path)


if __name__ == "__main__":
    main()
