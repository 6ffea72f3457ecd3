"""The README's commands, taken from README.md itself, so the README cannot go stale unnoticed.

Every ``chefbot`` command in a ``bash`` block or an inline code span is parsed by the real
CLI (subcommand, options and arguments; the config and its overrides validated).  The
quickstart commands then run for real at tiny size, in README order: ``make demo``'s
``chefbot demo`` twice in a row (the second reuses the finished run and must still write
a complete report), ``data inspect``, ``eval`` with the demo's adapter, ``align`` on it, ``eval score`` on
the demo's predictions, ``plan`` and ``config show``.  Outputs go to a temporary folder:
``runs/...`` in a command becomes ``<tmp>/runs/...``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer.main

from chefbot.cli import app
from chefbot.config import load_config

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

# Small enough for CI, big enough to train, evaluate and report for real.
TINY = [
    "data.max_train=24",
    "data.max_length=160",
    "train.max_steps=2",
    "train.batch_size=2",
    "train.eval_steps=2",
    "train.save_steps=2",
    "train.eval_batches=1",
    "eval.limit=2",
    "engine.generation.max_new_tokens=16",
    "eval.bootstrap_samples=200",
]
# chefbot align at tiny size: a few sampled answers, one DPO step (margin 0: any two answers that differ make a pair)
ALIGN_TINY = [
    "align.prompts=4",
    "align.samples_per_prompt=3",
    "align.max_new_tokens=64",
    "align.min_margin=0",
    "align.max_steps=1",
    "align.batch_size=1",
    "align.grad_accum=1",
]


def readme_commands(text: str) -> list[str]:
    """Commands of ``bash`` blocks (comments and continuations handled) and inline ``chefbot`` spans."""
    out: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                out.append(line)
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    prose = "\n".join(ln for ln in prose.splitlines() if not ln.lstrip().startswith("|"))  # tables name commands
    # An inline span with a file argument is a command (`chefbot plan examples/x.yaml`); one without
    # names a command (`chefbot eval run`), and one with placeholders (`chefbot eval CONFIG`) describes it.
    out += [
        c
        for c in re.findall(r"`(chefbot [^`]+)`", prose)
        if c not in out and "/" in c and "..." not in c and not re.search(r"\b[A-Z]{3,}\b", c)
    ]
    return out


def chefbot_args(command: str) -> list[str] | None:
    """The arguments after ``chefbot`` (also behind ``accelerate launch ... -m chefbot.cli``), or None."""
    words = shlex.split(command)
    if words[:1] == ["chefbot"]:
        return words[1:]
    if "-m" in words and words[words.index("-m") + 1] == "chefbot.cli":
        return words[words.index("-m") + 2 :]
    return None


def parse(args: list[str]):
    """Parse ``args`` as the chefbot CLI would, without running the command; returns the leaf context."""
    cmd = typer.main.get_command(app)
    ctx = cmd.make_context("chefbot", list(args))
    while hasattr(cmd, "resolve_command"):  # a group (typer >= 0.29 has its own copy of click)
        pending = [*(getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])), *ctx.args]
        name, sub, rest = cmd.resolve_command(ctx, pending)
        assert sub is not None, f"chefbot: no command {name!r}"
        ctx = sub.make_context(name, rest, parent=ctx)
        cmd = sub
    return ctx


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))


def test_readme_has_the_two_start_commands_and_the_stages():
    assert COMMANDS[:2] == ["make demo", "make test"]
    first = {tuple((chefbot_args(c) or [""])[:1]) for c in COMMANDS}
    for stage in ("data", "train", "merge", "eval", "compare", "serve", "chat", "export", "plan", "demo"):
        assert (stage,) in first, f"README shows no `chefbot {stage}` command"


def test_make_targets_exist():
    makefile = (REPO / "Makefile").read_text()
    for c in COMMANDS:
        if c.startswith("make "):
            assert re.search(rf"^{re.escape(c.split()[1])}:", makefile, re.M), (
                f"README: `{c}` but no such Makefile target"
            )


@pytest.mark.parametrize("command", [c for c in COMMANDS if chefbot_args(c) is not None])
def test_readme_command_parses_and_its_config_loads(command):
    args = chefbot_args(command)
    ctx = parse(args)
    params = ctx.params
    config = params.get("config") or params.get("meal_file")
    for p in (v for v in params.values() if isinstance(v, (str, Path))):
        if str(p).startswith(("configs/", "examples/")):
            assert (REPO / p).exists(), f"README: `{command}` names {p}, which does not exist"
    if config and str(config).startswith("configs/") and str(config).endswith(".yaml"):
        load_config(REPO / config, params.get("overrides") or [])  # unknown keys, types and ranges


def test_parse_rejects_what_the_cli_rejects():
    with pytest.raises((typer.TyperException, click.UsageError), match="no-such-option"):
        parse(["eval", "run", "configs/quickstart.yaml", "--no-such-option"])
    with pytest.raises((typer.TyperException, click.UsageError, AssertionError), match="nosuch"):
        parse(["nosuch"])


def test_usage_errors_are_one_message_not_a_traceback():
    p = subprocess.run(
        [sys.executable, "-m", "chefbot.cli", "eval", "run", "configs/quickstart.yaml", "--no-such-option"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2 and "No such option: --no-such-option" in p.stderr and "Traceback" not in p.stderr


# ----------------------------------------------------------------------------- running them


def run(args: list[str], tmp: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    args = [str(tmp / a) if a.startswith("runs/") else a for a in args]
    env = {**os.environ, "CHEFBOT_NO_PROGRESS": "1", "PYTHONUNBUFFERED": "1"}
    p = subprocess.run(
        [sys.executable, "-m", "chefbot.cli", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert p.returncode == 0, (
        f"chefbot {' '.join(args)} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    )
    return p


def readme(prefix: list[str]) -> list[str]:
    """The README's command starting with ``chefbot PREFIX...`` (so the test runs what the README says)."""
    for c in COMMANDS:
        args = chefbot_args(c)
        if args and args[: len(prefix)] == prefix:
            return args
    raise AssertionError(f"README has no `chefbot {' '.join(prefix)}` command")


