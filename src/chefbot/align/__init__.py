"""``chefbot align``: preference training toward the checks, after ``chefbot train`` (issue 26).

    requests (``prompts.py``: training-split recipes, own labels or a diet they break)
      -> answers sampled from the SFT model (``samples.py``: OUTPUT_DIR/align/samples.jsonl, resumable)
      -> a reward per answer from the checkers (``reward.py``) -> best vs worst pairs
      -> TRL DPOTrainer on the SFT adapter, the reference being the SFT adapter itself (``dpo.py``)
      -> OUTPUT_DIR/align/adapter, a PEFT folder that ``chefbot eval --adapter`` and ``chefbot serve`` take.

``run.py`` composes the stages; ``cli.py`` is the command.
"""
