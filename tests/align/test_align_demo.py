"""``chefbot demo --align``: after the SFT evaluation, align on the tuned adapter, then evaluate the aligned one."""

from __future__ import annotations

from pathlib import Path

from chefbot import demo
from chefbot.config import load_config


def test_align_step_aligns_the_tuned_adapter_then_evaluates_it(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        demo, "run_align", lambda cfg, adapter: calls.append(("align", adapter)) or {"adapter_dir": "A"}
    )
    monkeypatch.setattr(
        demo,
        "evaluate_model",
        lambda cfg, adapter, out_dir, extra: calls.append(("eval", adapter, Path(out_dir), extra)),
    )
    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml", [f"output_dir={tmp_path}"])
    timings: dict[str, float] = {}
    report = demo._align_and_evaluate(cfg, "runs/x/adapter", timings)
    assert calls == [
        ("align", "runs/x/adapter"),
        ("eval", "A", tmp_path / "align" / "eval", {"align": {"adapter_dir": "A"}}),
    ]
    assert report == tmp_path / "align" / "eval" / "report.md" and set(timings) == {"align", "evaluate_aligned"}


def test_the_quickstart_keeps_align_off_and_make_chef_turns_it_on():
    repo = Path(__file__).resolve().parents[2]
    assert load_config(repo / "configs" / "quickstart.yaml").align.enabled is False  # make demo unchanged
    make = (repo / "Makefile").read_text()
    assert "chef: setup\n\t$(BIN)/chefbot demo configs/quickstart.yaml --align\n" in make
    assert "demo: setup\n\t$(BIN)/chefbot demo configs/quickstart.yaml\n" in make
