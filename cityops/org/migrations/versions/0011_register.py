"""the lasting register: every event of every ticket, with who, from and to which stage

Revision ID: 0011_register
Revises: 0010_incidents
Create Date: 2026-12-03

`ticket_events` gains an idempotency key per event (rows already there get one made of
their ticket, event, stage and id), the actor, the stage before, and a snapshot of the
ticket's facts; `tickets` gains the facts the KPIs group by, its deadlines, when it
closed and the sequence number of the event it shows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0011_register'
down_revision = '0010_incidents'
branch_labels = None
depends_on = None

_TICKET_COLUMNS = [
    sa.Column('category_id', sa.String(length=8), nullable=True),
    sa.Column('dimension', sa.String(length=16), nullable=True),
    sa.Column('priority', sa.String(length=4), nullable=True),
    sa.Column('station_code', sa.String(length=32), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accept_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolve_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seq', sa.Integer(), nullable=True),
]

_EVENT_COLUMNS = [
    sa.Column('seq', sa.Integer(), nullable=True),
    sa.Column('from_stage', sa.String(length=32), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('scenario_id', sa.String(length=8), nullable=True),
    sa.Column('category_id', sa.String(length=8), nullable=True),
    sa.Column('dimension', sa.String(length=16), nullable=True),
    sa.Column('priority', sa.String(length=4), nullable=True),
    sa.Column('street_code', sa.String(length=8), nullable=True),
    sa.Column('station_code', sa.String(length=32), nullable=True),
    sa.Column('tier', sa.String(length=16), nullable=True),
    sa.Column('assignee_id', sa.String(length=64), nullable=True),
    sa.Column('accept_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolve_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paused', sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column('overdue', sa.Boolean(), nullable=False, server_default=sa.false()),
]


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        for column in _TICKET_COLUMNS:
            batch_op.add_column(column)
        batch_op.create_index(batch_op.f('ix_tickets_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_closed_at'), ['closed_at'], unique=False)
    # Tickets the earlier writer closed: their closing time is their last update.
    op.execute(
        "UPDATE tickets SET closed_at = updated_at "
        "WHERE stage IN ('closed', 'closed_unfixed', 'dismissed')"
    )

    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_key', sa.String(length=100), nullable=True))
        for column in _EVENT_COLUMNS:
            batch_op.add_column(column)
    op.execute(
        "UPDATE ticket_events SET event_key = "
        "ticket_id || '/' || event || '/' || stage || '/' || CAST(id AS VARCHAR(20))"
    )
    op.execute(
        "UPDATE ticket_events SET source = "
        "(SELECT t.source FROM tickets t WHERE t.ticket_id = ticket_events.ticket_id), "
        "received_at = "
        "(SELECT t.received_at FROM tickets t WHERE t.ticket_id = ticket_events.ticket_id)"
    )
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.alter_column('event_key', existing_type=sa.String(length=100), nullable=False)
        batch_op.drop_constraint('uq_ticket_event', type_='unique')
        batch_op.create_index(batch_op.f('ix_ticket_events_event_key'), ['event_key'], unique=True)
        batch_op.create_index(batch_op.f('ix_ticket_events_at'), ['at'], unique=False)
        batch_op.alter_column('paused', server_default=None)
        batch_op.alter_column('overdue', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_events_at'))
        batch_op.drop_index(batch_op.f('ix_ticket_events_event_key'))
        for column in reversed(_EVENT_COLUMNS):
            batch_op.drop_column(column.name)
        batch_op.drop_column('event_key')
    # Events of the register that the old constraint would refuse are dropped first.
    op.execute(
        "DELETE FROM ticket_events WHERE id NOT IN (SELECT MIN(id) FROM ticket_events "
        "GROUP BY ticket_id, event, stage, at)"
    )
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_ticket_event', ['ticket_id', 'event', 'stage', 'at'])

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_closed_at'))
        batch_op.drop_index(batch_op.f('ix_tickets_received_at'))
        for column in reversed(_TICKET_COLUMNS):
            batch_op.drop_column(column.name)
