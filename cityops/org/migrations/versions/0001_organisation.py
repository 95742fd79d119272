"""organisation: units, persons, duty shifts

Revision ID: 0001_organisation
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_organisation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_unit",
        sa.Column("code", sa.String(length=32), primary_key=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parent_code", sa.String(length=32), sa.ForeignKey("org_unit.code"), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("boundary_wkt", sa.Text(), nullable=True),
    )
    op.create_index("ix_org_unit_parent_code", "org_unit", ["parent_code"])
    op.create_table(
        "org_person",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("unit_code", sa.String(length=32), sa.ForeignKey("org_unit.code"), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("contacts", sa.JSON(), nullable=False),
    )
    op.create_index("ix_org_person_unit_code", "org_person", ["unit_code"])
    op.create_table(
        "org_duty_shift",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("unit_code", sa.String(length=32), sa.ForeignKey("org_unit.code"), nullable=False),
        sa.Column("person_id", sa.String(length=32), sa.ForeignKey("org_person.id"), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=True),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
    )
    op.create_index("ix_org_duty_shift_unit_person", "org_duty_shift", ["unit_code", "person_id"])


def downgrade() -> None:
    op.drop_index("ix_org_duty_shift_unit_person", table_name="org_duty_shift")
    op.drop_table("org_duty_shift")
    op.drop_index("ix_org_person_unit_code", table_name="org_person")
    op.drop_table("org_person")
    op.drop_index("ix_org_unit_parent_code", table_name="org_unit")
    op.drop_table("org_unit")
