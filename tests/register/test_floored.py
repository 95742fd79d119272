"""Register instants floored to the minute (how the simulated day reads its register):
two runs whose actions landed some seconds apart inside the same minutes give the same
figures."""

from __future__ import annotations

from datetime import timedelta

from cityops.domain.stages import Source
from cityops.register.kpis import KpiWindow, compute_kpis
from cityops.register.records import floored
from tests.register.fixtures import DAY, Ticket, at

MINUTE = timedelta(minutes=1)


def a_ticket(jitter: timedelta) -> Ticket:
    """Received just after 09:00, accepted in the minute of 09:04, `jitter` into it."""
    received = at("09:00") + timedelta(milliseconds=300)
    ticket = Ticket("T-1", Source.HOTLINE, received).place("CA01", "S01", None)
    ticket.dispatch(received + timedelta(milliseconds=90))
    return ticket.accept(at("09:04") + jitter, resolve_deadline=at("13:04") + jitter)


def test_flooring_takes_every_instant_to_its_minute() -> None:
    record = a_ticket(timedelta(seconds=41, milliseconds=7)).records[-1]
    shown = floored(record, MINUTE)
    assert shown.at == at("09:04") and shown.received_at == at("09:00")
    assert shown.resolve_deadline == at("13:04")
    assert record.at != shown.at  # the record itself is left as it was


def test_a_median_no_longer_depends_on_the_seconds_an_action_took() -> None:
    window = KpiWindow(DAY, DAY + timedelta(days=1), DAY + timedelta(days=1))

    def median(jitter: timedelta, step: timedelta | None) -> object:
        records = a_ticket(jitter).records
        if step is not None:
            records = [floored(record, step) for record in records]
        return compute_kpis(records, window)["median_minutes_to_accept"]

    fast, slow = timedelta(milliseconds=200), timedelta(seconds=5, milliseconds=900)
    assert median(fast, None) != median(slow, None)  # to the second they differ
    assert median(fast, MINUTE) == median(slow, MINUTE) == 4.0
