"""Recipe photos (kitchen/photos.py, serve/routes_photos.py): real images made here with Pillow, checked,
re-encoded without metadata, stored by content hash beside the DB, removed with their recipe, carried by
backups (bytes checked by hash), and served over HTTP with the limits and refusals the API documents."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from serve_support import FastGenerator, serve_cfg

from chefbot.kitchen import photos
from chefbot.kitchen.backup import BackupError, export_db, import_file, snapshot
from chefbot.kitchen.db import KitchenDB, NotFound
from chefbot.kitchen.library import delete_recipe, get_recipe, save_recipe
from chefbot.kitchen.schema_org import to_jsonld
from chefbot.serve.app import create_app

LIMITS = photos.PhotoLimits(max_bytes=2 * 1024 * 1024, max_pixels=4_000_000, thumb_px=64)
UPLOAD = {"X-Requested-With": "chefbot"}


def image_bytes(fmt: str, size=(60, 30), color=(200, 30, 30), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt, **save)
    return out.getvalue()


def rotated_png() -> bytes:
    """A 60x30 PNG whose EXIF says "rotate 90° clockwise to show" (orientation 6), with a camera make and GPS."""
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x010F] = "Canon"  # Make
    im = Image.new("RGB", (60, 30), (0, 0, 255))
    im.putpixel((0, 0), (255, 255, 255))
    out = io.BytesIO()
    im.save(out, "PNG", exif=exif.tobytes())
    return out.getvalue()


def bomb_png(width=50_000, height=50_000) -> bytes:
    """A PNG whose header claims width x height pixels (2.5 billion here) with a tiny compressed body: a
    decompression bomb if anyone decoded it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    body = zlib.compress(b"\x00" * 10_000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def zip_as_jpg() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("recipe.txt", "not a photo")
    return out.getvalue()


def recipe(db: KitchenDB, title: str = "Roast chicken") -> int:
    return save_recipe(db, title, ["1 whole chicken", "1 lemon"], ["Roast the chicken.", "Carve."], 4)["id"]


# -- checking and re-encoding ---------------------------------------------------------------------------
def test_exif_rotation_is_applied_and_every_metadata_stripped():
    enc = photos.encode(rotated_png(), LIMITS)
    out = Image.open(io.BytesIO(enc.data))
    assert out.format == "WEBP" and out.size == (30, 60) == (enc.width, enc.height)  # turned upright
    assert dict(out.getexif()) == {} and b"Canon" not in enc.data and "icc_profile" not in out.info
    assert out.convert("RGB").getpixel((29, 0))[0] > 200  # the white corner went where orientation 6 puts it
    assert enc.hash == hashlib.sha256(enc.data).hexdigest()
    small = photos.encode(rotated_png(), photos.PhotoLimits(thumb_px=16))
    assert Image.open(io.BytesIO(small.thumb)).size == (8, 16) and small.hash == enc.hash
    assert Image.open(io.BytesIO(enc.thumb)).size == (30, 60)  # smaller than thumb_px already: never enlarged


def test_webp_and_jpeg_are_accepted_and_the_same_picture_encodes_the_same():
    webp = image_bytes("WEBP", quality=90)
    assert photos.encode(webp, LIMITS).hash == photos.encode(webp, LIMITS).hash
    assert photos.encode(image_bytes("JPEG"), LIMITS).width == 60


@pytest.mark.parametrize(
    "data, error, code",
    [
        (image_bytes("PNG")[:-60], photos.PhotoError, "bad_image"),  # truncated
        (zip_as_jpg(), photos.PhotoNotImage, "unsupported_image"),  # a zip renamed .jpg
        (image_bytes("GIF"), photos.PhotoNotImage, "unsupported_image"),  # an image, another format
        (b"", photos.PhotoNotImage, "unsupported_image"),
        (bomb_png(), photos.PhotoTooLarge, "image_too_large"),  # refused from its header, never decoded
        (image_bytes("PNG", size=(2100, 2000)), photos.PhotoTooLarge, "image_too_large"),  # 4.2 M pixels
    ],
    ids=["truncated", "zip", "gif", "empty", "bomb", "too-many-pixels"],
)
def test_refusals_name_the_field(data, error, code):
    with pytest.raises(error) as e:
        photos.encode(data, LIMITS, field="file")
    assert type(e.value) is error and e.value.code == code and e.value.field == "file"
    assert str(e.value).startswith("file: ")


def test_too_many_bytes_is_refused_before_decoding():
    with pytest.raises(photos.PhotoTooLarge, match="kitchen.photo_max_bytes"):
        photos.encode(b"\x89PNG" + b"\0" * 5000, photos.PhotoLimits(max_bytes=4096))


# -- storage, delete and gc ----------------------------------------------------------------------------
def test_stored_by_hash_beside_the_db_removed_with_the_recipe(kdb):
    rid, other = recipe(kdb), recipe(kdb, "Lemon rice")
    photo = photos.add_photo(kdb, rid, rotated_png(), LIMITS)
    root = kdb.path.parent / "photos"
    full = root / photo["hash"][:2] / f"{photo['hash']}.webp"
    thumb = root / photo["hash"][:2] / f"{photo['hash']}.thumb.webp"
    assert full.is_file() and thumb.is_file() and hashlib.sha256(full.read_bytes()).hexdigest() == photo["hash"]
    assert not list(root.rglob("*.tmp"))  # written to temporaries and renamed
    assert photo["url"] == f"/photos/{photo['hash']}.webp" and (photo["width"], photo["height"]) == (30, 60)
    again = photos.add_photo(kdb, rid, rotated_png(), LIMITS)  # the same picture: the same row
    assert again["id"] == photo["id"] and len(photos.list_photos(kdb, rid)) == 1
    shared = photos.add_photo(kdb, other, rotated_png(), LIMITS)  # another recipe, the same file
    second = photos.add_photo(kdb, rid, image_bytes("PNG"), LIMITS)
    assert [p["id"] for p in photos.list_photos(kdb, rid)] == [photo["id"], second["id"]]
    assert photos.first_photos(kdb, [rid, other]) == {rid: photo, other: shared}

    assert delete_recipe(kdb, rid)
    assert photos.gc(kdb) == 2  # the second photo's two files; the shared one is still named
    assert full.is_file() and not (root / second["hash"][:2] / f"{second['hash']}.webp").exists()
    assert photos.delete_photo(kdb, other, shared["id"]) and not full.exists() and not thumb.exists()
    assert not photos.delete_photo(kdb, other, shared["id"])
    with pytest.raises(NotFound):
        photos.add_photo(kdb, rid, image_bytes("PNG"), LIMITS)
    assert photos.gc(kdb) == 0


def test_a_hash_is_only_ever_64_hex():
    for bad in ("../../etc/passwd", "A" * 64, "ab" * 31, "g" * 64):
        with pytest.raises(Exception, match="not a photo hash"):
            photos.photo_path(Path("/x"), bad)


def test_jsonld_names_the_picture(kdb):
    rid = recipe(kdb)
    photo = photos.add_photo(kdb, rid, image_bytes("PNG"), LIMITS)
    saved = photos.with_photo(kdb, [get_recipe(kdb, rid)])[0]
    assert to_jsonld(saved, "http://k.test/library/1")["image"] == f"http://k.test/photos/{photo['hash']}.webp"
    assert "image" not in to_jsonld(get_recipe(kdb, rid))


# -- backups --------------------------------------------------------------------------------------------
def test_backup_round_trip_carries_the_photos(tmp_path):
    with KitchenDB(tmp_path / "a" / "kitchen.db") as a:
        rid = recipe(a)
        one = photos.add_photo(a, rid, rotated_png(), LIMITS)
        two = photos.add_photo(a, rid, image_bytes("WEBP"), LIMITS)
        export_db(a, tmp_path / "backup.json")
        first = snapshot(a)
    with KitchenDB(tmp_path / "b" / "kitchen.db") as b:
        assert import_file(b, tmp_path / "backup.json")["recipes"] == 1
        new_id = b.conn.execute("SELECT id FROM recipes").fetchone()[0]
        got = photos.list_photos(b, new_id)
        assert [p["hash"] for p in got] == [one["hash"], two["hash"]]
        for p in got:
            path = photos.photo_path(photos.photos_root(b), p["hash"])
            assert hashlib.sha256(path.read_bytes()).hexdigest() == p["hash"]
            assert photos.photo_path(photos.photos_root(b), p["hash"], thumb=True).is_file()
        import_file(b, tmp_path / "backup.json")  # twice: nothing added
        assert len(photos.list_photos(b, new_id)) == 2
        again = snapshot(b)
        assert [r["photos"] for r in again["recipes"]] == [r["photos"] for r in first["recipes"]]
        assert [r["title"] for r in again["recipes"]] == ["Roast chicken"]


def test_a_photo_whose_bytes_do_not_match_its_hash_refuses_the_backup(tmp_path):
    with KitchenDB(tmp_path / "a" / "kitchen.db") as a:
        photos.add_photo(a, recipe(a), image_bytes("PNG"), LIMITS)
        data = snapshot(a)
    data["recipes"][0]["photos"][0]["data"] = base64.b64encode(image_bytes("PNG", color=(1, 2, 3))).decode()
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with KitchenDB(tmp_path / "b" / "kitchen.db") as b:
        with pytest.raises(BackupError, match=r"recipes\[0\]\.photos\.0\.data: .*do not match its hash"):
            import_file(b, tmp_path / "bad.json")
        assert b.conn.execute("SELECT count(*) FROM recipes").fetchone()[0] == 0
        assert not (tmp_path / "b" / "photos").exists() or not list((tmp_path / "b" / "photos").rglob("*.webp"))


def test_a_backup_photo_that_is_not_webp_is_refused_by_name_even_with_its_own_hash(tmp_path):
    """A hostile backup can hash any bytes: a PNG, or no image at all, under its own hash is still refused with a
    message naming the photo, never a raw Pillow error, and nothing is stored."""
    with KitchenDB(tmp_path / "a" / "kitchen.db") as a:
        photos.add_photo(a, recipe(a), image_bytes("PNG"), LIMITS)
        data = snapshot(a)
    for i, raw in enumerate((b"PK\x03\x04 a zip, not a picture", image_bytes("PNG"))):
        ph = data["recipes"][0]["photos"][0]
        ph["data"], ph["hash"] = base64.b64encode(raw).decode(), hashlib.sha256(raw).hexdigest()
        (tmp_path / f"bad{i}.json").write_text(json.dumps(data))
        with KitchenDB(tmp_path / f"b{i}" / "kitchen.db") as b:
            with pytest.raises(photos.PhotoNotImage, match=rf"photo {ph['hash'][:12]}\.\.\.: not a WebP image"):
                import_file(b, tmp_path / f"bad{i}.json")
            assert b.conn.execute("SELECT count(*) FROM recipes").fetchone()[0] == 0


# -- the API --------------------------------------------------------------------------------------------
@pytest.fixture()
def client(tmp_path):
    cfg = serve_cfg(Path("unused"))
    cfg.kitchen.db_path = str(tmp_path / "kitchen.db")
    cfg.kitchen.photo_max_bytes = 200 * 1024
    cfg.kitchen.photo_max_pixels = 4_000_000
    with TestClient(create_app(cfg, FastGenerator())) as c:
        yield c


def new_recipe(client) -> int:
    body = {"title": "Pancakes", "servings": 4, "ingredients": ["2 cups flour", "2 eggs"], "directions": ["Mix."]}
    return client.post("/api/recipes", json=body).json()["id"]


def upload(client, rid, data: bytes, name="photo.jpg", headers=UPLOAD):
    return client.post(f"/api/recipes/{rid}/photos", files={"file": (name, data, "image/jpeg")}, headers=headers)


def test_upload_list_show_serve_delete(client):
    rid = new_recipe(client)
    r = upload(client, rid, rotated_png())
    assert r.status_code == 201, r.text
    photo = r.json()
    assert photo["object"] == "recipe_photo" and (photo["width"], photo["height"]) == (30, 60)
    assert client.get(f"/api/recipes/{rid}/photos").json()["data"] == [photo]
    recipe = client.get(f"/api/recipes/{rid}").json()
    assert recipe["photo"] == photo
    edit = {k: recipe[k] for k in ("version", "title", "ingredients", "directions", "tags", "category")}
    assert client.put(f"/api/recipes/{rid}", json={**edit, "servings": 6}).json()["photo"] == photo
    assert client.get("/api/recipes").json()["data"][0]["photo"] == photo
    img = client.get(photo["url"])
    assert img.status_code == 200 and img.headers["content-type"] == "image/webp"
    assert "immutable" in img.headers["cache-control"] and hashlib.sha256(img.content).hexdigest() == photo["hash"]
    thumb = client.get(photo["thumb_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.content)).size == (30, 60) and "immutable" in thumb.headers["cache-control"]
    page = client.get(f"/library/{rid}").text
    assert f'src="{photo["url"]}"' in page and f'"image": "http://testserver{photo["url"]}"' in page
    assert client.get("/api/library/jsonld").json()["@graph"][0]["image"].endswith(photo["url"])
    gone = client.delete(f"/api/recipes/{rid}/photos/{photo['id']}")
    assert gone.json() == {"id": photo["id"], "object": "recipe_photo", "deleted": True}
    assert client.get(photo["url"]).status_code == 404
    assert client.delete(f"/api/recipes/{rid}/photos/{photo['id']}").status_code == 404


def test_deleting_the_recipe_removes_its_files(client, tmp_path):
    rid = new_recipe(client)
    photo = upload(client, rid, image_bytes("PNG")).json()
    assert client.get(photo["url"]).status_code == 200
    client.delete(f"/api/recipes/{rid}")
    assert client.get(photo["url"]).status_code == 404 and not list((tmp_path / "photos").rglob("*.webp"))


@pytest.mark.parametrize(
    "data, status, code",
    [
        (image_bytes("PNG")[:-60], 400, "bad_image"),
        (zip_as_jpg(), 415, "unsupported_image"),
        (bomb_png(), 413, "image_too_large"),
        (image_bytes("BMP", size=(300, 300)), 413, "image_too_large"),  # 270 KB: over photo_max_bytes
    ],
    ids=["truncated", "zip", "bomb", "bytes"],
)
def test_api_refusals(client, data, status, code):
    rid = new_recipe(client)
    r = upload(client, rid, data)
    err = r.json()["error"]
    assert r.status_code == status and err["code"] == code and err["param"] == "file", r.text
    assert client.get(f"/api/recipes/{rid}/photos").json()["data"] == []


def test_body_over_the_limit_is_413_before_it_is_read(client):
    r = upload(client, new_recipe(client), b"\0" * (200 * 1024 + 70 * 1024))
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    assert "kitchen.photo_max_bytes" in r.json()["error"]["message"]


def test_a_form_post_from_another_site_is_refused(client):
    """No X-Requested-With (a plain HTML form or no-cors fetch cannot set it): 415, as for any non-JSON body."""
    r = upload(client, new_recipe(client), image_bytes("PNG"), headers={})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"


def test_unknown_recipe_and_bad_names(client):
    assert upload(client, 999, image_bytes("PNG")).json()["error"]["code"] == "recipe_not_found"
    assert client.get("/api/recipes/999/photos").status_code == 404
    for path in ("/photos/" + "a" * 64 + ".png", "/photos/..%2F..%2Fkitchen.db.webp", "/photos/" + "a" * 63 + ".webp"):
        assert client.get(path).status_code == 404, path
