"""Imports every table module so SQLModel.metadata (and Alembic) sees all tables.

Each package that owns tables adds one import line here.
"""

from __future__ import annotations

from sqlmodel import SQLModel

import activities.delivery_log  # noqa: F401  (notice_delivery)
import activities.store  # noqa: F401  (tickets, ticket_events)
import org.models  # noqa: F401  (organisation: units, persons, duty shifts)

metadata = SQLModel.metadata
