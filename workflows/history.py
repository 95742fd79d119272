"""A ticket's history, the log a supervisor reads: who did what, when. Pure, no Temporal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cityops.domain.models import HistoryEntry
from cityops.domain.stages import Stage


@dataclass
class TicketHistory:
    entries: list[HistoryEntry] = field(default_factory=list)

    def note(
        self, at: datetime, stage: Stage, event: str, *, by: str | None = None, detail: str = ""
    ) -> None:
        self.entries.append(HistoryEntry(at=at, stage=stage, event=event, by=by, detail=detail))

    def events(self) -> list[str]:
        return [entry.event for entry in self.entries]
