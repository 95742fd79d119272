"""One way to connect to Temporal: the pydantic data converter with the encryption codec,
settings from the environment (plain gRPC for the dev server; an API key or mTLS client
certificate for a secured cluster).

Every client and worker (API, CLI, workers, MQTT intake, benchmarks, tests) builds its
converter with ``data_converter()``, so no payload reaches Temporal unencrypted."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import TLSConfig

from cityops.config import Settings, get_settings
from cityops.privacy.codec import EncryptionCodec
from cityops.privacy.keys import KeyRing, load_keyring


def data_converter(settings: Settings | None = None, ring: KeyRing | None = None) -> DataConverter:
    """Pydantic payloads, encrypted with the configured key ring (or `ring`)."""
    ring = ring or load_keyring(settings or get_settings())
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(ring))


def connection_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for Client.connect beyond address and namespace."""
    options: dict[str, Any] = {}
    if settings.temporal_tls_cert or settings.temporal_tls_key:
        if not (settings.temporal_tls_cert and settings.temporal_tls_key):
            raise ValueError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together")
        options["tls"] = TLSConfig(
            client_cert=Path(settings.temporal_tls_cert).read_bytes(),
            client_private_key=Path(settings.temporal_tls_key).read_bytes(),
        )
    if settings.temporal_api_key:
        options["api_key"] = settings.temporal_api_key
        options.setdefault("tls", True)
    return options


async def connect(settings: Settings | None = None) -> Client:
    settings = settings or get_settings()
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        **connection_options(settings),
    )
