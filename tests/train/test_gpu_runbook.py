"""docs/GPU.md's commands, taken from the page itself, so the runbook cannot go stale unnoticed.

Every command of its ``bash`` blocks is checked without a GPU: chefbot commands (also behind
``accelerate launch ... -m chefbot.cli``) are parsed by the CLI's own parser and their configs
and overrides loaded (tests/test_readme.py's ``parse``); bench scripts answer ``--help`` and
their parser accepts the page's flags; accelerate configs, test files and Makefile targets
exist.  What runs at tiny size on a CPU runs: ``python -m chefbot.train.memory`` and
``bench/gpu_train.py`` with ``--tiny --steps 1``.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from chefbot.config import load_config

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "GPU.md"
# Shell and package-manager steps: checked for form below, never run.
ENVIRONMENT = (
    "make setup",
    "source .venv/bin/activate",
    "python -c ",
    "python -m bitsandbytes",
    "pip download ",
    "pip install ",
    "curl ",
)


def doc_commands() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


COMMANDS = doc_commands()


def _readme_helpers():
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from test_readme import chefbot_args, parse
    finally:
        sys.path.remove(str(REPO / "tests"))
    return chefbot_args, parse


def _bench(name: str):
    import importlib

    sys.path.insert(0, str(REPO / "bench"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(REPO / "bench"))


def test_runbook_has_every_step_in_order():
    firsts = [c.split()[:3] for c in COMMANDS]
    order = [
        ["python", "-m", "chefbot.train.memory"],
        ["python", "bench/gpu_train.py", "--steps"],
        ["chefbot", "train", "configs/qwen2.5-1.5b-qlora.yaml"],
        ["chefbot", "train", "configs/quickstart.yaml"],
        ["chefbot", "eval", "run"],
        ["accelerate", "launch", "--config_file"],
    ]
    where = [next(i for i, f in enumerate(firsts) if f == want) for want in order]
    assert where == sorted(where), "docs/GPU.md: the steps are out of order"
    assert "python bench/gpu_train.py --steps 30" in COMMANDS
    assert any("engine.kind=hf" in c for c in COMMANDS) and any("engine.kind=vllm" in c for c in COMMANDS)
    text = DOC.read_text(encoding="utf-8")
    assert text.count("estimate") >= 8  # every duration is labelled as an estimate
    assert "--no-index --find-links" in text and "bitsandbytes" in text


@pytest.mark.parametrize("command", COMMANDS)
def test_runbook_command_parses(command):
    words = shlex.split(command)
    chefbot_args, parse = _readme_helpers()
    if command.startswith(ENVIRONMENT):
        if words[:2] == ["make", "setup"]:
            assert re.search(r"^setup:", (REPO / "Makefile").read_text(), re.M)
            assert words[2].startswith("TORCH_SPEC=") and "--index-url" in words[2]
        if words[:2] == ["pip", "install"] and "--no-index" in words:
            assert "--find-links" in words
        return
    if words[:2] == ["accelerate", "launch"]:
        config = words[words.index("--config_file") + 1]
        assert (REPO / config).exists(), f"{command}: no {config}"
    args = chefbot_args(command)
    if args is not None:
        ctx = parse(args)
        params = ctx.params
        for value in params.values():
            if isinstance(value, (str, Path)) and str(value).startswith("configs/"):
                assert (REPO / value).exists(), f"{command}: no {value}"
        if str(params.get("config", "")).startswith("configs/"):
            load_config(REPO / params["config"], params.get("overrides") or [])  # keys, types, ranges
        return
    if words[0] == "pytest":
        for path in words[1:]:
            assert (REPO / path).exists(), f"{command}: no {path}"
        return
    if words[:2] == ["python", "-m"] and words[2] == "chefbot.train.memory":
        from chefbot.train import memory

        memory.main(["--root", str(REPO), *words[3:]])  # runs in a second: the real thing
        return
    if words[0] == "python" and words[1].startswith("bench/"):
        script = REPO / words[1]
        p = subprocess.run(
            [sys.executable, str(script), "--help"], cwd=REPO, capture_output=True, text=True, timeout=120
        )
        assert p.returncode == 0, p.stderr[-2000:]
        _bench(script.stem).parse_args(words[2:])  # the page's flags are the script's
        return
    raise AssertionError(f"docs/GPU.md: no check for `{command}`; add one to tests/train/test_gpu_runbook.py")


def test_gpu_benchmark_runs_at_tiny_size(tmp_path):
    """Step 2 at tiny size on CPU (the same code path; --tiny keeps it off any GPU and off the docs)."""
    g = _bench("gpu_train")
    command = next(c for c in COMMANDS if c.startswith("python bench/gpu_train.py"))
    argv = shlex.split(command)[2:] + [
        "--tiny",
        "--steps",
        "1",
        "--warmup",
        "1",
        "--variants",
        "packed",
        "--no-docs",
        "--out",
        str(tmp_path),
    ]
    out = g.main(argv)
    (row,) = out["variants"]
    assert row["steps_timed"] == 1 and row["tokens_per_s"] > 0 and row["memory_model_gb"] > 0


def test_memory_model_command_prints_the_table(capsys):
    from chefbot.train import memory

    memory.main(["--root", str(REPO)])
    out = capsys.readouterr().out
    assert "qwen2.5-32b-qlora.yaml" in out and "| 24 GB |" in out and "| 80 GB |" in out
