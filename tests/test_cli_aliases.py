"""CLI flags that are aliases of config keys (``chefbot.config.CLI_ALIASES``) set their key only when given.

For every alias of every command that takes it: the YAML's value survives when the flag is absent, so does a
``key=value`` override, and the flag wins when given.  The command runs for real up to the point where it would
load a model; a stand-in there records the config it was given.
"""

from __future__ import annotations

import pytest
import typer.main
import yaml
from typer.testing import CliRunner

from chefbot.cli import app
from chefbot.config import CLI_ALIASES, alias_help

# Three valid values per aliased key: in the YAML, in a key=value override, on the flag.
VALUES = {
    "engine.kind": ("hf", "vllm", "llamacpp"),
    "engine.endpoint": ("http://127.0.0.1:9001/v1", "http://127.0.0.1:9002/v1", "http://127.0.0.1:9003/v1"),
    "engine.api_model": ("model-yaml", "model-override", "model-flag"),
    "engine.dtype": ("bf16", "fp16", "fp32"),
    "engine.quantization": ("q4_0", "f16", "f32"),
    "serve.host": ("127.0.0.2", "127.0.0.3", "127.0.0.4"),
    "serve.port": (8001, 8002, 8003),
    "serve.api_keys": (["key-yaml"], ["key-override"], ["key-flag"]),
    "kitchen.db_path": ("yaml.db", "override.db", "flag.db"),
    "eval.limit": (3, 4, 5),
    "eval.sets": (["free"], ["own"], ["counterfactual"]),
}

# Each command with an aliased flag, and the function it hands its config to (replaced by the recorder).
COMMANDS = {
    ("serve",): "chefbot.serve.cli.make_generator",
    ("chat",): "chefbot.serve.cli.make_generator",
    ("export",): "chefbot.serve.cli.export",
    ("eval", "run"): "chefbot.evaluate.run.evaluate_model",
    ("compare",): "chefbot.evaluate.compare.compare_models",
}


# Flags that share an alias's name but are not that key: chat's --api-key is the key it sends to --url (the
# client's side), not the keys a server accepts.
NOT_ALIASES = {(("chat",), "--api-key")}


class Captured(Exception):
    def __init__(self, cfg):
        self.cfg = cfg


def _record(*args, **kwargs):
    cfg = kwargs.get("base_cfg") or args[0]  # compare_models(spec, ..., base_cfg=cfg); the others take cfg first
    raise Captured(cfg)


def _command(path: tuple[str, ...]):
    group = typer.main.get_command(app)
    for name in path:
        group = group.commands[name]
    return group


def _aliased_params(path):
    return [
        p
        for p in _command(path).params
        if any(o in CLI_ALIASES and (path, o) not in NOT_ALIASES for o in getattr(p, "opts", []))
    ]


CASES = [(path, flag) for path in COMMANDS for p in _aliased_params(path) for flag in p.opts if flag in CLI_ALIASES]


def test_every_alias_is_taken_by_a_command_and_every_aliased_flag_defaults_to_none():
    assert {flag for _, flag in CASES} == set(CLI_ALIASES)
    assert set(VALUES) == set(CLI_ALIASES.values())
    for path in COMMANDS:
        for p in _aliased_params(path):
            assert p.default is None, f"{' '.join(path)} {p.opts}: an alias flag must default to None"
            flag = next(o for o in p.opts if o in CLI_ALIASES)
            assert p.help.startswith(alias_help(flag).removesuffix(".")), (path, flag)


def _get(cfg, key):
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


def _yaml_value(key, value, tmp_path):
    return str(tmp_path / value) if key == "kitchen.db_path" else value


def _run(monkeypatch, path, tmp_path, config, overrides, flag_args):
    monkeypatch.setattr(COMMANDS[path], _record)
    if path == ("eval", "run"):  # with eval.sets it evaluates the request sets instead
        monkeypatch.setattr("chefbot.evaluate.request_sets.evaluate_sets", _record)
    args = [*path]
    if path == ("compare",):
        args += ["--config", str(config), "--model", "m=some/model"]
    else:
        args += [str(config)]
    if path == ("export",):
        args += ["--out", str(tmp_path / "export")]
    result = CliRunner().invoke(app, [*args, *overrides, *flag_args])
    assert isinstance(result.exception, Captured), result.output + repr(result.exception)
    return result.exception.cfg


@pytest.mark.parametrize("path,flag", CASES, ids=[f"{' '.join(p)} {f}" for p, f in CASES])
def test_flag_wins_only_when_given(monkeypatch, tmp_path, path, flag):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # serve opens the kitchen DB before the model
    key = CLI_ALIASES[flag]
    in_yaml, in_override, on_flag = (_yaml_value(key, v, tmp_path) for v in VALUES[key])
    data: dict = {"serve": {"allow_insecure_public": True}, "kitchen": {"db_path": str(tmp_path / "k.db")}}
    section, name = key.split(".")
    data.setdefault(section, {})[name] = in_yaml
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(data))
    override = [f"{key}={yaml.safe_dump(in_override, default_flow_style=True).strip().removesuffix('...').strip()}"]
    given = [a for v in (on_flag if isinstance(on_flag, list) else [on_flag]) for a in (flag, str(v))]

    assert _get(_run(monkeypatch, path, tmp_path, config, [], []), key) == in_yaml
    assert _get(_run(monkeypatch, path, tmp_path, config, override, []), key) == in_override
    assert _get(_run(monkeypatch, path, tmp_path, config, override, given), key) == on_flag


def test_a_bad_flag_value_names_the_flag_and_the_key(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("name: t\n")
    result = CliRunner().invoke(app, ["eval", "run", str(config), "--dtype", "fp8"])
    from chefbot.errors import ConfigError

    assert isinstance(result.exception, ConfigError)
    assert "engine.dtype (from --dtype): got 'fp8'" in str(result.exception)
