"""What every route needs, built once when the app starts: the Temporal client, the
alarm intake, the key store, the database engine, the rules, the encryption key ring."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request
from sqlalchemy import Engine
from temporalio.client import Client

from cityops.api.keys import KeyStore
from cityops.config import Settings
from cityops.privacy.keys import KeyRing
from cityops.rules.load import RuleSet
from cityops.service.alarms import AlarmIntake
from cityops.service.geography import Geography
from cityops.service.tickets import WorkerWatch


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    client: Client
    engine: Engine
    rules: RuleSet
    alarms: AlarmIntake
    keys: KeyStore
    ring: KeyRing
    geography: Geography
    workers: WorkerWatch


def get_context(request: Request) -> AppContext:
    context: AppContext | None = getattr(request.app.state, "context", None)
    if context is None:
        raise HTTPException(503, "the intake API is still starting", headers={"Retry-After": "5"})
    return context
