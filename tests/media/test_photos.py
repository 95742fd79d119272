"""After-photos: EXIF time and GPS read from real JPEG bytes, type and size checks, the
local store and the S3 store (botocore's Stubber: the requests boto3 would send)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from PIL import Image
from sqlmodel import SQLModel

from cityops.config import Settings
from cityops.db.engine import get_engine
from cityops.media.exif import PhotoRejected, read_photo, thumbnail
from cityops.media.register import PhotoRegister, TicketPhotoRow
from cityops.media.store import (
    LocalPhotoStore,
    PhotoMissing,
    PhotoStoreError,
    S3PhotoStore,
    photo_store,
)
from tests.photos import jpeg

TAKEN = datetime(2026, 12, 3, 7, 30, 15, tzinfo=UTC)


def test_gps_clock_and_position_are_read_from_the_exif() -> None:
    facts = read_photo(jpeg(TAKEN, 31.2050, 121.6000))
    assert facts.content_type == "image/jpeg"
    assert facts.taken_at == TAKEN
    assert facts.lat == pytest.approx(31.2050, abs=1e-6)
    assert facts.lon == pytest.approx(121.6000, abs=1e-6)
    assert facts.has_place_and_time


def test_without_a_gps_clock_the_original_time_and_its_offset_count() -> None:
    facts = read_photo(jpeg(TAKEN, -33.5, -70.25, gps_clock=False))
    assert facts.taken_at == TAKEN  # 15:30:15 +08:00 is 07:30:15 UTC
    assert facts.lat == pytest.approx(-33.5) and facts.lon == pytest.approx(-70.25)


def test_a_photo_without_exif_has_no_place_or_time() -> None:
    facts = read_photo(jpeg())
    assert (facts.taken_at, facts.lat, facts.lon) == (None, None, None)
    assert not facts.has_place_and_time


def test_png_is_taken_and_gif_and_text_are_refused_in_chinese() -> None:
    png = io.BytesIO()
    Image.new("RGB", (10, 10)).save(png, "PNG")
    assert read_photo(png.getvalue()).content_type == "image/png"
    gif = io.BytesIO()
    Image.new("P", (10, 10)).save(gif, "GIF")
    with pytest.raises(PhotoRejected, match="不支持的图片格式 GIF"):
        read_photo(gif.getvalue())
    with pytest.raises(PhotoRejected, match="不是可识别的图片"):
        read_photo(b"%PDF-1.4 not a photo")
    with pytest.raises(PhotoRejected, match="损坏"):
        read_photo(jpeg(TAKEN)[:600])


def test_thumbnail_is_a_small_jpeg_without_the_gps() -> None:
    small = thumbnail(jpeg(TAKEN, 31.2, 121.6, size=(1600, 1200)))
    image = Image.open(io.BytesIO(small))
    assert image.format == "JPEG" and max(image.size) <= 320
    assert not image.getexif().get_ifd(0x8825)


def test_local_store_keeps_bytes_under_its_root_and_refuses_odd_keys(tmp_path: Path) -> None:
    store = LocalPhotoStore(tmp_path / "photos")
    store.put("PD1/abc.jpg", b"bytes", "image/jpeg")
    assert store.get("PD1/abc.jpg") == b"bytes"
    assert (tmp_path / "photos" / "PD1" / "abc.jpg").read_bytes() == b"bytes"
    with pytest.raises(PhotoMissing):
        store.get("PD1/other.jpg")
    for key in ("../etc/passwd", "PD1/../../x.jpg", "/abs/x.jpg", "PD1/x"):
        with pytest.raises(PhotoStoreError):
            store.put(key, b"", "image/jpeg")


def test_the_register_stores_photo_and_thumbnail_and_finds_them(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'photos.db'}")
    SQLModel.metadata.create_all(engine, tables=[TicketPhotoRow.__table__])  # type: ignore[attr-defined]
    register = PhotoRegister(engine, LocalPhotoStore(tmp_path / "store"))
    data = jpeg(TAKEN, 31.2, 121.6)
    row = register.save("PD1", "P-1", data, read_photo(data), 12.5)
    assert len(row.photo_id) == 32
    assert register.store.get(row.key) == data
    assert Image.open(io.BytesIO(register.store.get(row.thumb_key))).format == "JPEG"
    [found] = register.for_ticket("PD1")
    assert found.photo_id == row.photo_id and found.distance_m == 12.5
    assert found.taken_at is not None and found.taken_at - TAKEN < timedelta(seconds=1)


def test_settings_choose_the_store(tmp_path: Path) -> None:
    assert isinstance(photo_store(Settings(photo_dir=tmp_path)), LocalPhotoStore)
    s3 = photo_store(Settings(photo_store="s3", s3_endpoint="http://127.0.0.1:9", s3_bucket="b"))
    assert isinstance(s3, S3PhotoStore) and s3.bucket == "b"
    with pytest.raises(PhotoStoreError, match="expected local or s3"):
        photo_store(Settings(photo_store="ftp"))


def test_s3_store_puts_and_gets_objects_in_its_bucket() -> None:
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    store = S3PhotoStore(client, "cityops-photos")
    with Stubber(client) as stub:
        stub.add_response(
            "put_object",
            {},
            {
                "Bucket": "cityops-photos",
                "Key": "PD1/abc.jpg",
                "Body": b"bytes",
                "ContentType": "image/jpeg",
            },
        )
        stub.add_response(
            "get_object",
            {"Body": StreamingBody(io.BytesIO(b"bytes"), 5)},
            {"Bucket": "cityops-photos", "Key": "PD1/abc.jpg"},
        )
        stub.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404)
        stub.add_client_error("put_object", service_error_code="AccessDenied", http_status_code=403)
        store.put("PD1/abc.jpg", b"bytes", "image/jpeg")
        assert store.get("PD1/abc.jpg") == b"bytes"
        with pytest.raises(PhotoMissing):
            store.get("PD1/gone.jpg")
        with pytest.raises(PhotoStoreError, match="AccessDenied"):
            store.put("PD1/abc.jpg", b"bytes", "image/jpeg")
        stub.assert_no_pending_responses()
