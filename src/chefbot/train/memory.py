"""How much memory a (Q)LoRA run needs: a model from the architecture and the run settings.

``estimate(arch, run)`` returns a breakdown in bytes of one process's peak during a training
step, comparable with ``torch.cuda.max_memory_allocated`` (tensor memory; the CUDA context,
cuBLAS workspace and allocator slack come on top, see ``usable_bytes``).  It follows what
chefbot's step keeps alive, term by term:

static (alive the whole run)
  base weights     decoder linears at 4 bits: 0.5 byte/weight + one absmax per 64 weights
                   (fp32 = 4/64 byte; with double quantization 1/64 byte plus an fp32 constant
                   per 256 blocks); LLM.int8: 1 byte + an fp32 scale per row; 16-bit: 2 bytes.
                   Embeddings, LM head (twice when untied), norms and biases stay unquantized:
                   fp32 on one GPU (peft's prepare_model_for_kbit_training upcasts them), the
                   storage dtype under FSDP (chefbot skips that upcast there).
  LoRA             r x (d_in + d_out) per adapted linear, fp32 weights and fp32 gradients.
  optimizer        AdamW: two fp32 moments (8 bytes/LoRA weight); 8-bit AdamW (paged or
                   not): two uint8 moments + an fp32 absmax per 256 (~2.03 bytes), 32-bit
                   for tensors under 4,096 elements (bitsandbytes' min_8bit_size).
  FSDP over N      all of the above / N, but the root unit (embeddings, LM head, final norm)
                   is gathered for the whole step and up to two decoder layers while they run;
                   the 4-bit quantization constants are not parameters and stay on every rank.

per step (what autograd keeps, measured on CPU with saved-tensor hooks and the profiler)
  per layer, per token, without gradient checkpointing:
                   2 RMSNorm inputs in fp32 (2 x 4h) and their rsqrt; q, k, v and the attention
                   output (SDPA repeats k and v to all heads, flash-attention 2 does not);
                   SwiGLU's gate, SiLU and up outputs (3i); per adapted linear its input copy
                   (shared by adapters on one input when nothing casts or drops it), the dropout
                   mask (1 byte from CUDA's fused kernel, a full-precision noise tensor on CPU)
                   and r activations.  Frozen linears keep nothing (their weight gradient is
                   not needed; bitsandbytes keeps no 4-bit input).
  with gradient checkpointing: each layer keeps only its input (h, in the residual dtype:
                   fp32 on one GPU after the upcast, the compute dtype otherwise), and the
                   backward pass recomputes one layer at a time on top of that.
  LM head          chefbot projects only target positions (``train/loss.py``): with the
                   logits recomputed in backward (GPU) one 1,024-target chunk's fp32
                   log-softmax and two fp32 gradients (12 bytes x vocabulary per target) are
                   alive at once; kept (CPU) every target's fp32 log-softmax stays until backward.
  peak             static + the largest of three moments: the LM head's backward (first, while
                   every layer's saved tensors are alive), the first layer's backward (one layer
                   recomputed), the end of backward (all LoRA gradients).

``measure_step_peak`` measures the same quantity on CPU (torch's allocator events under the
profiler: tensor bytes allocated by the step, what max_memory_allocated counts on a GPU);
tests/train/test_memory_model.py checks the model against it on a tiny Qwen2 and SmolLM2-135M.
``python -m chefbot.train.memory`` prints the batch/sequence table of docs/TRAINING.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from chefbot.config import load_config

GiB = 2**30
LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
HEAD_CHUNK = 1024  # TargetTokenLoss.chunk_size


@dataclass(frozen=True)
class Architecture:
    """The shapes that decide memory, from a transformers config (Llama/Qwen2/Mistral family)."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    head_dim: int | None = None
    attention_bias: bool = False  # Qwen2: biases on q, k, v

    @classmethod
    def from_config(cls, config: Any) -> Architecture:
        get = config.get if isinstance(config, dict) else (lambda k, d=None: getattr(config, k, d))
        model_type = get("model_type", "")
        head_dim = get("head_dim")
        if head_dim == get("hidden_size") // get("num_attention_heads"):
            head_dim = None  # the default, whether or not the config spells it out
        return cls(
            hidden_size=get("hidden_size"),
            num_hidden_layers=get("num_hidden_layers"),
            num_attention_heads=get("num_attention_heads"),
            num_key_value_heads=get("num_key_value_heads") or get("num_attention_heads"),
            intermediate_size=get("intermediate_size"),
            vocab_size=get("vocab_size"),
            tie_word_embeddings=bool(get("tie_word_embeddings", False)),
            head_dim=head_dim,
            attention_bias=bool(get("attention_bias", model_type == "qwen2")),
        )

    @property
    def dim_head(self) -> int:
        return self.head_dim or self.hidden_size // self.num_attention_heads

    @property
    def kv_dim(self) -> int:
        return self.num_key_value_heads * self.dim_head

    @property
    def q_dim(self) -> int:
        return self.num_attention_heads * self.dim_head

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(d_in, d_out) of each linear of one decoder layer."""
        h, i = self.hidden_size, self.intermediate_size
        return {
            "q_proj": (h, self.q_dim),
            "k_proj": (h, self.kv_dim),
            "v_proj": (h, self.kv_dim),
            "o_proj": (self.q_dim, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    def layer_linear_params(self) -> int:
        return sum(a * b for a, b in self.linear_shapes().values())

    def embedding_params(self) -> int:
        """Input embeddings plus the LM head when it is a separate matrix."""
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)

    def small_params(self) -> int:
        """Norms (2 per layer + final) and q/k/v biases: never quantized."""
        bias = (self.q_dim + 2 * self.kv_dim) if self.attention_bias else 0
        return self.num_hidden_layers * (2 * self.hidden_size + bias) + self.hidden_size

    def total_params(self) -> int:
        return self.num_hidden_layers * self.layer_linear_params() + self.embedding_params() + self.small_params()


# Published config.json values (Hugging Face hub), so the table needs no download.
ARCHITECTURES = {
    "Qwen/Qwen2.5-1.5B-Instruct": Architecture(1536, 28, 12, 2, 8960, 151936, True, attention_bias=True),
    "Qwen/Qwen2.5-14B-Instruct": Architecture(5120, 48, 40, 8, 13824, 152064, False, attention_bias=True),
    "Qwen/Qwen2.5-32B-Instruct": Architecture(5120, 64, 40, 8, 27648, 152064, False, attention_bias=True),
    "HuggingFaceTB/SmolLM2-135M-Instruct": Architecture(576, 30, 9, 3, 1536, 49152, True),
}


@dataclass(frozen=True)
class RunSettings:
    """What a training step holds besides the model; defaults are the reference run's."""

    quant: str = "nf4"  # nf4 | fp4 | int8 | none
    double_quant: bool = True
    compute: str = "bf16"  # activations and matmuls (and the 4-bit storage dtype)
    lora_r: int = 16
    lora_targets: tuple[str, ...] = ("q_proj", "v_proj")
    lora_dropout: float = 0.1
    optimizer: str = "paged_adamw_8bit"
    batch_size: int = 4  # rows per micro-batch on one process
    seq_len: int = 512  # tokens per row (packed rows are full; count a padded row at its length)
    target_fraction: float = 0.75  # share of tokens that are predicted (RecipeNLG in the reference prompt: ~0.75)
    gradient_checkpointing: bool = True
    attention: str = "sdpa"  # sdpa (k/v repeated to every head) | flash_attention_2
    device: str = "cuda"  # cuda: autocast, LM head recomputed per chunk; cpu: no autocast, logits kept
    gpus: int = 1
    fsdp: bool = False  # shard over ``gpus`` (FSDP); False: a whole model per GPU (one GPU or DDP)
    head_chunk: int = HEAD_CHUNK  # targets per LM-head chunk (TargetTokenLoss.chunk_size)

    @classmethod
    def from_config(cls, cfg: Any, **changes: Any) -> RunSettings:
        """From a chefbot ExperimentConfig (``changes`` override any field)."""
        targets = LINEARS if cfg.lora.target_modules == "all-linear" else tuple(cfg.lora.target_modules)
        precision = cfg.train.precision if cfg.train.precision in DTYPE_BYTES else "bf16"
        base = cls(
            quant=cfg.quant.mode,
            double_quant=cfg.quant.double_quant,
            compute=cfg.quant.compute_dtype if cfg.quant.mode != "none" else precision,
            lora_r=cfg.lora.r,
            lora_targets=targets,
            lora_dropout=cfg.lora.dropout,
            optimizer=cfg.train.optimizer,
            batch_size=cfg.train.batch_size,
            seq_len=cfg.data.max_length,
            gradient_checkpointing=cfg.train.gradient_checkpointing,
            attention="flash_attention_2" if cfg.model.attn_implementation == "flash_attention_2" else "sdpa",
        )
        return replace(base, **changes)

    @property
    def tokens(self) -> int:
        return self.batch_size * self.seq_len

    @property
    def targets(self) -> int:
        return int(self.tokens * self.target_fraction)


