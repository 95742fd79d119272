"""Where the city's jurisdiction lies, as the intake edges need it: is a point inside
Pudong, which street is it in, what is a unit called.

Built from the organisation in the database on first use (the areas take a moment),
then every answer is an in-memory lookup. Like the workers, a process keeps the
organisation it loaded: restart it after ``cityops org import``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from cityops.domain.models import Place

if TYPE_CHECKING:
    from cityops.org.routing import OrgRouter

DISTRICT_NAME = "Pudong New Area"


class Geography:
    def __init__(self, engine: Engine | None = None, router: OrgRouter | None = None) -> None:
        if engine is None and router is None:
            raise ValueError("a database engine or an organisation router is needed")
        self._engine = engine
        self._router = router
        self._lock = threading.Lock()

    def _org(self) -> OrgRouter:
        if self._router is None:
            with self._lock:
                if self._router is None:
                    from cityops.org.routing import OrgRouter

                    assert self._engine is not None
                    url = self._engine.url.render_as_string(hide_password=False)
                    self._router = OrgRouter.from_database(url)
        return self._router

    def place(self, address: str | None, lat: float | None, lon: float | None) -> Place:
        return self._org().jurisdiction.locate(address, lat, lon)

    def outside(self, lat: float | None, lon: float | None) -> str | None:
        """Why a point is not ours ("coordinates … lie outside Pudong New Area"), or None
        when it is inside or there is no point."""
        if lat is None or lon is None:
            return None
        if self._org().jurisdiction.locate(None, lat, lon).street_code is not None:
            return None
        return f"coordinates {lat:.5f}, {lon:.5f} lie outside {DISTRICT_NAME}"

    def unit_name(self, code: str | None) -> str:
        """A unit's name; the district center's for None or an unknown code."""
        directory = self._org().directory
        if code and directory.has_unit(code):
            return directory.unit(code).name
        return directory.center.name
