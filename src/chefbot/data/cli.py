"""``chefbot data prepare`` and ``chefbot data inspect``."""

from __future__ import annotations

import typer

from chefbot.config import ExperimentConfig, load_config
from chefbot.data.sources import SourceSpec, resolve_data_source
from chefbot.model import load_tokenizer

data_app = typer.Typer(help="Prepare and inspect the recipe training data.", no_args_is_help=True)


def _config_and_source(config: str, overrides: list[str] | None, strict: bool) -> tuple[ExperimentConfig, SourceSpec]:
    """The config and its data source, resolved here once (a bad path fails before the tokenizer
    loads) and handed to ``prepare``, which then resolves nothing again."""
    ov = list(overrides or [])
    if strict:
        ov.append("data.strict=true")
    cfg = load_config(config, ov)
    return cfg, resolve_data_source(cfg.data.source, cfg.data.format)


@data_app.command("prepare")
def prepare_cmd(
    config: str = typer.Argument(..., help="Experiment YAML, e.g. configs/quickstart.yaml"),
    overrides: list[str] | None = typer.Argument(None, help="Dotted key=value overrides, e.g. data.source=path.csv"),
    strict: bool = typer.Option(
        False, "--strict", help="Stop at the first bad row (naming file and row) instead of skipping it."
    ),
    force: bool = typer.Option(False, "--force", help="Rebuild even when the cache has this fingerprint."),
) -> None:
    """Read, validate, dedup, split, tokenize and pack the recipes into the data cache."""
    # Imported here so that `chefbot --help` and every other command do not load numpy.  Measured:
    # `import chefbot.cli` 0.25 s, with chefbot.data.prepare and .inspect 0.35 s (-X importtime: 0.15 s,
    # nearly all numpy); `import chefbot.data.prepare` alone 0.28 s.
    from chefbot.data.inspect import print_summary  # lazy: numpy, +0.1-0.15 s per `chefbot` start
    from chefbot.data.prepare import prepare  # lazy: numpy, +0.1-0.15 s per `chefbot` start

    cfg, spec = _config_and_source(config, overrides, strict)
    tokenizer = load_tokenizer(cfg.model)
    prepared = prepare(cfg, tokenizer, progress=True, force=force, spec=spec)
    print_summary(prepared)


@data_app.command("inspect")
def inspect_cmd(
    config: str = typer.Argument(..., help="Experiment YAML"),
    overrides: list[str] | None = typer.Argument(None, help="Dotted key=value overrides"),
    n: int = typer.Option(2, "--n", min=0, help="How many training examples to print."),
    split: str = typer.Option("train", "--split", help="train or validation"),
) -> None:
    """Print examples with trained tokens highlighted, plus length/drop/packing statistics."""
    from chefbot.data.inspect import print_examples, print_summary  # lazy: numpy, +0.1-0.15 s (see prepare_cmd)
    from chefbot.data.prepare import prepare  # lazy: numpy, +0.1-0.15 s per `chefbot` start (see prepare_cmd)

    cfg, spec = _config_and_source(config, overrides, False)
    tokenizer = load_tokenizer(cfg.model)
    prepared = prepare(cfg, tokenizer, progress=True, spec=spec)
    print_examples(prepared, tokenizer, n=n, split=split)
    print_summary(prepared)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
