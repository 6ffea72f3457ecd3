"""Chat messages: the single place where a recipe request becomes a conversation.

Training, evaluation, serving and export all build their prompts here and render
them with the tokenizer's own chat template (never a hand-written template string),
so the format cannot drift between them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

from chefbot.config import PromptConfig

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


def request_messages(ner: Sequence[str] | str, prompt: PromptConfig, title: str = "") -> list[Message]:
    """The system + user turns asking for a recipe with these ingredients."""
    ner_text = ner if isinstance(ner, str) else ", ".join(n.strip() for n in ner if n and n.strip())
    msgs: list[Message] = []
    if prompt.system:
        msgs.append({"role": "system", "content": prompt.system.format(ner=ner_text, title=title)})
    msgs.append({"role": "user", "content": prompt.user.format(ner=ner_text, title=title)})
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
