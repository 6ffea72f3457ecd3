"""Guards for the parts of docs/PITFALLS.md that no other test covered.

- pitfall 8 (template drift): the prompt tokens generation feeds the model are exactly the
  prompt tokens the model was trained on (the golden-id tests pin training only).
- pitfall 11 (multi-GPU QLoRA): activation checkpointing runs non-reentrant, and each rank
  loads its whole model onto its own GPU (the DDP test runs without checkpointing, on CPU).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

GEMMA_LIKE = (  # a template that refuses a system turn, so "auto" folds it into the user turn
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{ '<|im_start|>' + role + '\n' + message['content'] | trim + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>model\n' }}{% endif %}"
)


@pytest.mark.parametrize("template", ["own", "gemma_like"])
def test_generation_prompt_tokens_equal_training_prompt_tokens(tiny_qwen_dir, qwen_tokenizer_dir, template):
    """Pitfall 8: training, evaluation and the server build the prompt the same way, token for token."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from chefbot.config import GenerationConfig, PromptConfig
    from chefbot.data.tokenize import encode_example, messages_for, target_for
    from chefbot.generate import LocalGenerator
    from chefbot.recipe_format import Recipe

    tok = AutoTokenizer.from_pretrained(str(qwen_tokenizer_dir))
    if template == "gemma_like":
        tok.chat_template = GEMMA_LIKE
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen_dir, dtype=torch.float32)
    gen = LocalGenerator(model, tok, GenerationConfig(max_new_tokens=4))
    recipe = Recipe(
        id="t:1",
        title="Creamy Corn",
        ingredients=["2 pkg. frozen corn", "1/2 tsp. salt"],
        ner=["corn", "salt"],
        directions=["Combine all.", "Cook."],
    )
    for prompt in (PromptConfig(), PromptConfig(system=None, user="Ingredients: {ner}. Title: {title}")):
        msgs = messages_for(recipe, prompt)
        ex = encode_example(msgs, target_for(recipe), tok, 512)
        n_prompt = next(i for i, label in enumerate(ex["labels"]) if label != -100)  # first trained token
        assert gen.prompt_ids(msgs) == ex["input_ids"][:n_prompt]
        if template == "gemma_like" and prompt.system:
            assert "You will generate one cooking recipe." in tok.decode(gen.prompt_ids(msgs))  # folded, not lost


def test_checkpointing_is_non_reentrant(tiny_qwen_dir, monkeypatch):
    """Pitfall 11: reentrant checkpointing under DDP fails with "mark a variable ready only once"."""
    import torch
    import transformers.modeling_utils as mu
    from transformers import AutoModelForCausalLM

    from chefbot.config import load_config
    from chefbot.train.setup import attach_adapter

    calls: list[dict] = []
    real = mu.checkpoint

    def recording_checkpoint(function, *args, **kwargs):
        calls.append(dict(kwargs))
        return real(function, *args, **kwargs)

    monkeypatch.setattr(mu, "checkpoint", recording_checkpoint)
    cfg = load_config(None, ["quant.mode=none", "lora.r=4", "train.gradient_checkpointing=true"])
    model = attach_adapter(AutoModelForCausalLM.from_pretrained(tiny_qwen_dir, dtype=torch.float32), cfg)
    model.train()
    ids = torch.randint(10, 500, (1, 12))
    model(input_ids=ids, labels=ids).loss.backward()
    assert calls, "gradient_checkpointing=true but no layer ran through checkpoint()"
    assert all(c.get("use_reentrant") is False for c in calls), calls


def test_each_rank_loads_its_whole_model_on_its_own_gpu():
    """Pitfall 11: device_map="auto" would spread one model over all GPUs; each rank needs {"": local_rank}."""
    import torch

    from chefbot.train.setup import device_map_for

    def acc(kind: str, rank: int, dist: str = "DistributedType.MULTI_GPU"):
        return SimpleNamespace(
            device=torch.device(kind, rank) if kind == "cuda" else torch.device(kind),
            local_process_index=rank,
            distributed_type=dist,
        )

    assert device_map_for(acc("cuda", 1)) == {"": 1}
    assert device_map_for(acc("cuda", 0)) == {"": 0}
    assert device_map_for(acc("cuda", 1, "DistributedType.FSDP")) is None  # accelerate shards it instead
    assert device_map_for(acc("cpu", 0, "DistributedType.MULTI_CPU")) is None
