"""Screenshots of the kitchen pages for the README and docs/KITCHEN.md, made with a real model.

Starts `chefbot serve CONFIG --adapter ADAPTER --db <temp file>` (the real command, the tuned
quickstart adapter by default: `make demo` makes it) on 127.0.0.1 and a free port, and runs
the browser test's flow (tests/serve/kitchen_check.js with tests/serve/kitchen_scenario.json)
against it in headless Chromium: a recipe written by the model and saved, the library with a
recipe scaled, a shopping list, a dinner plan, cook mode at a phone's width (online, then
offline), a blind tasting. Then two accounts (Ann, Ben) are added to that library and the household's
flow runs (tests/serve/household_check.js with tests/serve/household_scenario.json): the login page,
the library with a photo and stars, a recipe with its nutrition and notes, the week's calendar, the
saved shopping list on a phone, a dinner cooked on the phone. The PNGs go to docs/images/ (``--out``),
as 256-colour PNGs. Needs `make setup-browser`.

    python bench/kitchen_screenshots.py
    python bench/kitchen_screenshots.py --adapter runs/other/adapter --out /tmp/shots

The model writes the first recipe, so what it says varies with the adapter; the other recipes
are the scenario's. The temporary library is deleted afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from serve_load import free_port, wait_healthy

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests" / "serve"
SHOTS = (
    "kitchen-save.png",
    "kitchen-library.png",
    "kitchen-shopping.png",
    "kitchen-plan.png",
    "kitchen-cook.png",
    "kitchen-cook-offline.png",
    "kitchen-tasting.png",
    "household-login.png",
    "household-library.png",
    "household-recipe.png",
    "household-calendar.png",
    "household-list-phone.png",
    "household-cook.png",
)
HOUSEHOLD = {"Ann": "ann's screenshot password", "Ben": "ben's screenshot password"}


def palette(png: Path) -> None:
    """The screenshot as a 256-colour PNG: the same page to the eye at under half the bytes (for the repo)."""
    from PIL import Image

    with Image.open(png) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(png, optimize=True)


def table_photo(path: Path) -> Path:
    """The household flow's upload: a drawn 480x360 PNG of a bowl on a wooden table (Pillow; no photo ships)."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (480, 360), (150, 105, 60))
    draw = ImageDraw.Draw(im)
    for y in range(0, 360, 45):  # the table's boards
        draw.line((0, y, 480, y), fill=(120, 80, 45), width=3)
    draw.ellipse((90, 40, 390, 320), fill=(240, 238, 230))
    draw.ellipse((130, 80, 350, 280), fill=(190, 80, 35))
    im.save(path, format="PNG")
    return path


def run_household(url: str, db: Path, out: Path, tmp: Path, timeout_s: float, node_env: dict) -> dict:
    """Ann and Ben added to the served library, then household_check.js run against it (its screenshots in ``out``)."""
    from chefbot.kitchen import people  # lazy: the script's own start stays light
    from chefbot.kitchen.db import KitchenDB  # lazy: as above

    with KitchenDB(db) as kdb:
        for name, password in HOUSEHOLD.items():
            people.add_person(kdb, name, password)
    spec = tmp / "household.json"
    spec.write_text(
        json.dumps(
            {
                **json.loads((TESTS / "household_scenario.json").read_text()),
                "url": url,
                "out_dir": str(out),
                "timeout_ms": int(timeout_s * 1000),
                "photo": str(table_photo(tmp / "bowl.png")),
                **{who.lower(): [who, pw] for who, pw in HOUSEHOLD.items()},
            }
        )
    )
    r = subprocess.run(
        ["node", str(TESTS / "household_check.js"), str(spec)],
        env=node_env,
        capture_output=True,
        text=True,
        timeout=timeout_s * 10,
    )
    if r.returncode != 0:
        raise SystemExit(f"household_check.js failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def soon(plan: dict, lead_min: int = 75) -> dict:
    """The scenario's plan served about ``lead_min`` minutes from now (the second cook there for the last
    two hours), so cook mode shows its first step and the oven reminder as they will look today."""
    now = dt.datetime.now()
    serve = now + dt.timedelta(minutes=lead_min + (-(now.minute + lead_min) % 5))
    if serve.date() != now.date() or (serve - dt.timedelta(hours=2)).date() != now.date():
        return plan  # no plan across midnight: keep the scenario's times
    cooks = [dict(c) for c in plan["cooks"]]
    cooks[-1].update({"from": (serve - dt.timedelta(hours=2)).strftime("%H:%M"), "to": serve.strftime("%H:%M")})
    return {**plan, "serve_at": serve.strftime("%H:%M"), "cooks": cooks}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/quickstart.yaml")
    ap.add_argument(
        "--adapter", default="runs/quickstart/adapter", help="the LoRA adapter served ('' for the untuned base)"
    )
    ap.add_argument(
        "--engine", default="hf", help="serving engine (hf: transformers, as for the committed screenshots)"
    )
    ap.add_argument("--out", default=str(REPO / "docs" / "images"))
    ap.add_argument("--max-tokens", type=int, default=320, help="longest recipe the model may write")
    ap.add_argument("--timeout", type=float, default=600, help="seconds for the server's start and for each page step")
    args = ap.parse_args(argv)
    if args.adapter and not (REPO / args.adapter / "adapter_config.json").exists():
        raise SystemExit(
            f"{args.adapter}: no adapter there; run `make demo` (or chefbot demo configs/quickstart.yaml) first"
        )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="chefbot-shots-") as tmp:
        db = Path(tmp) / "kitchen.db"
        cmd = [
            sys.executable,
            "-m",
            "chefbot.cli",
            "serve",
            args.config,
            f"serve.max_tokens_cap={args.max_tokens}",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--db",
            str(db),
            "--engine",
            args.engine,
        ]
        if args.adapter:
            cmd += ["--adapter", args.adapter]
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        log = Path(tmp) / "serve.log"
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
        try:
            health = wait_healthy(url, proc, args.timeout)
            scenario = {
                **json.loads((TESTS / "kitchen_scenario.json").read_text()),
                "url": url,
                "out_dir": str(out),
                "timeout_ms": int(args.timeout * 1000),
                "search": None,
            }
            scenario["plan"] = soon(scenario["plan"])
            spec = Path(tmp) / "scenario.json"
            spec.write_text(json.dumps(scenario))
            node_env = dict(
                os.environ,
                NODE_PATH=str(REPO / ".cache" / "browser" / "node_modules"),
                CHROMIUM=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            )
            t0 = time.time()
            r = subprocess.run(
                ["node", str(TESTS / "kitchen_check.js"), str(spec)],
                env=node_env,
                capture_output=True,
                text=True,
                timeout=args.timeout * 10,
            )
            if r.returncode != 0:
                raise SystemExit(
                    f"kitchen_check.js failed:\n{r.stderr[-3000:]}\nserver log:\n{log.read_text()[-2000:]}"
                )
            page = json.loads(r.stdout.strip().splitlines()[-1])
            household = run_household(url, db, out, Path(tmp), args.timeout, node_env)
        finally:
            proc.terminate()
            proc.wait(30)
    made = [str(out / n) for n in SHOTS if (out / n).exists()]
    for f in made:
        palette(Path(f))
    print(
        f"served {health.get('model')} adapter={health.get('adapter')}: {len(made)} screenshots in {out} "
        f"({time.time() - t0:.0f} s); recipe {page['saved_title']!r}; household: {household['ann_summary']}"
    )
    return {"screenshots": made, "health": health, "page": page, "household": household}


if __name__ == "__main__":
    main()
