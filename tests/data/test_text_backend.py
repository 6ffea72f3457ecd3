"""The tiktoken text backend gives exactly the ids of ``tokenizers`` (issue 14, part 4).

``chefbot.data.text_backend`` builds a tiktoken copy of a byte-level BPE tokenizer and
``prepare`` uses it only after comparing it id for id with ``tokenizers`` on the run's
first texts and an adversarial set.  These tests compare the two on every real RecipeNLG
row in ../shared, on adversarial text and on every Unicode code point; check that a
tokenizer tiktoken cannot reproduce falls back (and says why); and that the prepared
dataset is byte for byte the same with either backend.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from pathlib import Path

import pytest

from chefbot.config import PromptConfig
from chefbot.data import text_backend as tb
from chefbot.data.chat_encoder import ChatEncoder
from chefbot.data.text_backend import ADVERSARIAL, NotConvertible, ReferenceText, convert
from chefbot.data.tokenize import encode_example, messages_for, target_for
from chefbot.errors import DataError
from chefbot.recipe_format import Recipe

SHORT_PROMPT = PromptConfig(system=None, user="Ingredients: {ner}. Title: {title}")


@pytest.fixture(scope="module")
def qwen_fast(qwen_tokenizer):
    return convert(qwen_tokenizer)


def _shared_csvs(shared_dir: Path) -> list[Path]:
    files = sorted((shared_dir / "data" / "recipenlg").glob("*.csv"))
    assert files, "no RecipeNLG sample in ../shared/data/recipenlg"
    return files


def _records(path: Path) -> list[Recipe]:
    from chefbot.data.readers import parse_chunk, raw_chunks
    from chefbot.data.sources import resolve_data_source

    spec = resolve_data_source(str(path), "recipenlg_csv")
    return [r for c in raw_chunks(spec) for _, r in parse_chunk(c) if isinstance(r, Recipe)]


def _raw_fields(path: Path) -> list[str]:
    """The CSV cells as they are (not NFC-normalized, not whitespace-collapsed)."""
    csv.field_size_limit(1 << 30)
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.reader(f)):
            if i:
                title, ingredients, directions, ner = row[1], json.loads(row[2]), json.loads(row[3]), json.loads(row[6])
                out += [title, "\n".join(ingredients), "\n".join(directions), ", ".join(ner)]
    return out


def _assert_same(fast, texts):
    ref = ReferenceText(fast.reference.tokenizer).encode(texts)
    got = fast.encode(texts)
    for n, (t, a, b) in enumerate(zip(texts, got, ref)):
        assert a == b, f"text {n}: {t[:80]!r}: tiktoken {a[:12]} vs tokenizers {b[:12]}"
    assert len(got) == len(ref) == len(texts)


# ---------------------------------------------------------------- equal ids


def test_equal_ids_on_every_shared_recipenlg_row(qwen_tokenizer, qwen_fast, shared_dir):
    """Every real row: the texts prepare tokenizes (two prompt layouts) and the raw CSV cells."""
    recs = [r for p in _shared_csvs(shared_dir) for r in _records(p)]
    assert len(recs) >= 1_200  # 1,243 rows in first_1000, acai_136 and poutine_107
    texts: list[str] = []
    for prompt in (PromptConfig(), SHORT_PROMPT):
        texts += ChatEncoder(qwen_tokenizer, 512).texts_for([(messages_for(r, prompt), target_for(r)) for r in recs])
    raw = [t for p in _shared_csvs(shared_dir) for t in _raw_fields(p)]
    assert any(not t.isascii() for t in texts) and any(t != unicodedata.normalize("NFC", t) for t in raw)
    before = dict(qwen_fast.stats)
    _assert_same(qwen_fast, texts + raw)
    assert qwen_fast.stats["tiktoken"] - before["tiktoken"] == len(texts) + len(raw)  # none needed the reference
    assert tb.check(qwen_fast, texts + raw, "shared rows") is None


@pytest.mark.parametrize("i", range(len(ADVERSARIAL)))
def test_equal_ids_on_adversarial_text(qwen_fast, i):
    text = ADVERSARIAL[i]
    # alone, in the template's slot context, and next to the end-of-turn token
    _assert_same(qwen_fast, [text, "assistant\n" + text, "user\n" + text + "\n", text + "<|im_end|>", text * 3])
    assert tb.check(qwen_fast, [text], "adversarial") is None


def test_adversarial_set_covers_the_risky_cases():
    joined = "".join(ADVERSARIAL)
    for needle in (
        "\u0301",
        "\u0338",
        "\u200d",
        "\ufe0f",
        "包",
        "김",
        "1234567890" * 3,
        "\r\n",
        "\rc",
        "    ",
        "\t\t",
        "   \n",
        "a" * 1000,
        "'s",
        "'t",
        "'re",
        "\u00a0",
        "\u3000",
        "\u2028",
        "\u0085",
        "<|im_end|>",
        "<|endoftext|>",
        "\U00016d67",
    ):
        assert needle in joined, needle


def test_text_that_looks_like_special_tokens(qwen_tokenizer, qwen_fast):
    """Added tokens typed in a text are matched exactly as tokenizers matches them today
    (``add_special_tokens=False``, special tokens not split): whole ones become their id,
    near misses stay text; normalization never joins a combining mark to the token's '>'."""
    im_end = qwen_tokenizer.convert_tokens_to_ids("<|im_end|>")
    ref = ReferenceText(qwen_tokenizer)
    assert qwen_fast.encode(["<|im_end|>"]) == ref.encode(["<|im_end|>"]) == [[im_end]]
    for text in (
        "say <|im_end|> here",
        "<|im_end|>\u0338",
        "<|im_end",
        "<| im_end |>",
        "<tool_call>x</tool_call>",
        "<|im_start|>\u0301",
    ):
        assert qwen_fast.encode([text]) == ref.encode([text]), text
    assert qwen_fast.encode(["<|im_end|>\u0338"])[0][0] == im_end
    assert im_end not in qwen_fast.encode(["<|im_end"])[0]
    # the same as the reference path of encode_example, which calls tokenizer(text, add_special_tokens=False)
    assert (
        qwen_tokenizer("x<|im_end|>y", add_special_tokens=False)["input_ids"] == qwen_fast.encode(["x<|im_end|>y"])[0]
    )


