"""callers' contact details sealed, erasures, how a phone was revealed; complaint texts masked

The register never held phones or names; its complaint texts could hold a caller's
number typed into the complaint, so existing texts are masked like new ones.

Revision ID: 0012_callers_privacy
Revises: 0011_register
Create Date: 2026-12-03 07:30:31.435552
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cityops.domain.masking import redact_text


revision = '0012_callers_privacy'
down_revision = '0011_register'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('caller_contacts',
    sa.Column('ticket_id', sa.String(length=64), nullable=False),
    sa.Column('phone_sealed', sa.String(length=400), nullable=True),
    sa.Column('name_sealed', sa.String(length=400), nullable=True),
    sa.Column('phone_hash', sa.String(length=64), nullable=True),
    sa.Column('key_id', sa.String(length=40), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('ticket_id')
    )
    with op.batch_alter_table('caller_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_caller_contacts_key_id'), ['key_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_caller_contacts_phone_hash'), ['phone_hash'], unique=False)

    tickets = sa.table('tickets', sa.column('ticket_id', sa.String()), sa.column('text', sa.String()))
    connection = op.get_bind()
    for ticket_id, text in connection.execute(sa.select(tickets.c.ticket_id, tickets.c.text)).all():
        masked = redact_text(text) or None
        if masked != text:
            connection.execute(
                tickets.update().where(tickets.c.ticket_id == ticket_id).values(text=masked)
            )

    with op.batch_alter_table('phone_reveals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('via', sa.String(length=80), nullable=False, server_default='page'))

    op.create_table('privacy_erasures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('ticket_ids', sa.String(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('privacy_erasures')
    with op.batch_alter_table('phone_reveals', schema=None) as batch_op:
        batch_op.drop_column('via')
    with op.batch_alter_table('caller_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_caller_contacts_phone_hash'))
        batch_op.drop_index(batch_op.f('ix_caller_contacts_key_id'))

    op.drop_table('caller_contacts')
