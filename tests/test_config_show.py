"""Self-documenting config: every field has a description, and `chefbot config show`
prints the resolved config as commented YAML that loads back to the same config."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import typer
import yaml
from pydantic import BaseModel
from typer.testing import CliRunner

from chefbot import config as config_module
from chefbot.config import ExperimentConfig, Section, commented_yaml, load_config
from chefbot.config_cli import register
from chefbot.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
QUICKSTART = CONFIGS / "quickstart.yaml"
QWEN = CONFIGS / "qwen2.5-1.5b-qlora.yaml"


def _models_in(annotation) -> list[type[BaseModel]]:
    """The pydantic models an annotation names, inside unions, lists and dicts too."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _walk(model: type[BaseModel], prefix: str, seen: set) -> list[tuple[str, str | None]]:
    """(dotted key, description) of every field of ``model`` and of the models it contains."""
    seen.add(model)
    out = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        out.append((key, info.description))
        for sub in _models_in(info.annotation):
            if sub not in seen:
                out += _walk(sub, key + ".", seen)
    return out


def test_every_config_field_has_a_one_line_description():
    seen: set = set()
    fields = _walk(ExperimentConfig, "", seen)
    assert len(fields) > 100  # the walk really went into the sections
    missing = [k for k, d in fields if not (d and d.strip())]
    assert not missing, "config fields without Field(description=...): " + ", ".join(missing)
    multi = [k for k, d in fields if "\n" in d]
    assert not multi, "descriptions must be one line (they become YAML comments): " + ", ".join(multi)
    # every section model defined in config.py is reachable from ExperimentConfig (so the walk covers it)
    defined = {
        v
        for v in vars(config_module).values()
        if isinstance(v, type) and issubclass(v, Section) and v.__module__ == config_module.__name__
    }
    assert defined - {Section} <= seen, defined - {Section} - seen


def test_walk_finds_a_missing_description():
    from pydantic import Field

    class Inner(Section):
        undocumented: int = 1

    class Outer(Section):
        inner: list[Inner] | None = Field(None, description="nested inside a union and a list")

    assert _walk(Outer, "", set()) == [("inner", "nested inside a union and a list"), ("inner.undocumented", None)]


@pytest.mark.parametrize(
    "path, overrides",
    [
        (QUICKSTART, []),
        (QWEN, ["train.lr=1e-4", "data.max_length=1024", "lora.target_modules=all-linear"]),
        (
            None,
            [
                "prompt.user='Use: {ner} #1'",
                "name='yes'",
                "output_dir='runs/a: b'",
                "serve.api_keys=[a, 'b c']",
                "data.sources=[Gathered]",
                "eval.bertscore_model=''",
                "train.report_to=[]",
            ],
        ),
    ],
)
def test_commented_yaml_loads_back_to_the_same_config(tmp_path, path, overrides):
    cfg = load_config(path, overrides)
    if path is None:  # strings YAML must quote or escape
        cfg.prompt.system = "first line\nsecond # not a comment\n\tand 'quotes' \"too\" ü"
    text = commented_yaml(cfg, ["a header line"])
    assert text.startswith("# a header line\n")
    shown = tmp_path / "shown.yaml"
    shown.write_text(text, encoding="utf-8")
    assert load_config(shown) == cfg
    # one key per line: nested sections are mappings, everything else a one-line value with its comment
    data = yaml.safe_load(text)
    assert set(data) == set(ExperimentConfig.model_fields)
    assert isinstance(data["engine"]["generation"], dict)


def test_comment_per_key_and_section_comment_above():
    text = commented_yaml(load_config(QUICKSTART))
    lines = text.splitlines()
    desc = ExperimentConfig.model_fields["data"].description
    at = lines.index("data:")
    assert lines[at - 1] == f"# {desc}"
    max_length = next(x for x in lines if x.strip().startswith("max_length:"))
    value, comment = max_length.split("#", 1)
    assert value.strip() == f"max_length: {load_config(QUICKSTART).data.max_length}"
    assert comment.strip() == config_module.DataConfig.model_fields["max_length"].description
    gen = lines.index("  generation:")
    assert lines[gen - 1] == "  # " + config_module.EngineConfig.model_fields["generation"].description
    assert lines[gen + 1].startswith("    max_new_tokens: 224 ")
    for x in lines:  # every value line carries a comment
        if x.strip() and not x.strip().startswith("#") and not x.endswith(":"):
            assert "  # " in x, x


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _main() -> None:
        """test app"""

    register(app)
    return app


def test_show_command_quickstart(app, tmp_path):
    res = CliRunner().invoke(app, ["config", "show", str(QUICKSTART)])
    assert res.exit_code == 0, res.output
    assert (
        f"\n  max_length: {load_config(QUICKSTART).data.max_length}  " in res.output
        and "# tokens per example" in res.output
    )
    assert "\n# the training loop" in res.output and "\ntrain:\n" in res.output
    (tmp_path / "q.yaml").write_text(res.output, encoding="utf-8")
    assert load_config(tmp_path / "q.yaml") == load_config(QUICKSTART)


def test_show_command_with_overrides(app, tmp_path):
    res = CliRunner().invoke(app, ["config", "show", str(QWEN), "train.lr=1e-4", "engine.generation.max_new_tokens=64"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"# chefbot config show {QWEN} train.lr=1e-4 engine.generation.max_new_tokens=64\n")
    assert "\n  lr: 0.0001 " in res.output and "\n    max_new_tokens: 64 " in res.output
    (tmp_path / "q.yaml").write_text(res.output, encoding="utf-8")
    again = load_config(tmp_path / "q.yaml")
    assert again == load_config(QWEN, ["train.lr=1e-4", "engine.generation.max_new_tokens=64"])
    assert again.model.name_or_path == "Qwen/Qwen2.5-1.5B-Instruct" and again.quant.mode == "nf4"


@pytest.mark.parametrize(
    "args, expected",
    [
        ([str(QUICKSTART), "train.learning_rate=1e-4"], "train.learning_rate: unknown key"),
        ([str(QUICKSTART), "lora.dropout=1.5"], "lora.dropout"),
        ([str(QUICKSTART), "train.lr"], "expected key=value"),
        (["configs/nope.yaml"], "config file not found"),
    ],
)
def test_show_bad_config_is_a_one_line_config_error(app, args, expected):
    res = CliRunner().invoke(app, ["config", "show", *args])
    assert res.exit_code != 0
    assert isinstance(res.exception, ConfigError), res.exception  # the top-level CLI prints it as one red line
    assert expected in str(res.exception) and len(str(res.exception).splitlines()) == 1
    assert res.output == ""  # nothing half-printed


def test_chefbot_config_show_bad_key_is_one_red_line(repo_dir):
    """Through the real `chefbot` entry point: a ChefbotError is one line on stderr, no traceback."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="300")
    ok = subprocess.run(
        [sys.executable, "-m", "chefbot.cli", "config", "show", "configs/quickstart.yaml", "data.max_length=256"],
        cwd=repo_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "\n  max_length: 256  " in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "chefbot.cli", "config", "show", "configs/quickstart.yaml", "data.max_len=256"],
        cwd=repo_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stdout == "" and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == ["error: configs/quickstart.yaml: data.max_len: unknown key"]