def test_texts_tiktoken_cannot_vouch_for_go_to_tokenizers(qwen_fast):
    """Characters Python's Unicode database does not know (a newer Unicode in tokenizers
    could compose or classify them differently) are encoded by tokenizers."""
    before = dict(qwen_fast.stats)
    newer = "Kirat Rai \U00016d67\U00016d67"
    _assert_same(qwen_fast, [newer, "plain", "é"])
    assert qwen_fast.stats["tokenizers"] - before["tokenizers"] == 1
    assert qwen_fast.stats["tiktoken"] - before["tiktoken"] == 2


@pytest.mark.slow
def test_every_code_point_classified_alike(qwen_fast):
    """Letters, digits, whitespace and NFC of every code point (assigned or not) agree
    between tokenizers (Oniguruma, its own NFC) and tiktoken (fancy-regex, Python's NFC)."""
    fast, ref = qwen_fast, qwen_fast.reference

    def probe(c: str) -> str:
        return f"a{c}b {c}{c}1{c} {c}\n{c}  x{c}'s{c}\r\n"

    cps = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    # 16 code points' probes per text (each ends in "\r\n", a split point of both pre-tokenizers): the per-call cost
    # of both libraries is paid 16 times less; a text that differs is retried one code point at a time to name it
    groups = ["".join(probe(c) for c in cps[i : i + 16]) for i in range(0, len(cps), 16)]
    for start in range(0, len(groups), 4096):
        texts = groups[start : start + 4096]
        for t, a, b in zip(texts, [fast.encode_unguarded(t) for t in texts], ref.encode(texts)):
            if a != b:
                for c in dict.fromkeys(t[1::21]):  # every probe starts "a" + its code point, 21 chars apart
                    a1, b1 = fast.encode_unguarded(probe(c)), ref.encode([probe(c)])[0]
                    assert a1 == b1, f"U+{ord(c):04X} ({unicodedata.category(c)}): tiktoken {a1} vs tokenizers {b1}"
                assert a == b, f"a run of probes differs though each alone agrees: {t[:80]!r}"


