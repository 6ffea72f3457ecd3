"""The whole stage on the tiny model (answers from a stand-in generator: a tiny random model writes no recipe),
and the command's errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import align_cfg

from chefbot.errors import ChefbotError
from chefbot.generate import Completion

GOOD = """# {title}

## Ingredients
{lines}

## Directions
1. Heat the oil in a pan over medium heat for 2 minutes.
2. Add everything and cook for 10 minutes, stirring.
3. Season and serve hot."""


class AlternatingGenerator:
    """Even seeds: a complete recipe of the asked ingredients; odd seeds: one line."""

    def generate(self, batch, settings_override=None, on_result=None, cancel=None):
        seed = settings_override["seed"]
        out = []
        for m in batch:
            names = m[-1]["content"].split("Include ingredients: ")[1].split("\n")[0].split(", ")
            text = GOOD.format(title="Skillet", lines="\n".join(f"- 1 cup {n}" for n in names))
            out.append(Completion(text if seed % 2 == 0 else "Mix it.", "stop", 5, 9))
        return out

    def describe(self, settings_override=None):
        return {"backend": "stand-in"}


def test_align_runs_the_stage_and_writes_an_adapter(tiny_model_dir, recipes_jsonl, sft_adapter, tmp_path, monkeypatch):
    from chefbot.align import run

    made = []
    monkeypatch.setattr(run, "make_generator", lambda *a, **k: made.append(k) or AlternatingGenerator())
    small = ("align.prompts=6", "align.samples_per_prompt=2", "align.max_steps=2", "align.save_steps=2")
    cfg = align_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "run", *small, "align.substitution_pairs=2")
    s = run.align(cfg, str(sft_adapter))
    out = tmp_path / "run" / "align"
    assert made == [{"adapter": str(sft_adapter), "purpose": "serving"}]
    assert s["rewards"]["pairs"] == {
        "requests": 6,
        "pairs": 6,
        "below_margin": 0,
        "substitution_pairs": 2,
        "substitution_below_margin": 0,
        "substitution_asked": 2,
    }
    assert s["rewards"]["answers"]["all"]["n_answers"] == 12
    pairs = [json.loads(x) for x in (out / "pairs.jsonl").read_text().splitlines()]
    sampled = [p for p in pairs if p.get("source") != "substitution"]
    assert len(sampled) == 6 and all(
        p["chosen"].startswith("# Skillet") and p["rejected"] == "Mix it." for p in sampled
    )
    # the off-policy pairs come from training recipes after the sampled ones, and are in the DPO data
    subs = [p for p in pairs if p.get("source") == "substitution"]
    asked = {json.loads(x)["recipe_id"] for x in (out / "requests.jsonl").read_text().splitlines()[:6]}
    assert len(subs) == 2 and not {p["id"].split("#")[0] for p in subs} & asked
    assert (out / "adapter" / "adapter_config.json").exists() and s["last_loss"] is not None
    # run again: nothing is sampled (no generator made) and DPO is already at its last checkpoint
    again = run.align(cfg, str(sft_adapter))
    assert len(made) == 1 and again["engine"] is None and again["resumed_from"].endswith("checkpoint-2")
    # checkpoints trained on other pairs or settings are never resumed as if they were these
    for change, named in (("align.beta=0.5", "align"), ("align.substitution_pairs=0", "pairs, pairs_sha256")):
        other = align_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "run", *small, "align.substitution_pairs=2", change)
        with pytest.raises(
            ChefbotError, match=f"trained with other settings \\({named}\\); delete .*trainer to train DPO again"
        ):
            run.align(other, str(sft_adapter))


def test_no_sft_adapter_is_one_clear_error(tmp_path, monkeypatch, capsys):
    from chefbot.cli import main

    monkeypatch.setattr(sys, "argv", ["chefbot", "align", "configs/quickstart.yaml", f"output_dir={tmp_path / 'r'}"])
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    with pytest.raises(SystemExit) as done:
        main()
    err = capsys.readouterr().err
    assert done.value.code != 0 and "Traceback" not in err
    assert f"no SFT adapter at {tmp_path / 'r' / 'adapter'}" in " ".join(err.split())
    assert "chefbot train" in err
    monkeypatch.setattr(sys, "argv", ["chefbot", "align", "configs/quickstart.yaml", "--adapter", str(tmp_path / "x")])
    with pytest.raises(SystemExit):
        main()
    assert f"no SFT adapter at {tmp_path / 'x'}" in " ".join(capsys.readouterr().err.split())
