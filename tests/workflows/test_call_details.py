"""The Temporal UI's details of a call say what kind it is, not "triage"."""

from __future__ import annotations

from cityops.domain.models import CallFacts, Referral, TicketStatus
from cityops.domain.stages import CallKind, Source, Stage
from cityops.workflows.details import render_details


def test_a_referral_shows_its_kind_and_where_the_caller_was_sent() -> None:
    status = TicketStatus(
        ticket_id="PD1",
        stage=Stage.REFERRED,
        source=Source.HOTLINE,
        text="家里停电了",
        address=None,
        call=CallFacts(
            kind=CallKind.REFERRAL, referral=Referral(body="国网浦东供电公司", reference="95598")
        ),
    )
    text = render_details(status)
    assert text.startswith("**PD1** · call: referral")
    assert "triage" not in text
    assert "| referred to | 国网浦东供电公司: 95598 |" in text
