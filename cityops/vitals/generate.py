"""Write the indicator catalogue (rules/indicators/*.yaml) from the scenario catalogue.

    python -m cityops.vitals.generate

Systematic families, each computed from data the system holds: per scenario (open now,
overdue now, new in 24 hours), per alarm metric (devices firing unresolved, devices
re-firing, the worst level reported), and per dimension and district the service figures
(KPIs over 7 days, places with repeat problems). Thresholds follow the scenario's priority
or the metric's physics; operators tune the YAML afterwards (running this again
overwrites it).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import yaml

from cityops.rules.indicators import INDICATORS_DIR
from cityops.rules.load import CATALOGUE

# (district yellow, red), (street yellow, red) per priority
OPEN = {"P1": ((1, 3), (1, 2)), "P2": ((3, 8), (2, 4)), "P3": ((10, 30), (3, 8)),
        "P4": ((20, 60), (5, 12))}  # fmt: skip
OVERDUE = {"P1": ((1, 2), (1, 1)), "P2": ((1, 3), (1, 2)), "P3": ((3, 10), (1, 3)),
           "P4": ((5, 15), (2, 5))}  # fmt: skip
NEW = {"P1": ((3, 10), (1, 3)), "P2": ((10, 30), (3, 10)), "P3": ((30, 100), (5, 15)),
       "P4": ((50, 150), (8, 20))}  # fmt: skip

# sensor_type, metric, scenario, zh name, en name (from the alarm feed's sensor table)
SENSORS = [
    ("gas_detector", "lel_percent", "PS01", "燃气浓度", "gas concentration"),
    ("smoke_detector", "smoke", "PS02", "烟感", "smoke"),
    ("manhole_cover", "tilt_deg", "PS03", "井盖倾斜", "manhole cover tilt"),
    ("manhole_cover", "displacement", "PS03", "井盖位移", "manhole cover displaced"),
    ("water_level", "depth_cm", "EM01", "道路积水深度", "road water depth"),
    ("structural_tilt", "tilt_deg", "EM03", "房屋倾斜", "building tilt"),
    ("structural_tilt", "crack_mm", "EM03", "房屋裂缝", "building crack"),
    ("pump_station", "status", "EM05", "泵站状态", "pump station status"),
    ("water_quality", "dissolved_oxygen", "RW02", "河道溶解氧", "river dissolved oxygen"),
    ("water_quality", "ammonia_nitrogen", "RW02", "河道氨氮", "river ammonia nitrogen"),
    ("water_quality", "turbidity", "RW02", "河道浊度", "river turbidity"),
    ("pipe_pressure", "pressure_mpa", "RW05", "供水管压力", "water main pressure"),
    ("sewer_level", "level_percent", "RW06", "污水管液位", "sewer level"),
    ("smart_bin", "fill_percent", "CA01", "垃圾桶满溢", "bin fill"),
    ("traffic_signal", "status", "TR04", "信号灯状态", "traffic signal status"),
    ("street_light", "status", "PF01", "路灯状态", "street light status"),
    ("fire_hydrant", "pressure_mpa", "PF02", "消火栓压力", "hydrant pressure"),
    ("fire_hydrant", "tilt_deg", "PF02", "消火栓倾斜", "hydrant tilt"),
    ("fire_hydrant", "flow", "PF02", "消火栓异常出水", "hydrant flow"),
    ("elevator", "entrapment", "PF03", "电梯困人", "elevator entrapment"),
    ("drain_inlet", "level_percent", "PF05", "雨水口液位", "drain inlet level"),
    ("site_monitor", "noise_db", "CH01", "工地夜间噪声", "construction night noise"),
    ("site_monitor", "pm10", "CH02", "工地扬尘PM10", "construction site PM10"),
    ("noise_meter", "noise_db", "EN01", "社会生活噪声", "neighbourhood noise"),
    ("fume_monitor", "fume_mg_m3", "EN02", "餐饮油烟浓度", "restaurant fume"),
    ("air_quality", "voc_ppm", "EN03", "废气VOC", "exhaust VOC"),
    ("air_quality", "odour_index", "EN03", "异味指数", "odour index"),
    (
        "smart_water_meter",
        "hours_without_use",
        "SC01",
        "独居老人用水静默",
        "no water use (elderly)",
    ),
    ("access_control", "door_forced", "SC05", "门禁被撬", "door forced"),
    ("access_control", "door_held_open", "SC05", "门禁长开", "door held open"),
]
DETECTIONS = [
    ("fire_smoke", "PS02", "视频烟火", "video fire or smoke"),
    ("ebike_indoor", "PS05", "视频电瓶车入户", "video e-bike indoors"),
    ("fire_lane_blocked", "PS06", "视频消防通道堵塞", "video fire lane blocked"),
    ("road_waterlogging", "EM01", "视频道路积水", "video road waterlogging"),
    ("floating_debris", "RW01", "视频河面漂浮物", "video floating debris"),
    ("garbage_exposed", "CA02", "视频暴露垃圾", "video exposed garbage"),
    ("street_vending", "CA04", "视频占道经营", "video street vending"),
    ("illegal_parking", "TR01", "视频违法停车", "video illegal parking"),
    ("shared_bikes_piled", "TR02", "视频单车堆积", "video shared bikes piled"),
    ("lane_occupied", "TR05", "视频占用车道", "video lane occupied"),
    ("muck_truck_spill", "TR06", "视频渣土撒漏", "video muck truck spill"),
    ("open_burning", "EN04", "视频露天焚烧", "video open burning"),
]
LIFE_SAFETY = {"lel_percent", "smoke", "entrapment", "door_forced", "hours_without_use"}
# Worst level reported: metric -> (unit, worst, yellow, red)
LEVELS = {
    ("gas_detector", "lel_percent"): ("%LEL", "max", 10, 25),
    ("water_level", "depth_cm"): ("cm", "max", 15, 30),
    ("water_quality", "dissolved_oxygen"): ("mg/L", "min", 3, 2),
    ("water_quality", "ammonia_nitrogen"): ("mg/L", "max", 1.5, 2.0),
    ("pipe_pressure", "pressure_mpa"): ("MPa", "min", 0.2, 0.14),
    ("sewer_level", "level_percent"): ("%", "max", 80, 95),
    ("smart_bin", "fill_percent"): ("%", "max", 90, 100),
    ("fire_hydrant", "pressure_mpa"): ("MPa", "min", 0.14, 0.1),
    ("drain_inlet", "level_percent"): ("%", "max", 80, 95),
    ("site_monitor", "noise_db"): ("dB", "max", 55, 65),
    ("site_monitor", "pm10"): ("μg/m³", "max", 150, 250),
    ("noise_meter", "noise_db"): ("dB", "max", 60, 70),
    ("fume_monitor", "fume_mg_m3"): ("mg/m³", "max", 2.0, 4.0),
    ("air_quality", "voc_ppm"): ("ppm", "max", 10, 20),
}
DIMENSION_ZH = {"safe": "安全", "clean": "整洁", "orderly": "有序"}
# field, zh, en, unit, better, (yellow, red)
SERVICE = [
    ("closed_loop_rate", "闭环处置率", "closed-loop rate", "ratio", "higher", (0.8, 0.6)),
    ("resolved_on_time_rate", "按时办结率", "resolved on time", "ratio", "higher", (0.9, 0.75)),
    ("accepted_on_time_rate", "按时签收率", "accepted on time", "ratio", "higher", (0.95, 0.85)),
    ("satisfaction_rate", "满意率", "satisfaction rate", "ratio", "higher", (0.85, 0.7)),
    ("median_minutes_to_accept", "签收时长中位数", "median time to accept", "min", "lower",
     (30, 60)),
    ("median_minutes_to_resolve", "办结时长中位数", "median time to resolve", "min", "lower",
     (1440, 2880)),
]  # fmt: skip


def _scenarios() -> list[dict[str, str]]:
    with CATALOGUE.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _thresholds(pair: tuple[tuple[float, float], tuple[float, float]]) -> dict[str, Any]:
    (yellow, red), (street_yellow, street_red) = pair
    return {
        "thresholds": {"yellow": yellow, "red": red},
        "street_thresholds": {"yellow": street_yellow, "red": street_red},
    }


def scenario_family() -> dict[str, Any]:
    indicators = []
    for row in _scenarios():
        sid, zh, en, dim, priority = (
            row["id"], row["name_zh"], row["name_en"], row["dimension"], row["priority"]
        )  # fmt: skip
        indicators += [
            {"id": f"{sid}.open_now", "name_zh": f"{zh}·未办结", "name_en": f"{en}: open now",
             "dimension": dim, "unit": "件", "compute": {"kind": "open_tickets", "scenario": sid},
             **_thresholds(OPEN[priority])},
            {"id": f"{sid}.overdue_now", "name_zh": f"{zh}·超期",
             "name_en": f"{en}: overdue now", "dimension": dim, "unit": "件",
             "compute": {"kind": "overdue_tickets", "scenario": sid},
             **_thresholds(OVERDUE[priority])},
            {"id": f"{sid}.new_24h", "name_zh": f"{zh}·24小时新增",
             "name_en": f"{en}: new in 24 hours", "dimension": dim, "unit": "件",
             "compute": {"kind": "new_tickets", "scenario": sid, "window": "24h"},
             **_thresholds(NEW[priority])},
        ]  # fmt: skip
    return {
        "family": "scenarios",
        "description": "每个场景的未办结、超期和24小时新增工单 (open, overdue, new per scenario)",
        "indicators": indicators,
    }


def alarm_family() -> dict[str, Any]:
    dimension = {row["id"]: row["dimension"] for row in _scenarios()}
    indicators: list[dict[str, Any]] = []
    for sensor, metric, scenario, zh, en in SENSORS:
        key = f"{sensor}.{metric}"
        firing = (1, 2) if metric in LIFE_SAFETY else (3, 10)
        indicators.append(
            {"id": f"alarm.{key}.firing", "name_zh": f"{zh}·告警未解除",
             "name_en": f"{en}: alarms unresolved", "dimension": dimension[scenario],
             "unit": "台", "compute": {"kind": "alarms_firing", "sensor_type": sensor,
                                       "metric": metric, "window": "7d"},
             "thresholds": {"yellow": firing[0], "red": firing[1]},
             "street_thresholds": {"yellow": 1, "red": firing[1] if firing[1] < 3 else 3}}
        )  # fmt: skip
        indicators.append(
            {"id": f"alarm.{key}.refiring", "name_zh": f"{zh}·反复告警设备",
             "name_en": f"{en}: devices re-firing", "dimension": dimension[scenario],
             "unit": "台", "compute": {"kind": "alarms_refiring", "sensor_type": sensor,
                                       "metric": metric, "window": "24h", "min_firings": 3},
             "thresholds": {"yellow": 1, "red": 3}}
        )  # fmt: skip
        if (sensor, metric) in LEVELS:
            unit, worst, yellow, red = LEVELS[(sensor, metric)]
            indicators.append(
                {"id": f"alarm.{key}.peak", "name_zh": f"{zh}·24小时最不利值",
                 "name_en": f"{en}: worst level in 24 hours", "dimension": dimension[scenario],
                 "unit": unit, "better": "higher" if worst == "min" else "lower",
                 "compute": {"kind": "alarm_peak", "sensor_type": sensor, "metric": metric,
                             "window": "24h", "worst": worst},
                 "thresholds": {"yellow": yellow, "red": red}}
            )  # fmt: skip
    for detection, scenario, zh, en in DETECTIONS:
        indicators.append(
            {"id": f"alarm.video_ai.{detection}.firing", "name_zh": f"{zh}·未解除",
             "name_en": f"{en}: unresolved", "dimension": dimension[scenario], "unit": "路",
             "compute": {"kind": "alarms_firing", "sensor_type": "video_ai",
                         "metric": "detection", "detection": detection, "window": "7d"},
             "thresholds": {"yellow": 3, "red": 10}, "street_thresholds": {"yellow": 1, "red": 3}}
        )  # fmt: skip
    return {
        "family": "alarms",
        "description": "物联感知: 告警未解除、反复告警、最不利值 (sensor alarms)",
        "indicators": indicators,
    }


def service_family() -> dict[str, Any]:
    indicators: list[dict[str, Any]] = []
    for dimension, dim_zh in DIMENSION_ZH.items():
        for field, zh, en, unit, better, (yellow, red) in SERVICE:
            indicators.append(
                {"id": f"service.{dimension}.{field}", "name_zh": f"{dim_zh}类{zh}(7天)",
                 "name_en": f"{dimension}: {en} (7 days)", "dimension": dimension,
                 "unit": unit, "better": better,
                 "compute": {"kind": "kpi", "field": field, "dimension": dimension,
                             "window": "7d"},
                 "thresholds": {"yellow": yellow, "red": red}}
            )  # fmt: skip
        indicators.append(
            {"id": f"service.{dimension}.repeat_places",
             "name_zh": f"{dim_zh}类问题反复发生点位(7天)",
             "name_en": f"{dimension}: places with repeat problems (7 days)",
             "dimension": dimension, "unit": "处",
             "compute": {"kind": "repeat_places", "dimension": dimension, "window": "7d",
                         "min_tickets": 2},
             "thresholds": {"yellow": 3, "red": 10}, "street_thresholds": {"yellow": 1, "red": 3}}
        )  # fmt: skip
        indicators.append(
            {"id": f"service.{dimension}.stalled_now", "name_zh": f"{dim_zh}类停滞工单(督办中)",
             "name_en": f"{dimension}: stalled tickets now (supervised daily)",
             "dimension": dimension, "unit": "件",
             "compute": {"kind": "stalled_tickets", "dimension": dimension},
             "thresholds": {"yellow": 1, "red": 3}, "street_thresholds": {"yellow": 1, "red": 2}}
        )  # fmt: skip
    return {
        "family": "service",
        "description": (
            "按维度的处置质量: 闭环率、按时率、满意率、时长、反复点位和停滞工单 (service quality)"
        ),
        "indicators": indicators,
    }


def write(directory: Path = INDICATORS_DIR) -> dict[str, int]:
    directory.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, family in (
        ("scenarios", scenario_family()),
        ("alarms", alarm_family()),
        ("service", service_family()),
    ):
        text = yaml.safe_dump(family, allow_unicode=True, sort_keys=False, width=100)
        (directory / f"{name}.yaml").write_text(
            "# Generated by `python -m cityops.vitals.generate`, then tuned by hand.\n" + text,
            encoding="utf-8",
        )
        counts[name] = len(family["indicators"])
    return counts


if __name__ == "__main__":
    print(write())
