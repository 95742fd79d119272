"""The API and `cityops up` refuse to serve other machines while the link-signing secret is
the default or short; on loopback they only warn."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs
from temporalio.client import Client
from typer.testing import CliRunner

from cityops.api.app import create_app
from cityops.cli.main import app as cli
from cityops.config import (
    DEFAULT_SECRET,
    InsecureSecret,
    Settings,
    check_secret,
    is_loopback,
    secret_weakness,
)

STRONG = "x" * 32
LOCAL = "http://127.0.0.1:8080"


class NotConnecting(Exception):
    """Raised by the client provider: the app got past its secret check."""


async def refuse_to_connect() -> Client:
    raise NotConnecting


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "cityops.example", ""])
def test_hosts_other_machines_reach(host: str) -> None:
    assert not is_loopback(host)


def test_a_weak_secret_is_the_default_or_under_32_bytes() -> None:
    assert secret_weakness(DEFAULT_SECRET) is not None
    assert "shorter than 32 bytes" in (secret_weakness("x" * 31) or "")
    assert secret_weakness("密" * 11) is None  # 33 bytes of UTF-8
    assert secret_weakness(STRONG) is None


@pytest.mark.parametrize(
    ("host", "public_url", "named"),
    [
        ("0.0.0.0", LOCAL, "CITYOPS_API_HOST"),
        ("127.0.0.1", "https://cityops.pudong.example", "CITYOPS_PUBLIC_URL"),
    ],
)
@pytest.mark.parametrize("secret", [DEFAULT_SECRET, "short-secret"])
def test_a_weak_secret_beyond_loopback_is_refused_naming_the_variable(
    host: str, public_url: str, named: str, secret: str
) -> None:
    settings = Settings(api_host=host, public_url=public_url, secret=secret)
    with pytest.raises(InsecureSecret) as refused:
        check_secret(settings)
    assert named in str(refused.value) and "CITYOPS_SECRET" in str(refused.value)
    strong = Settings(api_host=host, public_url=public_url, secret=STRONG)
    assert check_secret(strong) is None


def test_a_weak_secret_on_loopback_is_a_warning() -> None:
    warning = check_secret(Settings(api_host="127.0.0.1", public_url=LOCAL, secret=DEFAULT_SECRET))
    assert warning is not None and "CITYOPS_SECRET" in warning


async def test_the_api_refuses_to_start_before_connecting_to_anything() -> None:
    exposed = Settings(api_host="0.0.0.0", public_url=LOCAL, secret=DEFAULT_SECRET)
    app = create_app(exposed, refuse_to_connect)
    with pytest.raises(InsecureSecret, match=r"CITYOPS_API_HOST=0\.0\.0\.0"):
        async with app.router.lifespan_context(app):
            pass


async def test_the_api_warns_on_loopback_with_the_default_and_goes_on() -> None:
    local = Settings(api_host="127.0.0.1", public_url=LOCAL, secret=DEFAULT_SECRET)
    app = create_app(local, refuse_to_connect)
    with capture_logs() as logs, pytest.raises(NotConnecting):
        async with app.router.lifespan_context(app):
            pass
    assert any(entry["event"] == "weak_secret" for entry in logs)


def test_cityops_up_refuses_before_starting_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the stack was started")

    monkeypatch.setattr("cityops.workers.stack.run_up", started)
    monkeypatch.setenv("CITYOPS_API_HOST", "0.0.0.0")
    monkeypatch.delenv("CITYOPS_SECRET", raising=False)
    result = CliRunner().invoke(cli, ["up"])
    assert result.exit_code == 2
    assert "CITYOPS_API_HOST=0.0.0.0" in result.output and "CITYOPS_SECRET" in result.output
