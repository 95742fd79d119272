"""structlog, configured once: console for people, JSON for machines (CITYOPS_LOG_FORMAT=json)."""

from __future__ import annotations

import logging

import structlog

_configured = False


def configure_logging(fmt: str = "console", level: int = logging.INFO) -> None:
    global _configured
    if _configured:
        return
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
    )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _configured = True
