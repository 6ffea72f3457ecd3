"""`chefbot data prepare` / `chefbot data inspect` from the command line."""

from __future__ import annotations

import os
import subprocess
import sys

from typer.testing import CliRunner


def test_prepare_and_inspect_print_summary(data_fixtures, qwen_tokenizer_dir, tmp_path):
    from chefbot.cli import app

    args = [
        "configs/quickstart.yaml",
        f"data.source={data_fixtures / 'recipenlg_bad.csv'}",
        "data.format=recipenlg_csv",
        f"model.tokenizer={qwen_tokenizer_dir}",
        f"data.cache_dir={tmp_path}",
        "data.num_proc=1",
        "data.val_size=1",
        "data.test_size=1",
        "data.max_length=128",
    ]
    runner = CliRunner()
    res = runner.invoke(app, ["data", "prepare", *args], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "rows read" in res.output and "dropped: malformed_row" in res.output and "packing efficiency" in res.output
    res = runner.invoke(app, ["data", "inspect", *args, "--n", "1"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "cache hit" in res.output and "train row 0" in res.output and "<|im_end|>" in res.output


def test_prepare_resolves_the_source_once(data_fixtures, qwen_tokenizer_dir, tmp_path, monkeypatch):
    """One `chefbot data prepare` (and `inspect`) resolves data.source once, in the command, and
    prepare and the fingerprints use that: before issue 24 the command and prepare each resolved it
    (reading the file's first record each time to settle data.format=auto)."""
    from chefbot.cli import app
    from chefbot.data import cli as data_cli
    from chefbot.data import prepare as P
    from chefbot.data import sources

    calls = []

    def counted(source, fmt="auto"):
        calls.append(source)
        return sources.resolve_data_source(source, fmt)

    for module in (data_cli, P):  # both import the name; a resolution anywhere else in the run would not count
        monkeypatch.setattr(module, "resolve_data_source", counted)
    args = [
        "configs/quickstart.yaml",
        f"data.source={data_fixtures / 'recipenlg_bad.csv'}",
        "data.format=auto",
        f"model.tokenizer={qwen_tokenizer_dir}",
        f"data.cache_dir={tmp_path}",
        "data.num_proc=1",
        "data.val_size=1",
        "data.test_size=1",
        "data.max_length=128",
    ]
    runner = CliRunner()
    for command, hit in (("prepare", False), ("prepare", True), ("inspect", True)):
        calls.clear()
        res = runner.invoke(app, ["data", command, *args], env={"COLUMNS": "200"})
        assert res.exit_code == 0, res.output
        assert ("cache hit" in res.output) == hit
        assert calls == [str(data_fixtures / "recipenlg_bad.csv")], (command, calls)


def test_bad_path_is_one_line_without_traceback(repo_dir):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "chefbot.cli",
            "data",
            "prepare",
            "configs/quickstart.yaml",
            "data.source=/nope/missing.csv",
            "data.format=auto",
        ],
        cwd=repo_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [x for x in proc.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and "/nope/missing.csv" in lines[0] and "no such file" in lines[0]


# ---------------------------------------------------------------- empty input from the command line (issue 12)


def _cli_prepare(repo_dir, tokenizer_dir, cache, *overrides, **popen):
    cmd = [
        sys.executable,
        "-m",
        "chefbot.cli",
        "data",
        "prepare",
        "configs/quickstart.yaml",
        f"model.tokenizer={tokenizer_dir}",
        f"data.cache_dir={cache}",
        "grounding.enabled=false",  # these tests are about the rows; the grounding index has its own below
        *overrides,
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", CHEFBOT_NO_PROGRESS="1", COLUMNS="300")
    if popen:
        return subprocess.Popen(
            cmd, cwd=repo_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
        )
    return subprocess.run(cmd, cwd=repo_dir, env=env, capture_output=True, text=True, timeout=300)


def _assert_failed_cleanly(proc, cache, *needles):
    assert proc.returncode == 1, (proc.returncode, proc.stderr)  # bad data: exit 1 (a bad command line: 2)
    assert "Traceback" not in proc.stderr
    msg = " ".join(proc.stderr.split())  # one message, however the console wrapped it
    for needle in needles:
        assert needle in msg, (needle, msg)
    left = sorted(cache.iterdir()) if cache.exists() else []
    assert left == [], left  # no cache folder, complete or not


def test_header_only_csv_fails_naming_file_and_counts(repo_dir, data_fixtures, qwen_tokenizer_dir, tmp_path):
    csv_path = tmp_path / "header_only.csv"
    csv_path.write_bytes((data_fixtures / "recipenlg_bad.csv").read_bytes().splitlines(keepends=True)[0])
    proc = _cli_prepare(
        repo_dir, qwen_tokenizer_dir, tmp_path / "cache", f"data.source={csv_path}", "data.format=recipenlg_csv"
    )
    _assert_failed_cleanly(
        proc, tmp_path / "cache", f"error: {csv_path}: no rows to prepare (rows read: 0", "nothing was written"
    )


def test_a_source_with_nothing_to_ground_on_fails_naming_it_without_a_traceback(
    repo_dir, data_fixtures, qwen_tokenizer_dir, tmp_path
):
    """The quickstart grounds its prompts: the corpus index is built first, in a spawned process, whose
    error used to reach the terminal as that process's traceback."""
    csv_path = tmp_path / "header_only.csv"
    csv_path.write_bytes((data_fixtures / "recipenlg_bad.csv").read_bytes().splitlines(keepends=True)[0])
    proc = _cli_prepare(
        repo_dir,
        qwen_tokenizer_dir,
        tmp_path / "cache",
        f"data.source={csv_path}",
        "data.format=recipenlg_csv",
        "grounding.enabled=true",
    )
    _assert_failed_cleanly(proc, tmp_path / "cache", f"error: grounding index: {csv_path}: no valid recipes to index")


def test_all_rows_invalid_fails_with_drop_counts(repo_dir, data_fixtures, qwen_tokenizer_dir, tmp_path):
    lines = (data_fixtures / "recipenlg_bad.csv").read_bytes().splitlines(keepends=True)
    bad = tmp_path / "all_bad.csv"
    bad.write_bytes(b"".join(lines[:1] + lines[7:8] + lines[7:8]))  # header + the no-title row twice
    proc = _cli_prepare(
        repo_dir, qwen_tokenizer_dir, tmp_path / "cache", f"data.source={bad}", "data.format=recipenlg_csv"
    )
    _assert_failed_cleanly(
        proc, tmp_path / "cache", f"{bad}: no valid rows (rows read: 2; dropped: 2 = missing_title 2)"
    )


def test_empty_train_split_fails_naming_the_setting(repo_dir, data_fixtures, qwen_tokenizer_dir, tmp_path):
    proc = _cli_prepare(
        repo_dir,
        qwen_tokenizer_dir,
        tmp_path / "cache",
        f"data.source={data_fixtures / 'chefbot.jsonl'}",
        "data.format=chefbot",
        "data.val_size=40",
        "data.test_size=24",
        "data.num_proc=1",
    )
    _assert_failed_cleanly(
        proc,
        tmp_path / "cache",
        "chefbot.jsonl: the train split is empty (rows read: 4; kept after dedup: 3;",
        "lower data.val_size / data.test_size (now 40 / 24)",
    )


# ---------------------------------------------------------------- SIGKILL mid-run (issue 12)


def _corpus(shared_dir, path, copies: int):
    """The 1,000-row RecipeNLG sample ``copies`` times, each copy's titles made distinct (so dedup keeps them)."""
    import csv

    with open(shared_dir / "data" / "recipenlg" / "first_1000.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(rows[0])
        n = 0
        for k in range(copies):
            for r in rows[1:]:
                w.writerow([n, f"{r[1]} {k}" if k else r[1], *r[2:]])
                n += 1
    return path


def _outputs(folder):
    """What a prepared folder holds, comparable across runs (stats without the timings)."""
    import hashlib
    import json

    files = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.name not in ("stats.json", "config.yaml")
    }
    stats = json.loads((folder / "stats.json").read_text())
    for k in ("seconds", "rows_per_s"):
        stats.pop(k)
    return files, stats


def test_sigkill_mid_prepare_leaves_nothing_complete_and_rerun_matches(
    repo_dir, shared_dir, qwen_tokenizer_dir, tmp_path
):
    import signal
    import time

    import psutil

    from chefbot.config import load_config
    from chefbot.data.cache import COMPLETE, OWNER
    from chefbot.data.prepare import prepare
    from chefbot.model import load_tokenizer

    src = _corpus(shared_dir, tmp_path / "corpus.csv", copies=10)  # 10,000 rows: several seconds on 2 cores
    cache = tmp_path / "cache"
    ov = [f"data.source={src}", "data.format=recipenlg_csv", "data.max_train=null", "data.num_proc=2"]
    proc = _cli_prepare(repo_dir, qwen_tokenizer_dir, cache, *ov, start_new_session=True)
    try:
        deadline = time.time() + 240
        while not list(cache.glob(".*.tmp/train.arrow")) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # well into the streaming pass
        assert proc.poll() is None, (
            f"prepare ended before it could be killed (make the corpus bigger): {proc.stderr.read()}"
        )
        workers = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)  # the main process only, as `kill -9 <pid>` or the OOM killer would
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        _, still = psutil.wait_procs(workers, timeout=30)
        assert not still, f"worker processes outlived the killed prepare: {still}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    left = sorted(cache.iterdir())
    assert left and all(p.name.startswith(".") and p.name.endswith(".tmp") for p in left), (
        left
    )  # only the unfinished output
    assert not list(cache.glob(f"*/{COMPLETE}")) and not list(cache.glob(f".*/{COMPLETE}"))
    assert all((p / OWNER).exists() for p in left)

    rerun = _cli_prepare(repo_dir, qwen_tokenizer_dir, cache, *ov)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "cache hit" not in rerun.stdout and "removed the unfinished output of an interrupted run" in rerun.stdout
    done = sorted(p for p in cache.iterdir() if (p / COMPLETE).exists())
    # the prepared data and the held-out items (names are hashes: no order assumed), leftovers gone
    assert len(done) == 2 and sorted(p.name.startswith("eval-") for p in done) == [False, True]
    assert sorted(cache.iterdir()) == done
    data_dir, eval_dir = sorted(done, key=lambda p: p.name.startswith("eval-"))
    assert not (data_dir / OWNER).exists()

    # an uninterrupted run (same config, its own cache folder) gives the same folder name and the same bytes
    cfg = load_config(
        str(repo_dir / "configs" / "quickstart.yaml"),
        [f"model.tokenizer={qwen_tokenizer_dir}", f"data.cache_dir={tmp_path / 'ref'}", "grounding.enabled=false", *ov],
    )
    ref = prepare(cfg, load_tokenizer(cfg.model), progress=False)
    assert ref.cache_dir.name == data_dir.name
    got, want = _outputs(data_dir), _outputs(ref.cache_dir)
    assert got == want
    assert sorted(p.name for p in (tmp_path / "ref").iterdir()) == [p.name for p in done]
    for name in ("eval_test.jsonl", "eval_validation.jsonl"):
        assert (eval_dir / name).read_bytes() == (tmp_path / "ref" / eval_dir.name / name).read_bytes()
    assert want[1]["rows_read"] == 10_000 and want[1]["train_rows"] > 0
