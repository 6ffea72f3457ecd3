"""Chat messages: the single place where a recipe request becomes a conversation.

Training, evaluation, serving and export all build their prompts here and render
them with the tokenizer's own chat template (never a hand-written template string),
so the format cannot drift between them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

from chefbot.config import PromptConfig
from chefbot.cooking.recipe_constraints import RecipeConstraints, ingredient_conflicts

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


def request_messages(ner: Sequence[str] | str, prompt: PromptConfig, title: str = "",
                     constraints: RecipeConstraints | None = None) -> list[Message]:
    """The system + user turns asking for a recipe with these ingredients; with
    ``prompt.constraints`` set and ``constraints`` asking for something, the user turn ends
    with the constraints line (``constraints_line``)."""
    names = [n.strip() for n in (ner.split(",") if isinstance(ner, str) else ner) if n and n.strip()]
    ner_text = ner if isinstance(ner, str) else ", ".join(names)
    msgs: list[Message] = []
    if prompt.system:
        msgs.append({"role": "system", "content": prompt.system.format(ner=ner_text, title=title)})
    user = prompt.user.format(ner=ner_text, title=title)
    line = constraints_line(constraints, prompt.constraints, ingredients=names)
    msgs.append({"role": "user", "content": f"{user}\n{line}" if line else user})
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
