"""The city view over HTTP on the hand-made register (tests/register/fixtures.py): the
KPI JSON is the CLI's, bad parameters are named 4xx answers, the vital signs, the
Prometheus text and the dashboard page."""

from __future__ import annotations

import json
import re

import pytest
import typer
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from cityops.api.keys import Role
from cityops.cli import cityview_cmd
from tests.api.stack import Api, Organisation
from tests.register.fixtures import write_fixture

WINDOW = {"from": "2026-12-01", "to": "2026-12-02"}


@pytest.fixture(scope="module", autouse=True)
def register(org: Organisation) -> None:
    write_fixture(org.engine)


async def test_kpis_answer_the_same_json_as_the_cli(
    api: Api, org: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = await api.http.get("/api/v1/kpis", params=WINDOW, headers=api.as_role(Role.SUPERVISOR))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    for key in ("received", "by_source", "proactive_discovery_rate", "closed_loop_rate",
                "accepted_on_time_rate", "resolved_on_time_rate", "reopen_rate", "return_rate",
                "satisfaction_rate", "open_now", "overdue_now", "by_street", "by_station",
                "by_scenario", "by_category", "by_dimension"):  # fmt: skip
        assert key in body
    assert (body["received"], body["overdue_now"], body["closed_loop_rate"]) == (7, 2, 0.2857)

    monkeypatch.setenv("DATABASE_URL", org.url)
    cli = typer.Typer()
    cityview_cmd.register(cli, typer.Typer())
    result = CliRunner().invoke(
        cli, ["kpi", "--from", WINDOW["from"], "--to", WINDOW["to"], "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == body

    street = await api.http.get(
        "/api/v1/kpis", params={**WINDOW, "street": "t01"}, headers=api.as_role(Role.SUPERVISOR)
    )
    assert street.json()["received"] == 3 and list(street.json()["by_street"]) == ["T01"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"from": "2026-12-02", "to": "2026-12-01"}, "from:"),
        ({"from": "yesterday"}, "from:"),
        ({"to": "2026-13-45"}, "to:"),
        ({**WINDOW, "street": "Z99"}, "street:"),
    ],
)
async def test_bad_parameters_are_refused_naming_the_parameter(
    api: Api, params: dict[str, str], named: str
) -> None:
    for path in ("/api/v1/kpis", "/dashboard"):
        answer = await api.http.get(path, params=params, headers=api.as_role(Role.SUPERVISOR))
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"].startswith(named)


async def test_an_overlong_parameter_is_refused_at_the_edge(api: Api) -> None:
    answer = await api.http.get(
        "/api/v1/kpis", params={"street": "S" * 500}, headers=api.as_role(Role.SUPERVISOR)
    )
    assert answer.status_code == 422


async def test_only_supervisors_read_the_figures(api: Api) -> None:
    assert (await api.http.get("/api/v1/kpis", params=WINDOW)).status_code == 401
    responder = api.as_role(Role.RESPONDER)
    assert (await api.http.get("/api/v1/vital-signs", headers=responder)).status_code == 403


async def test_vital_signs_of_the_district_and_of_a_street(api: Api) -> None:
    supervisor = api.as_role(Role.SUPERVISOR)
    district = (
        await api.http.get("/api/v1/vital-signs", params={"at": "2026-12-02"}, headers=supervisor)
    ).json()
    assert len(district["indicators"]) >= 150 and len(district["streets"]) == 36
    peak = next(r for r in district["indicators"] if r["id"].endswith("lel_percent.peak"))
    assert (peak["value"], peak["status"]) == (30.0, "red")
    street = (
        await api.http.get(
            "/api/v1/vital-signs", params={"at": "2026-12-02", "street": "T02"}, headers=supervisor
        )
    ).json()
    assert street["street"] == "T02" and "streets" not in street


async def test_metrics_expose_vital_signs_and_tickets_by_street_scenario_and_stage(
    api: Api,
) -> None:
    answer = await api.http.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    tickets = {
        (s.labels["street"], s.labels["scenario"], s.labels["stage"]): s.value
        for s in families["cityops_tickets"].samples
    }
    assert tickets[("T02", "CA04", "accepted")] == 1  # D
    assert tickets[("T02", "CA04", "closed_unfixed")] == 1  # H
    assert {s.labels["dimension"] for s in families["cityops_vital_score"].samples} == {
        "safe", "clean", "orderly"
    }  # fmt: skip
    assert len(families["cityops_vital_sign_status"].samples) >= 150
    assert families["cityops_tickets_received"].samples


async def test_the_dashboard_shows_the_figures_and_loads_plotly_from_the_api(api: Api) -> None:
    page = await api.http.get("/dashboard", params={**WINDOW, "street": "T01"})
    assert page.status_code == 200
    html = page.text
    assert 'http-equiv="refresh"' in html and "/dashboard/plotly.min.js" in html
    assert '<script src="/dashboard/plotly.min.js">' in html
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?(https?:)?//""", html)
    assert 'id="kpi-received">3<' in html and "(UTC+8)" in html and "超期工单" in html
    script = await api.http.get("/dashboard/plotly.min.js")
    assert script.status_code == 200 and len(script.content) > 1_000_000
