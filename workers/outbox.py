"""A local mail sink for `cityops up`: the demo organisation's people get e-mail, and
this keeps every message in var/outbox/ (one .eml each) and logs a line, so a user
can see what was sent without a real mail server."""

from __future__ import annotations

import asyncio
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import structlog
from aiosmtpd.controller import Controller

from cityops.config import get_settings
from cityops.workers.logging import configure_logging

log = structlog.get_logger()


class OutboxHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.count = len(list(folder.glob("*.eml")))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        path = self.folder / f"{self.count:06d}.eml"
        path.write_bytes(envelope.content)
        message = message_from_bytes(envelope.content, policy=policy.default)
        log.info(
            "mail_received", to=envelope.rcpt_tos, subject=str(message["subject"]), file=path.name
        )
        return "250 OK"


async def serve(port: int) -> None:
    folder = get_settings().var_dir / "outbox"
    controller = Controller(OutboxHandler(folder), hostname="127.0.0.1", port=port)
    controller.start()
    log.info("outbox_listening", port=port, folder=str(folder))
    try:
        await asyncio.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    configure_logging(get_settings().log_format)
    asyncio.run(serve(get_settings().smtp_port))
