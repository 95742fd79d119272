"""API keys bound to a person, a scope and an expiry; acting for others is a permission;
the register records who acted on another's behalf

Keys made before this revision keep no person and the district's scope: they may read
and post but act as nobody (docs/api.md).

Revision ID: 0014_identity
Revises: 0013_front_door
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0014_identity'
down_revision = '0013_front_door'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person', sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column('scope', sa.String(length=48), nullable=False, server_default='district')
        )
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column('act_for', sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # The defaults filled the existing rows; new rows always name both.
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.alter_column('scope', server_default=None)
        batch_op.alter_column('act_for', server_default=None)
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acted_by', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.drop_column('acted_by')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('act_for')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('scope')
        batch_op.drop_column('person')
