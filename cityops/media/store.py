"""Where after-photos are kept: a local directory by default, an S3-compatible bucket by
configuration (``CITYOPS_PHOTO_STORE=s3``; MinIO, Ceph, OSS and AWS all speak it).

Both backends are blocking; callers in async code run them in a thread. Keys are made
by the application (``<ticket>/<photo id>.<ext>``), never taken from a request, and are
checked again here so no key can leave the store's directory.

Exceptions (one tree):

    PhotoStoreError(Exception)    the store cannot do it
    └── PhotoMissing              no object under that key
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol

from cityops.config import Settings

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_-]{1,64}\.[a-z]{2,4}$")


class PhotoStoreError(Exception):
    pass


class PhotoMissing(PhotoStoreError):
    pass


class PhotoStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...


def check_key(key: str) -> str:
    if not KEY_PATTERN.match(key):
        raise PhotoStoreError(f"not a photo key: {key!r}")
    return key


class LocalPhotoStore:
    """Files under one directory (``var/photos`` by default), one folder per ticket."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.root / check_key(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(path)  # readers never see half a photo

    def get(self, key: str) -> bytes:
        path = self.root / check_key(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise PhotoMissing(f"no photo {key}") from None


class S3PhotoStore:
    """Objects in one bucket of an S3-compatible store, through boto3."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self.bucket = bucket

    @classmethod
    def from_settings(cls, settings: Settings) -> S3PhotoStore:
        import boto3  # an optional dependency: only an S3 deployment needs it

        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint or None,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key or None,
            aws_secret_access_key=settings.s3_secret_key or None,
        )
        return cls(client, settings.s3_bucket)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.put_object(
                Bucket=self.bucket, Key=check_key(key), Body=data, ContentType=content_type
            )
        except (BotoCoreError, ClientError) as error:
            raise PhotoStoreError(f"S3 put {key}: {error}") from error

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=check_key(key))
            body: bytes = answer["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise PhotoMissing(f"no photo {key}") from error
            raise PhotoStoreError(f"S3 get {key}: {error}") from error
        except BotoCoreError as error:
            raise PhotoStoreError(f"S3 get {key}: {error}") from error
        return body


def photo_store(settings: Settings) -> PhotoStore:
    """The store the settings name: ``local`` (default) or ``s3``."""
    kind = settings.photo_store.strip().lower()
    if kind == "local":
        return LocalPhotoStore(settings.photo_dir)
    if kind == "s3":
        return S3PhotoStore.from_settings(settings)
    raise PhotoStoreError(f"CITYOPS_PHOTO_STORE={settings.photo_store!r}: expected local or s3")
