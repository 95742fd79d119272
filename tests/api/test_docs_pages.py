"""Swagger UI and ReDoc come from the package, not a CDN: a headless Chromium that can
resolve no host but the API's renders both pages with the API's operations."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.api.stack import Api

CHROMIUM = "/usr/bin/chromium"


async def rendered(url: str, profile: Path) -> str:
    """The DOM after scripts ran, in a browser cut off from every other host."""
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=15000",
        "--dump-dom",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode(errors="replace")


async def test_swagger_ui_and_redoc_render_offline(served: Api, tmp_path: Path) -> None:
    for path in ("/docs", "/redoc"):
        page = (await served.http.get(path)).text
        assert "cdn." not in page and "fonts.googleapis" not in page, path
        assert "/docs-assets/" in page
    swagger = await rendered(f"{served.base_url}/docs", tmp_path / "swagger")
    assert 'class="swagger-ui' in swagger
    assert "opblock" in swagger  # operations were drawn from /openapi.json
    assert "/api/v1/alarms/rejected" in swagger
    redoc = await rendered(f"{served.base_url}/redoc", tmp_path / "redoc")
    assert "redoc-wrap" in redoc or "api-content" in redoc
    assert "Accept a ticket assigned to you" in redoc
    asset = await served.http.get("/docs-assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000
