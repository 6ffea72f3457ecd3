"""Fixtures for the serving tests; their helpers live in serve_support.py, a plain module
with a unique name, so test files import them without colliding with other folders'
conftest.py files in one pytest run."""

from serve_support import babbler_dir, babbler_generator, fake_vllm, stopper_dir  # noqa: F401  (fixtures)
