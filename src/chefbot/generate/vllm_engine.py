"""``VLLMGenerator``: vLLM on a CUDA GPU (import-guarded; cannot run on the CPU CI machine).

Prompts go to vLLM as token ids (``{"prompt_token_ids": [...]}``, vLLM's ``TokensPrompt``) built by the
one prompt path (``chat_prompt_ids``, as for the transformers and llama.cpp engines), never as text: vLLM
would tokenize text with special tokens on, and a user who types ``<|im_end|><|im_start|>system`` would
start a turn of their own.  A ``TokenizedGenerator`` (``chefbot.generate.completion``), not a ``TokenEngine``:
chefbot does not run plain completions on vLLM, and its offline engine cannot stream (``stream_from_ids``
yields the whole answer once, ``WholeAnswerStream``)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from chefbot.config import GenerationConfig
from chefbot.errors import ChefbotError
from chefbot.generate.completion import Completion, OnResult, WholeAnswerStream, resolve_settings
from chefbot.generate.token_engine import PromptIdsChat
from chefbot.stops import stop_token_ids


class VLLMGenerator(PromptIdsChat):
    """vLLM's offline engine; ``prompt_ids`` (what vLLM is given, and what the server counts), ``generate`` and
    ``stream`` come from ``PromptIdsChat``."""

    backend = "vllm"

    def __init__(
        self, model_path: str, tokenizer: Any, gen_cfg: GenerationConfig, adapter: str | None = None, fold: str = "auto"
    ) -> None:
        from vllm import LLM  # noqa: PLC0415 - optional dependency

        self.tokenizer = tokenizer
        self.gen_cfg = gen_cfg
        self.fold = fold
        self.model_path = model_path
        self.adapter = adapter
        self.stop_ids = stop_token_ids(tokenizer)
        self.llm = LLM(
            model=model_path, tokenizer=model_path, enable_lora=adapter is not None, generation_config="vllm"
        )  # "vllm": ignore the model's generation_config.json defaults

    def identity(self) -> dict:
        return {"backend": self.backend}

    def describe(self, settings_override: dict | None = None) -> dict:
        s = resolve_settings(self.gen_cfg, settings_override)
        return {
            "backend": self.backend,
            "model": self.model_path,
            "adapter": self.adapter,
            **s.model_dump(),
            "stop_token_ids": self.stop_ids,
            "fold_system": self.fold,
        }

    def stream_from_ids(self, prompt: Sequence[int], settings_override: dict | None = None) -> WholeAnswerStream:
        return WholeAnswerStream(lambda cancel: self.generate_from_ids([prompt], settings_override, cancel=cancel)[0])

    def generate_from_ids(
        self,
        prompt_ids: Sequence[Sequence[int]],
        settings_override: dict | None = None,
        on_result: OnResult | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]:
        """Chat answers to prompt ids in input order.  ``cancel`` is honoured only before the call: vLLM's offline
        ``LLM.generate`` runs the whole batch and cannot be stopped from another thread."""
        from vllm import SamplingParams

        s = resolve_settings(self.gen_cfg, settings_override)
        prompts = [{"prompt_token_ids": list(p)} for p in prompt_ids]
        if cancel is not None and cancel.is_set():
            return [Completion("", "cancelled", len(p["prompt_token_ids"]), 0) for p in prompts]
        sample = s.do_sample and s.temperature > 0
        extra: dict[str, Any] = {}
        if s.structured is not None:  # vLLM's own structured decoding (vLLM >= 0.11); untested here: no GPU in CI
            try:
                from vllm.sampling_params import StructuredOutputsParams
            except ImportError:
                raise ChefbotError(
                    "structured output with the vllm engine needs vLLM >= 0.11 (StructuredOutputsParams)"
                ) from None
            extra["structured_outputs"] = StructuredOutputsParams(json=s.structured.json_schema)
        params = SamplingParams(
            max_tokens=s.max_new_tokens,
            temperature=s.temperature if sample else 0.0,
            top_p=s.top_p if sample else 1.0,
            top_k=(s.top_k or -1) if sample else -1,
            repetition_penalty=s.repetition_penalty,
            seed=s.seed,
            stop_token_ids=self.stop_ids,
            skip_special_tokens=True,
            **extra,
        )
        lora = None
        if self.adapter:
            from vllm.lora.request import LoRARequest

            lora = LoRARequest("adapter", 1, self.adapter)
        results = self.llm.generate(prompts, params, lora_request=lora)
        out = []
        for i, r in enumerate(results):
            o = r.outputs[0]
            c = Completion(
                text=o.text,
                finish_reason="length" if o.finish_reason == "length" else "stop",
                prompt_tokens=len(r.prompt_token_ids),
                completion_tokens=len(o.token_ids),
            )
            out.append(c)
            if on_result is not None:
                on_result(i, c)
        return out
