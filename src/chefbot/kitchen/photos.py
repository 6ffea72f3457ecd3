"""Recipe photos: checked and re-encoded with Pillow, stored beside the kitchen DB by content hash.

* **Checked**: at most ``max_bytes`` as sent (413); opened only as JPEG, PNG or WebP (anything else, a zip
  renamed ``.jpg`` included, is 415); at most ``max_pixels`` read from the header *before* decoding (413: a
  decompression bomb never allocates its pixels; Pillow's own ``DecompressionBombError`` is 413 too); a file
  that does not decode (truncated, damaged) is 400.  Every refusal names the request's field.
* **Re-encoded**: the EXIF orientation is applied (``ImageOps.exif_transpose``), then the pixels alone are
  written as WebP (no EXIF, XMP or ICC: a phone's GPS position never leaves the kitchen), so what is served is
  what Pillow wrote, never the client's bytes.  A thumbnail (longest side ``thumb_px``) is made once, here.
* **Stored by content hash**: ``<db dir>/photos/<first 2 hex>/<sha256>.webp`` and ``<sha256>.thumb.webp``
  (the SHA-256 of the full image's bytes; never a name the client chose), each written to a temporary sibling
  and renamed (``chefbot.io.atomic_write_bytes``).  The same picture twice is one file.  A row of
  ``recipe_photos`` names the file; deleting a recipe deletes its rows (ON DELETE CASCADE) and ``gc`` removes
  the files no row names (call it after a delete).
* **Backups** (``kitchen.backup``) carry each photo's bytes (base64) with its hash; ``check_bytes`` refuses a
  photo whose bytes do not hash to its name.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import sqlite3
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from chefbot.config import KitchenConfig
from chefbot.io import atomic_write_bytes
from chefbot.kitchen.db import KitchenDB, KitchenError, now_iso, require_recipe

EXT = "webp"  # every photo is stored (and served) as WebP: one format Pillow writes without the client's metadata
FORMATS = ("JPEG", "PNG", "WEBP")  # what an upload may be; Image.open is given only these plugins
HASH_RE = re.compile(r"[0-9a-f]{64}")
QUALITY = 85  # WebP quality of the full image and the thumbnail


class PhotoError(KitchenError):
    """A photo refused: ``field`` names the request's field; ``status`` and ``code`` are the HTTP answer."""

    status, code = 400, "bad_image"

    def __init__(self, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.field = field


class PhotoTooLarge(PhotoError):
    status, code = 413, "image_too_large"


class PhotoNotImage(PhotoError):
    status, code = 415, "unsupported_image"


class PhotoMismatch(KitchenError):
    """A backup's photo whose bytes do not hash to its name (``entry`` names it)."""


@dataclass(frozen=True)
class PhotoLimits:
    """``kitchen.photo_max_bytes``, ``photo_max_pixels``, ``photo_thumb_px`` (config.KitchenConfig)."""

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    thumb_px: int = 320

    @classmethod
    def of(cls, kitchen: KitchenConfig) -> PhotoLimits:
        return cls(kitchen.photo_max_bytes, kitchen.photo_max_pixels, kitchen.photo_thumb_px)


@dataclass(frozen=True)
class Encoded:
    hash: str
    data: bytes
    thumb: bytes
    width: int
    height: int


def photos_root(db: KitchenDB) -> Path:
    """The folder beside the DB file that holds its photos."""
    return db.path.parent / "photos"


def photo_path(root: Path, digest: str, thumb: bool = False) -> Path:
    """Where the photo (or its thumbnail) with this hash lives; KitchenError for anything but 64 lower-case hex."""
    if not HASH_RE.fullmatch(digest):
        raise KitchenError(f"not a photo hash: {digest[:80]!r} (64 lower-case hex digits)")
    return root / digest[:2] / f"{digest}{'.thumb' if thumb else ''}.{EXT}"


def _webp(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, "WEBP", quality=QUALITY, method=4)  # no exif/xmp/icc_profile given: none written
    return out.getvalue()


def _decode(data: bytes, formats: tuple[str, ...], limits: PhotoLimits, field: str, kinds: str) -> Image.Image:
    """The image decoded, its pixel count checked from the header before decoding (a decompression bomb is never
    decoded); a PhotoError naming ``field`` for anything Pillow refuses.  Uploads and restored backups alike."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=formats)
            width, height = im.size
            if width * height > limits.max_pixels:
                raise PhotoTooLarge(
                    f"{field}: the photo is {width}x{height} = {width * height} pixels; at most {limits.max_pixels} "
                    "(kitchen.photo_max_pixels)",
                    field,
                )
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise PhotoTooLarge(f"{field}: {e}", field) from None
    except UnidentifiedImageError:
        raise PhotoNotImage(f"{field}: not a {kinds} image", field) from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:  # Pillow's words for a truncated or damaged file
        raise PhotoError(f"{field}: the image cannot be decoded: {e}", field) from None
    return im


def _thumbnail(im: Image.Image, limits: PhotoLimits) -> bytes:
    small = im.copy()
    small.thumbnail((limits.thumb_px, limits.thumb_px))
    return _webp(small)


def encode(data: bytes, limits: PhotoLimits, field: str = "file") -> Encoded:
    """The upload checked and re-encoded (full image and thumbnail), or a PhotoError naming ``field``."""
    if len(data) > limits.max_bytes:
        raise PhotoTooLarge(
            f"{field}: the photo is {len(data)} bytes; at most {limits.max_bytes} (kitchen.photo_max_bytes)", field
        )
    im = ImageOps.exif_transpose(_decode(data, FORMATS, limits, field, "JPEG, PNG or WebP"))
    im = im.convert("RGBA" if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info else "RGB")
    full = _webp(im)
    return Encoded(hashlib.sha256(full).hexdigest(), full, _thumbnail(im, limits), im.width, im.height)


def _write(root: Path, enc: Encoded) -> None:
    """Both files, each atomically; a file already there (same hash, same bytes) is kept."""
    for thumb, data in ((False, enc.data), (True, enc.thumb)):
        path = photo_path(root, enc.hash, thumb)
        if not path.exists():
            atomic_write_bytes(path, data)


def photo_dict(row: sqlite3.Row | dict) -> dict:
    """A photo as the API shows it, with the addresses of its image and thumbnail."""
    return {
        "id": row["id"],
        "object": "recipe_photo",
        "recipe_id": row["recipe_id"],
        "hash": row["hash"],
        "width": row["width"],
        "height": row["height"],
        "position": row["position"],
        "created_at": row["created_at"],
        "url": f"/photos/{row['hash']}.{EXT}",
        "thumb_url": f"/photos/thumbs/{row['hash']}.{EXT}",
    }


def _insert(c: sqlite3.Connection, recipe_id: int, enc: Encoded, created_at: str) -> dict:
    """The photo's row for this recipe (the one already there when the recipe has this picture)."""
    c.execute(
        "INSERT INTO recipe_photos (recipe_id, hash, width, height, position, created_at) VALUES "
        "(?, ?, ?, ?, (SELECT coalesce(max(position), 0) + 1 FROM recipe_photos WHERE recipe_id = ?), ?) "
        "ON CONFLICT (recipe_id, hash) DO NOTHING",
        (recipe_id, enc.hash, enc.width, enc.height, recipe_id, created_at),
    )
    row = c.execute("SELECT * FROM recipe_photos WHERE recipe_id = ? AND hash = ?", (recipe_id, enc.hash)).fetchone()
    return photo_dict(row)


def add_photo(db: KitchenDB, recipe_id: int, data: bytes, limits: PhotoLimits, field: str = "file") -> dict:
    """Check, re-encode and store an upload as the recipe's next photo; NotFound when there is no such recipe.
    The files are written inside the row's write transaction, which ``gc`` takes too: a gc never sees a file
    whose row is about to be added."""
    enc = encode(data, limits, field)  # the slow part, outside the transaction
    try:
        with db.write() as c:
            require_recipe(c, recipe_id)
            _write(photos_root(db), enc)  # the files first: a row never names a file that is not there
            return _insert(c, recipe_id, enc, now_iso())
    except BaseException:
        gc(db)  # the files of a row that was not added
        raise


def list_photos(db: KitchenDB, recipe_id: int) -> list[dict]:
    """The recipe's photos, first (its picture) first; NotFound when there is no such recipe."""
    with db.read() as c:
        require_recipe(c, recipe_id)
        rows = c.execute(
            "SELECT * FROM recipe_photos WHERE recipe_id = ? ORDER BY position, id", (recipe_id,)
        ).fetchall()
    return [photo_dict(r) for r in rows]


def first_photos(db: KitchenDB, recipe_ids: list[int]) -> dict[int, dict]:
    """Each recipe's picture (its first photo), by recipe id; recipes without one are left out."""
    if not recipe_ids:
        return {}
    marks = ",".join("?" * len(recipe_ids))
    with db.read() as c:
        rows = c.execute(
            f"SELECT * FROM recipe_photos WHERE recipe_id IN ({marks}) ORDER BY recipe_id, position, id",
            list(recipe_ids),
        ).fetchall()
    out: dict[int, dict] = {}
    for r in rows:
        out.setdefault(r["recipe_id"], photo_dict(r))
    return out


def with_photo(db: KitchenDB, recipes: list[dict]) -> list[dict]:
    """The recipes (API dicts with ``id``) with their picture as ``photo`` where they have one (in place)."""
    found = first_photos(db, [r["id"] for r in recipes])
    for r in recipes:
        if r["id"] in found:
            r["photo"] = found[r["id"]]
    return recipes


def delete_photo(db: KitchenDB, recipe_id: int, photo_id: int) -> bool:
    """True when the recipe's photo was deleted (its files go too when no other row names them)."""
    with db.write() as c:
        gone = c.execute("DELETE FROM recipe_photos WHERE id = ? AND recipe_id = ?", (photo_id, recipe_id)).rowcount
    if gone:
        gc(db)
    return gone > 0


def gc(db: KitchenDB) -> int:
    """Remove the photo files no row names (after a recipe or photo was deleted, or an upload failed); how many.
    In a write transaction, so no upload adds a file and its row meanwhile."""
    root = photos_root(db)
    if not root.is_dir():
        return 0
    removed = 0
    with db.write() as c:
        named = {r[0] for r in c.execute("SELECT DISTINCT hash FROM recipe_photos")}
        for path in root.glob(f"??/*.{EXT}"):
            digest = path.name.split(".", 1)[0]
            if HASH_RE.fullmatch(digest) and digest not in named:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
    return removed


# -- backups --------------------------------------------------------------------------------------
def read_bytes(db: KitchenDB, digest: str) -> bytes:
    """A stored photo's bytes (for a backup); KitchenError naming the file when it is missing."""
    path = photo_path(photos_root(db), digest)
    try:
        return path.read_bytes()
    except OSError as e:
        raise KitchenError(f"photo {path}: cannot read it: {e.strerror or e} (the DB names it)") from None


def check_bytes(data: bytes, digest: str, entry: str) -> None:
    """PhotoMismatch naming ``entry`` when ``data`` does not hash to ``digest``."""
    if hashlib.sha256(data).hexdigest() != digest:
        raise PhotoMismatch(
            f"{entry}: the photo's bytes do not match its hash {digest[:12]}... (damaged or edited backup)"
        )


def restore(c: sqlite3.Connection, db: KitchenDB, recipe_id: int, photo: dict, limits: PhotoLimits) -> None:
    """A backup's photo (bytes checked by ``check_bytes`` already) stored again and named for ``recipe_id``:
    decoded with the same checks as an upload; its thumbnail remade."""
    data = photo["bytes"]
    im = _decode(
        data, ("WEBP",), limits, f"photo {photo['hash'][:12]}...", "WebP"
    )  # a backup is as hostile as an upload
    enc = Encoded(photo["hash"], data, _thumbnail(im, limits), im.width, im.height)
    _write(photos_root(db), enc)
    _insert(c, recipe_id, enc, photo["created_at"])
