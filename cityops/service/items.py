"""One incoming item (an alarm event, or an Alertmanager alert) read on its own.

Every channel delivers a list of items; each is read separately, so a bad one is refused
(with the field and reason) while the others go through.

Exceptions::

    ItemRefused(Exception)   this item can never be an alarm event as it is; .field, .reason
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from cityops.domain.models import AlarmEvent


class ItemRefused(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


def first_error(exc: ValidationError) -> tuple[str, str]:
    """(field, reason) of a pydantic error: the first problem, and how many more."""
    errors = exc.errors()
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return field, f"{first['msg']}{more}"


def read_event(raw: Any) -> AlarmEvent:
    """An alarm event as the IoT platform sends it (spec: alarm_event.md)."""
    try:
        return AlarmEvent.model_validate(raw)
    except ValidationError as exc:
        raise ItemRefused(*first_error(exc)) from exc


def claimed_event_id(raw: Any) -> str | None:
    """The event id a refused item claims, if it has a usable one."""
    if isinstance(raw, dict):
        value = raw.get("event_id")
        if isinstance(value, str) and 0 < len(value) <= 128 and _storable(value):
            return value
    return None


def as_text(raw: Any) -> str:
    """The item as JSON text, unchanged in content, for the dead-letter table. Text that
    cannot be stored as it is (a lone surrogate) is kept as JSON escapes instead."""
    text = json.dumps(raw, ensure_ascii=False)
    return text if _storable(text) else json.dumps(raw, ensure_ascii=True)


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
