"""Photos for tests: a JPEG with the EXIF time and GPS a phone camera writes (piexif),
or without any, so the page's checks can be driven both ways."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from fractions import Fraction

import piexif
from PIL import Image

from cityops.domain.zones import SHANGHAI


def _rational(value: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction((value - degrees - minutes / 60) * 3600).limit_denominator(10000)
    return (degrees, 1), (minutes, 1), (seconds.numerator, seconds.denominator)


def jpeg(
    taken_at: datetime | None = None,
    lat: float | None = None,
    lon: float | None = None,
    *,
    size: tuple[int, int] = (640, 480),
    gps_clock: bool = True,
) -> bytes:
    """A JPEG; with taken_at, DateTimeOriginal in Shanghai time (+08:00) and, when
    gps_clock, the GPS date and time in UTC; with lat/lon, the GPS position."""
    image = Image.new("RGB", size, (90, 140, 90))
    for x in range(0, size[0], 40):  # some structure, so the JPEG is not trivially small
        image.paste((200, 200, 200), (x, 0, x + 8, size[1]))
    exif: dict[str, dict[int, object]] = {"0th": {}, "Exif": {}, "GPS": {}}
    if taken_at is not None:
        local = taken_at.astimezone(SHANGHAI)
        exif["Exif"][piexif.ExifIFD.DateTimeOriginal] = local.strftime("%Y:%m:%d %H:%M:%S")
        exif["Exif"][piexif.ExifIFD.OffsetTimeOriginal] = "+08:00"
        if gps_clock:
            utc = taken_at.astimezone(UTC)
            exif["GPS"][piexif.GPSIFD.GPSDateStamp] = utc.strftime("%Y:%m:%d")
            exif["GPS"][piexif.GPSIFD.GPSTimeStamp] = (
                (utc.hour, 1),
                (utc.minute, 1),
                (utc.second, 1),
            )
    if lat is not None and lon is not None:
        exif["GPS"][piexif.GPSIFD.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        exif["GPS"][piexif.GPSIFD.GPSLatitude] = _rational(abs(lat))
        exif["GPS"][piexif.GPSIFD.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        exif["GPS"][piexif.GPSIFD.GPSLongitude] = _rational(abs(lon))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=piexif.dump(exif))
    return out.getvalue()
