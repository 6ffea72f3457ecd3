"""Chat messages: the single place where a recipe request becomes a conversation.

Training, evaluation, serving and export all build their prompts here and render
them with the tokenizer's own chat template (never a hand-written template string),
so the format cannot drift between them.  ``prompt_token_ids`` turns a conversation into the
token ids a model sees: the template's own special tokens stay special, while message text is
always plain text (a user who types ``<|im_end|><|im_start|>system`` cannot start a turn).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from chefbot.config import GroundingConfig, PromptConfig
from chefbot.cooking.recipe_constraints import RecipeConstraints, ingredient_conflicts
from chefbot.recipe_format import Recipe

Message = dict[str, str]


def template_supports_system(tokenizer: Any) -> bool:
    """True if the tokenizer's chat template accepts a system turn.

    Gemma 2's template raises on a system role; we detect that by trying it rather
    than by matching model names.
    """
    return _supports_system(id(tokenizer), tokenizer)


@lru_cache(maxsize=32)
def _supports_system(_key: int, tokenizer: Any) -> bool:
    if getattr(tokenizer, "chat_template", None) is None:
        return False
    probe = [{"role": "system", "content": "SYS_PROBE"}, {"role": "user", "content": "hi"}]
    try:
        text = tokenizer.apply_chat_template(probe, tokenize=False)
    except Exception:
        return False
    return "SYS_PROBE" in text


def fold_system(messages: Sequence[Message]) -> list[Message]:
    """Fold a leading system message into the first user turn (for templates without a system role)."""
    msgs = [dict(m) for m in messages]
    if msgs and msgs[0]["role"] == "system":
        system = msgs.pop(0)["content"]
        for m in msgs:
            if m["role"] == "user":
                m["content"] = f"{system}\n\n{m['content']}"
                break
        else:
            msgs.insert(0, {"role": "user", "content": system})
    return msgs


def constraints_line(c: RecipeConstraints | None, template: str | None, *, ingredients: Sequence[str] = ()) -> str:
    """The sentence asking for the constraints ("The recipe must be: vegan, ready in 30 minutes."),
    or "" when there is no template or nothing is asked.  When the person's own ``ingredients``
    break a requested diet, it also asks for a substitution ("Replace the chicken with a
    vegetarian alternative."), so the model neither ignores the diet nor drops the ingredient silently."""
    if not template or c is None or c.is_empty():
        return ""
    line = template.format(constraints=", ".join(c.phrases()))
    diets_by_item: dict[str, list[str]] = {}
    for check in ingredient_conflicts(list(ingredients), c):
        for item in check.offending:
            diets_by_item.setdefault(item, []).append(check.name)
    for item, diets in diets_by_item.items():
        line += f" Replace the {item} with a {', '.join(diets)} alternative."
    return line


def reference_text(recipe: Recipe, max_chars: int) -> str:
    """One retrieved recipe as the prompt shows it: "Title: ingredient lines; ... Steps: ...", cut at
    ``max_chars`` characters (at a word, with "..."), so k recipes add at most k * max_chars characters."""
    text = f"{recipe.title}: {'; '.join(recipe.ingredients)}. Steps: {' '.join(recipe.directions)}"
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 3]
    space = cut.rfind(" ")
    return (cut[:space] if space > max_chars // 2 else cut).rstrip(" ;:.,") + "..."


def references_block(references: Sequence[Recipe], grounding: GroundingConfig) -> str:
    """The retrieved recipes as one block of the user turn (``grounding.intro``, then one numbered line
    each, ``reference_text``); "" when there are none."""
    if not references:
        return ""
    lines = [f"{n}. {reference_text(r, grounding.max_chars)}" for n, r in enumerate(references, 1)]
    return "\n".join([grounding.intro, *lines])


def fixed_system_prompt(prompt: PromptConfig) -> str | None:
    """The system prompt every training request began with (``request_messages``): ``prompt.system`` when it
    has no ``{ner}``/``{title}`` placeholders; None when training used none (a conversation without a system
    message then gets the template's own default, as training did) or one per request (placeholders)."""
    if not prompt.system:
        return None
    a, b = (prompt.system.format(ner=f"\ue000{x}", title=f"\ue000{x.upper()}") for x in "ab")
    return a if a == b else None


def request_messages(
    ner: Sequence[str] | str,
    prompt: PromptConfig,
    title: str = "",
    constraints: RecipeConstraints | None = None,
    references: Sequence[Recipe] = (),
    grounding: GroundingConfig | None = None,
) -> list[Message]:
    """The system + user turns asking for a recipe with these ingredients; with
    ``prompt.constraints`` set and ``constraints`` asking for something, the user turn ends
    with the constraints line (``constraints_line``).  ``references`` (retrieved real recipes,
    ``data.retrieval``) come between the request and the constraints line, as ``references_block``
    writes them with ``grounding``'s settings."""
    names = [n.strip() for n in (ner.split(",") if isinstance(ner, str) else ner) if n and n.strip()]
    ner_text = ner if isinstance(ner, str) else ", ".join(names)
    msgs: list[Message] = []
    if prompt.system:
        msgs.append({"role": "system", "content": prompt.system.format(ner=ner_text, title=title)})
    parts = [prompt.user.format(ner=ner_text, title=title)]
    if references:
        parts.append(references_block(references, grounding or GroundingConfig()))
    line = constraints_line(constraints, prompt.constraints, ingredients=names)
    if line:
        parts.append(line)
    msgs.append({"role": "user", "content": "\n".join(parts)})
    return msgs


def adapt_to_template(messages: Sequence[Message], tokenizer: Any, fold: str = "auto") -> list[Message]:
    """Apply the system-folding policy for this tokenizer."""
    if fold == "always" or (fold == "auto" and not template_supports_system(tokenizer)):
        return fold_system(messages)
    return [dict(m) for m in messages]


def render_prompt(messages: Sequence[Message], tokenizer: Any, fold: str = "auto") -> str:
    """The prompt text the model sees before it answers (generation prompt included)."""
    return tokenizer.apply_chat_template(
        adapt_to_template(messages, tokenizer, fold), tokenize=False, add_generation_prompt=True
    )


# Stand-ins for message contents while the template is rendered (private-use characters: no template
# writes them), so that the template's own text and the messages' text can be told apart.
_MARK = "\ue000chefbot-{}\ue001"
_MARK_RE = re.compile("\ue000chefbot-(\\d+)\ue001")


def prompt_token_ids(messages: Sequence[Message], tokenizer: Any, fold: str = "auto") -> list[int]:
    """The token ids of ``render_prompt(messages, ...)``, with message text never read as a special token.

    The rendered prompt is tokenized as a whole, as it always was (the ids of an ordinary conversation
    are exactly the tokenizer's ids of the rendered text, so training and serving agree).  Where the
    tokenizer would read an added token (``<|im_start|>``, ``<tool_call>``, ...) inside a message's
    text, that message's text is tokenized on its own by the model's vocabulary alone (no added
    tokens), and the template's text around it as before: the template's special tokens keep their ids,
    the text typed by a user becomes ordinary tokens that spell it.
    """
    msgs = adapt_to_template(messages, tokenizer, fold)
    text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    added = _added_tokens(tokenizer)
    if not added:
        return tokenizer(text, add_special_tokens=False)["input_ids"]
    segments = _segments(msgs, tokenizer, text)
    if segments is None:  # a template that rewrites message text in ways _segments does not know
        hit = [t for m in msgs for t in added.values() if t in str(m.get("content", ""))]
        if hit:
            raise ValueError(
                f"a message contains the special token text {hit[0]!r}, and this tokenizer's chat template "
                "changes message text, so it cannot be kept plain; remove it from the message"
            )
        return tokenizer(text, add_special_tokens=False)["input_ids"]
    whole, unsafe = _contents_reading_added_tokens(tokenizer, text, segments, added)
    if not unsafe:
        return whole
    ids: list[int] = []
    run = ""  # template text and safe message text, tokenized together as before
    for k, (piece, _is_content) in enumerate(segments):
        if k in unsafe:
            if run:
                ids += tokenizer(run, add_special_tokens=False)["input_ids"]
                run = ""
            ids += plain_token_ids(tokenizer, piece)
        else:
            run += piece
    if run:
        ids += tokenizer(run, add_special_tokens=False)["input_ids"]
    return ids


def _added_tokens(tokenizer: Any) -> dict[int, str]:
    """id -> text of every added token (special or not: Qwen2.5's ``<tool_call>`` is not "special" but
    is still read as one token wherever its text appears)."""
    decoder = getattr(tokenizer, "added_tokens_decoder", None) or {}
    return {int(i): str(getattr(t, "content", t)) for i, t in decoder.items() if str(getattr(t, "content", t))}


def _segments(msgs: list[Message], tokenizer: Any, text: str) -> list[tuple[str, bool]] | None:
    """``text`` cut into (piece, is_message_text) in order, or None if the template's output cannot be
    matched: the template is rendered with a mark in place of each message's text, and the marks are
    replaced by the texts (as they are, or stripped, for templates that ``| trim`` them)."""
    marked = [{**m, "content": _MARK.format(i)} if isinstance(m.get("content"), str) else m for i, m in enumerate(msgs)]
    try:
        skeleton = tokenizer.apply_chat_template(marked, tokenize=False, add_generation_prompt=True)
    except Exception:
        return None
    parts = _MARK_RE.split(skeleton)  # literal, index, literal, index, ..., literal
    for rewrite in (lambda c: c, str.strip):
        segments: list[tuple[str, bool]] = []
        for k, part in enumerate(parts):
            if k % 2 == 0:
                if part:
                    segments.append((part, False))
            else:
                content = msgs[int(part)]["content"]
                segments.append((rewrite(content), True))
        if "".join(p for p, _ in segments) == text:
            return segments
    return None


def _contents_reading_added_tokens(
    tokenizer: Any, text: str, segments: list[tuple[str, bool]], added: dict[int, str]
) -> tuple[list[int], set[int]]:
    """``text``'s ids tokenized as a whole, and the indexes of the message-text segments where that reads
    an added token (also one that starts in the message text and ends in the template's)."""
    spans, start = [], 0
    for k, (piece, is_content) in enumerate(segments):
        if is_content and piece:
            spans.append((k, start, start + len(piece)))
        start += len(piece)
    try:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = list(enc["input_ids"])
        found = [(a, b) for i, (a, b) in zip(ids, enc["offset_mapping"]) if i in added]
    except (NotImplementedError, ValueError, TypeError):  # a slow tokenizer: no offsets; look for the texts
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        found = [(m.start(), m.end()) for t in added.values() for m in re.finditer(re.escape(t), text)]
    return ids, {k for k, a, b in spans for (s, e) in found if s < b and e > a}


def plain_token_ids(tokenizer: Any, text: str) -> list[int]:
    """``text`` tokenized by the model's vocabulary alone: added tokens are not looked for, so
    ``"<|im_end|>"`` becomes the ordinary tokens that spell it.  For text without added tokens it
    equals ``tokenizer(text, add_special_tokens=False)``."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:  # a slow (Python) tokenizer
        return tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    normalized = backend.normalizer.normalize_str(text) if backend.normalizer is not None else text
    pieces = (
        backend.pre_tokenizer.pre_tokenize_str(normalized)
        if backend.pre_tokenizer is not None
        else [(normalized, (0, len(normalized)))]
    )
    return [token.id for piece, _ in pieces for token in backend.model.tokenize(piece)]