def make_demo_args() -> list[str]:
    line = next(
        ln for ln in (REPO / "Makefile").read_text().splitlines() if re.match(r"\s+\$\(BIN\)/chefbot demo ", ln)
    )
    return shlex.split(line.split("$(BIN)/chefbot", 1)[1])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("readme")


@pytest.mark.slow
def test_make_demo_twice_then_the_readme_commands(workdir: Path):
    out = workdir / "runs" / "quickstart"
    demo = make_demo_args()
    assert demo[:2] == ["demo", "configs/quickstart.yaml"]
    tiny = [*TINY, f"output_dir={out}"]

    def said(p) -> str:  # rich wraps its lines at the console's width, which a long tmp path moves: words only
        return " ".join((p.stdout + p.stderr).split())

    first = run([*demo, *tiny], workdir)
    assert "training from scratch" in said(first)
    report = (out / "report.md").read_text()
    second = run([*demo, *tiny], workdir)
    assert "already finished (2 steps): reusing it" in said(second)
    again = (out / "report.md").read_text()
    for text in (report, again):
        assert "| optimizer steps | 2 |" in text and "target tokens / s" in text
        assert "nan" not in text.lower().split("## method")[1] and "None" not in text
        assert "## Samples" in text and "![loss_curve](loss_curve.png)" in text
    assert "this demo reused the finished run" in again
    # Same run, same predictions: the reused report has the same numbers.
    assert again.split("## Results")[1].split("## Plots")[0].replace("reused the finished run", "") == report.split(
        "## Results"
    )[1].split("## Plots")[0].replace("trained 2 of its 2 steps", "")

    inspect = run([*readme(["data", "inspect"]), *TINY], workdir)
    assert "trained" in said(inspect)

    ev = readme(["eval", "configs/quickstart.yaml"])
    run([*ev, *tiny], workdir)
    assert (out / "eval" / "report.md").exists() and (out / "eval" / "results.json").exists()

    al = readme(["align"])
    try:
        aligned = run([*al, *tiny, *ALIGN_TINY], workdir)
    except AssertionError as e:
        # A 2-step adapter at this size may write nothing the checkers reward (every answer 0): align must then
        # stop with its one clear message, having sampled every answer (DPO itself: tests/align/test_align_dpo.py).
        said_e = " ".join(str(e).split())
        assert "align: no preference pairs" in said_e and "lower align.min_margin" in said_e, e
        assert len((out / "align" / "samples.jsonl").read_text().splitlines()) == 4
    else:
        assert "aligned 1 DPO steps" in said(aligned)
        assert (out / "align" / "adapter" / "adapter_config.json").exists()

    score = readme(["eval", "score"])
    run([*score, "--out", str(workdir / "score"), "--bootstrap", "200"], workdir)
    assert "ROUGE" in (workdir / "score" / "report.md").read_text()

    plan = readme(["plan"])
    p = run([*plan, "--out", str(workdir / "plan"), "--now", "2026-11-25 12:00"], workdir)
    assert (workdir / "plan" / "plan.json").exists() and (p.stdout + p.stderr).strip()


def test_chefbot_config_show_runs(workdir: Path):
    p = run(["config", "show", "configs/quickstart.yaml", "train.max_steps=7"], workdir)
    assert re.search(r"^\s+max_steps: 7\s+#", p.stdout + p.stderr, re.M)


def test_the_map_names_files_and_functions_that_exist():
    """Every row of "Where things happen": its files exist and every name it cites is defined in them."""
    text = README.read_text(encoding="utf-8")
    table = text.split("### Where things happen", 1)[1].split("\n\n", 2)[1]
    rows = [ln for ln in table.splitlines() if ln.startswith("| ") and not ln.startswith("| what")]
    assert len(rows) >= 12
    for row in rows:
        _, where, names = [c.strip() for c in row.strip("|").split("|")]
        spans = re.findall(r"`([^`]+)`", where + " " + names)
        files = []
        for s in spans:
            if "/" in s or s.endswith(".py"):  # src/chefbot/x.py, or x/y.py relative to src/chefbot
                path = REPO / s if s.startswith("src/") else REPO / "src" / "chefbot" / s
                assert path.exists(), f"map row {row!r}: {s} does not exist"
                files += [path] if path.is_file() else sorted(path.rglob("*.py"))
        for s in spans:
            if "/" in s or s.endswith(".py") or not s.replace(".", "").isidentifier():
                continue
            *owner, name = s.split(".")
            where_defined = list(files)
            if owner and not re.search(rf"^class {owner[-1]}\b", "\n".join(f.read_text() for f in files), re.M):
                where_defined = sorted((REPO / "src" / "chefbot").rglob(f"{owner[-1]}.py"))  # module.function
            source = "\n".join(f.read_text(encoding="utf-8") for f in where_defined)
            # a Python def/class/assignment, or a page script's function (serve/web/*.js)
            definition = rf"^\s*(async def|def|class|(async )?function) {name}\b|^{name}\s*[:=]"
            assert re.search(definition, source, re.M), (
                f"map row {row!r}: {s} is not defined in {[str(f.relative_to(REPO)) for f in where_defined]}"
            )
