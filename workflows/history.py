"""A ticket's history, the log a supervisor reads: who did what, when. Pure, no Temporal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cityops.domain.models import HistoryEntry
from cityops.domain.stages import Stage

# What a bounded history (the BOUNDED_STATE patch) keeps in a row and shows in a status.
DETAIL_CHARS = 2000  # a row's detail: a note, a reason; longer is cut, marked
SHOWN_FIRST = 20  # the status query shows the first rows (how the ticket began) ...
SHOWN_LAST = 80  # ... and the last (what happens now); the register keeps every row
# An update's answer is written into the ticket's Temporal history, once per action: it
# carries only the last rows, their details cut as the register cuts them.
ANSWER_LAST = 20
ANSWER_DETAIL_CHARS = 500
TRIMMED_EVENT = "history_trimmed"


def fitted(detail: str, limit: int = DETAIL_CHARS) -> str:
    """A detail of at most `limit` characters: a longer one cut, with a visible marker
    saying how much was left out."""
    if len(detail) <= limit:
        return detail
    marker = f"…[cut: {len(detail)} characters in all]"
    return detail[: limit - len(marker)] + marker


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
    # Tickets with the BOUNDED_STATE patch: details cut to DETAIL_CHARS, and a status shows
    # the first and last rows only (shown()). Older tickets keep theirs as they were.
    bounded: bool = False

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
        if self.bounded:
            detail = fitted(detail)
        self.entries.append(entry(at, stage, event, by=by, detail=detail, acted_by=acted_by))

    def shown(self, *, answer: bool = False) -> list[HistoryEntry]:
        """The rows a status carries. Bounded, for the status query: the first SHOWN_FIRST
        and the last SHOWN_LAST rows; for an update's answer: the last ANSWER_LAST, details
        cut at ANSWER_DETAIL_CHARS. A row where rows are left out says how many (every one
        is in the register), so no number of urges or notes can grow a status past
        Temporal's payload limit, nor an update's answer the ticket's history much."""
        entries = self.entries
        if not self.bounded:
            return list(entries)
        first, last = (0, ANSWER_LAST) if answer else (SHOWN_FIRST, SHOWN_LAST)
        if len(entries) > first + last:
            left_out = entries[first:-last]
            gap = HistoryEntry(
                at=left_out[0].at,
                stage=left_out[-1].stage,
                event=TRIMMED_EVENT,
                detail=f"{len(left_out)} entries not shown here; the ticket register keeps all",
                count=len(left_out),
                last_at=left_out[-1].at,
            )
            entries = [*entries[:first], gap, *entries[-last:]]
        if not answer:
            return list(entries)
        return [
            e.model_copy(update={"detail": fitted(e.detail, ANSWER_DETAIL_CHARS)})
            if len(e.detail) > ANSWER_DETAIL_CHARS
            else e
            for e in entries
        ]

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
