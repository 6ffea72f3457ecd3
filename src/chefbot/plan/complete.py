"""The model the planner may ask, as a ``complete(messages) -> str`` callable.

Any served or local model can be plugged in; ``openai_complete`` wraps an
OpenAI-compatible endpoint (e.g. ``chefbot serve``).  The planner asks it to write
ingredient-only recipes (``recipes.generate_recipe``) and, with ``tasks_from: model``,
to split directions into tasks (``model_assist.tasks_with_model``).
"""

from __future__ import annotations

from collections.abc import Callable

from chefbot.errors import DataError

Complete = Callable[[list[dict]], str]


def openai_complete(
    endpoint: str, model: str, api_key: str | None = None, max_tokens: int = 1024, timeout: float = 120.0
) -> Complete:
    """A ``complete`` callable for an OpenAI-compatible chat endpoint (greedy, so plans repeat)."""
    import openai

    client = openai.OpenAI(base_url=endpoint, api_key=api_key or "not-needed", timeout=timeout)

    def complete(messages: list[dict]) -> str:
        try:
            r = client.chat.completions.create(model=model, messages=messages, temperature=0, max_tokens=max_tokens)
        except openai.OpenAIError as e:
            raise DataError(f"--endpoint {endpoint}: request failed: {e}") from None
        return r.choices[0].message.content or ""

    return complete
