"""incidents: citizens' reports, places, silences

incident_tickets.device_id becomes nullable (a citizen's ticket has no device) and each
link says its source, role, basis and point; incidents get a primary ticket and a place;
maintenance windows (silences) and the events they swallowed (silence_hits).

Revision ID: 0010_incidents
Revises: 0004_responder_page
Create Date: 2026-12-03 08:09:21.194973
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010_incidents'
down_revision = '0004_responder_page'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('silence_hits',
    sa.Column('silence_id', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('device_id', sa.String(length=128), nullable=False),
    sa.Column('scenario_id', sa.String(length=8), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('silence_id', 'event_id')
    )
    op.create_table('silences',
    sa.Column('silence_id', sa.String(length=32), nullable=False),
    sa.Column('spec', sa.String(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('silence_id')
    )
    with op.batch_alter_table('silences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_silences_ends_at'), ['ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_silences_starts_at'), ['starts_at'], unique=False)

    with op.batch_alter_table('incident_tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('role', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('basis', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('lon', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('address_key', sa.String(length=200), nullable=True))
        batch_op.alter_column('device_id',
               existing_type=sa.VARCHAR(length=128),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_incident_tickets_address_key'), ['address_key'], unique=False)

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('primary_ticket_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('lon', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('address', sa.String(length=500), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('address')
        batch_op.drop_column('lon')
        batch_op.drop_column('lat')
        batch_op.drop_column('primary_ticket_id')

    # Links of citizens' tickets cannot survive a NOT NULL device_id.
    op.execute("DELETE FROM incident_tickets WHERE device_id IS NULL")
    with op.batch_alter_table('incident_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_tickets_address_key'))
        batch_op.alter_column('device_id',
               existing_type=sa.VARCHAR(length=128),
               nullable=False)
        batch_op.drop_column('address_key')
        batch_op.drop_column('lon')
        batch_op.drop_column('lat')
        batch_op.drop_column('basis')
        batch_op.drop_column('role')
        batch_op.drop_column('source')

    with op.batch_alter_table('silences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_silences_starts_at'))
        batch_op.drop_index(batch_op.f('ix_silences_ends_at'))

    op.drop_table('silences')
    op.drop_table('silence_hits')
