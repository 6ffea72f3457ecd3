"""The installable web app: ``/manifest.webmanifest``, the service worker ``/sw.js`` and ``/icons/{size}.png``.

A phone adds the pages to its home screen from the manifest (name, icons, ``start_url``, ``display:
standalone``, theme colour) and keeps the app shell and cook mode offline through the service worker
(``web/sw.js``: what it caches and how). The worker is served from the root, so its scope is the whole site
(``Service-Worker-Allowed: /`` says so explicitly), as JavaScript, never cached by HTTP: the browser compares
it byte for byte to decide on an update, and the server writes into it a version (a hash of every file in
``web/``) and the list of what to keep (every page of ``routes_web.PAGES`` and every file of
``STATIC_FILES``, one list with the pages), so any change to the app is a new worker with a new cache.

The icons are drawn here with Pillow (a chef's hat on the theme colour), once per size, inside the middle
80% so a launcher's mask ("maskable") cuts nothing: no image file to keep beside the code. Like the pages,
none of these needs an API key (``auth.protected``).
"""

from __future__ import annotations

import hashlib
import io
import json
from functools import cache

from fastapi import APIRouter
from fastapi.responses import Response

from chefbot.serve.api_errors import ApiError
from chefbot.serve.routes_web import NO_CACHE, PAGES, STATIC_FILES, WEB_DIR

THEME_COLOR = "#b5452b"  # shell.html's theme-color and style.css's --accent (a test keeps them equal)
BACKGROUND = "#fbf8f3"  # style.css's --bg: the splash screen while the app starts
ICON_SIZES = (192, 512)  # the two sizes Chromium asks of an installable app
START_URL = "/cook"  # cook mode: the page a phone in the kitchen opens (it lists the plans to cook)
MANIFEST = "/manifest.webmanifest"
SHELL = (*PAGES, *(f"/static/{name}" for name in STATIC_FILES), MANIFEST, *(f"/icons/{s}.png" for s in ICON_SIZES))

router = APIRouter()


@cache
def web_version() -> str:
    """A hash of every file of the web app (pages, shell, scripts, styles, the worker itself)."""
    digest = hashlib.sha256()
    for f in sorted(WEB_DIR.iterdir(), key=lambda f: f.name):
        if f.is_file():
            digest.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@cache
def service_worker() -> str:
    text = (WEB_DIR / "sw.js").read_text(encoding="utf-8")
    return text.replace('"@VERSION@"', json.dumps(web_version())).replace("@SHELL@", json.dumps(list(SHELL)))


def manifest() -> dict:
    icons = [
        {"src": f"/icons/{s}.png", "sizes": f"{s}x{s}", "type": "image/png", "purpose": purpose}
        for s in ICON_SIZES
        for purpose in ("any", "maskable")
    ]
    return {
        "name": "ChefBot",
        "short_name": "ChefBot",
        "description": "Recipes, meal plans and cook mode from your own kitchen server",
        "id": "/",
        "start_url": START_URL,
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND,
        "icons": icons,
    }


@cache
def icon_png(size: int) -> bytes:
    """A chef's hat in white on the theme colour, ``size`` pixels square (drawn at 4x, then downsampled)."""
    from PIL import Image, ImageDraw  # lazy: Pillow only when an icon is first asked for

    big = size * 4
    img = Image.new("RGB", (big, big), THEME_COLOR)
    d = ImageDraw.Draw(img)
    u = big / 100  # everything in percent of the side, inside the middle 80% (the maskable safe zone)
    for cx, cy, r in ((35, 42, 14), (50, 34, 17), (65, 42, 14)):  # the hat's puffs
        d.ellipse([(cx - r) * u, (cy - r) * u, (cx + r) * u, (cy + r) * u], fill="white")
    d.rectangle([30 * u, 42 * u, 70 * u, 66 * u], fill="white")  # the crown
    d.rounded_rectangle([28 * u, 66 * u, 72 * u, 76 * u], radius=2 * u, fill="white")  # the band
    d.line([28 * u, 64 * u, 72 * u, 64 * u], fill=THEME_COLOR, width=max(1, round(1.5 * u)))  # where band meets crown
    out = io.BytesIO()
    img.resize((size, size), Image.Resampling.LANCZOS).save(out, format="PNG", optimize=True)
    return out.getvalue()


@router.get(MANIFEST, include_in_schema=False)
async def manifest_route() -> Response:
    return Response(json.dumps(manifest()), media_type="application/manifest+json", headers=NO_CACHE)


@router.get("/sw.js", include_in_schema=False)
async def service_worker_route() -> Response:
    headers = {**NO_CACHE, "Service-Worker-Allowed": "/"}
    return Response(service_worker(), media_type="text/javascript; charset=utf-8", headers=headers)


@router.get("/icons/{name}", include_in_schema=False)
async def icon_route(name: str) -> Response:
    sizes = {f"{s}.png": s for s in ICON_SIZES}
    if name not in sizes:
        raise ApiError(404, f"no icon {name!r}")
    return Response(icon_png(sizes[name]), media_type="image/png", headers=NO_CACHE)
