"""Scope reads from the register, and the operator who ended a window

A station key's list and every scope check read the register's ``tickets`` row (its
street and station) instead of asking each workflow: ``station_code`` gets an index.
A window ended at the CLI records the operator who ended it on the named person's
behalf (``silences.ended_acted_by``; the operator who made one is in its spec). A window
made with a street or station key keeps that street (``silences.street_code``): other
streets' keys do not see it; windows from before, and the district's, have none.

Revision ID: 0015_scope_reads
Revises: 0014_identity
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0015_scope_reads'
down_revision = '0014_identity'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tickets_station_code'), ['station_code'], unique=False)
    with op.batch_alter_table('silences', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ended_acted_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('street_code', sa.String(length=8), nullable=True))
        batch_op.create_index(batch_op.f('ix_silences_street_code'), ['street_code'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('silences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_silences_street_code'))
        batch_op.drop_column('street_code')
        batch_op.drop_column('ended_acted_by')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_station_code'))
