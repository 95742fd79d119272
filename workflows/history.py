"""A ticket's history, the log a supervisor reads: who did what, when. Pure, no Temporal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cityops.domain.models import HistoryEntry
from cityops.domain.stages import Stage


def entry(
    at: datetime,
    stage: Stage,
    event: str,
    *,
    by: str | None = None,
    detail: str = "",
    acted_by: str | None = None,
) -> HistoryEntry:
    """One entry; `acted_by`: who did it on behalf of `by` (kept only when it differs)."""
    return HistoryEntry(
        at=at,
        stage=stage,
        event=event,
        by=by,
        acted_by=acted_by if acted_by != by else None,
        detail=detail,
    )


@dataclass
class TicketHistory:
    entries: list[HistoryEntry] = field(default_factory=list)

    def note(
        self,
        at: datetime,
        stage: Stage,
        event: str,
        *,
        by: str | None = None,
        detail: str = "",
        acted_by: str | None = None,
    ) -> None:
        self.entries.append(entry(at, stage, event, by=by, detail=detail, acted_by=acted_by))

    def repeat(self, at: datetime, stage: Stage, event: str, event_id: str) -> None:
        """One more repeat of `event` (an alarm firing again): summarised in one row with
        the count and the first and last instants, not one row each."""
        for index, entry in enumerate(self.entries):
            if entry.event == event:
                self.entries[index] = entry.model_copy(
                    update={
                        "count": entry.count + 1,
                        "last_at": at,
                        "detail": f"{event_id} (last of {entry.count + 1})",
                    }
                )
                return
        self.entries.append(
            HistoryEntry(at=at, stage=stage, event=event, detail=event_id, last_at=at)
        )

    def events(self) -> list[str]:
        return [entry.event for entry in self.entries]
