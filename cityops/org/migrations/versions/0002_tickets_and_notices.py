"""tickets, ticket events, notice deliveries

Revision ID: 0002_tickets_and_notices
Revises: 0001_organisation
Create Date: 2026-11-28

The ticket register (activities/store.py) and the notice delivery log
(activities/delivery_log.py), as their models stood when first migrated.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002_tickets_and_notices'
down_revision = '0001_organisation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notice_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=256), nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key', 'person_id', name='uq_notice_delivery_key_person')
    )
    with op.batch_alter_table('notice_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_delivery_idempotency_key'), ['idempotency_key'], unique=False)

    op.create_table('ticket_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.String(length=64), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ticket_id', 'event', 'stage', 'at', name='uq_ticket_event')
    )
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_events_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('tickets',
    sa.Column('ticket_id', sa.String(length=64), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('scenario_id', sa.String(length=8), nullable=True),
    sa.Column('street_code', sa.String(length=8), nullable=True),
    sa.Column('assignee_id', sa.String(length=64), nullable=True),
    sa.Column('tier', sa.String(length=16), nullable=True),
    sa.Column('text', sa.String(), nullable=True),
    sa.Column('address', sa.String(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('ticket_id')
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tickets_scenario_id'), ['scenario_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_stage'), ['stage'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_street_code'), ['street_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_workflow_id'), ['workflow_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_workflow_id'))
        batch_op.drop_index(batch_op.f('ix_tickets_street_code'))
        batch_op.drop_index(batch_op.f('ix_tickets_stage'))
        batch_op.drop_index(batch_op.f('ix_tickets_scenario_id'))

    op.drop_table('tickets')
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_events_ticket_id'))

    op.drop_table('ticket_events')
    with op.batch_alter_table('notice_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_delivery_idempotency_key'))

    op.drop_table('notice_delivery')