@dataclass
class MemoryEstimate:
    """Bytes per process: ``parts`` (static + step terms), ``static``, ``step`` and ``peak``."""

    parts: dict[str, float] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)  # step peak candidates

    @property
    def static(self) -> float:
        return sum(v for k, v in self.parts.items() if not k.startswith("step:"))

    @property
    def step(self) -> float:
        return max(self.phases.values()) if self.phases else 0.0

    @property
    def peak(self) -> float:
        return self.static + self.step

    def table(self) -> str:
        rows = [f"{k:<34} {v / GiB:8.3f} GiB" for k, v in self.parts.items()]
        rows += [f"{'phase ' + k:<34} {v / GiB:8.3f} GiB" for k, v in self.phases.items()]
        rows.append(f"{'peak':<34} {self.peak / GiB:8.3f} GiB")
        return "\n".join(rows)


def quantized_bytes_per_weight(quant: str, double_quant: bool, compute_bytes: int) -> float:
    """Bytes per frozen decoder weight, quantization constants included (per-row int8 scales aside)."""
    if quant in ("nf4", "fp4"):
        constants = (1 / 64 + 4 / (64 * 256)) if double_quant else 4 / 64
        return 0.5 + constants
    if quant == "int8":
        return 1.0
    return float(compute_bytes)


