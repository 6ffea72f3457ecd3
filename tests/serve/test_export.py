"""Exports load back and stop by themselves (pitfalls 3 and 9); the GGUF writer is exact."""

from __future__ import annotations

from pathlib import Path

import pytest
from serve_support import make_tiny_tokenizer, serve_cfg

from chefbot.config import REFERENCE_SYSTEM
from chefbot.serve.export import (
    TrainedPrompt,
    export,
    modelfile_text,
    render_with_pieces,
    smoke_test,
    template_pieces,
    write_gguf,
)

CONVERSATIONS = [
    [{"role": "user", "content": "Eggs?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Eggs?"}],
    [
        {"role": "user", "content": "Eggs?"},
        {"role": "assistant", "content": "Scramble them."},
        {"role": "user", "content": "And rice?"},
    ],
]


@pytest.fixture(scope="module")
def zero_adapter(stopper_dir, tmp_path_factory) -> Path:
    """A LoRA adapter as training saves it (B = 0 at init, so the stopper keeps its behaviour)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(stopper_dir, dtype=torch.float32)
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    out = tmp_path_factory.mktemp("adapter")
    model.save_pretrained(out)
    return out


def test_merged_export_declares_every_stop_id_and_stops(stopper_dir, zero_adapter, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = serve_cfg(stopper_dir)
    out = tmp_path / "merged"
    info = export(cfg, str(zero_adapter), "merged", out)
    assert info["max_abs_logit_diff"] <= info["tolerance"]
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.dtype == torch.bfloat16  # never 4-bit
    stops = {tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")}
    assert stops <= set(model.generation_config.eos_token_id)
    # A plain transformers user, with only the exported files: generation ends by itself.
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "rice"}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    seq = model.generate(**prompt, max_new_tokens=30, do_sample=False)[0, prompt["input_ids"].shape[1] :]
    assert tok.decode(seq, skip_special_tokens=True) == "Chop the rice" and len(seq) == 4
    assert smoke_test(out, "merged")["stopped"]
    # The chat template it ships puts the trained system prompt, not the template's default, first.
    chat = tok.apply_chat_template([{"role": "user", "content": "rice"}], tokenize=False, add_generation_prompt=True)
    assert chat.startswith(f"<|im_start|>system\n{REFERENCE_SYSTEM}<|im_end|>\n") and "helpful cook" not in chat
    assert REFERENCE_SYSTEM in (out / "README.md").read_text()


@pytest.mark.llamacpp  # needs llama-cpp-python: `make test` runs it once its background build is done
@pytest.mark.parametrize("quant", ["q8_0", "q4_0"])
def test_gguf_and_ollama_exports_stop_by_themselves(stopper_dir, zero_adapter, tmp_path, quant):
    cfg = serve_cfg(stopper_dir)
    out = tmp_path / f"ollama-{quant}"
    info = export(cfg, str(zero_adapter), "ollama", out, quant)
    assert sorted(info["files"]) == sorted([f"model-{quant}.gguf", "Modelfile", "README.md"])
    assert info["system_prompt"] == REFERENCE_SYSTEM and REFERENCE_SYSTEM in (out / "README.md").read_text()
    r = smoke_test(out, "gguf")
    assert r["stopped"] and r["text"] == "Chop the rice" and r["completion_tokens"] == 4
    tok = make_tiny_tokenizer()
    assert tok.convert_tokens_to_ids("<|im_end|>") in r["declared_stop_ids"]  # the file itself says where to stop
    modelfile = (out / "Modelfile").read_text()
    assert f"FROM ./model-{quant}.gguf" in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile and 'PARAMETER stop "<|endoftext|>"' in modelfile
    assert "PARAMETER repeat_penalty 1.0" in modelfile and "PARAMETER temperature 0" in modelfile
    assert f'SYSTEM """{REFERENCE_SYSTEM}"""' in modelfile and "helpful cook" not in modelfile
    # The GGUF's own chat template, as llama-cpp-python renders it, starts with the trained prompt too.
    from gguf import GGUFReader
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    field = GGUFReader(out / f"model-{quant}.gguf").fields["tokenizer.chat_template"]
    template = bytes(field.parts[field.data[0]]).decode("utf-8")
    prompt = Jinja2ChatFormatter(template, eos_token="<|im_end|>", bos_token="")(
        messages=[{"role": "user", "content": "rice"}]
    ).prompt
    assert (
        prompt
        == f"<|im_start|>system\n{REFERENCE_SYSTEM}<|im_end|>\n<|im_start|>user\nrice<|im_end|>\n<|im_start|>assistant\n"
    )
    assert (
        'TEMPLATE """{{- range .Messages }}{{ if eq .Role "system" }}<|im_start|>system\n{{ .Content }}<|im_end|>\n'
        in modelfile
    )


