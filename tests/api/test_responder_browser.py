"""The responder's page in a real browser: Debian's headless chromium, driven by
Playwright, on a phone-sized screen. Open the link from the notice, accept, upload an
after-photo (a JPEG with EXIF time and GPS) and resolve; screenshots of every step are
kept under tmp/test-artifacts/responder-browser/ (or $CITYOPS_TEST_ARTIFACTS)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from cityops.config import PROJECT_ROOT
from tests.api.responder_helpers import PLACE, open_ticket, status
from tests.api.stack import Api
from tests.photos import jpeg

CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright never downloads a browser here
PHONE = ViewportSize(width=390, height=844)


def artifacts_dir() -> Path:
    root = Path(os.environ.get("CITYOPS_TEST_ARTIFACTS", PROJECT_ROOT / "tmp" / "test-artifacts"))
    directory = root / "responder-browser"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def serving(api: Api) -> AsyncIterator[str]:
    """The stack's app on a real HTTP port (its lifespan already runs in the stack)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(api.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def phone_browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            await browser.close()


async def shot(page: Page, directory: Path, name: str) -> None:
    await page.screenshot(path=str(directory / f"{name}.png"), full_page=True)


async def test_open_accept_upload_and_resolve_on_a_phone(api: Api, tmp_path: Path) -> None:
    directory = artifacts_dir()
    print(f"\nscreenshots: {directory}")
    ticket, _, path = await open_ticket(api)
    # EXIF keeps whole seconds: a second on, so the photo is not before the dispatch.
    photo = tmp_path / "after.jpg"
    photo.write_bytes(jpeg(datetime.now(UTC) + timedelta(seconds=1), PLACE[0], PLACE[1] + 0.0002))
    async with serving(api) as base, phone_browser() as browser:
        context = await browser.new_context(
            viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
        )
        page = await context.new_page()
        await page.goto(base + path)
        await page.get_by_text("暴露垃圾与偷倒建筑垃圾").first.wait_for()
        assert await page.locator("#phone").inner_text() == "139****1234"
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways on a phone: {width}px"
        await shot(page, directory, "01-opened")

        await page.locator("#form-accept button").tap()
        await page.get_by_text("已接单，请按时限处置").wait_for()
        assert await page.locator("#stage").inner_text() == "处置中"
        await shot(page, directory, "02-accepted")

        await page.locator("#resolve-note").fill("已清运完毕，现场恢复整洁")
        await page.locator("#resolve-photo").set_input_files(str(photo))
        await shot(page, directory, "03-photo-chosen")
        await page.locator("#act-resolve button[type=submit]").tap()
        await page.get_by_text("已提交办结，等待核验").wait_for()
        thumb = page.locator("#photos img").first
        await thumb.wait_for()
        assert await thumb.evaluate("img => img.complete && img.naturalWidth > 0")
        await shot(page, directory, "04-resolved")

        await page.goto(base + path + "/mine")
        await page.get_by_text("待办工单").wait_for()
        await shot(page, directory, "05-my-tickets")
        await context.close()
    assert (await status(api, ticket))["stage"] in ("resolved", "verifying")
    for name in ("01-opened", "02-accepted", "03-photo-chosen", "04-resolved", "05-my-tickets"):
        assert (directory / f"{name}.png").stat().st_size > 10_000
