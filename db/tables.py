"""Imports every table module so SQLModel.metadata (and Alembic) sees all tables.

Each package that owns tables adds one import line here.
"""

from __future__ import annotations

from sqlmodel import SQLModel

import activities.delivery_log
import activities.store  # noqa: F401  (tickets, ticket_events)
import api.keys  # noqa: F401  (api_keys)
import intake.audit  # noqa: F401  (alarm_events, incidents, incident_tickets)
import org.models  # noqa: F401  (organisation: units, persons, duty shifts)

metadata = SQLModel.metadata
