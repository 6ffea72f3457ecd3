"""prepare(): validation counts, strict mode, dedup/split, cache, atomicity, eval items."""

from __future__ import annotations

import json
import shutil

import pytest

from chefbot.data import records as R
from chefbot.data.cache import COMPLETE, fingerprint
from chefbot.data.prepare import load_eval_items, prepare
from chefbot.data.sources import resolve_data_source
from chefbot.errors import DataError


def test_bad_rows_counted_per_reason(make_cfg, data_fixtures, qwen_tokenizer):
    cfg = make_cfg(data_fixtures / "recipenlg_bad.csv", "data.max_chars=2000")
    p = prepare(cfg, qwen_tokenizer, progress=False)
    d = p.stats["dropped"]
    for reason in (
        R.MALFORMED_ROW,
        R.UNPARSABLE_LIST,
        R.UNDECODABLE_TEXT,
        R.MISSING_TITLE,
        R.EMPTY_INGREDIENTS,
        R.MISSING_DIRECTIONS,
        R.ABSURD_LENGTH,
        R.DUPLICATE,
    ):
        assert d.get(reason) == 1, (reason, d)
    assert p.stats["bad_rows"] == 7 and p.stats["kept_after_dedup"] == 6
    sp = p.stats["split"]
    assert sp["validation"] == 1 and sp["test"] == 1
    assert sp["train_recipes"] + sp["validation"] + sp["test"] + sp["held_out_reserve"] == 6
    saved = json.loads((p.cache_dir / "stats.json").read_text())
    assert saved["dropped"] == d  # counts are saved beside the data
    row = p.train[0]
    assert len(row["input_ids"]) == len(row["labels"]) == len(row["position_ids"]) <= 256


def test_strict_names_file_and_row(make_cfg, data_fixtures, qwen_tokenizer, tmp_path):
    cfg = make_cfg(data_fixtures / "recipenlg_bad.csv", "data.strict=true")
    # the reader rejects the malformed CSV line before row contents are validated
    with pytest.raises(
        DataError, match=r"recipenlg_bad\.csv: (line 14, )?row .*Too Few Fields.*expected 7 fields, got 3 \(--strict\)"
    ):
        prepare(cfg, qwen_tokenizer, progress=False)
    lines = (data_fixtures / "recipenlg_bad.csv").read_bytes().splitlines(keepends=True)
    only_title = tmp_path / "title.csv"
    only_title.write_bytes(b"".join(lines[:3] + lines[7:8]))  # header, rows 0-1, row 6 (no title)
    with pytest.raises(DataError, match=r"title\.csv: row 3: bad row \(missing_title\)"):
        prepare(make_cfg(only_title, "data.strict=true"), qwen_tokenizer, progress=False)
    assert not list((tmp_path / "cache").glob(f"*/{COMPLETE}"))


def test_cache_hit_and_fingerprint(make_cfg, data_fixtures, qwen_tokenizer, capsys):
    cfg = make_cfg(data_fixtures / "chefbot.jsonl", "data.val_size=0", "data.test_size=0")
    first = prepare(cfg, qwen_tokenizer)
    assert not first.cache_hit and (first.cache_dir / COMPLETE).exists()
    second = prepare(cfg, qwen_tokenizer)
    assert second.cache_hit and second.cache_dir == first.cache_dir
    assert "cache hit" in capsys.readouterr().out
    assert second.train["input_ids"] == first.train["input_ids"]
    # options that change the output change the fingerprint; worker count does not
    spec = resolve_data_source(cfg.data.source, cfg.data.format)
    assert fingerprint(cfg, qwen_tokenizer, spec) == first.cache_dir.name
    longer = cfg.model_copy(update={"data": cfg.data.model_copy(update={"max_length": 128})})
    assert fingerprint(longer, qwen_tokenizer, spec) != first.cache_dir.name
    more_workers = cfg.model_copy(update={"data": cfg.data.model_copy(update={"num_proc": 4})})
    assert fingerprint(more_workers, qwen_tokenizer, spec) == first.cache_dir.name


def test_interrupted_write_leaves_no_complete_cache(make_cfg, data_fixtures, qwen_tokenizer, monkeypatch):
    from chefbot.data import prepare as P

    cfg = make_cfg(data_fixtures / "chefbot.jsonl", "data.val_size=0", "data.test_size=0")

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(P, "save_resolved", boom)  # dies after the data files, before COMPLETE
    with pytest.raises(KeyboardInterrupt):
        prepare(cfg, qwen_tokenizer, progress=False)
    cache = cfg.data.cache_dir
    leftovers = [p for p in __import__("pathlib").Path(cache).glob("*")]
    assert not any((p / COMPLETE).exists() for p in leftovers)
    key = fingerprint(cfg, qwen_tokenizer, resolve_data_source(cfg.data.source, cfg.data.format))
    assert not any(p.name == key for p in leftovers)
    monkeypatch.undo()
    assert not prepare(cfg, qwen_tokenizer, progress=False).cache_hit


