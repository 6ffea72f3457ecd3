"""Recipe photos over HTTP: ``/api/recipes/{id}/photos`` (upload, list, delete) and the image files at
``/photos/{hash}.webp`` and ``/photos/thumbs/{hash}.webp``.  The work is ``chefbot.kitchen.photos``; docs/KITCHEN.md,
*Photos*, is the manual.

* **Upload**: ``multipart/form-data`` with the image in the field ``file`` and an ``X-Requested-With`` header (the
  one body ``auth.JsonOnly`` lets through that is not JSON: that header needs a CORS preflight, so another site's
  form cannot send it).  The body is limited to ``kitchen.photo_max_bytes`` plus the form's framing
  (``api_errors.BodyLimit``); the file itself to ``kitchen.photo_max_bytes`` (413), its pixels to
  ``kitchen.photo_max_pixels`` (413), its kind to JPEG, PNG or WebP (415); a file that does not decode is 400.
  Each refusal names the field ``file``.  Auth is the other kitchen routes': the gate (``auth._Gate``) in front of
  every ``/api/*`` path (keys, personal tokens, the session cookie with its CSRF header).
* **Files**: served as stored, ``Cache-Control: public, max-age=31536000, immutable`` (a hash names one content
  for ever).  The name is checked by ``photos.HASH_RE`` (64 lower-case hex) before any path is built, so no
  name reaches the file system that could leave the photo folder.  These paths are outside ``/api`` and
  ``/library`` (``auth.protected``): an ``<img>`` cannot send a bearer key, and a 256-bit content hash is only
  known to whoever could read the recipe.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Header, Path, Request
from fastapi.responses import FileResponse

from chefbot.kitchen import photos
from chefbot.kitchen.db import NotFound
from chefbot.serve.api_errors import ApiError
from chefbot.serve.routes_kitchen import Kitchen, RowId
from chefbot.serve.schemas import EXACT_INT, semantic_400
from chefbot.serve.schemas_kitchen import STORAGE, RecipePhoto, RecipePhotoDeleted, RecipePhotoList, kitchen_errors

IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}

router = APIRouter(tags=["kitchen"])


def photo_limits(request: Request) -> photos.PhotoLimits:
    """This server's photo limits (``kitchen.photo_max_bytes``, ``photo_max_pixels``, ``photo_thumb_px``)."""
    return photos.PhotoLimits.of(request.app.state.cfg.kitchen)


@router.post(
    "/api/recipes/{recipe_id:int}/photos",
    status_code=201,
    response_model=RecipePhoto,
    responses={
        201: {"description": "the photo as stored (re-encoded as WebP, EXIF orientation applied, metadata gone)"},
        **semantic_400("photo"),
        **kitchen_errors(404, 413, 415, 422, *STORAGE),
    },
)
def upload_photo(
    recipe_id: RowId,
    request: Request,
    kitchen: Kitchen,
    # bytes, not UploadFile: a form part without a filename (a text field to the parser) is schema-valid too, and
    # is then refused for what it holds (415/400), not 422; the body is bounded by BodyLimit before this is read.
    file: Annotated[bytes, File(description="the image: JPEG, PNG or WebP (a file part)")],
    x_requested_with: Annotated[
        str,
        Header(
            min_length=1,
            max_length=100,
            description="any value, e.g. chefbot: a header another site's form cannot send (CSRF)",
        ),
    ],
) -> RecipePhoto:
    """Add a photo to a recipe (its first photo is its picture); the same picture twice is stored once.  A plain
    ``def``: FastAPI runs it in its thread pool, so decoding and SQLite stay off the event loop."""
    return RecipePhoto.model_validate(photos.add_photo(kitchen.db, recipe_id, file, photo_limits(request), "file"))


@router.get(
    "/api/recipes/{recipe_id:int}/photos",
    response_model=RecipePhotoList,
    responses=kitchen_errors(404, 422, *STORAGE),
)
def list_photos(recipe_id: RowId, kitchen: Kitchen) -> RecipePhotoList:
    """The recipe's photos, its picture first."""
    data = photos.list_photos(kitchen.db, recipe_id)
    return RecipePhotoList.model_validate({"object": "list", "recipe_id": recipe_id, "data": data})


@router.delete(
    "/api/recipes/{recipe_id:int}/photos/{photo_id:int}",
    response_model=RecipePhotoDeleted,
    responses=kitchen_errors(404, 422, *STORAGE),
)
def delete_photo(
    recipe_id: RowId,
    photo_id: Annotated[int, Path(ge=1, le=EXACT_INT, description="the photo's id")],
    kitchen: Kitchen,
) -> RecipePhotoDeleted:
    """Remove a photo from a recipe (its file goes when no recipe shows it any more)."""
    if not photos.delete_photo(kitchen.db, recipe_id, photo_id):
        raise NotFound("recipe photo", photo_id, "photo_id")
    return RecipePhotoDeleted(id=photo_id, object="recipe_photo", deleted=True)


def _file(kitchen, digest: str, ext: str, thumb: bool) -> FileResponse:
    if ext != photos.EXT or not photos.HASH_RE.fullmatch(digest):
        raise ApiError(404, "no such photo", param="hash", code="photo_not_found")
    path = photos.photo_path(photos.photos_root(kitchen.db), digest, thumb)
    if not path.is_file():
        raise ApiError(404, "no such photo", param="hash", code="photo_not_found")
    return FileResponse(path, media_type=f"image/{photos.EXT}", headers=IMMUTABLE)


@router.get("/photos/{digest}.{ext}", include_in_schema=False)
def photo_file(digest: str, ext: str, kitchen: Kitchen) -> FileResponse:
    return _file(kitchen, digest, ext, thumb=False)


@router.get("/photos/thumbs/{digest}.{ext}", include_in_schema=False)
def photo_thumb(digest: str, ext: str, kitchen: Kitchen) -> FileResponse:
    return _file(kitchen, digest, ext, thumb=True)
