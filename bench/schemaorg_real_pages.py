"""How many real recipe pages ``chefbot library import`` recovers: recipe-scrapers' own test pages.

recipe-scrapers keeps one or more saved pages per supported site in its repository
(``tests/test_data/<host>/<name>.testhtml``), each with the values the library must read beside it
(``<name>.json``: title, yields, ingredients, instructions_list, canonical_url).  Its PyPI sdists do not
ship them (checked: 13.3.0, 14.0.0, 14.50.2, 15.0.0, 15.13.0), so this is run by hand on a checkout and
its result committed (docs/results/schemaorg-import-real-pages.json); nothing of the pages is committed.

For each page this runs the import path itself (``schema_org.recipes_from_html`` with the page's
address, then ``library.check_recipe``, the library's one normalization) and counts a page as
recovered when the saved title, servings, ingredient lines and steps equal the expected JSON's (each
expected value put through the same normalization; servings: the first number of ``yields``, else the
library's default 4).  Pages whose expected JSON has no ingredients or no steps are left out (the site
publishes none).  Wilson 95% interval on the share recovered (``evaluate.stats.wilson_interval``).

    python bench/schemaorg_real_pages.py --pages CHECKOUT/tests/test_data --per-site 1 \\
        --out docs/results/schemaorg-import-real-pages.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

from chefbot.evaluate.stats import wilson_interval
from chefbot.io import atomic_write_json
from chefbot.kitchen.library import check_recipe
from chefbot.kitchen.rows import MAX_LINE, MAX_STEP, MAX_TITLE, RecipeError, clean_text
from chefbot.kitchen.schema_org import recipes_from_html, servings_from_yield


def _lines(values: list, limit: int) -> list[str]:
    out = []
    for v in values:
        try:
            text = clean_text(v, "line", limit)
        except RecipeError:
            text = v  # over the library's limit: kept as is, so the comparison fails and says so
        if text:
            out.append(text)
    return out


def check_page(page: Path, expected: dict) -> tuple[str, str]:
    """(outcome, detail): outcome 'ok' or the first field that differs."""
    url = expected.get("canonical_url") or f"https://{page.parent.name}/"
    try:
        imported = recipes_from_html(page.read_text(encoding="utf-8", errors="replace"), url, page.name)[0]
        r = imported.recipe
        saved = check_recipe(r.title, r.ingredients, r.directions, r.servings or 4)
    except RecipeError as e:
        return f"refused:{e.field}", str(e)[:300]
    want_servings = servings_from_yield(expected.get("yields")) or 4
    checks = (
        ("title", clean_text(expected.get("title") or "", "title", 10 * MAX_TITLE), saved.title),
        ("servings", want_servings, saved.servings),
        ("ingredients", _lines(expected.get("ingredients") or [], MAX_LINE), saved.ingredients),
        ("directions", _lines(expected.get("instructions_list") or [], MAX_STEP), saved.directions),
    )
    for field, want, got in checks:
        if want != got:
            return f"differs:{field}", f"expected {str(want)[:150]!r}, got {str(got)[:150]!r}"
    return "ok", ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env_pages = os.environ.get("CHEFBOT_RECIPE_PAGES")
    ap.add_argument(
        "--pages",
        type=Path,
        default=Path(env_pages) if env_pages else None,
        help="recipe-scrapers' tests/test_data folder (default: $CHEFBOT_RECIPE_PAGES)",
    )
    ap.add_argument("--per-site", type=int, default=1, help="pages per site (the first, by name)")
    ap.add_argument("--max-sites", type=int, default=0, help="at most this many sites (0: all)")
    ap.add_argument("--out", type=Path, default=None, help="results JSON (--quick: runs/bench/schemaorg-quick.json)")
    ap.add_argument("--quick", action="store_true", help="20 sites, results under runs/ (make bench)")
    args = ap.parse_args(argv)
    if args.quick:
        args.max_sites = args.max_sites or 20
        args.out = args.out or Path("runs/bench/schemaorg-quick.json")
    if args.pages is None or not args.pages.is_dir():
        # The pages are not on PyPI and are not committed (docs/KITCHEN.md): without a checkout there is nothing to read.
        print("schemaorg_real_pages: skipped: give --pages or CHEFBOT_RECIPE_PAGES (recipe-scrapers' tests/test_data)")
        return 0
    if args.out is None:
        ap.error("--out is required without --quick")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from importlib.metadata import version

    sites = sorted(p for p in args.pages.iterdir() if p.is_dir())
    if args.max_sites:
        sites = sites[: args.max_sites]
    results, left_out = [], Counter()
    start = time.perf_counter()
    for site in sites:
        pages = sorted(site.glob("*.testhtml"))[: args.per_site]
        for page in pages:
            expected_file = page.with_suffix(".json")
            if not expected_file.exists():
                left_out["no expected json"] += 1
                continue
            expected = json.loads(expected_file.read_text(encoding="utf-8"))
            if not expected.get("ingredients") or not expected.get("instructions_list"):
                left_out["the site publishes no ingredients or no steps"] += 1
                continue
            outcome, detail = check_page(page, expected)
            results.append({"site": site.name, "page": page.name, "outcome": outcome, "detail": detail})
    n, ok = len(results), sum(r["outcome"] == "ok" for r in results)
    report = {
        "what": "real recipe pages imported by chefbot's HTML import (schema_org.recipes_from_html + check_recipe) "
        "that recover the expected title, servings, ingredient lines and steps",
        "script": "bench/schemaorg_real_pages.py",
        "pages_from": "recipe-scrapers' repository, tests/test_data (not committed)",
        "recipe_scrapers_version": version("recipe-scrapers"),
        "per_site": args.per_site,
        "sites": len({r["site"] for r in results}),
        "n": n,
        "recovered": ok,
        "recovered_share": wilson_interval(ok, n),
        "outcomes": dict(Counter(r["outcome"] for r in results).most_common()),
        "left_out": dict(left_out),
        "seconds": round(time.perf_counter() - start, 1),
        "failures": [r for r in results if r["outcome"] != "ok"],
    }
    atomic_write_json(args.out, report)
    share = report["recovered_share"]
    print(f"{ok}/{n} pages of {report['sites']} sites recovered ({share['low']:.3f}-{share['high']:.3f}); {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
