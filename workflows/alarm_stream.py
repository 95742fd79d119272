"""The stream of events from the device that raised an alarm ticket: each event_id counts
once, and a firing after the ticket closed is kept to open the next ticket. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from cityops.domain.models import AlarmEvent


class Seen(StrEnum):
    DUPLICATE = "duplicate"  # this event_id was taken before
    AFTER_CLOSE = "after_close"  # the ticket is closed: not this ticket's any more
    RESOLVED = "resolved"  # the device reports normal
    FIRING = "firing"  # the device reports the problem (the first event or a repeat)


@dataclass
class AlarmStream:
    event_ids: set[str] = field(default_factory=set)
    count: int = 0
    next_firing: AlarmEvent | None = None  # fired as the ticket closed: opens the next one

    def take(self, event: AlarmEvent, ticket_closed: bool) -> Seen:
        if event.event_id in self.event_ids:
            return Seen.DUPLICATE
        self.event_ids.add(event.event_id)
        self.count += 1
        if ticket_closed:
            if event.status == "firing" and self.next_firing is None:
                self.next_firing = event
            return Seen.AFTER_CLOSE
        return Seen.RESOLVED if event.status == "resolved" else Seen.FIRING