def lora_params(arch: Architecture, run: RunSettings) -> int:
    shapes = arch.linear_shapes()
    return arch.num_hidden_layers * sum(run.lora_r * (shapes[t][0] + shapes[t][1]) for t in run.lora_targets)


def optimizer_bytes(arch: Architecture, run: RunSettings) -> float:
    if run.optimizer in ("adamw_8bit", "paged_adamw_8bit"):
        shapes, total = arch.linear_shapes(), 0.0
        for t in run.lora_targets:
            for n in (run.lora_r * shapes[t][0], run.lora_r * shapes[t][1]):  # lora_A, lora_B
                n_local = n / (run.gpus if run.fsdp else 1)
                total += n * (2 + 2 * 4 / 256) if n_local >= 4096 else n * 8
        return arch.num_hidden_layers * total
    return 8.0 * lora_params(arch, run)


def _lora_activation(arch: Architecture, run: RunSettings, act_bytes: int) -> float:
    """Bytes per token per layer kept for the adapters' backward pass."""
    shapes = arch.linear_shapes()
    # fp32 activations reach fp32 adapters uncast: without dropout, adapters on the same input share it
    shared = act_bytes == 4 and run.lora_dropout == 0
    total, shared_inputs = 0.0, set()
    for t in run.lora_targets:
        d_in = shapes[t][0]
        if run.lora_dropout > 0:
            # the dropout output (the adapter's input) and its mask: one byte from CUDA's fused
            # kernel, a full-precision scaled noise tensor from CPU's dropout
            total += d_in * (act_bytes + (act_bytes if run.device == "cpu" else 1))
        elif shared:
            group = "qkv" if t in ("q_proj", "k_proj", "v_proj") else "mlp_in" if t in ("gate_proj", "up_proj") else t
            if group not in shared_inputs:  # no cast, no dropout: adapters share their input
                shared_inputs.add(group)
                total += d_in * act_bytes
        else:
            total += d_in * act_bytes  # autocast's per-adapter copy of the input
        total += run.lora_r * act_bytes  # lora_A's output, kept by lora_B
    return total