def test_smollm2_gpt2_style_tokenizer_converts_exactly(smollm2_gguf, shared_dir):
    """SmolLM2 (as loaded from its GGUF): ByteLevel regex pre-tokenizer, no normalizer, and
    21 bytes without a token of their own (texts holding them go to tokenizers)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(smollm2_gguf.parent), gguf_file=smollm2_gguf.name)
    fast = convert(tok)
    recs = [r for p in _shared_csvs(shared_dir) for r in _records(p)]
    texts = ChatEncoder(tok, 512).texts_for([(messages_for(r, PromptConfig()), target_for(r)) for r in recs])
    _assert_same(fast, texts + list(ADVERSARIAL) + ["a\x04b the\x06re", "<|im_end|>", "<repo_name><reponame>"])
    assert tb.check(fast, list(ADVERSARIAL) + texts, "smollm2") is None
    assert fast.stats["tokenizers"] >= 1  # "a\x04b": byte 4 has no token


def test_chat_encoder_with_tiktoken_equals_reference(qwen_tokenizer, qwen_fast, shared_dir):
    """The flat arrays prepare uses, with texts tokenized by tiktoken, equal encode_example's."""
    recs = _records(shared_dir / "data/recipenlg/acai_136.csv")[:60]
    conv = [
        (messages_for(r, SHORT_PROMPT if i % 3 == 0 else PromptConfig()), target_for(r)) for i, r in enumerate(recs)
    ]
    for max_length in (512, 120):
        enc = ChatEncoder(qwen_tokenizer, max_length, fast_text=qwen_fast)
        assert enc.encode_batch(conv) == [encode_example(m, t, qwen_tokenizer, max_length) for m, t in conv]
        assert enc.text_backend == "tiktoken" and enc.backend_fallback is None and enc.mode == "pieces"
        ref = ChatEncoder(qwen_tokenizer, max_length).encode_arrays(conv)
        for a, b in zip(ChatEncoder(qwen_tokenizer, max_length, fast_text=qwen_fast).encode_arrays(conv), ref):
            assert a.tolist() == b.tolist()


# ---------------------------------------------------------------- fallback


def _unigram_tokenizer(qwen_tokenizer, texts):
    """A SentencePiece-style Unigram tokenizer with the Qwen chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.Unigram())
    raw.pre_tokenizer = pre_tokenizers.Metaspace()
    raw.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=400, special_tokens=["<unk>", "<|im_start|>", "<|im_end|>"], unk_token="<unk>"
    )
    raw.train_from_iterator(texts, trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        unk_token="<unk>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tok.chat_template = qwen_tokenizer.chat_template
    return tok


def test_unigram_tokenizer_falls_back_and_says_why(qwen_tokenizer, shared_dir, make_cfg, monkeypatch, capsys):
    csv_path = shared_dir / "data/recipenlg/poutine_107.csv"
    recs = _records(csv_path)
    tok = _unigram_tokenizer(qwen_tokenizer, [target_for(r) for r in recs])
    with pytest.raises(NotConvertible, match="model Unigram, not a byte-level BPE"):
        convert(tok)
    from chefbot.data.prepare import prepare

    p = prepare(
        make_cfg(csv_path, "data.format=recipenlg_csv", "data.tokenizer_backend=auto"), tok, progress=True, force=True
    )
    info = p.stats["tokenizer_backend"]
    assert info["used"] == "tokenizers" and "model Unigram" in info["reason"]
    assert (
        "tokenizer backend: tokenizers (tiktoken cannot reproduce this tokenizer: model Unigram"
        in capsys.readouterr().out
    )
    with pytest.raises(
        DataError, match="tiktoken required .*: tiktoken cannot reproduce this tokenizer: model Unigram"
    ):
        # required: an error, not a silent fallback
        prepare(
            make_cfg(csv_path, "data.format=recipenlg_csv", "data.tokenizer_backend=tiktoken"),
            tok,
            progress=False,
            force=True,
        )


def _without_digits_rule(tok):
    """Qwen's split regex without its \\p{N} branch: digits fall into the gaps between matches,
    which tokenizers keeps as pieces and tiktoken drops.  The structure still converts."""
    from tokenizers import Regex, pre_tokenizers

    pattern = (
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    )
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    return tok


def test_altered_pre_tokenizer_fails_the_data_check_and_names_the_text(
    qwen_copy, shared_dir, make_cfg, monkeypatch, capsys
):
    tok = _without_digits_rule(qwen_copy())
    fast = convert(tok)  # structurally a byte-level BPE
    choice = tb.decide(fast, ["no digits here", "2 cups flour"], tb.BackendChoice("auto"))
    assert choice.used == "tokenizers" and choice.checked_texts == 2
    assert "text 2 of 2 (the data) differs at token 0" in choice.reason and "'2 cups flour'" in choice.reason

    from chefbot.data.prepare import prepare

    csv_path = shared_dir / "data/recipenlg/poutine_107.csv"
    p = prepare(
        make_cfg(csv_path, "data.format=recipenlg_csv", "data.tokenizer_backend=auto"), tok, progress=True, force=True
    )
    info = p.stats["tokenizer_backend"]
    assert info["used"] == "tokenizers" and "(the data) differs at token" in info["reason"]
    assert info["checked_texts"] > 150 and info["texts"]["tiktoken"] == 0
    assert "tokenizer backend: tokenizers (tiktoken differs from tokenizers: text" in capsys.readouterr().out
    with pytest.raises(DataError, match=r"tiktoken required \(data.tokenizer_backend=tiktoken\): tiktoken differs"):
        prepare(
            make_cfg(csv_path, "data.format=recipenlg_csv", "data.tokenizer_backend=tiktoken"),
            tok,
            progress=False,
            force=True,
        )


def _rebuilt(qwen_copy, edit):
    """A Qwen copy whose backend JSON went through ``edit``."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    spec = json.loads(qwen_copy().backend_tokenizer.to_str())
    edit(spec["model"])
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(spec)))


