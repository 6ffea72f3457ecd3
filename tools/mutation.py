"""Mutation testing of the core modules with mutmut 3 (`make mutation`; slow, never part of `make test`).

Each module is mutated alone and its mutants run against that module's own fast test files only (the table
below), so a kill rate says what those tests catch.  mutmut reads its settings from the pyproject.toml of the
directory it runs in, so every module gets a work directory of its own (``--work-dir``, default
.cache/mutation/<module>) holding a generated pyproject.toml and links to src/, tests/ and ../shared; mutmut
keeps its results there, so a second run resumes where the first stopped.

    python tools/mutation.py                 # every module; a summary per module at the end
    python tools/mutation.py stats collate   # some modules (the names of MODULES)
    python tools/mutation.py --list          # the modules and their tests
    python tools/mutation.py --survivors stats   # the surviving mutants' diffs (after a run)

Why a script and not one [tool.mutmut] table: mutmut 3 takes one test selection per run, and picks the
tests of a mutant from the coverage of that whole selection, so tests of other modules would count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# module name -> (the file mutated, its fast test files).  Test files need no GPU and no second process.
MODULES: dict[str, tuple[str, list[str]]] = {
    "stats": (
        "src/chefbot/evaluate/stats.py",
        ["tests/evaluate/test_stats.py", "tests/evaluate/test_stats_mutants.py", "tests/evaluate/test_stats_edges.py"],
    ),
    "quantities": (
        "src/chefbot/cooking/quantities.py",
        ["tests/kitchen/test_kitchen_quantities.py", "tests/cooking/test_quantity_ranges.py"],
    ),
    "auth": ("src/chefbot/serve/auth.py", ["tests/serve/test_security.py", "tests/serve/test_auth_keys.py"]),
    "collate": ("src/chefbot/data/collate.py", ["tests/data/test_packing.py", "tests/data/test_collate_mutants.py"]),
    "tokenize": ("src/chefbot/data/tokenize.py", ["tests/data/test_tokenize.py"]),
    "loss": ("src/chefbot/train/loss.py", ["tests/train/test_train_loss.py", "tests/train/test_loss_world_size.py"]),
    "recipe_constraints": (
        "src/chefbot/cooking/recipe_constraints.py",
        [
            "tests/cooking/test_recipe_constraints.py",
            "tests/cooking/test_time_limit_boundary.py",
            "tests/cooking/test_constraint_checks.py",
        ],
    ),
}
# mutmut's result names (`mutmut export-cicd-stats` keys) that count as killed or as surviving
KILLED = ("killed", "timeout", "segfault", "caught_by_type_check")
SURVIVED = ("survived", "no_tests", "suspicious")


def toml_value(value) -> str:
    return json.dumps(value)  # lists of strings and booleans: JSON and TOML write them alike


def prepare(name: str, work: Path) -> Path:
    """The work directory of one module: its pyproject.toml and links to the sources and tests."""
    target, tests = MODULES[name]
    work.mkdir(parents=True, exist_ok=True)
    links = (
        ("src", REPO / "src"),
        ("tests", REPO / "tests"),
        ("configs", REPO / "configs"),
        ("shared", REPO.parent / "shared"),
    )
    for link, to in links:
        path = work / link
        if not path.is_symlink() and to.exists():
            path.symlink_to(to)
    pytest_ini = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    settings = {
        "source_paths": ["src"],
        "only_mutate": [target],
        "also_copy": ["tests", "configs"],  # tests run in mutmut's copy of the repo: what they read must be there
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-x", "-q"],
    }
    lines = [
        "[tool.mutmut]",
        *(f"{k} = {toml_value(v)}" for k, v in settings.items()),
        "",
        "[tool.pytest.ini_options]",
        *(f"{k} = {toml_value(v)}" for k, v in pytest_ini.items()),
        "",
    ]
    (work / "pyproject.toml").write_text("\n".join(lines))
    return work


def run(name: str, work: Path, children: int) -> dict:
    """Run mutmut for one module; its counts, from `mutmut export-cicd-stats`."""
    mutmut = [sys.executable, "-m", "mutmut"]
    # PYTHONPATH: the mutated copy, never src/ (nor the editable install), also in a test's subprocess (the CLI
    # tests run `python -m chefbot.cli`).  One thread per BLAS/OpenMP pool: mutmut forks a worker per mutant from a
    # process that has run torch, and a forked child waits forever on the parent's pool.
    env = {
        **os.environ,
        "PYTHONPATH": str(work / "mutants" / "src"),
        "CHEFBOT_NO_PROGRESS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    # made before Python starts: a PYTHONPATH entry that does not exist yet is cached as "nothing here" for good
    (work / "mutants" / "src").mkdir(parents=True, exist_ok=True)
    subprocess.run([*mutmut, "run", "--max-children", str(children)], cwd=work, env=env, check=False)
    subprocess.run([*mutmut, "export-cicd-stats"], cwd=work, env=env, check=True, capture_output=True)
    stats = json.loads((work / "mutants" / "mutmut-cicd-stats.json").read_text())
    killed = sum(stats.get(k, 0) for k in KILLED)
    survived = sum(stats.get(k, 0) for k in SURVIVED)
    tried = killed + survived
    return {
        "module": MODULES[name][0],
        "killed": killed,
        "survived": survived,
        "not_checked": stats.get("not_checked", 0),
        "kill_rate": round(killed / tried, 3) if tried else None,
        "mutmut": stats,
    }


def survivors(work: Path) -> None:
    env = {**os.environ, "PYTHONPATH": ""}
    out = subprocess.run([sys.executable, "-m", "mutmut", "results"], cwd=work, env=env, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        mutant = line.strip().split(":")[0]
        if mutant:
            print(
                subprocess.run(
                    [sys.executable, "-m", "mutmut", "show", mutant], cwd=work, env=env, capture_output=True, text=True
                ).stdout
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"any of {', '.join(MODULES)} (default: all)")
    parser.add_argument("--work-dir", type=Path, default=REPO / ".cache" / "mutation")
    parser.add_argument("--children", type=int, default=os.cpu_count() or 1, help="parallel mutmut workers")
    parser.add_argument("--list", action="store_true", help="print the modules and their test files")
    parser.add_argument("--survivors", action="store_true", help="show the surviving mutants of a finished run")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="forget earlier results (mutmut keeps a mutant's result while the test file names "
        "stay the same, also when the tests themselves changed)",
    )
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}: choose from {', '.join(MODULES)}")
    if shutil.which("mutmut") is None and not (Path(sys.executable).parent / "mutmut").exists():
        parser.error("mutmut is not installed: pip install -e '.[test]' (it pins mutmut)")
    names = args.modules or list(MODULES)
    if args.list:
        for n in names:
            print(f"{n}: {MODULES[n][0]} <- {' '.join(MODULES[n][1])}")
        return 0
    if args.survivors:
        for n in names:
            print(f"== {n}")
            survivors(prepare(n, args.work_dir / n))
        return 0
    if args.fresh:
        for n in names:
            shutil.rmtree(args.work_dir / n / "mutants", ignore_errors=True)
    summary = [run(n, prepare(n, args.work_dir / n), args.children) for n in names]
    print(json.dumps([{k: v for k, v in s.items() if k != "mutmut"} for s in summary], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
