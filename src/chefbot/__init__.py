"""chefbot: teach a small language model to cook (QLoRA), prove what changed, serve it."""

__version__ = "0.1.0"
