"""A real Alertmanager (Debian's prometheus-alertmanager) posting real webhooks to the API
on a real HTTP server: a group with one malformed alert is answered 200, the valid alert
opens its ticket, the malformed one is kept as a dead letter, and Alertmanager counts no
failed notification (before, a 422 made it give up on the whole group)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from cityops.api.keys import Role
from cityops.db.deadletters import Channel, LetterStatus, list_letters
from tests.api.stack import Api, free_port
from tests.conftest import eventually

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


@pytest.fixture
async def alertmanager(served: Api, tmp_path: Path) -> AsyncIterator[str]:
    """Alertmanager on a free port whose only receiver is the API's webhook."""
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        f"""
route:
  receiver: cityops
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: cityops
    webhook_configs:
      - url: {served.base_url}/api/v1/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: {served.keys[Role.SENSOR_GATEWAY]}
"""
    )
    process = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "alertmanager.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"

    async def ready() -> None:
        try:
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"{url}/-/ready")).status_code == 200
        except httpx.HTTPError as exc:
            raise AssertionError(str(exc)) from exc

    try:
        await eventually(ready, timeout=30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def metric(text: str, name: str) -> float:
    found = re.search(rf'^{name}\{{[^}}]*integration="webhook"[^}}]*\}} (\S+)$', text, re.M)
    return float(found[1]) if found else 0.0


async def test_alertmanager_delivers_a_group_with_a_malformed_alert(
    served: Api, alertmanager: str
) -> None:
    tag = datetime.now(UTC).strftime("%H%M%S%f")
    good = {
        "alertname": f"GasHigh{tag}",
        "device_id": f"AM-GAS-{tag}",
        "sensor_type": "gas_detector",
        "metric": "lel_percent",
        "lat": "31.2051",
        "lon": "121.6003",
        "value": "31",
    }
    bad = {**good, "device_id": f"AM-BAD-{tag}"}
    del bad["lat"]
    async with httpx.AsyncClient() as http:
        posted = await http.post(
            f"{alertmanager}/api/v2/alerts",
            json=[
                {"labels": good, "annotations": {"site": "碧波路690号地下车库"}},
                {"labels": bad},
            ],
        )
        assert posted.status_code == 200, posted.text

        async def delivered() -> None:
            letters = list_letters(served.engine, LetterStatus.OPEN, Channel.ALERTMANAGER, 50)
            mine = [x for x in letters if f"AM-BAD-{tag}" in x.payload]
            assert len(mine) == 1 and mine[0].field == "labels.lat"

        await eventually(delivered, timeout=30)
        rows = await served.http.get(
            "/api/v1/alarms/rejected",
            params={"channel": "alertmanager"},
            headers=served.as_role(Role.SUPERVISOR),
        )
        assert any(f"AM-BAD-{tag}" in x["payload"] for x in rows.json())
        metrics = (await http.get(f"{alertmanager}/metrics")).text
    assert metric(metrics, "alertmanager_notifications_total") >= 1
    assert metric(metrics, "alertmanager_notifications_failed_total") == 0

    async def ticket_opened() -> None:
        listed = await served.http.get(
            "/api/v1/tickets",
            params={"source": "iot"},
            headers=served.as_role(Role.SUPERVISOR),
        )
        summaries = [
            t for t in listed.json() if t["workflow_id"] == f"alarm-AM-GAS-{tag}-lel_percent"
        ]
        assert len(summaries) == 1

    await eventually(ticket_opened, timeout=30)