def test_split_is_deterministic_disjoint_and_stable_as_data_grows(make_cfg, shared_dir, qwen_tokenizer, tmp_path):
    src = shared_dir / "data" / "recipenlg" / "first_1000.csv"
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    small = tmp_path / "small.csv"
    small.write_text("".join(lines[:301]), encoding="utf-8")  # header + 300 rows
    grown = tmp_path / "grown.csv"
    grown.write_text("".join(lines[:1] + lines[301:601] + lines[1:301]), encoding="utf-8")  # more rows, other order
    ov = ("data.val_size=5", "data.test_size=5", "data.max_length=64", "data.packing=false")
    a = make_cfg(small, *ov)
    b = make_cfg(grown, *ov)
    ta, va = load_eval_items(a, "test"), load_eval_items(a, "validation")
    tb = load_eval_items(b, "test")
    assert len(ta) == len(va) == 5 and not {x["id"] for x in ta} & {x["id"] for x in va}
    assert load_eval_items(a, "test") == ta  # fixed order, same items
    # stable: with more data, every test recipe of the bigger set was held out before (or is new)
    held_a = {x["id"] for x in ta + va}
    train_a = _train_ids(a, qwen_tokenizer)
    assert not {x["id"] for x in tb} & train_a
    assert not held_a & train_a
    assert ta[0]["messages"][1]["content"].startswith("Include ingredients: ")
    assert ta[0]["reference"].startswith("# ")


def _train_ids(cfg, tokenizer):
    """Recipe ids in train, recovered by re-reading with the same hash split."""
    from chefbot.data.prepare import _stream

    ids = set()
    spec = resolve_data_source(cfg.data.source, cfg.data.format)
    # a records-only pass with a callback collecting training recipes' ids
    held, _ = _stream(
        cfg.model_copy(update={"data": cfg.data.model_copy(update={"num_proc": 1})}),
        spec,
        None,
        False,
        lambda u, item: ids.add(item[2]["id"]) if item[2] else None,
    )
    return ids


def test_num_proc_2_same_as_1(make_cfg, data_fixtures, qwen_tokenizer):
    one = prepare(make_cfg(data_fixtures / "recipenlg_bad.csv"), qwen_tokenizer, progress=False)
    shutil.rmtree(one.cache_dir)
    two = prepare(make_cfg(data_fixtures / "recipenlg_bad.csv", "data.num_proc=2"), qwen_tokenizer, progress=False)
    assert two.train["input_ids"] == one.train["input_ids"] and two.stats["dropped"] == one.stats["dropped"]


def test_no_target_everywhere_is_an_empty_train_error(make_cfg, data_fixtures, qwen_tokenizer):
    # the prompt alone is ~35 tokens: nothing of the answer fits in 32, so no training example is left
    cfg = make_cfg(data_fixtures / "chefbot.jsonl", "data.val_size=0", "data.test_size=0", "data.max_length=32")
    with pytest.raises(
        DataError,
        match=r"chefbot\.jsonl: the train split is empty \(rows read: 4; kept after dedup: 3; .*"
        r"train recipes with no target after truncation: 3; .*raise data\.max_length \(now 32\)",
    ):
        prepare(cfg, qwen_tokenizer, progress=False)
    _assert_nothing_cached(cfg)


# ---------------------------------------------------------------- empty input (issue 12)


def _assert_nothing_cached(cfg):
    """Nothing in the cache folder: no folder that looks complete, no temporary leftovers."""
    from pathlib import Path

    cache = Path(cfg.data.cache_dir)
    left = sorted(cache.iterdir()) if cache.exists() else []
    assert left == [], left  # atomic_dir removed its temporary folder; no eval cache either


def test_header_only_csv_is_an_error_naming_file_and_counts(make_cfg, data_fixtures, qwen_tokenizer, tmp_path):
    header = (data_fixtures / "recipenlg_bad.csv").read_bytes().splitlines(keepends=True)[0]
    empty = tmp_path / "header_only.csv"
    empty.write_bytes(header)
    cfg = make_cfg(empty, "data.format=recipenlg_csv")
    with pytest.raises(DataError, match=r"header_only\.csv: no rows to prepare \(rows read: 0.*nothing was written"):
        prepare(cfg, qwen_tokenizer, progress=False)
    _assert_nothing_cached(cfg)
    with pytest.raises(DataError, match=r"header_only\.csv: no rows"):  # the held-out items too
        load_eval_items(cfg, "test")
    _assert_nothing_cached(cfg)


