"""The shape issue 24 asked the code to keep, checked on the source: a new long function or a route that
translates errors by hand fails here instead of waiting for the next audit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "chefbot"
SERVE = sorted((SRC / "serve").glob("*.py"))
MAX_LINES = 80


def functions(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def is_route(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Decorated with ``@router.get(...)``/``.post``/... (any APIRouter or app method naming an HTTP verb)."""
    verbs = {"get", "post", "put", "patch", "delete", "api_route"}
    return any(
        isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr in verbs
        for d in fn.decorator_list
    )


@pytest.mark.parametrize("path", SERVE, ids=lambda p: p.name)
def test_no_long_functions_in_serve(path):
    long = [
        f"{fn.name} ({fn.end_lineno - fn.lineno + 1} lines)"
        for fn in functions(path)
        if fn.end_lineno - fn.lineno + 1 > MAX_LINES
    ]
    assert not long, f"{path.name}: functions over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize("path", SERVE, ids=lambda p: p.name)
def test_routes_leave_errors_to_the_handlers(path):
    """Domain errors become HTTP answers in one place (``api_errors.ERROR_STATUS``), never in a route body."""
    bad = []
    for fn in functions(path):
        if not is_route(fn):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.ExceptHandler):
                bad.append(f"{fn.name}:{node.lineno}")
    assert not bad, f"{path.name}: route bodies with except: {bad}"


def test_the_checks_see_routes_and_long_functions(tmp_path):
    """The two checks above are not vacuous: they find a route and they count lines."""
    src = tmp_path / "m.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    src.write_text(
        f"@router.post('/x')\ndef r():\n    try:\n        pass\n    except ValueError:\n        pass\n{body}\n"
    )
    [fn] = functions(src)
    assert is_route(fn) and fn.end_lineno - fn.lineno + 1 > MAX_LINES
    assert sum(is_route(f) for p in SERVE for f in functions(p)) >= 15


def test_only_stats_draws_bootstrap_indices():
    """Every interval resamples through ``evaluate/stats.py`` (``resample_indices``): a second resampler is how a
    report ends up with a 90% interval or another seed policy beside the rest."""
    root = SRC.parents[1]
    draws = []
    for path in [*SRC.rglob("*.py"), *(root / "bench").rglob("*.py")]:
        if path == SRC / "evaluate" / "stats.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "integers":
                draws.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not draws, f"bootstrap-style index draws outside evaluate/stats.py: {draws}"


def test_the_server_asks_the_contract_not_getattr():
    """What a generator can do is its protocol (``generate/completion.py``: ``isinstance(gen, TokenEngine)``),
    never a probe for an attribute that a renamed method would silently fail."""
    probes = []
    for path in SERVE:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
            ):
                target = ast.unparse(node.args[0]) if node.args else ""
                if "gen" in target.lower():
                    probes.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    assert not probes, probes
