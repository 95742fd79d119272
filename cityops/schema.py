"""Imports every table module so SQLModel.metadata (and Alembic) sees all tables.

Each package that owns tables adds one import line here.
"""

from __future__ import annotations

from sqlmodel import SQLModel

import cityops.activities.delivery_log
import cityops.activities.store
import cityops.api.keys
import cityops.db.audit
import cityops.db.deadletters
import cityops.db.open311
import cityops.db.page_links
import cityops.db.silences
import cityops.media.register
import cityops.org.models  # organisation: units, persons, duty shifts
import cityops.privacy.register  # callers' sealed contacts, erasures
import cityops.register.tables  # noqa: F401  (the lasting register: tickets, ticket events)

metadata = SQLModel.metadata
