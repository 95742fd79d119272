"""The real Temporal UI (the dev server's, as `cityops up` starts it with
--ui-codec-endpoint) in Debian's headless Chromium, driven by Playwright: a ticket's input
shows as ciphertext to anyone, and as the caller's phone and name once a supervisor has
signed in at /codec/login and set the UI's data encoder to this codec server with "Include
cross-origin credentials" (the settings the UI's Data Encoder dialog stores in the
browser, set here as that dialog does)."""

from __future__ import annotations

import asyncio
import base64
import socket
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from playwright.async_api import Page, async_playwright, expect
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cityops.api.app import create_app
from cityops.api.keys import Role, create_key
from cityops.config import Settings
from cityops.workers.client import data_converter
from cityops.workers.devserver import TEMPORAL_CLI
from cityops.workflows import search_attributes as sa
from tests.api.stack import seeded_organisation
from tests.conftest import fresh_queue
from tests.workflows.harness import intake, running

PHONE, NAME = "13900001234", "王先生"
CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright never downloads a browser here


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def sign_in(page: Page, api: str, key: str) -> None:
    await page.goto(f"{api}/codec/login")
    await page.fill("input[name=key]", key)
    await page.click("text=登录 sign in")
    await page.wait_for_selector("text=signed in: the Temporal UI")


async def use_codec_server_with_credentials(page: Page, ui: str, api: str) -> None:
    """What the UI's Data Encoder dialog saves: browser setting overrides the cluster's,
    this endpoint, cross-origin credentials included."""
    await page.goto(f"{ui}/namespaces/default/workflows")
    await page.evaluate(
        "localStorage.setItem('overrideRemoteCodecConfiguration', 'true');"
        f"localStorage.setItem('endpoint', JSON.stringify('{api}/codec'));"
        "localStorage.setItem('includeCredentials', 'true');"
    )


async def test_the_ui_shows_ciphertext_without_credentials_and_plaintext_with_them(
    tmp_path: Path,
) -> None:
    ui_port, api_port = free_port(), free_port()
    ui, api = f"http://localhost:{ui_port}", f"http://localhost:{api_port}"
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        data_converter=data_converter(),
        search_attributes=list(sa.ALL),
        ui=True,
        ui_port=ui_port,
        dev_server_extra_args=["--ui-codec-endpoint", f"{api}/codec"],
        dev_server_log_level="error",
    )
    org = seeded_organisation(tmp_path)
    settings = Settings(database_url=org.url, task_queue=fresh_queue(), ui_port=ui_port)

    async def provide() -> Client:
        return env.client

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, provide), host="127.0.0.1", port=api_port, log_level="warning"
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        supervisor = create_key(org.engine, Role.SUPERVISOR)
        async with running(env) as h:
            received = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
            await h.start(intake("T-UI", scenario="PS03", caller_name=NAME, received_at=received))
            handle = env.client.get_workflow_handle("ticket-T-UI")
            history = await handle.fetch_history()
            started = history.events[0].workflow_execution_started_event_attributes
            ciphertext = base64.b64encode(started.input.payloads[0].data).decode()
            run_id = (await handle.describe()).run_id
            page_url = f"{ui}/namespaces/default/workflows/ticket-T-UI/{run_id}/history"

            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox"]
                )
                page = await browser.new_page()
                await page.goto(page_url)
                # The UI's CSP forbids evaluated strings: wait through locators only.
                await expect(page.locator("body")).to_contain_text(ciphertext[:40], timeout=30_000)
                seen = await page.inner_text("body")
                assert PHONE not in seen and NAME not in seen

                await sign_in(page, api, supervisor)
                await use_codec_server_with_credentials(page, ui, api)
                await page.goto(page_url)
                await expect(page.locator("body")).to_contain_text(PHONE, timeout=30_000)
                seen = await page.inner_text("body")
                assert NAME in seen and ciphertext[:40] not in seen
                await browser.close()
    finally:
        server.should_exit = True
        await serving
        await env.shutdown()
