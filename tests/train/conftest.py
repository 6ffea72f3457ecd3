"""Fixtures for the training tests; their helpers live in train_support.py, a plain module
with a unique name, so test files import them without colliding with other folders'
conftest.py files in one pytest run."""

from train_support import one_process_reference, recipes_jsonl, tiny_model_dir  # noqa: F401  (fixtures)
