"""``chefbot serve``, ``chefbot chat`` and ``chefbot export``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from chefbot.config import load_config
from chefbot.errors import ChefbotError
from chefbot.generate import EngineUnsafe, llamacpp_available, make_generator, serving_engine, vllm_available
from chefbot.generate.gguf import QUANTS
from chefbot.generate.llamacpp_engine import INSTALL_HINT, passive_openmp
from chefbot.kitchen.db import KitchenDB, resolve_db_path
from chefbot.model import DTYPES as PRECISIONS
from chefbot.progress import console
from chefbot.serve.export import export, smoke_test
from chefbot.serve.terminal_chat import chat_loop, local_stream_fn, remote_stream_fn


def _config(config: Optional[Path], overrides: list[str] | None, model_dir: Optional[Path] = None) -> Any:
    cfg = load_config(config, overrides or [])
    if model_dir is not None:  # a merged export: a complete model folder replaces the base
        if not (model_dir / "config.json").exists():
            raise ChefbotError(f"--model-dir {model_dir}: no config.json inside (give a merged export folder)")
        cfg.model.name_or_path = str(model_dir)
        cfg.model.tokenizer = None
        cfg.quant.mode = "none"
    return cfg


DTYPES = ("auto", *PRECISIONS)
ENGINES = ("auto", "hf", "vllm", "llamacpp")


def build_generator(cfg: Any, adapter: Optional[str], engine: str, dtype: str = "auto", quant: Optional[str] = None) -> Any:
    """The generator from chefbot.generate (the one generation path) for this engine.

    ``engine`` "auto" is ``chefbot.generate.serving_engine``'s choice (vLLM on a GPU, llama.cpp on a CPU
    with llama-cpp-python installed, else transformers).  llama.cpp loads only once its probe passed
    (``LlamaCppGenerator.from_config``, one probe and one GGUF fingerprint per start): if it failed, "auto"
    prints one warning with the reason and serves with transformers, and ``engine="llamacpp"`` raises
    ``EngineUnsafe``, a ``ChefbotError`` (exit 2), with the reason.  ``dtype`` becomes ``eval.dtype``;
    ``chefbot.model.inference_precision`` resolves "auto" (the training precision on a GPU; fp32 on a
    CPU: docs/BENCHMARKS.md, "bf16 against fp32 on this CPU", says why).  ``quant`` becomes
    ``eval.gguf_quant`` (the llamacpp engine's weights).
    """
    if engine not in ENGINES:
        raise ChefbotError(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if engine in ("auto", "llamacpp") and llamacpp_available():
        passive_openmp()  # before anything imports torch (serving_engine's CUDA check does)
    if dtype not in DTYPES:
        raise ChefbotError(f"--dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    if quant is not None and quant not in QUANTS:
        raise ChefbotError(f"--quant {quant!r}: choose one of {', '.join(QUANTS)}")
    resolved = serving_engine(engine)
    if resolved == "vllm" and not vllm_available():
        raise ChefbotError("--engine vllm needs the vllm package and a CUDA GPU (pip install vllm); use --engine hf")
    if resolved == "llamacpp" and not llamacpp_available():
        raise ChefbotError(f"--engine llamacpp: {INSTALL_HINT}")

    def load(chosen: str) -> Any:
        update: dict = {"engine": chosen, "endpoint": None, "dtype": dtype}
        if quant is not None:
            update["gguf_quant"] = quant
        return make_generator(cfg.model_copy(update={"eval": cfg.eval.model_copy(update=update)}), adapter=adapter)

    try:
        return load(resolved)
    except EngineUnsafe as e:  # the probe failed: llama.cpp was not loaded
        if engine != "auto":
            raise
        console.print(f"[yellow]warning:[/] not using the llamacpp engine: {escape(e.verdict.reason)}. Using the hf "
                      "engine (transformers) instead (docs/SERVING.md, \"When the engine's probe fails\")",
                      highlight=False, soft_wrap=True)
        return load("hf")


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        config: Path = typer.Argument(..., help="Experiment config YAML (configs/quickstart.yaml)."),
        overrides: Optional[list[str]] = typer.Argument(None, help="key=value overrides, e.g. serve.max_concurrency=4"),
        adapter: Optional[Path] = typer.Option(None, help="A trained LoRA adapter folder (served unmerged)."),
        model_dir: Optional[Path] = typer.Option(None, help="A merged model folder (chefbot export --format merged)."),
        host: Optional[str] = typer.Option(None, help="Address to bind (default serve.host, 127.0.0.1)."),
        port: Optional[int] = typer.Option(None, help="Port (default serve.port, 8000)."),
        engine: Optional[str] = typer.Option(None, help="auto (default: vllm on a GPU, llamacpp on a CPU with "
                                             "llama-cpp-python, else hf) | hf (transformers) | vllm | llamacpp"),
        api_key: Optional[list[str]] = typer.Option(None, "--api-key", help="Require this bearer key (repeatable)."),
        dtype: str = typer.Option("auto", help="auto (fp32 on CPU, training precision on GPU) | fp32 | bf16 | fp16"),
        quant: Optional[str] = typer.Option(None, help="llamacpp engine: GGUF weights q8_0 (default) | q4_0 | f16 | f32"),
        db: Optional[Path] = typer.Option(None, help="The kitchen's SQLite file (default kitchen.db_path, else the user "
                                                     "data dir; docs/KITCHEN.md)."),
    ) -> None:
        """Serve the model: OpenAI-compatible API, /v1/recipes and a web page at /."""
        cfg = _config(config, overrides, model_dir)
        if host:
            cfg.serve.host = host
        if port:
            cfg.serve.port = port
        if engine:
            if engine not in ENGINES:
                raise ChefbotError(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")
            cfg.serve.engine = engine
        if api_key:
            cfg.serve.api_keys = list(api_key)
        from chefbot.serve.auth import exposure_warning  # lazy: fastapi, +0.5 s on `import chefbot.cli`

        insecure = exposure_warning(cfg.serve)  # exit 2 now, before the model loads: a blank key, a public host without keys
        # The kitchen's file opens now: a DB from a newer chefbot fails before the model loads, not at the first /api call.
        kitchen_db = resolve_db_path(cfg.kitchen.db_path, db)
        KitchenDB(kitchen_db).close()
        cfg.kitchen.db_path = str(kitchen_db)
        console.print(f"kitchen DB: {kitchen_db} (back it up with `chefbot library export FILE`)")
        import uvicorn

        # Only `chefbot serve` needs the web stack; at the top it would slow every command.
        # lazy: fastapi + the planner's OR-Tools: import chefbot.cli 0.21 s, with chefbot.serve.app 0.85 s
        from chefbot.serve.app import create_app
        from chefbot.serve.slow_clients import uvicorn_options  # lazy: the API schemas, +0.13 s

        generator = build_generator(cfg, str(adapter) if adapter else None, cfg.serve.engine, dtype, quant)
        cfg.serve.engine = generator.backend  # "auto" resolved: what the banner and /health report
        if insecure:
            console.print(f"[yellow]warning:[/] {escape(insecure)}", highlight=False)
        console.print(f"chefbot serving {cfg.serve.model_name!r} at http://{cfg.serve.host}:{cfg.serve.port}/ "
                      f"(engine {cfg.serve.engine}, {cfg.serve.max_concurrency} at a time, queue {cfg.serve.max_queue})")
        uvicorn.run(create_app(cfg, generator, adapter=str(adapter) if adapter else None), host=cfg.serve.host,
                    port=cfg.serve.port, log_level="info", **uvicorn_options(cfg))

    @app.command("chat")
    def chat_cmd(
        config: Optional[Path] = typer.Argument(None, help="Experiment config YAML (not needed with --url)."),
        overrides: Optional[list[str]] = typer.Argument(None, help="key=value overrides."),
        adapter: Optional[Path] = typer.Option(None, help="A trained LoRA adapter folder."),
        model_dir: Optional[Path] = typer.Option(None, help="A merged model folder."),
        url: Optional[str] = typer.Option(None, help="Talk to a running server instead, e.g. http://127.0.0.1:8000"),
        api_model: str = typer.Option("chefbot", help="Model name at --url."),
        api_key: Optional[str] = typer.Option(None, help="Bearer key for --url."),
        system: Optional[str] = typer.Option(None, help="A system message for the conversation."),
        max_tokens: Optional[int] = typer.Option(None, help="Longest answer in tokens."),
        temperature: Optional[float] = typer.Option(None, help="0 = greedy."),
        dtype: str = typer.Option("auto", help="auto (fp32 on CPU) | fp32 | bf16 | fp16"),
        engine: str = typer.Option("auto", help="auto (llamacpp on a CPU with llama-cpp-python, else hf) | hf | llamacpp"),
        quant: Optional[str] = typer.Option(None, help="llamacpp engine: GGUF weights q8_0 (default) | q4_0 | f16 | f32"),
    ) -> None:
        """Chat in the terminal with streaming answers (/reset, /history, /quit)."""
        if url:
            stream = remote_stream_fn(url, api_model, api_key, max_tokens, temperature)
        else:
            if config is None:
                raise ChefbotError("give a CONFIG for a local model, or --url of a running server")
            cfg = _config(config, overrides, model_dir)
            if engine == "auto" and serving_engine("auto") == "vllm":
                engine = "hf"  # vLLM's offline engine does not stream in chefbot; the terminal chat does
            gen = build_generator(cfg, str(adapter) if adapter else None, engine, dtype, quant)
            settings: dict = {}
            if max_tokens:
                settings["max_new_tokens"] = max_tokens
            if temperature is not None:
                settings.update(do_sample=temperature > 0, temperature=temperature or 1.0)
            stream = local_stream_fn(gen, settings or None)
        chat_loop(stream, system=system)

    @app.command("export")
    def export_cmd(
        config: Path = typer.Argument(..., help="Experiment config YAML."),
        overrides: Optional[list[str]] = typer.Argument(None, help="key=value overrides."),
        adapter: Optional[Path] = typer.Option(None, help="The LoRA adapter to merge in (none: export the base)."),
        format: str = typer.Option("merged", "--format", help="merged | gguf | ollama"),
        quant: str = typer.Option("q8_0", help="GGUF weights: f32 | f16 | q8_0 | q4_0"),
        out: Path = typer.Option(..., help="Output folder."),
        check: bool = typer.Option(True, help="Load the export back and check that generation stops by itself."),
    ) -> None:
        """Export for transformers/vLLM (merged), llama.cpp (gguf) or Ollama (gguf + Modelfile)."""
        cfg = _config(config, overrides)
        info = export(cfg, str(adapter) if adapter else None, format, out, quant)
        console.print(f"wrote {info['out']} ({format}{', ' + quant if format != 'merged' else ''})")
        if check:
            # The evaluation's token budget: a tuned model writes a whole recipe before it stops.
            r = smoke_test(out, format, max_new_tokens=cfg.eval.generation.max_new_tokens)
            verdict = "stops by itself" if r["stopped"] else "did NOT stop"
            console.print(f"smoke test: greedy generation {verdict} after {r['completion_tokens']} tokens "
                          f"(finish {r['finish_reason']}); declared stop ids {r['declared_stop_ids']}")
            if not set(r["stop_ids"]) & set(r["declared_stop_ids"]):
                raise ChefbotError(f"{out}: the export declares stop ids {r['declared_stop_ids']}, none of them the "
                                   f"end-of-turn ids {r['stop_ids']}: it would never stop")
            if not r["stopped"]:
                # The files are right (checked above); the weights did not emit a stop token in the
                # budget. An untuned base (e.g. SmolLM2-135M, greedy) can loop; a tuned model should not.
                console.print(f"[yellow]warning:[/] greedy generation ran to the {r['completion_tokens']}-token limit "
                              "without emitting a stop token; check the model (an untuned base may loop)")
