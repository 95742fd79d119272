"""Prometheus metrics of the city view, computed from the register at each scrape.

cityops_vital_sign{indicator, dimension, unit}     the indicator's value (absent: no data)
cityops_vital_sign_status{indicator, dimension}    0 green, 1 yellow, 2 red
cityops_vital_score{dimension}                      the district's score per dimension
cityops_street_vital_score{street}                  each street's score
cityops_tickets{street, scenario, stage}            tickets in the register by stage now
cityops_tickets_received_total{street, scenario, source}  tickets ever received (until purged)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from cityops.register.write import TICKETS
from cityops.service import cityview

STATUS_VALUE = {"green": 0, "yellow": 1, "red": 2}


class CityViewCollector(Collector):
    def __init__(self, engine: Engine, at: datetime) -> None:
        self._engine = engine
        self._at = at

    def collect(self) -> Iterator[Metric]:
        signs = cityview.vitals(self._engine, self._at)
        value = GaugeMetricFamily(
            "cityops_vital_sign", "A vital sign's value", labels=["indicator", "dimension", "unit"]
        )
        status = GaugeMetricFamily(
            "cityops_vital_sign_status",
            "A vital sign's colour: 0 green, 1 yellow, 2 red",
            labels=["indicator", "dimension"],
        )
        for row in signs["indicators"]:
            if row["value"] is not None:
                value.add_metric([row["id"], row["dimension"], row["unit"]], row["value"])
            if row["status"] in STATUS_VALUE:
                status.add_metric([row["id"], row["dimension"]], STATUS_VALUE[row["status"]])
        yield value
        yield status
        score = GaugeMetricFamily(
            "cityops_vital_score", "The district's score per dimension", labels=["dimension"]
        )
        for dimension, row in signs["dimensions"].items():
            if row["score"] is not None:
                score.add_metric([dimension], row["score"])
        yield score
        street_score = GaugeMetricFamily(
            "cityops_street_vital_score", "Each street's vital-signs score", labels=["street"]
        )
        for street, row in (signs.get("streets") or {}).items():
            if row["score"] is not None:
                street_score.add_metric([street], row["score"])
        yield street_score
        yield from self._tickets()

    def _tickets(self) -> Iterator[Metric]:
        stages = GaugeMetricFamily(
            "cityops_tickets",
            "Tickets in the register by their stage now",
            labels=["street", "scenario", "stage"],
        )
        received = CounterMetricFamily(
            "cityops_tickets_received",
            "Tickets received (kept in the register)",
            labels=["street", "scenario", "source"],
        )
        street, scenario = TICKETS.c.street_code, TICKETS.c.scenario_id
        with self._engine.connect() as connection:
            for s, sc, stage, count in connection.execute(
                select(street, scenario, TICKETS.c.stage, func.count()).group_by(
                    street, scenario, TICKETS.c.stage
                )
            ):
                stages.add_metric([s or "", sc or "", stage], count)
            for s, sc, source, count in connection.execute(
                select(street, scenario, TICKETS.c.source, func.count()).group_by(
                    street, scenario, TICKETS.c.source
                )
            ):
                received.add_metric([s or "", sc or "", source], count)
        yield stages
        yield received


def render_metrics(engine: Engine, at: datetime) -> tuple[bytes, str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CityViewCollector(engine, at))
    return generate_latest(registry), CONTENT_TYPE_LATEST
