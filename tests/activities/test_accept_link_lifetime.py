"""How long a one-tap accept link lasts: until the ticket's accept deadline on its working
calendar (plus an hour's grace), not a fixed few hours, so a P3 link sent on Friday
evening still works on Monday morning, and one sent before a holiday week after it.
All instants pinned; the deadlines come from the project calendar, as the workflow's."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from temporalio.testing import ActivityEnvironment

from cityops.activities.channels import OutgoingMessage
from cityops.activities.delivery_log import InMemoryDeliveryLog
from cityops.activities.notify import InMemoryContactDirectory, NotifyActivities, NotifySettings
from cityops.domain.models import ChannelKind, ContactChannel, Notice, Recipient
from cityops.domain.stages import NoticeKind, Priority, Tier
from cityops.domain.tokens import TokenExpired, verify_accept_token
from cityops.domain.zones import SHANGHAI
from cityops.rules.calendar import deadline_after
from cityops.rules.calendar_loader import project_working_hours
from cityops.rules.handling import default_handling_rules

SECRET = "link-lifetime-secret"
ZHANG = Recipient(person_id="p-zhang", name="张三", unit_code="T01-03", tier=Tier.VILLAGE)
GRACE = timedelta(hours=1)


class Recorded:
    """A channel sender that keeps what it was given."""

    def __init__(self) -> None:
        self.messages: list[OutgoingMessage] = []

    async def send(self, channel: ContactChannel, message: OutgoingMessage) -> None:
        self.messages.append(message)


def p3_accept_deadline(sent: datetime) -> datetime:
    sla = default_handling_rules().sla_for(Priority.P3)
    assert sla.working_time  # P3 counts working hours only
    return deadline_after(sent, sla.accept_within, True, project_working_hours())


async def link_sent_at(sent: datetime, facts: dict[str, str]) -> str:
    """The token of the accept link a notice sent at `sent` carries."""
    sender = Recorded()
    channel = ContactChannel(kind=ChannelKind.WEBHOOK, target="https://robot.example/hook")
    activities = NotifyActivities(
        InMemoryContactDirectory({"p-zhang": [channel]}),
        InMemoryDeliveryLog(),
        settings=NotifySettings(public_url="https://ops.example", token_secret=SECRET),
        senders=sender,
        clock=lambda: sent,
    )
    notice = Notice(
        kind=NoticeKind.ASSIGNED,
        ticket_id="PD20261127AAAA0001",
        idempotency_key="wf/run/1",
        recipients=[ZHANG],
        title="PD20261127AAAA0001 井盖缺失",
        facts=facts,
    )
    await ActivityEnvironment().run(activities.send_notice, notice)
    [message] = sender.messages
    assert message.accept_url is not None
    return message.accept_url.rpartition("/a/")[2]


@pytest.mark.parametrize(
    ("sent", "first_working_morning"),
    [
        # Friday 19:00: the P3 deadline lies in Monday's working hours.
        (datetime(2026, 11, 27, 19, 0, tzinfo=SHANGHAI), datetime(2026, 11, 30, 8, 45)),
        # The evening before National Day: the deadline is after the holiday week.
        (datetime(2026, 9, 30, 19, 0, tzinfo=SHANGHAI), datetime(2026, 10, 8, 8, 45)),
    ],
)
async def test_a_p3_link_sent_after_hours_works_the_next_working_morning(
    sent: datetime, first_working_morning: datetime
) -> None:
    deadline = p3_accept_deadline(sent)
    morning = first_working_morning.replace(tzinfo=SHANGHAI)
    assert deadline.date() == morning.date() and deadline > morning
    token = await link_sent_at(sent, {"accept_deadline": deadline.isoformat()})
    claim = verify_accept_token(token, SECRET, morning)
    assert claim.person_id == "p-zhang" and claim.expires_at == deadline + GRACE
    assert morning - sent > timedelta(hours=60)  # longer than any fixed few hours
    with pytest.raises(TokenExpired):
        verify_accept_token(token, SECRET, deadline + GRACE)


async def test_a_notice_without_an_accept_deadline_gets_the_fixed_lifetime() -> None:
    sent = datetime(2026, 11, 27, 19, 0, tzinfo=SHANGHAI)
    token = await link_sent_at(sent, {})
    claim = verify_accept_token(token, SECRET, sent)
    assert claim.expires_at == sent + NotifySettings("", "").accept_link_ttl


async def test_a_deadline_already_past_still_gives_the_grace_from_now() -> None:
    sent = datetime(2026, 11, 30, 12, 0, tzinfo=SHANGHAI)
    token = await link_sent_at(sent, {"accept_deadline": (sent - timedelta(hours=2)).isoformat()})
    assert verify_accept_token(token, SECRET, sent).expires_at == sent + GRACE
