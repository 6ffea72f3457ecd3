"""Golden tests of the chat encoding with the real Qwen2.5 tokenizer (pitfalls 2, 4, 5, 6, 8)."""

from __future__ import annotations

import pytest

from chefbot.config import PromptConfig
from chefbot.data.chat_encoder import ChatEncoder
from chefbot.data.tokenize import IGNORE_INDEX, build_labels, encode_example, messages_for, special_ids, target_for
from chefbot.errors import DataError
from chefbot.recipe_format import Recipe

RECIPE = Recipe(
    id="t:1",
    title="Creamy Corn",
    ingredients=["2 pkg. frozen corn", "1/2 tsp. salt"],
    ner=["corn", "salt"],
    directions=["Combine all.", "Cook 4 hours."],
)

# Golden ids for RECIPE with the default prompt: a change in the template, the prompt or
# the recipe format shows up here (pitfall 8, template drift).
GOLDEN_IDS = [
    151644,
    8948,
    198,
    2610,
    686,
    6923,
    825,
    17233,
    11116,
    13,
    1759,
    678,
    5871,
    13966,
    323,
    2968,
    11682,
    7354,
    13,
    151645,
    198,
    151644,
    872,
    198,
    22283,
    13966,
    25,
    13776,
    11,
    12021,
    151645,
    198,
    151644,
    77091,
    198,
    2,
    29700,
    88,
    21330,
    271,
    565,
    51175,
    198,
    12,
    220,
    17,
    24793,
    13,
    19690,
    13776,
    198,
    12,
    220,
    16,
    14,
    17,
    37920,
    13,
    12021,
    271,
    565,
    53486,
    198,
    16,
    13,
    46812,
    678,
    624,
    17,
    13,
    12514,
    220,
    19,
    4115,
    13,
    151645,
]
N_PROMPT = 35  # system + user turns + "<|im_start|>assistant\n"


def test_golden_ids_and_labels(qwen_tokenizer):
    ex = encode_example(messages_for(RECIPE, PromptConfig()), target_for(RECIPE), qwen_tokenizer, 512)
    assert ex["input_ids"] == GOLDEN_IDS
    assert ex["labels"] == [IGNORE_INDEX] * N_PROMPT + GOLDEN_IDS[N_PROMPT:]


def test_ignore_index_is_what_cross_entropy_ignores():
    import torch

    assert IGNORE_INDEX == torch.nn.CrossEntropyLoss().ignore_index == -100


def test_build_labels_one_example_and_packed():
    import numpy as np

    assert build_labels([5, 6, 7, 8], 2).tolist() == [IGNORE_INDEX, IGNORE_INDEX, 7, 8]
    ids = np.array([5, 6, 7, 8, 9, 10, 11], dtype=np.int32)  # two examples back to back
    packed = build_labels(ids, np.array([2, 2, 2, 2, 1, 1, 1]), positions=np.array([0, 1, 2, 3, 0, 1, 2]))
    assert packed.dtype == np.int32 and packed.tolist() == [IGNORE_INDEX, IGNORE_INDEX, 7, 8, IGNORE_INDEX, 10, 11]


def test_only_assistant_tokens_and_im_end_labeled(qwen_tokenizer):
    tok = qwen_tokenizer
    msgs = messages_for(RECIPE, PromptConfig())
    ex = encode_example(msgs, target_for(RECIPE), tok, 512)
    trained = [t for t, lab in zip(ex["input_ids"], ex["labels"]) if lab != IGNORE_INDEX]
    untrained = [t for t, lab in zip(ex["input_ids"], ex["labels"]) if lab == IGNORE_INDEX]
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    # every answer token and the closing <|im_end|>, nothing else
    assert tok.decode(trained) == target_for(RECIPE) + "<|im_end|>"
    assert trained[-1] == im_end and ex["labels"][-1] == im_end
    # nothing of the system or user turns
    assert tok.decode(untrained) == tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert "Include ingredients" not in tok.decode(trained)


def test_pad_equal_eos_still_labels_end_of_turn(qwen_copy):
    """pitfall 2: with pad == eos, masking pad ids would hide <|im_end|>; we never do that."""
    tok = qwen_copy()
    tok.pad_token = tok.eos_token
    assert tok.pad_token_id == tok.convert_tokens_to_ids("<|im_end|>")
    ex = encode_example(messages_for(RECIPE, PromptConfig()), target_for(RECIPE), tok, 512)
    assert ex["labels"][-1] == tok.pad_token_id
    assert ex["input_ids"] == GOLDEN_IDS


GEMMA_LIKE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{ '<|im_start|>' + role + '\n' + message['content'] | trim + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>model\n' }}{% endif %}"
)