def test_gguf_weights_and_tokenizer_round_trip_exactly(babbler_dir, tmp_path):
    """f32 GGUF -> transformers gives the same logits (q/k permutation for Llama included)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    write_gguf(babbler_dir, tmp_path / "m.gguf", "f32")
    a = AutoModelForCausalLM.from_pretrained(babbler_dir, dtype=torch.float32)
    b = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file="m.gguf", dtype=torch.float32)
    ids = torch.tensor([[5, 17, 200, 33, 90, 11, 300]])
    with torch.no_grad():
        assert float((a(ids).logits - b(ids).logits).abs().max()) < 1e-4
    ta = AutoTokenizer.from_pretrained(babbler_dir)
    tb = AutoTokenizer.from_pretrained(tmp_path, gguf_file="m.gguf")
    text = "Chop 2 onions; simmer 10 minutes.<|im_end|>"
    assert ta(text)["input_ids"] == tb(text)["input_ids"]
    q = write_gguf(babbler_dir, tmp_path / "q" / "m.gguf", "q8_0")
    c = AutoModelForCausalLM.from_pretrained(q.parent, gguf_file="m.gguf", dtype=torch.float32)
    with torch.no_grad():
        ref, got = a(ids).logits, c(ids).logits
    assert float((ref - got).abs().max()) < 0.05 * float(ref.abs().max())  # 8-bit blocks: close, not exact
    assert torch.equal(ref.argmax(-1), got.argmax(-1))


def test_qwen2_architecture_with_biases(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config, Qwen2ForCausalLM

    tok = make_tiny_tokenizer()
    torch.manual_seed(0)
    cfg = Qwen2Config(
        vocab_size=len(tok) + 16,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
        eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tok.pad_token_id,
    )
    model = Qwen2ForCausalLM(cfg)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.bias.normal_(0, 0.5)
            layer.self_attn.k_proj.bias.normal_(0, 0.5)
    src = tmp_path / "qwen"
    model.save_pretrained(src)
    tok.save_pretrained(src)
    write_gguf(src, tmp_path / "out" / "m.gguf", "f32")  # vocab padded beyond the tokenizer: [PADn] tokens
    back = AutoModelForCausalLM.from_pretrained(tmp_path / "out", gguf_file="m.gguf", dtype=torch.float32)
    ids = torch.tensor([[3, 50, 7, 120]])
    assert float((model(ids).logits - back(ids).logits).abs().max()) < 1e-4


def test_modelfile_template_matches_the_tokenizers_own_template(qwen_tokenizer):
    """The pieces read off the chat template reproduce it, Qwen's default system prompt included (a model
    trained without a system prompt saw the template's default: that is its SYSTEM then)."""
    from chefbot.config import GenerationConfig

    smollm_like = make_tiny_tokenizer()
    smollm_like.bos_token = "<|im_start|>"  # SmolLM2 names the turn opener its bos token
    for tok in (make_tiny_tokenizer(), smollm_like, qwen_tokenizer):
        pieces = template_pieces(tok)
        assert pieces.prefix["user"] == "<|im_start|>user\n" and pieces.end == "<|im_end|>\n" and pieces.bos == ""
        for conv in CONVERSATIONS:
            assert render_with_pieces(pieces, conv, TrainedPrompt(None, fold=False)) == tok.apply_chat_template(
                conv, tokenize=False, add_generation_prompt=True
            )
    untrained = TrainedPrompt(None, fold=False)
    text = modelfile_text("m.gguf", qwen_tokenizer, ["<|im_end|>", "<|endoftext|>"], GenerationConfig(), untrained)
    assert 'SYSTEM """You are Qwen, created by Alibaba Cloud. You are a helpful assistant."""' in text


def test_unsupported_architecture_is_a_clear_error(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    from chefbot.errors import ChefbotError

    tok = make_tiny_tokenizer()
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=1, n_head=2)).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    with pytest.raises(ChefbotError, match="supports llama, qwen2"):
        write_gguf(tmp_path, tmp_path / "x.gguf")


def test_export_command_line(stopper_dir, tmp_path):
    from typer.testing import CliRunner

    from chefbot.cli import app

    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"model:\n  name_or_path: {stopper_dir}\nengine:\n  generation:\n    max_new_tokens: 16\n")
    out = tmp_path / "gguf"
    r = CliRunner().invoke(app, ["export", str(cfg), "--format", "gguf", "--quant", "q4_0", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "stops by itself after 4 tokens" in r.output and (out / "model-q4_0.gguf").exists()
