"""Recipes -> chat messages -> token ids with assistant-only labels.

The tokenizer's own chat template is the only template.  Where the answer starts is
found by rendering the *prompt* with ``add_generation_prompt=True`` and checking that
the full conversation's tokens begin with the prompt's tokens; we never search token
ids for a marker (that breaks when a marker tokenizes differently in context).
Labels cover every answer token and the closing end-of-turn token (Qwen
``<|im_end|>``) and nothing else; they are never built by masking ``pad_token_id``
(with pad == eos that would mask the end-of-turn and the model would never stop).

``encode_example`` is the reference path (one real ``apply_chat_template`` call per
turn).  ``chat_encoder.ChatEncoder`` is the fast path used at 2.23M rows, checked
against ``encode_example`` on a sample of every chunk.  ``build_labels`` is the one
place where "the first n_prompt tokens untrained, the rest trained" becomes labels,
for one example here and for whole packed windows in ``arrow_writer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chefbot.chat import adapt_to_template, request_messages
from chefbot.config import GroundingConfig, PromptConfig
from chefbot.cooking.labels import RecipeLabels
from chefbot.cooking.recipe_constraints import RecipeConstraints
from chefbot.data.constraint_prompts import record_labels, sampled_constraints
from chefbot.errors import DataError
from chefbot.recipe_format import Recipe

IGNORE_INDEX = -100  # the label of untrained tokens: PyTorch cross_entropy's default ignore_index
Message = dict[str, str]


_DRAW = object()  # messages_for's default: draw the constraints here


def messages_for(
    recipe: Recipe,
    prompt_cfg: PromptConfig,
    seed: int = 0,
    labels: RecipeLabels | None = None,
    constraints: RecipeConstraints | None | object = _DRAW,
    references: Sequence[Recipe] = (),
    grounding: GroundingConfig | None = None,
) -> list[Message]:
    """System + user turns asking for this recipe (not yet folded for the template); with
    ``prompt.constraints`` set, the user turn asks for a random subset of the recipe's own
    labels (``constraint_prompts.sampled_constraints``; ``labels`` saves labelling it again,
    ``constraints`` passes the subset already drawn: data preparation draws it once for the
    statistics and the prompt); ``references``: retrieved real recipes for the prompt (``data.retrieval``,
    written with ``grounding``'s settings)."""
    if constraints is _DRAW:
        constraints = None
        if prompt_cfg.constraints and prompt_cfg.constraint_prob > 0:
            constraints = sampled_constraints(recipe, labels or record_labels(recipe), prompt_cfg, seed)
    return request_messages(
        recipe.ner,
        prompt_cfg,
        title=recipe.title,
        constraints=constraints,
        references=references,
        grounding=grounding,
    )


def target_for(recipe: Recipe) -> str:
    """The assistant answer the model learns to write."""
    return recipe.render()


def build_labels(input_ids: Any, n_prompt: Any, positions: Any = None) -> np.ndarray:
    """Labels for ``input_ids``: IGNORE_INDEX (untrained) where a token's position in its
    example is below that example's ``n_prompt`` (the prompt), the token itself (trained)
    everywhere else.  One example: ``n_prompt`` an int and ``positions`` left out; examples
    packed back to back: ``positions`` restart at 0 per example and ``n_prompt`` holds each
    token's example's prompt length.  Same dtype as ``input_ids`` (int64 for a list)."""
    labels = np.array(input_ids)
    if positions is None:
        positions = np.arange(len(labels))
    labels[positions < n_prompt] = IGNORE_INDEX
    return labels


def special_ids(tokenizer: Any) -> set[int]:
    ids = set(tokenizer.all_special_ids)
    for i, tok in getattr(tokenizer, "added_tokens_decoder", {}).items():
        if getattr(tok, "special", False):
            ids.add(int(i))
    return ids


def _render(tokenizer: Any, messages: Sequence[Message], generation_prompt: bool) -> str:
    try:
        return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=generation_prompt)
    except Exception as e:  # a template that rejects these roles, or no template at all
        raise DataError(
            f"chat template of {getattr(tokenizer, 'name_or_path', 'the tokenizer')}: cannot render the conversation: {e}"
        ) from None


def _ids(tokenizer: Any, text: str) -> list[int]:
    # The rendered template already holds BOS etc.; adding special tokens would double them.
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def split_conversation(tokenizer: Any, messages: Sequence[Message], target: str) -> tuple[str, str, str]:
    """(prompt text, full conversation text, template text after the answer)."""
    prompt = _render(tokenizer, messages, True)
    full = _render(tokenizer, [*messages, {"role": "assistant", "content": target}], False)
    if not full.startswith(prompt):
        raise DataError(
            "chat template: the rendered conversation does not start with the rendered prompt "
            "(add_generation_prompt=True); cannot tell where the answer starts"
        )
    rest = full[len(prompt) :]
    at = rest.find(target)
    body = target
    if at < 0:  # templates that trim contents
        body = target.strip()
        at = rest.find(body)
    if at < 0:
        raise DataError("chat template: the answer text does not appear after the prompt in the rendered conversation")
    return prompt, full, rest[at + len(body) :]


def end_of_answer(full_ids: list[int], suffix_ids: list[int], specials: set[int]) -> int:
    """Index just past the end-of-turn token: the first special token of the template's
    text after the answer.  Tokens after it (Qwen's trailing newline) are dropped."""
    if suffix_ids and full_ids[-len(suffix_ids) :] != suffix_ids:
        raise DataError("chat template: the text after the answer tokenizes differently inside the conversation")
    start = len(full_ids) - len(suffix_ids)
    for j, t in enumerate(suffix_ids):
        if t in specials:
            return start + j + 1
    raise DataError(
        "chat template: no end-of-turn token after the assistant's answer; the model could never learn to stop"
    )


def finish_example(prompt_ids: list[int], full_ids: list[int], end: int, max_length: int) -> dict | None:
    """``{"input_ids", "labels"}`` from the prompt's and the conversation's ids, cut at ``end``
    (just past the end-of-turn) and at ``max_length``; None when no answer token is left."""
    n_prompt = len(prompt_ids)
    if full_ids[:n_prompt] != prompt_ids:
        raise DataError(
            "chat template: the conversation's tokens do not start with the prompt's tokens "
            "(the generation prompt merges with the answer when tokenized); refusing to guess the mask"
        )
    ids = full_ids[: min(end, max_length)]  # cut the recipe's tail, never the prompt
    if len(ids) <= n_prompt:
        return None
    return {"input_ids": ids, "labels": build_labels(ids, n_prompt).tolist()}


def encode_example(
    messages: Sequence[Message], target: str, tokenizer: Any, max_length: int, fold: str = "auto"
) -> dict | None:
    """``{"input_ids", "labels"}`` for one conversation, or None when no answer token fits."""
    msgs = adapt_to_template(messages, tokenizer, fold)
    prompt, full, suffix = split_conversation(tokenizer, msgs, target)
    full_ids = _ids(tokenizer, full)
    end = end_of_answer(full_ids, _ids(tokenizer, suffix), special_ids(tokenizer))
    return finish_example(_ids(tokenizer, prompt), full_ids, end, max_length)
