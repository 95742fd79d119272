"""dead letters of refused alarm events, the Open311 register

Revision ID: 0013_front_door
Revises: 0012_callers_privacy
Create Date: 2026-12-03 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0013_front_door'
down_revision = '0012_callers_privacy'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dead_letters',
    sa.Column('letter_id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('origin', sa.String(length=300), nullable=False),
    sa.Column('item_index', sa.Integer(), nullable=True),
    sa.Column('event_id', sa.String(length=128), nullable=True),
    sa.Column('field', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('payload', sa.String(), nullable=False),
    sa.Column('truncated', sa.Boolean(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('times_received', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('replayed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('replay_outcome', sa.String(length=32), nullable=True),
    sa.Column('replay_ticket_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('letter_id'),
    sa.UniqueConstraint('fingerprint')
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dead_letters_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_dead_letters_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_dead_letters_status'), ['status'], unique=False)

    op.create_table('open311_requests',
    sa.Column('ticket_id', sa.String(length=64), nullable=False),
    sa.Column('jurisdiction_id', sa.String(length=64), nullable=False),
    sa.Column('service_code', sa.String(length=8), nullable=False),
    sa.Column('description', sa.String(length=4000), nullable=True),
    sa.Column('address', sa.String(length=500), nullable=True),
    sa.Column('address_id', sa.String(length=64), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('media_url', sa.String(length=2000), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('ticket_id')
    )
    with op.batch_alter_table('open311_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_open311_requests_requested_at'), ['requested_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_open311_requests_service_code'), ['service_code'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('open311_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_open311_requests_service_code'))
        batch_op.drop_index(batch_op.f('ix_open311_requests_requested_at'))

    op.drop_table('open311_requests')
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dead_letters_status'))
        batch_op.drop_index(batch_op.f('ix_dead_letters_received_at'))
        batch_op.drop_index(batch_op.f('ix_dead_letters_channel'))

    op.drop_table('dead_letters')
