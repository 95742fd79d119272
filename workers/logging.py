"""structlog, configured once: console for people, JSON for machines (CITYOPS_LOG_FORMAT=json).

Logs never carry a caller's phone: code logs ticket numbers, never contacts, and as a
second line every structlog event and every standard-library record passes through
``redact_pii`` (domain/masking.py), which masks any phone-like number that slipped in.
Names cannot be told from other text, so code must not log them (the log-scan test in
tests/privacy/test_logs.py runs a whole ticket flow and looks).
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import structlog

from cityops.domain.masking import redact_text

_configured = False


def redact_pii(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: mask phone-like numbers in every string value."""
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact_text(value)
    return event_dict


class RedactingFilter(logging.Filter):
    """The same for standard-library records (temporalio, uvicorn, alembic)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        return True


def processors(fmt: str = "console") -> list[structlog.typing.Processor]:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer()
    )
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
        redact_pii,
        renderer,
    ]


def configure_logging(fmt: str = "console", level: int = logging.INFO) -> None:
    global _configured
    if _configured:
        return
    structlog.configure(
        processors=processors(fmt),
        wrapper_class=structlog.make_filtering_bound_logger(level),
    )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    _configured = True
