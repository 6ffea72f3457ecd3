"""bench/generation_speed.py: the generation section quotes only the run's JSON."""

from __future__ import annotations


def test_section_is_formatted_from_the_payload(bench_module):
    gs = bench_module("generation_speed")
    payload = {
        "command": "python bench/generation_speed.py --items 8",
        "machine": {"cpu": "x", "cpu_cores": 2, "python": "3.11"},
        "config": "configs/quickstart.yaml",
        "items": 8,
        "dtype": "fp32",
        "model": "m",
        "speedup": 4.0,
        "identical_outputs": 3,
        "arms": {
            "reference pipeline": {
                "seconds": 40.0,
                "recipes_per_s": 0.2,
                "batch_size": 4,
                "max_new_tokens": 300,
                "hit_token_limit": 2,
                "generated_tokens": 800,
            },
            "chefbot LocalGenerator": {
                "seconds": 10.0,
                "recipes_per_s": 0.8,
                "batch_size": 8,
                "max_new_tokens": 200,
                "hit_token_limit": 1,
                "generated_tokens": 600,
            },
        },
    }
    text = gs.render_section(payload)
    # the headline is per token (600/10 against 800/40); recipes/s comes second, with the token caps that skew it
    assert "**Speed-up per generated token: 3.0x** (chefbot 60 tokens/s, reference 20 tokens/s)" in text
    assert "3/8 outputs are identical" in text and "Recipes/s: 4.00x (chefbot / reference), not like for like" in text
    assert "batch 8 against 4" in text and "token cap of 200 against 300" in text
    assert "512" not in text and "1000" not in text  # the caps come from the run, not the template
