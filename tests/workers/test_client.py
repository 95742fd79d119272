"""Connection settings for a secured Temporal cluster come from the environment."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from cityops.config import Settings
from cityops.workers.client import connection_options


def test_the_dev_server_needs_no_options() -> None:
    assert connection_options(Settings()) == {}


def test_an_api_key_turns_tls_on() -> None:
    options = connection_options(replace(Settings(), temporal_api_key="k-123"))
    assert options == {"api_key": "k-123", "tls": True}


def test_a_client_certificate_is_read_from_its_files(tmp_path: Path) -> None:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    settings = replace(Settings(), temporal_tls_cert=str(cert), temporal_tls_key=str(key))
    tls = connection_options(settings)["tls"]
    assert isinstance(tls, TLSConfig)
    assert (tls.client_cert, tls.client_private_key) == (b"CERT", b"KEY")


def test_a_certificate_without_its_key_is_refused() -> None:
    with pytest.raises(ValueError, match="must be set together"):
        connection_options(replace(Settings(), temporal_tls_cert="/x.pem"))