def _layer_bytes_per_token(arch: Architecture, run: RunSettings, act: int) -> float:
    """What one decoder layer keeps for backward, per token, without checkpointing."""
    h, i = arch.hidden_size, arch.intermediate_size
    kv = arch.q_dim if run.attention == "sdpa" and arch.num_key_value_heads != arch.num_attention_heads else arch.kv_dim
    norms = 2 * (4 * h + 4)  # RMSNorm keeps its input in fp32 and one rsqrt per token
    attention = (2 * arch.q_dim + 2 * kv) * act + 4 * arch.num_attention_heads  # q, k, v, output; logsumexp
    mlp = 3 * i * act  # gate output (SiLU input), SiLU output, up output
    return norms + attention + mlp + _lora_activation(arch, run, act)


def estimate(arch: Architecture, run: RunSettings) -> MemoryEstimate:
    """The peak memory of one process of a (Q)LoRA run, as a breakdown."""
    act = DTYPE_BYTES[run.compute]
    quantized = run.quant != "none"
    upcast = quantized and not run.fsdp  # prepare_model_for_kbit_training: unquantized params to fp32
    resid = 4 if upcast else act  # the residual stream follows the (upcast) embeddings
    keep = 4 if upcast else act  # bytes of embeddings / head / norms
    shard = run.gpus if run.fsdp else 1
    layers, T, n = arch.num_hidden_layers, run.tokens, run.targets
    V, h = arch.vocab_size, arch.hidden_size

    est = MemoryEstimate()
    p = est.parts
    per_weight = quantized_bytes_per_weight(run.quant, run.double_quant, act)
    packed = 0.5 if run.quant in ("nf4", "fp4") else per_weight  # the rest: quantization constants
    linear_bytes = arch.layer_linear_params() * per_weight
    # FSDP shards the packed weights; the constants (absmax...) live on the modules, on every rank
    p["base decoder weights"] = layers * arch.layer_linear_params() * (packed / shard + per_weight - packed)
    root = (arch.embedding_params() + h) * keep
    p["embeddings + LM head"] = root * ((1 + 1 / shard) if run.fsdp else 1)  # FSDP: gathered all step, plus the shard
    p["norms + biases"] = (arch.small_params() - h) * keep / shard
    if run.fsdp:
        p["FSDP: gathered decoder layers"] = 2 * linear_bytes
    if quantized:  # bitsandbytes dequantizes one weight at a time for its matmul
        p["dequantized weight (transient)"] = max(a * b for a, b in arch.linear_shapes().values()) * act
    n_lora = lora_params(arch, run)
    p["LoRA weights (fp32)"] = 4 * n_lora / shard
    p["optimizer state"] = optimizer_bytes(arch, run) / shard
    grads = 4 * n_lora / shard  # created during backward, freed by zero_grad(set_to_none=True)

    layer = _layer_bytes_per_token(arch, run, act)
    if run.gradient_checkpointing:
        kept = layers * resid * h  # each layer's input
        # one layer recomputed, plus the gradients alive in its backward pass (measured on CPU:
        # about two intermediate-size and one hidden-size tensor at the MLP's peak)
        recompute = layer + (2 * arch.intermediate_size + h) * act
    else:
        kept, recompute = layers * layer, 0.0
    kept += 4 * h + 4  # the final norm's fp32 input
    p["step: activations kept"] = kept * T
    p["step: rotary cos/sin"] = 2 * arch.dim_head * act * T
    if run.device == "cpu" and n * V * 4 <= 2**30:  # logits kept (loss.KEEP_LOGITS_BYTES)
        # every chunk's fp32 log-softmax is kept; backward goes through the chunks last to
        # first, each freeing its own after adding two gradients of its size
        chunks = [min(run.head_chunk, n - s) for s in range(0, n, run.head_chunk)] or [0]
        head = max(sum(chunks[: k + 1]) + 2 * chunks[k] for k in range(len(chunks))) * V * 4
    else:
        # recomputed per chunk in backward: the chunk's fp32 log-softmax and two fp32 gradients
        # (the 16-bit logits and their fp32 copy are freed before those), plus the targets' hidden states
        head = min(n, run.head_chunk) * V * 12 + n * h * act
    p["step: LoRA gradients (fp32)"] = grads
    statics = p["step: activations kept"] + p["step: rotary cos/sin"]
    # The step's peak is one of three moments: the LM head's backward (every layer's tensors
    # still kept, no gradient yet); the first layer's backward (the same plus one layer
    # recomputed; later layers free their inputs while adding gradients of about the same
    # size); the end of backward (all gradients, activations gone).
    est.phases["LM head"] = statics + head
    est.phases["layer backward"] = statics + recompute * T + grads / layers
    est.phases["gradients"] = grads
    return est