def test_no_valid_rows_is_an_error_with_drop_counts(make_cfg, qwen_tokenizer, tmp_path):
    bad = tmp_path / "all_bad.jsonl"
    rows = [
        {"id": "a", "title": "", "ingredients": ["x"], "ner": ["x"], "directions": ["Mix."]},  # missing_title
        {"id": "b", "title": "B", "ingredients": ["x"], "ner": ["x"], "directions": []},  # missing_directions
        {"id": "c", "title": "C", "ingredients": ["x"], "ner": ["x"], "directions": []},
    ]
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n", encoding="utf-8")
    cfg = make_cfg(bad, "data.format=chefbot")
    with pytest.raises(DataError) as e:
        prepare(cfg, qwen_tokenizer, progress=False)
    msg = str(e.value)
    assert msg.startswith(f"{bad}: no valid rows (rows read: 4; dropped: 4 = ")
    assert "missing_directions 2, malformed_row 1, missing_title 1" in msg and "--strict" in msg, msg
    _assert_nothing_cached(cfg)


def test_every_row_filtered_names_data_sources(make_cfg, shared_dir, qwen_tokenizer, tmp_path):
    lines = (shared_dir / "data" / "recipenlg" / "first_1000.csv").read_bytes().splitlines(keepends=True)
    gathered = tmp_path / "gathered.csv"
    gathered.write_bytes(b"".join([lines[0]] + [x for x in lines[1:40] if b",Gathered," in x][:5]))
    cfg = make_cfg(gathered, "data.format=recipenlg_csv", "data.sources=[Recipes1M]")
    with pytest.raises(
        DataError,
        match=r"gathered\.csv: no valid rows \(rows read: 5; dropped: 5 = filtered_source 5\); "
        r"data\.sources=\['Recipes1M'\] keeps none",
    ):
        prepare(cfg, qwen_tokenizer, progress=False)
    _assert_nothing_cached(cfg)


def test_held_out_taking_everything_is_an_empty_train_error(make_cfg, data_fixtures, qwen_tokenizer):
    cfg = make_cfg(data_fixtures / "chefbot.jsonl", "data.val_size=2", "data.test_size=2")
    with pytest.raises(
        DataError,
        match=r"the train split is empty \(rows read: 4; kept after dedup: 3; validation 1, test 2, "
        r"held-out reserve 0; .*lower data\.val_size / data\.test_size \(now 2 / 2\)",
    ):
        prepare(cfg, qwen_tokenizer, progress=False)
    _assert_nothing_cached(cfg)


# ---------------------------------------------------------------- drop counts per split (issue 12)


def _long_prompt_recipe(n: int, below: float, seed: int = 0) -> dict:
    """A recipe whose prompt alone fills 128 tokens, titled so that its split position u < ``below``."""
    names = [f"spice number {i}" for i in range(40)]
    for k in range(100_000):
        title = f"Everything Stew {n}-{k}"
        if R.key_hashes(R.dedup_key(title, names), seed)[1] < below:
            return {
                "id": f"long:{n}",
                "title": title,
                "ingredients": names,
                "ner": names,
                "directions": ["Mix.", "Serve."],
            }
    raise AssertionError("no title found")


def test_no_target_counted_per_split_when_train_has_none(make_cfg, qwen_tokenizer, tmp_path):
    normal = [
        {
            "id": f"n:{i}",
            "title": f"Plain Rice {i}",
            "ingredients": ["1 cup rice"],
            "ner": ["rice"],
            "directions": ["Boil the rice.", "Serve."],
        }
        for i in range(24)
    ]
    u_min = min(R.key_hashes(R.dedup_key(r["title"], r["ner"]), 0)[1] for r in normal)
    # two long-prompt recipes below every normal one: the smallest u is test, the next validation
    longs = [_long_prompt_recipe(1, u_min), _long_prompt_recipe(2, u_min)]
    src = tmp_path / "mixed.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in normal + longs), encoding="utf-8")
    cfg = make_cfg(src, "data.val_size=1", "data.test_size=1", "data.max_length=128")
    p = prepare(cfg, qwen_tokenizer, progress=False)
    assert p.stats["no_target_by_split"] == {"train": 0, "validation": 1, "test": 1}
    assert p.stats["dropped"][R.NO_TARGET] == 1  # validation's; the test item stays in eval_test.jsonl
    assert len(p.validation) == 0 and p.stats["split"]["validation"] == 1 and p.stats["split"]["train_recipes"] > 0
    assert [x["id"] for x in load_eval_items(cfg, "test")] in (["long:1"], ["long:2"])
    assert json.loads((p.cache_dir / "stats.json").read_text())["no_target_by_split"]["validation"] == 1
    # and the other way round: drops in train only are counted for train only
    shutil.rmtree(p.cache_dir)
    cfg = make_cfg(src, "data.val_size=0", "data.test_size=0", "data.max_length=128")
    p = prepare(cfg, qwen_tokenizer, progress=False)
    assert p.stats["no_target_by_split"] == {"train": 2, "validation": 0, "test": 0}
    assert p.stats["dropped"][R.NO_TARGET] == 2
