"""``chefbot serve``, ``chefbot chat`` and ``chefbot export``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from chefbot.config import alias_help, load_config
from chefbot.errors import ChefbotError
from chefbot.generate import UpstreamGenerator, make_generator, vllm_available
from chefbot.kitchen.db import KitchenDB, resolve_db_path
from chefbot.progress import console
from chefbot.serve.export import export, smoke_test
from chefbot.serve.terminal_chat import chat_loop, local_stream_fn, remote_stream_fn


def _config(
    config: Path | None,
    overrides: list[str] | None,
    model_dir: Path | None = None,
    flags: dict[str, Any] | None = None,
) -> Any:
    cfg = load_config(config, overrides or [], flags)
    if model_dir is not None:  # a merged export: a complete model folder replaces the base
        if not (model_dir / "config.json").exists():
            raise ChefbotError(f"--model-dir {model_dir}: no config.json inside (give a merged export folder)")
        cfg.model.name_or_path = str(model_dir)
        cfg.model.tokenizer = None
        cfg.quant.mode = "none"
    return cfg


def serve_cmd(
    config: Path = typer.Argument(..., help="Experiment config YAML (configs/quickstart.yaml)."),
    overrides: list[str] | None = typer.Argument(None, help="key=value overrides, e.g. serve.max_concurrency=4"),
    adapter: Path | None = typer.Option(None, help="A trained LoRA adapter folder (served unmerged)."),
    model_dir: Path | None = typer.Option(None, help="A merged model folder (chefbot export --format merged)."),
    host: str | None = typer.Option(None, "--host", help=alias_help("--host")),
    port: int | None = typer.Option(None, "--port", help=alias_help("--port")),
    engine: str | None = typer.Option(None, "--engine", help=alias_help("--engine")),
    endpoint: str | None = typer.Option(None, "--endpoint", help=alias_help("--endpoint")),
    api_model: str | None = typer.Option(None, "--api-model", help=alias_help("--api-model")),
    api_key: list[str] | None = typer.Option(None, "--api-key", help=alias_help("--api-key") + " Repeatable."),
    dtype: str | None = typer.Option(None, "--dtype", help=alias_help("--dtype")),
    quant: str | None = typer.Option(None, "--quant", help=alias_help("--quant")),
    db: Path | None = typer.Option(None, "--db", help=alias_help("--db")),
) -> None:
    """Serve the model: OpenAI-compatible API, /v1/recipes and a web page at /."""
    cfg = _config(
        config,
        overrides,
        model_dir,
        {
            "--host": host,
            "--port": port,
            "--engine": engine,
            "--endpoint": endpoint,
            "--api-model": api_model,
            "--api-key": api_key,
            "--dtype": dtype,
            "--quant": quant,
            "--db": db,
        },
    )
    from chefbot.serve.auth import exposure_warning  # lazy: fastapi, +0.5 s on `import chefbot.cli`

    insecure = exposure_warning(
        cfg.serve
    )  # exit 2 now, before the model loads: a blank key, a public host without keys
    # The kitchen's file opens now: a DB from a newer chefbot fails before the model loads, not at the first /api call.
    kitchen_db = resolve_db_path(cfg.kitchen.db_path)
    KitchenDB(kitchen_db).close()
    cfg.kitchen.db_path = str(kitchen_db)
    console.print(f"kitchen DB: {kitchen_db} (back it up with `chefbot library export FILE`)")
    import uvicorn

    # Only `chefbot serve` needs the web stack; at the top it would slow every command.
    # lazy: fastapi + the planner's OR-Tools: import chefbot.cli 0.21 s, with chefbot.serve.app 0.85 s
    from chefbot.serve.app import create_app
    from chefbot.serve.slow_clients import uvicorn_options  # lazy: the API schemas, +0.13 s

    generator = make_generator(cfg, str(adapter) if adapter else None, purpose="serving")
    if insecure:
        console.print(f"[yellow]warning:[/] {escape(insecure)}", highlight=False)
    if isinstance(generator, UpstreamGenerator):
        engine_line = (
            f"engine openai: model {generator.model!r} at {generator.url}, {cfg.engine.concurrency} at a time"
            + (f"; its /v1/models failed: {generator.models_error}" if generator.models_error else "")
        )
    else:
        engine_line = f"engine {generator.backend}, {cfg.serve.max_concurrency} at a time"
    console.print(
        f"chefbot serving {cfg.serve.model_name!r} at http://{cfg.serve.host}:{cfg.serve.port}/ "
        f"({escape(engine_line)}, queue {cfg.serve.max_queue})",
        highlight=False,
    )
    uvicorn.run(
        create_app(cfg, generator, adapter=str(adapter) if adapter else None),
        host=cfg.serve.host,
        port=cfg.serve.port,
        log_level="info",
        **uvicorn_options(cfg),
    )


def chat_cmd(
    config: Path | None = typer.Argument(None, help="Experiment config YAML (not needed with --url)."),
    overrides: list[str] | None = typer.Argument(None, help="key=value overrides."),
    adapter: Path | None = typer.Option(None, help="A trained LoRA adapter folder."),
    model_dir: Path | None = typer.Option(None, help="A merged model folder."),
    url: str | None = typer.Option(None, help="Talk to a running server instead, e.g. http://127.0.0.1:8000"),
    api_model: str | None = typer.Option(
        None, "--api-model", help=alias_help("--api-model") + " With --url: the model name at that server (chefbot)."
    ),
    api_key: str | None = typer.Option(None, help="Bearer key for --url."),
    system: str | None = typer.Option(None, help="A system message for the conversation."),
    max_tokens: int | None = typer.Option(None, help="Longest answer in tokens."),
    temperature: float | None = typer.Option(None, help="0 = greedy."),
    dtype: str | None = typer.Option(None, "--dtype", help=alias_help("--dtype")),
    engine: str | None = typer.Option(None, "--engine", help=alias_help("--engine")),
    endpoint: str | None = typer.Option(None, "--endpoint", help=alias_help("--endpoint")),
    quant: str | None = typer.Option(None, "--quant", help=alias_help("--quant")),
) -> None:
    """Chat in the terminal with streaming answers (/reset, /history, /quit)."""
    if url:
        stream = remote_stream_fn(url, api_model or "chefbot", api_key, max_tokens, temperature)
    else:
        if config is None:
            raise ChefbotError("give a CONFIG for a local model, or --url of a running server")
        flags = {
            "--engine": engine,
            "--endpoint": endpoint,
            "--api-model": api_model,
            "--dtype": dtype,
            "--quant": quant,
        }
        cfg = _config(config, overrides, model_dir, flags)
        if cfg.engine.kind == "auto" and vllm_available():  # what "auto" would serve with
            cfg.engine.kind = "hf"  # vLLM's offline engine does not stream in chefbot; the terminal chat does
        gen = make_generator(cfg, str(adapter) if adapter else None, purpose="serving")
        settings: dict = {}
        if max_tokens:
            settings["max_new_tokens"] = max_tokens
        if temperature is not None:
            settings.update(do_sample=temperature > 0, temperature=temperature or 1.0)
        stream = local_stream_fn(gen, settings or None)
    chat_loop(stream, system=system)


def export_cmd(
    config: Path = typer.Argument(..., help="Experiment config YAML."),
    overrides: list[str] | None = typer.Argument(None, help="key=value overrides."),
    adapter: Path | None = typer.Option(None, help="The LoRA adapter to merge in (none: export the base)."),
    format: str = typer.Option("merged", "--format", help="merged | gguf | ollama"),
    quant: str | None = typer.Option(None, "--quant", help=alias_help("--quant")),
    out: Path = typer.Option(..., help="Output folder."),
    check: bool = typer.Option(True, help="Load the export back and check that generation stops by itself."),
) -> None:
    """Export for transformers/vLLM (merged), llama.cpp (gguf) or Ollama (gguf + Modelfile)."""
    cfg = _config(config, overrides, flags={"--quant": quant})
    quant = cfg.engine.quantization
    info = export(cfg, str(adapter) if adapter else None, format, out, quant)
    console.print(f"wrote {info['out']} ({format}{', ' + quant if format != 'merged' else ''})")
    if check:
        # The evaluation's token budget: a tuned model writes a whole recipe before it stops.
        r = smoke_test(out, format, max_new_tokens=cfg.engine.generation.max_new_tokens)
        verdict = "stops by itself" if r["stopped"] else "did NOT stop"
        console.print(
            f"smoke test: greedy generation {verdict} after {r['completion_tokens']} tokens "
            f"(finish {r['finish_reason']}); declared stop ids {r['declared_stop_ids']}"
        )
        if not set(r["stop_ids"]) & set(r["declared_stop_ids"]):
            raise ChefbotError(
                f"{out}: the export declares stop ids {r['declared_stop_ids']}, none of them the "
                f"end-of-turn ids {r['stop_ids']}: it would never stop"
            )
        if not r["stopped"]:
            # The files are right (checked above); the weights did not emit a stop token in the
            # budget. An untuned base (e.g. SmolLM2-135M, greedy) can loop; a tuned model should not.
            console.print(
                f"[yellow]warning:[/] greedy generation ran to the {r['completion_tokens']}-token limit "
                "without emitting a stop token; check the model (an untuned base may loop)"
            )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
    app.command("chat")(chat_cmd)
    app.command("export")(export_cmd)