def usable_bytes(card_gb: float) -> float:
    """What max_memory_allocated may reach on a card sold as ``card_gb`` GB (decimal, as GPUs are).

    Minus ~1 GiB for the CUDA context, cuBLAS workspace and kernels (outside the allocator's
    count), then 10% for fragmentation between the allocator's reserved and allocated bytes.
    """
    return (card_gb * 1e9 - GiB) * 0.9


def best_settings(
    arch: Architecture,
    run: RunSettings,
    card_gb: float,
    seq_lens: tuple[int, ...] = (512, 1024, 2048),
    batches: tuple[int, ...] = (1, 2, 4, 8, 16, 32),
) -> list[tuple[int, int, float]]:
    """(seq_len, largest batch of ``batches`` that fits, its peak) per sequence length; batch 0 if none fits."""
    out = []
    for s in seq_lens:
        fit = [(b, estimate(arch, replace(run, seq_len=s, batch_size=b)).peak) for b in batches]
        ok = [(b, pk) for b, pk in fit if pk <= usable_bytes(card_gb)]
        out.append((s, *(ok[-1] if ok else (0, fit[0][1]))))
    return out


# ----------------------------------------------------------------------------- the docs table

PRESETS = {  # config file -> architecture key
    "configs/qwen2.5-1.5b-qlora.yaml": "Qwen/Qwen2.5-1.5B-Instruct",
    "configs/qwen2.5-14b-qlora.yaml": "Qwen/Qwen2.5-14B-Instruct",
    "configs/qwen2.5-32b-qlora.yaml": "Qwen/Qwen2.5-32B-Instruct",
}
CARDS_GB = (24, 32, 40, 80)


def recommend(
    arch: Architecture, run: RunSettings, card_gb: float, rows_per_step: int
) -> tuple[RunSettings, float] | None:
    """The largest micro-batch (a divisor of the rows per optimizer step) that fits the card,
    with accumulation making up the same rows per step; None if not even batch 1 fits."""
    for b in sorted((d for d in range(1, rows_per_step + 1) if rows_per_step % d == 0), reverse=True):
        r = replace(run, batch_size=b)
        peak = estimate(arch, r).peak
        if peak <= usable_bytes(card_gb):
            return r, peak
    return None


