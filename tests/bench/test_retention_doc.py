"""bench/retention_doc.py: a full-size benchmarks.json and a --limit run in another dtype become
one results file and one doc section; the items compared are the ones --limit really ran."""

from __future__ import annotations

import json

import pytest


def _run(dtype: str, mmlu: dict[str, list[int]], hs: list[int], shift: float = 0.0) -> dict:
    items = [x for xs in mmlu.values() for x in xs]
    ll = [[-1.0 - i - shift, -2.0, -3.0, -4.0] for i in range(len(items))]
    return {
        "mmlu": {
            "acc": float(sum(items)) / len(items),
            "acc_stderr": 0.01,
            "n": len(items),
            "items": {"acc": items},
            "loglikelihoods": ll,
            "complete": False,
            "subtasks": {s: {"acc": sum(v) / len(v), "n": len(v)} for s, v in mmlu.items()},
        },
        "hellaswag": {
            "acc": sum(hs) / len(hs),
            "acc_stderr": 0.02,
            "acc_norm": sum(hs) / len(hs),
            "acc_norm_stderr": 0.02,
            "n": len(hs),
            "items": {"acc": hs, "acc_norm": hs},
            "loglikelihoods": [[-1.0 - shift] * 4] * len(hs),
            "complete": False,
        },
        "settings": {
            "dtype": dtype,
            "limit_per_task": None,
            "harness": "lm-evaluation-harness 0.4.13",
            "num_fewshot": 0,
            "tasks": {},
            "data_sources": {},
            "batch_size": 16,
        },
    }


def test_dtype_check_compares_the_first_items_of_every_subject(bench_module, tmp_path, monkeypatch):
    mod = bench_module("retention_doc")
    full = {
        "model": "m",
        "adapter": "a",
        "runs": {
            "base": _run("bfloat16", {"anatomy": [1, 0, 1], "nutrition": [0, 1, 1, 0]}, [1, 1, 0, 0, 1]),
            "tuned": _run("bfloat16", {"anatomy": [1, 1, 1], "nutrition": [0, 0, 1, 0]}, [1, 0, 0, 0, 1]),
        },
    }
    full["retention"] = {
        "mmlu": {"acc": {"value": 1.0, "low": 0.5, "high": 1.5, "n": 7, "method": "paired bootstrap"}},
        "hellaswag": {
            m: {"value": 0.67, "low": 0.3, "high": 1.0, "n": 5, "method": "paired bootstrap"}
            for m in ("acc", "acc_norm")
        },
    }
    # --limit 2: anatomy items 0-1 and nutrition items 0-1 (indices 0, 1, 3, 4 of the full lists)
    check = {
        "runs": {
            "base": _run("float32", {"anatomy": [1, 0], "nutrition": [0, 0]}, [1, 1], shift=0.25),
            "tuned": _run("float32", {"anatomy": [1, 1], "nutrition": [0, 0]}, [1, 0]),
        }
    }
    for r in check["runs"].values():
        r["settings"]["limit_per_task"] = 2
    assert mod.first_items(full["runs"]["base"]["mmlu"], 2).tolist() == [0, 1, 3, 4]
    agree = mod.dtype_agreement(full["runs"]["base"], check["runs"]["base"], 2)
    assert agree["mmlu"]["n"] == 4 and agree["mmlu"]["acc"]["agree"] == 3  # nutrition's second item flipped
    assert agree["mmlu"]["acc"]["full_dtype"] == pytest.approx(0.5) and agree["mmlu"]["acc"]["check_dtype"] == 0.25
    assert agree["hellaswag"]["acc"]["agree"] == 2 and agree["hellaswag"][
        "max_abs_loglikelihood_diff"
    ] == pytest.approx(0.25)

    log = tmp_path / "run.log"
    log.write_text(
        "Running loglikelihood requests:  50%|#  | 5/10 [00:05<00:05]\r"  # killed here, started again:
        "\tElapsed (wall clock) time (h:mm:ss or m:ss): 0:07.50\n"
        "Running loglikelihood requests: 100%|##9| 7/8 [1:02:02<00:01,  9.1it/s]\r"  # 99.5% shows as 100%
        "Running loglikelihood requests: 100%|###| 8/8 [1:02:03<00:00,  2.7it/s]\n"
        "Running loglikelihood requests: 100%|###| 10/10 [00:40<00:00]\n"
        "\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:05:00\n"
    )
    times = mod.request_times(log)
    assert times == {
        "bars": [{"requests": 8, "seconds": 3723}, {"requests": 10, "seconds": 40}],
        "starts": 2,
        "wall_s": 3908,
    }

    s = mod.summarize(full, check, 2, times, "chefbot eval benchmarks ...")
    assert "items" not in json.dumps(s["runs"]) and s["dtype_check"]["dtype"]["base"] == "float32"
    body = mod.section(s, "quickstart")
    assert "**1.000** [0.500, 1.500]" in body and "NOT every item" in body
    assert "95% interval: paired bootstrap." in body  # the method as the results file states it
    assert "3/4 (75.0%)" in body
    assert "65 min for both models, over 2 start(s)" in body
    assert s["adapter_identity"] is None and "weights sha256" not in body  # no such folder: nothing invented
    full["adapter_identity"] = {"path": "runs/x/adapter", "sha256": "0123456789ab", "config_sha256": "ba9876543210"}
    assert "(weights sha256 `0123456789ab`)" in mod.section(mod.summarize(full, check, 2, times, "c"), "q")

    for name, run in (("full", full), ("check", check)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "benchmarks.json").write_text(json.dumps(run))
    assert mod.main(["--full", str(tmp_path / "full"), "--check", str(tmp_path / "check"), "--dry-run"]) == 0
    doc = tmp_path / "docs" / "EVALUATION.md"
    doc.parent.mkdir()
    doc.write_text("<!-- section:retention-quickstart -->\n<!-- end:retention-quickstart -->\n")
    monkeypatch.setattr(mod, "EVALUATION_MD", doc)
    assert mod.main(["--full", str(tmp_path / "full"), "--check", str(tmp_path / "check")]) == 0
    written = json.loads((tmp_path / "docs" / "results" / "retention_quickstart.json").read_text())
    assert "docs/results/retention_quickstart.json" in doc.read_text() and "items" not in json.dumps(written["runs"])
    with pytest.raises(SystemExit, match="first 3 per subject"):
        mod.dtype_agreement(full["runs"]["base"], check["runs"]["base"], 3)
