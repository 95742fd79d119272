"""Schema migrations through Alembic, driven from code so no alembic.ini path is needed.

`upgrade(url)` brings any database (SQLite file or PostgreSQL) to the newest schema;
the revisions live in org/migrations/versions.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from cityops.config import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at our scripts and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation treats % specially; URLs may carry %-escapes.
    database_url = (url or get_settings().database_url).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
