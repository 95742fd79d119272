"""Read an uploaded after-photo: is it an image we take, when and where was it taken.

Pure apart from decoding the bytes with Pillow. The time comes from the GPS clock
(GPSDateStamp + GPSTimeStamp, always UTC) when the camera wrote it, else from
DateTimeOriginal with its OffsetTimeOriginal, else DateTimeOriginal read as Shanghai
time (phones sold here write local time without an offset). The place comes from the
GPS latitude and longitude with their N/S and E/W references.

Exceptions (one tree, each says what is wrong in Chinese for the person uploading):

    PhotoRejected(ValueError)      the upload is not an image we take
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from cityops.domain.zones import SHANGHAI

# What the page takes, by the format Pillow finds in the bytes (never the file name or
# the browser's content type, which anyone can set).
ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_PIXELS = 50_000_000  # a 50-megapixel phone photo; more is a decompression bomb
THUMB_SIZE = (320, 320)

_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4
_GPS_TIME, _GPS_DATE = 7, 29
_DATETIME_ORIGINAL, _OFFSET_ORIGINAL = 0x9003, 0x9011
_DATETIME = 0x0132


class PhotoRejected(ValueError):
    """The upload is not a photo the page takes; str(error) is the Chinese reason."""


@dataclass(frozen=True)
class PhotoFacts:
    content_type: str
    width: int
    height: int
    taken_at: datetime | None
    lat: float | None
    lon: float | None

    @property
    def has_place_and_time(self) -> bool:
        return self.taken_at is not None and self.lat is not None and self.lon is not None


def read_photo(data: bytes) -> PhotoFacts:
    """The facts of an uploaded image; PhotoRejected when it is not one we take."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image_format = image.format or ""
            width, height = image.size
            if width * height <= MAX_PIXELS:
                image.verify()  # a truncated or corrupt file fails here, not later
                exif = Image.open(io.BytesIO(data)).getexif()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected("文件不是可识别的图片，请上传 JPEG 或 PNG 照片") from None
    except (OSError, SyntaxError, ValueError):
        raise PhotoRejected("图片文件已损坏或不完整，请重新拍摄上传") from None
    if width * height > MAX_PIXELS:
        raise PhotoRejected(f"照片像素过大（{width}×{height}），请压缩后再传")
    content_type = ACCEPTED_FORMATS.get(image_format)
    if content_type is None:
        raise PhotoRejected(f"不支持的图片格式 {image_format or '未知'}，请上传 JPEG 或 PNG 照片")
    lat, lon = _gps_place(exif)
    return PhotoFacts(
        content_type=content_type,
        width=width,
        height=height,
        taken_at=_taken_at(exif),
        lat=lat,
        lon=lon,
    )


def thumbnail(data: bytes) -> bytes:
    """A small JPEG for the reviewer's list, turned upright by its EXIF orientation."""
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    image.thumbnail(THUMB_SIZE)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)  # no EXIF copied: the thumbnail carries no GPS
    return out.getvalue()


def _taken_at(exif: Image.Exif) -> datetime | None:
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    from_gps = _gps_instant(gps.get(_GPS_DATE), gps.get(_GPS_TIME))
    if from_gps is not None:
        return from_gps
    detail = exif.get_ifd(ExifTags.IFD.Exif)
    text = detail.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if not isinstance(text, str):
        return None
    try:
        local = datetime.strptime(text.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    zone = _offset(detail.get(_OFFSET_ORIGINAL)) or SHANGHAI
    return local.replace(tzinfo=zone).astimezone(UTC)


def _gps_instant(date_text: Any, time_parts: Any) -> datetime | None:
    if not isinstance(date_text, str) or not time_parts or len(time_parts) != 3:
        return None
    try:
        day = datetime.strptime(date_text.strip("\x00 "), "%Y:%m:%d")
        hours, minutes, seconds = (float(part) for part in time_parts)
    except (ValueError, TypeError, ZeroDivisionError):
        return None
    return day.replace(tzinfo=UTC) + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _offset(text: Any) -> timezone | None:
    if not isinstance(text, str) or len(text.strip("\x00 ")) != 6:
        return None
    text = text.strip("\x00 ")
    try:
        sign = -1 if text[0] == "-" else 1
        return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))
    except ValueError:
        return None


def _gps_place(exif: Image.Exif) -> tuple[float | None, float | None]:
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    lat = _degrees(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), "S")
    lon = _degrees(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return lat, lon


def _degrees(parts: Any, reference: Any, negative: str) -> float | None:
    if not parts or len(parts) != 3:
        return None
    try:
        degrees, minutes, seconds = (float(part) for part in parts)
    except (ValueError, TypeError, ZeroDivisionError):
        return None
    value = degrees + minutes / 60 + seconds / 3600
    if isinstance(reference, bytes):
        reference = reference.decode("ascii", "replace")
    return -value if str(reference).strip("\x00 ").upper() == negative else value