def test_altered_vocab_or_merges_are_refused(qwen_copy):
    def drop_the_merge(model):  # "Ġthe" stays in the vocabulary but BPE can no longer make it
        merges = [m if isinstance(m, list) else m.split(" ") for m in model["merges"]]
        model["merges"] = [m for m in merges if "".join(m) != "Ġthe"]
        assert len(model["merges"]) == len(merges) - 1

    with pytest.raises(NotConvertible, match="'Ġthe' .* is not what BPE makes of its own bytes"):
        convert(_rebuilt(qwen_copy, drop_the_merge))

    def swap_ids(model):  # merge order no longer id order
        v = model["vocab"]
        v["in"], v["er"] = v["er"], v["in"]

    with pytest.raises(NotConvertible, match="merge order is not id order"):
        convert(_rebuilt(qwen_copy, swap_ids))


def test_worker_gives_up_tiktoken_when_a_batch_check_fails(qwen_tokenizer, shared_dir, monkeypatch):
    """A difference that the start check missed is caught by the first-example check of a
    batch: the encoder switches to tokenizers for good, and the output is still exact."""
    fast = convert(qwen_tokenizer)
    real = fast.encode

    def wrong(texts):
        return [ids[:-1] + [ids[-1] + 1] if ids else ids for ids in real(texts)]

    monkeypatch.setattr(fast, "encode", wrong)
    recs = _records(shared_dir / "data/recipenlg/poutine_107.csv")[:20]
    conv = [(messages_for(r, PromptConfig()), target_for(r)) for r in recs]
    enc = ChatEncoder(qwen_tokenizer, 512, fast_text=fast)
    assert enc.encode_batch(conv) == [encode_example(m, t, qwen_tokenizer, 512) for m, t in conv]
    assert enc.text_backend == "tokenizers" and "differs from encode_example" in enc.backend_fallback
    assert enc.mode == "pieces"  # the encoding mode itself was fine
    enc.use_backend("tiktoken")
    assert enc.text_backend == "tokenizers"  # given up for good