def preset_table(root: Any = ".") -> str:
    """Markdown: for each preset and card, the settings the model chooses.

    Rows per optimizer step stay the preset's (batch_size x grad_accum x GPUs); one GPU when
    batch 1 fits, otherwise FSDP over the fewest GPUs (2, 4 or 8) that fit.
    """
    lines = [
        "| preset | card | GPUs | `train.batch_size` x `grad_accum` | est. peak / usable | largest micro-batch at 512 / 1024 / 2048 tokens |",
        "|---|---|---|---|---|---|",
    ]
    for path, key in PRESETS.items():
        cfg = load_config(Path(root) / path)
        arch = ARCHITECTURES[key]
        rows = cfg.train.batch_size * cfg.train.grad_accum
        for card in CARDS_GB:
            for gpus in (1, 2, 4, 8):
                run = RunSettings.from_config(cfg, gpus=gpus, fsdp=gpus > 1)
                got = recommend(arch, run, card, max(rows // gpus, 1))
                if got:
                    break
            if not got:
                lines.append(f"| `{Path(path).name}` | {card} GB | – | does not fit 8 GPUs | | |")
                continue
            chosen, peak = got
            largest = " / ".join(str(b) if b else "–" for _, b, _ in best_settings(arch, run, card))
            where = "1" if gpus == 1 else f"{gpus} (FSDP)"
            lines.append(
                f"| `{Path(path).name}` | {card} GB | {where} | {chosen.batch_size} x {max(rows // gpus, 1) // chosen.batch_size} | "
                f"{peak / GiB:.1f} / {usable_bytes(card) / GiB:.1f} GiB | {largest} |"
            )
    return "\n".join(lines)


def breakdown_table(root: Any = ".") -> str:
    """Markdown: each preset's estimate at its own settings on one GPU, term by term."""
    ests = {}
    for path, key in PRESETS.items():
        ests[Path(path).name] = estimate(ARCHITECTURES[key], RunSettings.from_config(load_config(Path(root) / path)))
    names = list(next(iter(ests.values())).parts) + [f"phase: {k}" for k in next(iter(ests.values())).phases]
    lines = ["| GiB | " + " | ".join(f"`{n}`" for n in ests) + " |", "|---|" + "---:|" * len(ests)]
    for name in names:
        vals = [e.parts.get(name) if not name.startswith("phase: ") else e.phases[name[7:]] for e in ests.values()]
        lines.append(f"| {name} | " + " | ".join(f"{v / GiB:.2f}" if v is not None else "" for v in vals) + " |")
    lines.append("| **peak** | " + " | ".join(f"**{e.peak / GiB:.2f}**" for e in ests.values()) + " |")
    return "\n".join(lines)


def reference_run_estimate() -> MemoryEstimate:
    """The reference project's run through transformers' Trainer: the same model and settings
    (NF4, q/v LoRA r16 dropout 0.1, batch 4 of rows right-padded up to 512, checkpointing,
    paged 8-bit AdamW), but ``model(labels=...)`` projects *every* position through the LM
    head and its loss keeps the fp32 log-softmax of all of them: 12 bytes x vocabulary per
    position at the start of backward instead of per target of one 1,024-target chunk."""
    arch = ARCHITECTURES["Qwen/Qwen2.5-1.5B-Instruct"]
    run = RunSettings()
    est = estimate(arch, run)
    T, n, V = run.tokens, run.targets, arch.vocab_size
    chefbot_head = min(n, run.head_chunk) * V * 12 + n * arch.hidden_size * DTYPE_BYTES[run.compute]
    est.phases["LM head"] += T * V * 12 - chefbot_head
    return est


# ----------------------------------------------------------------------------- measuring on CPU


def measure_step_peak(fn: Callable[[], Any]) -> int:
    """Peak bytes of tensors allocated by ``fn()`` above what was alive before it (CPU).

    torch's CPU allocator reports every allocation and free to the profiler
    (``profile_memory=True``); summing them in time order gives the live tensor bytes,
    the same quantity ``torch.cuda.max_memory_allocated`` tracks on a GPU, and nothing
    of the process's other memory (imports, Python objects, malloc slack) that RSS holds.
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]")
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m chefbot.train.memory",
        description="Estimated peak GPU memory of chefbot's QLoRA presets (docs/TRAINING.md)",
    )
    p.add_argument("--root", default=".", help="repository root (where configs/ is)")
    p.add_argument("--breakdown", action="store_true", help="print the term-by-term breakdown table instead")
    args = p.parse_args(argv)
    print(breakdown_table(args.root) if args.breakdown else preset_table(args.root))


if __name__ == "__main__":
    main()
