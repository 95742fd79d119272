"""alarm events, incidents, api keys

Revision ID: 0003_alarm_intake
Revises: 0002_tickets_and_notices
Create Date: 2026-11-28 13:20:22.045019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003_alarm_intake'
down_revision = '0002_tickets_and_notices'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alarm_events',
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('device_id', sa.String(length=128), nullable=False),
    sa.Column('sensor_type', sa.String(length=64), nullable=False),
    sa.Column('metric', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('scenario_id', sa.String(length=8), nullable=True),
    sa.Column('ticket_id', sa.String(length=64), nullable=True),
    sa.Column('workflow_id', sa.String(length=300), nullable=True),
    sa.Column('payload', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('alarm_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alarm_events_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alarm_events_outcome'), ['outcome'], unique=False)
        batch_op.create_index(batch_op.f('ix_alarm_events_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alarm_events_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('api_keys',
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key_id')
    )
    op.create_table('incident_tickets',
    sa.Column('incident_id', sa.String(length=64), nullable=False),
    sa.Column('ticket_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=128), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('incident_id', 'ticket_id')
    )
    op.create_table('incidents',
    sa.Column('incident_id', sa.String(length=64), nullable=False),
    sa.Column('scenario_id', sa.String(length=8), nullable=False),
    sa.Column('group_by', sa.String(length=16), nullable=False),
    sa.Column('group_key', sa.String(length=200), nullable=False),
    sa.Column('street_code', sa.String(length=8), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ticket_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('incident_id')
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_group_key'), ['group_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_scenario_id'), ['scenario_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_street_code'), ['street_code'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_street_code'))
        batch_op.drop_index(batch_op.f('ix_incidents_scenario_id'))
        batch_op.drop_index(batch_op.f('ix_incidents_group_key'))

    op.drop_table('incidents')
    op.drop_table('incident_tickets')
    op.drop_table('api_keys')
    with op.batch_alter_table('alarm_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alarm_events_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_alarm_events_received_at'))
        batch_op.drop_index(batch_op.f('ix_alarm_events_outcome'))
        batch_op.drop_index(batch_op.f('ix_alarm_events_device_id'))

    op.drop_table('alarm_events')
