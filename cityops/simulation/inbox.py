"""The simulated people's phones: every notice the engine sends lands here.

Two activities are replaced under their real names: `send_notice` (a message goes out)
and `group_notice` (a follow-up about an incident's ticket is handed to the person's
notice group, which sends it at once or with the incident's other follow-ups in one
`grouped` message at the end of its window, workflows/notice_group.py). The replacement
`group_notice` records what it was handed and then does what the real one does, so the
groups run as in production and their messages come back here through `send_notice`.
`unmatched` says which handed follow-ups no delivered message carried: the other side
of "no notice lost" for grouped follow-ups.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from temporalio import activity

from cityops.activities.grouping import NoticeGroupActivities
from cityops.domain.models import Notice, NoticeReceipt, notice_group_workflow_id
from cityops.domain.stages import NoticeKind


@dataclass(frozen=True)
class Delivered:
    """A notice as it reached the simulated phones, stamped with the server's time at
    which it was sent (the activity's scheduled time)."""

    notice: Notice
    sent_at: datetime


@dataclass(frozen=True)
class Handed:
    """One follow-up handed to one person's notice group."""

    key: str  # the notice's idempotency key
    person: str
    ticket_id: str
    kind: NoticeKind
    facts: str  # the facts as sorted JSON: what a grouped message's item carries
    at: datetime  # when the ticket handed it over
    window: timedelta
    group_workflow: str


def facts_key(facts: dict[str, str]) -> str:
    return json.dumps(facts, ensure_ascii=False, sort_keys=True)


@dataclass
class Inbox:
    # The server's clock. A local activity's scheduled time is the worker's wall clock,
    # not the (skipped) time of the workflow task that runs it: a ticket's assignment
    # notice (engine revision 2) is stamped with the server's time instead.
    server_time: Callable[[], Awaitable[datetime]] | None = None
    delivered: list[Delivered] = field(default_factory=list)
    handed: dict[tuple[str, str], Handed] = field(default_factory=dict)
    _seen: set[tuple[str, tuple[str, ...]]] = field(default_factory=set)
    _groups: NoticeGroupActivities = field(default_factory=NoticeGroupActivities)

    @property
    def notices(self) -> list[Notice]:
        return [d.notice for d in self.delivered]

    @property
    def group_workflows(self) -> list[str]:
        return sorted({h.group_workflow for h in self.handed.values()})

    @activity.defn(name="send_notice")
    async def send_notice(self, notice: Notice) -> NoticeReceipt:
        # A retried activity carries the same key; a follow-up to two people goes out from
        # two groups under one key, one recipient each.
        seen = (notice.idempotency_key, tuple(r.person_id for r in notice.recipients))
        if seen not in self._seen:
            self._seen.add(seen)
            info = activity.info()
            sent_at = info.scheduled_time
            if info.is_local and self.server_time is not None:
                sent_at = await self.server_time()
            self.delivered.append(Delivered(notice, sent_at))
        return NoticeReceipt(delivered_to=[r.person_id for r in notice.recipients])

    @activity.defn(name="group_notice")
    async def group_notice(self, notice: Notice) -> NoticeReceipt:
        assert notice.group_key is not None and notice.group_window is not None
        for recipient in notice.recipients:
            self.handed.setdefault(
                (notice.idempotency_key, recipient.person_id),
                Handed(
                    notice.idempotency_key,
                    recipient.person_id,
                    notice.ticket_id,
                    notice.kind,
                    facts_key(notice.facts),
                    activity.info().scheduled_time,
                    notice.group_window,
                    notice_group_workflow_id(recipient.person_id, notice.group_key),
                ),
            )
        return await self._groups.group_notice(notice)


def readings(delivered: Delivered) -> list[Notice]:
    """What a person reads in one message: the notice itself, or each follow-up a
    grouped message carries, as a notice of its own about its ticket."""
    notice = delivered.notice
    if notice.kind is not NoticeKind.GROUPED:
        return [notice]
    return [
        notice.model_copy(
            update={
                "kind": item.kind,
                "ticket_id": item.ticket_id,
                "title": item.title,
                "facts": item.facts,
                "items": [],
            }
        )
        for item in notice.items
    ]


def unmatched(handed: dict[tuple[str, str], Handed], delivered: list[Delivered]) -> list[Handed]:
    """The handed follow-ups no delivered message carries: a group sends the first at
    once under its own key, later ones as items of a grouped message (matched by ticket,
    kind, person and facts)."""
    remaining = dict(handed)
    by_content: dict[tuple[str, NoticeKind, str, str], list[tuple[str, str]]] = {}
    for pair, one in sorted(handed.items(), key=lambda kv: (kv[1].at, kv[0])):
        by_content.setdefault((one.ticket_id, one.kind, one.person, one.facts), []).append(pair)
    for d in delivered:
        notice = d.notice
        person = notice.recipients[0].person_id if notice.recipients else ""
        if notice.kind is NoticeKind.GROUPED:
            for item in notice.items:
                content = (item.ticket_id, item.kind, person, facts_key(item.facts))
                pairs = [p for p in by_content.get(content, []) if p in remaining]
                if pairs:
                    del remaining[pairs[0]]
        elif notice.group_key is not None:
            remaining.pop((notice.idempotency_key, person), None)
    return sorted(remaining.values(), key=lambda h: (h.at, h.key, h.person))
