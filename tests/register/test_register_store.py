"""The lasting register on SQLite and PostgreSQL: idempotent event writes, the ticket's
stage follows its latest event whatever order writes arrive in, rows written before the
register survive the migration, and what the loader reads back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, text
from sqlmodel import Session, col, select
from temporalio.testing import ActivityEnvironment

from cityops.activities.store import StoreActivities, save_record
from cityops.domain.models import TicketIntake, TicketRecord
from cityops.domain.register import RegisterEvent, event_key
from cityops.domain.stages import Dimension, Source, Stage, Tier
from cityops.org.migrate import upgrade
from cityops.privacy.keys import load_keyring
from cityops.register.read import load_records, station_workflows, ticket_place
from cityops.register.tables import TicketEventRow, TicketRow, utc
from cityops.register.write import write_event, write_events

RECEIVED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STAGES = [
    ("received", Stage.INTAKE, None),
    ("classified", Stage.CLASSIFIED, None),
    ("dispatched", Stage.AWAITING_ACCEPT, None),
    ("accepted", Stage.ACCEPTED, "P-T01-3"),
    ("resolved", Stage.RESOLVED, "P-T01-3"),
    ("verifying", Stage.VERIFYING, None),
    ("callback_unsatisfied", Stage.VERIFYING, "hotline-7"),
    ("reopened", Stage.REOPENED, None),
]


def events(ticket_id: str = "PD1") -> list[RegisterEvent]:
    made = []
    for seq, (event, stage, actor) in enumerate(STAGES):
        made.append(
            RegisterEvent(
                ticket_id=ticket_id, workflow_id=f"ticket-{ticket_id}",
                event_key=event_key(ticket_id, seq), seq=seq,
                at=RECEIVED + timedelta(minutes=seq), event=event, actor=actor,
                from_stage=STAGES[seq - 1][1] if seq else None, to_stage=stage,
                source=Source.HOTLINE, received_at=RECEIVED,
                scenario_id="PS03" if seq else None, category_id="PS" if seq else None,
                dimension=Dimension.SAFE if seq else None,
                street_code="T01" if seq > 1 else None, station_code="T01-01" if seq > 1 else None,
                tier=Tier.VILLAGE if seq > 1 else None,
                resolve_deadline=RECEIVED + timedelta(hours=4) if seq > 2 else None,
                address="浦东新区张江镇碧波路690号" if seq == 0 else None,
                text="井盖不见了" if seq == 0 else None,
            )
        )  # fmt: skip
    return made


def _count(engine: Engine, table: type[TicketRow] | type[TicketEventRow]) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(table)).one())


def test_each_event_is_stored_once_and_the_ticket_shows_the_latest_stage(
    database_url: str, engine: Engine
) -> None:
    upgrade(database_url)
    store = StoreActivities(engine)
    env = ActivityEnvironment()
    written = events()
    # Out of order, and the last two delivered twice (a retried local activity).
    for event in [written[3], *written[:3], *written[4:], written[7], written[6]]:
        env.run(store.record_event, event)
    assert write_event(engine, written[5]) is False

    assert _count(engine, TicketEventRow) == len(STAGES)
    with Session(engine) as session:
        row = session.get(TicketRow, "PD1")
        assert row is not None
        assert (row.stage, row.last_seq, row.street_code) == ("reopened", 7, "T01")
        assert (row.text, row.address) == ("井盖不见了", "浦东新区张江镇碧波路690号")
        assert utc(row.received_at) == RECEIVED and row.closed_at is None
        logged = session.exec(
            select(TicketEventRow).order_by(col(TicketEventRow.seq))
        ).all()  # fmt: skip
        assert [(e.event, e.from_stage, e.stage, e.actor) for e in logged][-2:] == [
            ("callback_unsatisfied", "verifying", "verifying", "hotline-7"),
            ("reopened", "verifying", "reopened", None),
        ]


def test_a_batch_stores_what_the_events_one_by_one_store(database_url: str, engine: Engine) -> None:
    """record_events (one transaction a batch, one ticket upsert per ticket) leaves the
    rows that writing each event alone leaves; a batch repeated adds nothing."""
    upgrade(database_url)
    store = StoreActivities(engine)
    env = ActivityEnvironment()
    one_by_one, batched = events("PB1"), events("PB2")
    for event in one_by_one:
        env.run(store.record_event, event)

    def row_of(ticket_id: str) -> tuple[object, ...]:
        with Session(engine) as session:
            row = session.get(TicketRow, ticket_id)
            assert row is not None
            return (row.stage, row.last_seq, row.street_code, row.text, row.address,
                    utc(row.received_at), row.closed_at, row.assignee_id)  # fmt: skip

    # Batches out of order, the later one holding an older event again (a retried write).
    env.run(store.record_events, [batched[2], *batched[:2]])
    assert row_of("PB2")[:2] == (batched[2].to_stage.value, 2)  # the batch's latest
    env.run(store.record_events, [*batched[3:], batched[0]])
    env.run(store.record_events, batched)
    assert _count(engine, TicketEventRow) == 2 * len(STAGES)
    assert row_of("PB2") == row_of("PB1")
    assert row_of("PB2")[:2] == ("reopened", 7)


def test_a_final_event_closes_the_ticket_and_a_late_earlier_event_does_not_reopen_it(
    database_url: str, engine: Engine
) -> None:
    upgrade(database_url)
    written = events("PD2")
    closed = written[-1].model_copy(
        update={"event_key": event_key("PD2", 8), "seq": 8, "event": "closed",
                "from_stage": Stage.REOPENED, "to_stage": Stage.CLOSED,
                "at": RECEIVED + timedelta(hours=2)}
    )  # fmt: skip
    write_event(engine, closed)
    for event in written:
        write_event(engine, event)
    with Session(engine) as session:
        row = session.get(TicketRow, "PD2")
        assert row is not None and row.stage == "closed"
        assert row.closed_at is not None and utc(row.closed_at) == RECEIVED + timedelta(hours=2)


def test_the_loader_reads_the_window_and_the_tickets_still_open(
    database_url: str, engine: Engine
) -> None:
    upgrade(database_url)
    for event in events("PD3"):
        write_event(engine, event)
    start = RECEIVED - timedelta(hours=1)
    records = load_records(engine, start, start + timedelta(days=1), start + timedelta(days=1))
    assert [r.event for r in records] == [name for name, _, _ in STAGES]
    assert records[0].received_at == RECEIVED and records[0].at.tzinfo is not None
    assert records[0].address == "浦东新区张江镇碧波路690号"
    # A later window still sees it: it is open.
    later = RECEIVED + timedelta(days=3)
    assert load_records(engine, later, later + timedelta(days=1), later + timedelta(days=1))
    # As of a moment before its events, the events after it are not read.
    early = load_records(engine, start, start + timedelta(days=1), RECEIVED + timedelta(minutes=2))
    assert [r.event for r in early] == ["received", "classified", "dispatched"]


def test_rows_of_the_earlier_writer_survive_the_migration(
    database_url: str, engine: Engine
) -> None:
    upgrade(database_url, "0003_alarm_intake")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tickets (ticket_id, workflow_id, source, stage, received_at, "
                "updated_at) VALUES ('OLD1', 'ticket-OLD1', 'hotline', 'closed', :r, :u)"
            ),
            {"r": RECEIVED, "u": RECEIVED + timedelta(hours=1)},
        )
        for event, stage, minutes in [
            ("dispatched", "awaiting_accept", 1),
            ("closed", "closed", 60),
        ]:
            connection.execute(
                text(
                    "INSERT INTO ticket_events (ticket_id, event, stage, at) "
                    "VALUES ('OLD1', :e, :s, :a)"
                ),
                {"e": event, "s": stage, "a": RECEIVED + timedelta(minutes=minutes)},
            )
    upgrade(database_url)
    with Session(engine) as session:
        row = session.get(TicketRow, "OLD1")
        assert row is not None and row.closed_at is not None
        keys = session.exec(select(TicketEventRow.event_key)).all()
        assert len(set(keys)) == 2 and all(k.startswith("OLD1/") for k in keys)
    # The earlier writer still works on the new schema (tickets in flight replay with it).
    intake = TicketIntake(ticket_id="OLD2", source=Source.HOTLINE, received_at=RECEIVED)
    record = TicketRecord(
        ticket_id="OLD2", workflow_id="ticket-OLD2", stage=Stage.CLOSED, intake=intake,
        event="closed", at=RECEIVED + timedelta(hours=1),
    )  # fmt: skip
    save_record(engine, record, load_keyring())
    save_record(engine, record, load_keyring())
    start = RECEIVED - timedelta(hours=1)
    folded = load_records(engine, start, start + timedelta(days=1), start + timedelta(days=1))
    assert {r.ticket_id for r in folded} == {"OLD1", "OLD2"} and len(folded) == 3


def test_scope_reads_take_the_latest_route_and_page_a_station_exactly(
    database_url: str, engine: Engine
) -> None:
    """What scope checks and a station key's list read (no workflow query): the street and
    station of the ticket's latest route, and the station's newest tickets, limited in
    SQL. Twelve tickets of T01, every third at T01-01; one moved to T01-02 by a later
    event; a page of two holds exactly the two newest still at T01-01."""
    upgrade(database_url)
    for number in range(12):
        ticket = f"PD{number:02d}"
        station = "T01-01" if number % 3 == 0 else "T01-05"
        made = [
            e.model_copy(
                update={
                    "received_at": RECEIVED + timedelta(hours=number),
                    "station_code": station if e.station_code else None,
                }
            )
            for e in events(ticket)[:4]
        ]
        write_events(engine, made)
    moved = events("PD09")[4].model_copy(
        update={"station_code": "T01-02", "received_at": RECEIVED + timedelta(hours=9)}
    )
    write_events(engine, [moved])
    assert ticket_place(engine, "PD09") == ("T01", "T01-02")
    assert ticket_place(engine, "PD06") == ("T01", "T01-01")
    assert ticket_place(engine, "PD99") is None
    assert station_workflows(engine, "T01-01", limit=2) == ["ticket-PD06", "ticket-PD03"]
    assert station_workflows(engine, "T01-01", stage="accepted", limit=9) == [
        "ticket-PD06", "ticket-PD03", "ticket-PD00",
    ]  # fmt: skip
    assert station_workflows(engine, "T01-01", stage="resolved", limit=9) == []
    assert station_workflows(engine, "T01-02", scenario="PS03", source="hotline") == ["ticket-PD09"]
