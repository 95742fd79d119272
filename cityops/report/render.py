"""Render the city-view figures as one HTML page with plotly charts.

`render(figures, ...)` takes `service.cityview.report_figures(...)` and returns the page:
KPI tiles, tickets per hour by source, the three dimensions' scores, the street league
table, the slowest scenarios and the top overdue tickets with links to their pages.
With `plotly_js="inline"` the page carries plotly.min.js itself (about 4.8 MB) and works
offline; the dashboard passes a URL instead, served from the installed package.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import plotly.graph_objects as go
import plotly.offline

from cityops.domain.zones import SHANGHAI

TEMPLATES = Path(__file__).resolve().parent / "templates"
FONT = "Noto Sans CJK SC, Noto Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
SOURCE_ZH = {
    "hotline": "12345热线",
    "open311": "Open311",
    "iot": "物联感知",
    "video": "视频AI",
    "grid": "网格巡查",
    "opinion": "舆情",
}
DIMENSION_ZH = {"safe": "安全", "clean": "整洁", "orderly": "有序"}
STATUS_COLOUR = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828", None: "#9e9e9e"}


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly.min.js as shipped inside the plotly package (no download)."""
    return str(plotly.offline.get_plotlyjs())


def shown(value: str | datetime | None) -> str:
    """An instant as people read it: Shanghai time with the zone marked."""
    if value is None:
        return "-"
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") + " (UTC+8)"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "font": {"family": FONT, "size": 13},
        "template": "none",
        "margin": {"l": 60, "r": 20, "t": 50, "b": 60},
        "height": 360,
        "autosize": True,
        **extra,
    }


def _div(figure: go.Figure, div_id: str) -> str:
    return str(
        figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config={"displaylogo": False, "displayModeBar": False, "responsive": True},
        )
    )


def charts(figures: dict[str, Any]) -> dict[str, str]:
    hourly = figures["hourly"]
    labels = [h[5:] for h in hourly["hours"]]  # MM-DD HH:00
    per_hour = go.Figure(
        [go.Bar(name=SOURCE_ZH.get(s, s), x=labels, y=v) for s, v in hourly["series"].items()],
        layout=_layout(
            "每小时工单量（按来源）Tickets per hour by source",
            barmode="stack",
            showlegend=True,
            xaxis={"title": "时间 (UTC+8)"},
            yaxis={"title": "件"},
        ),
    )
    dims = figures["vital_signs"]["dimensions"]
    scores = go.Figure(
        go.Bar(
            x=[f"{DIMENSION_ZH[d]} {d}" for d in dims],
            y=[dims[d]["score"] or 0 for d in dims],
            text=[
                f"{dims[d]['score']}" if dims[d]["score"] is not None else "无数据" for d in dims
            ],
            textposition="outside",
            marker={"color": [_score_colour(dims[d]["score"]) for d in dims]},
        ),
        layout=_layout("三个维度得分 Dimension scores", yaxis={"range": [0, 110], "title": "分"}),
    )
    league = figures["league"]
    closed_loop = go.Figure(
        [
            go.Bar(
                name="闭环处置率 closed-loop",
                x=[r["name"] for r in league],
                y=[r["closed_loop_rate"] for r in league],
            ),
            go.Bar(
                name="按时办结率 resolved on time",
                x=[r["name"] for r in league],
                y=[r["resolved_on_time_rate"] for r in league],
            ),
        ],
        layout=_layout(
            "街镇闭环与按时率 Streets: closed-loop and on-time",
            yaxis={"tickformat": ".0%", "range": [0, 1.05]},
            barmode="group",
            showlegend=True,
        ),
    )
    slow = figures["slowest_scenarios"]
    slowest = go.Figure(
        go.Bar(
            y=[r["scenario"] for r in slow][::-1],
            x=[r["median_minutes_to_resolve"] for r in slow][::-1],
            orientation="h",
        ),
        layout=_layout("办结最慢的场景（中位数，分钟）Slowest scenarios (median minutes)"),
    )
    return {
        "per_hour": _div(per_hour, "chart-per-hour"),
        "scores": _div(scores, "chart-scores"),
        "league": _div(closed_loop, "chart-league"),
        "slowest": _div(slowest, "chart-slowest"),
    }


def _score_text(score: float | None) -> str:
    return "无数据 no data" if score is None else f"{score:g}"


def _score_colour(score: float | None) -> str:
    if score is None:
        return STATUS_COLOUR[None]
    return STATUS_COLOUR["green" if score >= 80 else "yellow" if score >= 60 else "red"]


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["shown"] = shown
    environment.filters["percent"] = percent
    return environment


def render(
    figures: dict[str, Any],
    *,
    ticket_url: str,
    plotly_js_url: str | None = None,
    refresh_seconds: int | None = None,
    title: str = "城市运行体征报告 City operations report",
    generated_at: datetime | None = None,
) -> str:
    """The page. `ticket_url` is the base of ticket links ({ticket_url}/{id})."""
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            f=figures,
            k=figures["kpis"],
            charts=charts(figures),
            plotly_inline=plotly_js() if plotly_js_url is None else None,
            plotly_js_url=plotly_js_url,
            refresh_seconds=refresh_seconds,
            ticket_url=ticket_url.rstrip("/"),
            title=title,
            source_zh=SOURCE_ZH,
            dimension_zh=DIMENSION_ZH,
            generated_at=shown(generated_at) if generated_at else None,
        )
    )