# ---------------------------------------------------------------- prepare


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_prepared_dataset_is_byte_identical_with_either_backend(qwen_tokenizer, shared_dir, make_cfg, monkeypatch):
    """Real rows, 2 forked workers (they inherit the tiktoken copy): same folder (fingerprint),
    same train/validation Arrow files and eval items, byte for byte; stats.json differs only
    in the backend record and the timings."""
    from chefbot.data.prepare import prepare

    cfg = make_cfg(
        shared_dir / "data/recipenlg/first_1000.csv",
        "data.format=recipenlg_csv",
        "data.num_proc=2",
        "data.val_size=20",
        "data.test_size=20",
        "data.max_length=512",
    )
    out = {}
    for backend in ("tokenizers", "tiktoken"):
        arm = cfg.model_copy(update={"data": cfg.data.model_copy(update={"tokenizer_backend": backend})})
        p = prepare(arm, qwen_tokenizer, progress=False, force=True)
        out[backend] = (p.cache_dir, _files(p.cache_dir), p.stats)
    (dir_a, files_a, stats_a), (dir_b, files_b, stats_b) = out["tokenizers"], out["tiktoken"]
    assert dir_a == dir_b  # the backend is not part of the fingerprint
    assert (
        files_a.keys()
        == files_b.keys()
        >= {"train.arrow", "validation.arrow", "eval_test.jsonl", "eval_validation.jsonl"}
    )
    for name in files_a:
        if name == "config.yaml":  # the resolved config records the setting itself, and nothing else differs
            strip = lambda b: b"\n".join(ln for ln in b.split(b"\n") if b"tokenizer_backend:" not in ln)  # noqa: E731
            assert strip(files_a[name]) == strip(files_b[name]) and files_a[name] != files_b[name]
        elif name != "stats.json":
            assert files_a[name] == files_b[name], name
    ignore = {"tokenizer_backend", "seconds", "rows_per_s"}
    assert {k: v for k, v in stats_a.items() if k not in ignore} == {
        k: v for k, v in stats_b.items() if k not in ignore
    }
    assert (
        stats_a["tokenizer_backend"]["used"] == "tokenizers" and stats_a["tokenizer_backend"]["texts"]["tiktoken"] == 0
    )
    tk = stats_b["tokenizer_backend"]
    assert tk["used"] == "tiktoken" and tk["reason"] is None and tk["fallback_mid_run"] is None
    assert tk["checked_texts"] > 500 and tk["adversarial_texts"] == len(ADVERSARIAL)
    assert tk["texts"]["tiktoken"] >= 2 * stats_b["kept_after_dedup"] - 2  # user turn + answer per recipe


def test_backend_setting_and_fingerprint(qwen_tokenizer, data_fixtures, make_cfg):
    from chefbot.data.cache import fingerprint
    from chefbot.data.sources import resolve_data_source
    from chefbot.errors import ConfigError

    cfg = make_cfg(data_fixtures / "recipenlg_bad.csv", "data.format=recipenlg_csv")
    assert tb.requested_backend(cfg.data) == cfg.data.tokenizer_backend == "auto"
    tiktoken = make_cfg(
        data_fixtures / "recipenlg_bad.csv", "data.format=recipenlg_csv", "data.tokenizer_backend=tiktoken"
    )
    assert tb.requested_backend(tiktoken.data) == "tiktoken"
    # the backend gives the same ids, so it is left out of the fingerprint: either backend's cache is a hit
    spec = resolve_data_source(cfg.data.source, cfg.data.format)
    assert fingerprint(tiktoken, qwen_tokenizer, spec) == fingerprint(cfg, qwen_tokenizer, spec)
    with pytest.raises(ConfigError, match="tokenizer_backend"):
        make_cfg(data_fixtures / "recipenlg_bad.csv", "data.tokenizer_backend=fast")


def test_inspect_summary_shows_the_backend(qwen_tokenizer, data_fixtures, make_cfg):
    from rich.console import Console

    from chefbot.data.inspect import print_summary
    from chefbot.data.prepare import prepare

    p = prepare(
        make_cfg(data_fixtures / "recipenlg_bad.csv", "data.format=recipenlg_csv"),
        qwen_tokenizer,
        progress=False,
        force=True,
    )
    console = Console(record=True, width=400)
    print_summary(p, console=console)
    text = console.export_text()
    assert (
        "tokenizer backend" in text and "tiktoken (ids checked against tokenizers on" in text and "adversarial" in text
    )
