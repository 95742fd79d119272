"""Imports every table module so SQLModel.metadata (and Alembic) sees all tables.

Each package that owns tables adds one import line here.
"""

from __future__ import annotations

from sqlmodel import SQLModel

metadata = SQLModel.metadata