def test_gemma_style_template_folds_system(qwen_copy):
    tok = qwen_copy()
    tok.chat_template = GEMMA_LIKE
    msgs = messages_for(RECIPE, PromptConfig())
    ex = encode_example(msgs, target_for(RECIPE), tok, 512)
    prompt = tok.decode([t for t, lab in zip(ex["input_ids"], ex["labels"]) if lab == IGNORE_INDEX])
    assert prompt.startswith(tok.bos_token or "")
    assert "<|im_start|>user\nYou will generate one cooking recipe." in prompt
    assert "Include ingredients: corn, salt" in prompt and "system" not in prompt
    trained = tok.decode([t for t, lab in zip(ex["input_ids"], ex["labels"]) if lab != IGNORE_INDEX])
    assert trained == target_for(RECIPE) + "<|im_end|>"
    with pytest.raises(DataError):  # without folding, the template refuses the system turn
        encode_example(msgs, target_for(RECIPE), tok, 512, fold="never")
    # the fast batched path agrees
    assert ChatEncoder(tok, 512).encode_batch([(msgs, target_for(RECIPE))]) == [ex]


def test_truncation_cuts_tail_and_drops_no_target(qwen_tokenizer):
    msgs, target = messages_for(RECIPE, PromptConfig()), target_for(RECIPE)
    ex = encode_example(msgs, target, qwen_tokenizer, N_PROMPT + 5)
    assert ex["input_ids"] == GOLDEN_IDS[: N_PROMPT + 5]  # prompt kept whole, recipe tail cut
    assert ex["labels"][N_PROMPT:] == GOLDEN_IDS[N_PROMPT : N_PROMPT + 5]
    assert encode_example(msgs, target, qwen_tokenizer, N_PROMPT) is None  # prompt alone fills it
    assert encode_example(msgs, target, qwen_tokenizer, N_PROMPT - 3) is None


def test_prompt_boundary_mismatch_fails_loudly(qwen_copy):
    """If the generation prompt merged with the answer when tokenized, refuse to guess (pitfall 5)."""
    tok = qwen_copy()
    # a template whose generation prompt ends in "assistant:" with no separator: "assistant:" + "#" merge
    tok.chat_template = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + ':' + m['content'] + '<|im_end|>' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant:' }}{% endif %}"
    )
    with pytest.raises(DataError, match="do not start with the prompt"):
        encode_example([{"role": "user", "content": "x"}], ":)", tok, 512)


def _real_recipes(shared_dir, n):
    from chefbot.data.readers import parse_chunk, raw_chunks
    from chefbot.data.sources import resolve_data_source

    spec = resolve_data_source(str(shared_dir / "data/recipenlg/poutine_107.csv"))
    return [r for c in raw_chunks(spec) for _, r in parse_chunk(c) if isinstance(r, Recipe)][:n]


def test_fast_encoder_matches_reference_on_real_rows(qwen_tokenizer, shared_dir):
    recs = _real_recipes(shared_dir, 40)
    for prompt, max_length in (
        (PromptConfig(), 512),
        (PromptConfig(system=None, user="Ingredients: {ner}. Title: {title}"), 120),
    ):
        conv = [(messages_for(r, prompt), target_for(r)) for r in recs]
        enc = ChatEncoder(qwen_tokenizer, max_length)
        fast = enc.encode_batch(conv)
        assert enc.mode == "pieces"
        assert fast == [encode_example(m, t, qwen_tokenizer, max_length) for m, t in conv]


def test_encode_arrays_match_reference(qwen_tokenizer, shared_dir):
    """The flat arrays prepare uses equal encode_example's, example by example: tails cut at
    max_length, examples without an answer token dropped, two role sequences in one batch,
    and a batch of one (where every piece is the same for the whole batch)."""
    recs = _real_recipes(shared_dir, 30)
    short = PromptConfig(system=None, user="Ingredients: {ner}. Title: {title}")
    conv = [(messages_for(r, short if i % 3 == 0 else PromptConfig()), target_for(r)) for i, r in enumerate(recs)]
    specials = special_ids(qwen_tokenizer)
    for max_length, batch in ((512, conv), (120, conv), (60, conv), (512, conv[1:2])):
        enc = ChatEncoder(qwen_tokenizer, max_length)
        tokens, lengths, n_prompt, truncated = enc.encode_arrays(batch)
        assert enc.mode == "pieces" and len(lengths) == len(n_prompt) == len(truncated) == len(batch)
        at = 0
        for (msgs, target), n, p, cut in zip(batch, lengths.tolist(), n_prompt.tolist(), truncated.tolist()):
            ref = encode_example(msgs, target, qwen_tokenizer, max_length)
            if ref is None:
                assert (n, p, cut) == (0, 0, False)
                continue
            ids = tokens[at : at + n].tolist()
            at += n
            assert {"input_ids": ids, "labels": [IGNORE_INDEX] * p + ids[p:]} == ref
            assert cut == (ids[-1] not in specials)
        assert at == len(tokens)
        if max_length == 60:  # prompts are 38 to 74 tokens long
            assert 0 in lengths.tolist() and lengths.any()  # some dropped, some kept
        if max_length == 120:
            assert truncated.any() and not truncated.all()
