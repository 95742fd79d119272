"""The day's load: who calls and which devices fire, when. Pure and seeded: the same
day, seed and scale give the same arrivals, whatever the machine or the hour."""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from cityops.domain.stages import CallKind
from cityops.rules.load import RuleSet
from cityops.service.calls import suggest_kind

SHANGHAI = ZoneInfo("Asia/Shanghai")
CORPUS = Path(__file__).resolve().parents[1] / "rules" / "corpus" / "labelled.jsonl"
STREETS = Path(__file__).resolve().parents[1] / "org" / "data" / "pudong_streets.csv"

# Hotline calls per hour of the day, relative (a morning and a stronger evening peak).
CALL_SHAPE = [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4, 5, 5, 4.5,
              3.5, 4, 4.5, 4.5, 4, 4, 4.2, 4.8, 4.5, 3.5, 2.5, 1.5]  # fmt: skip
CALLS_PER_DAY = 2400  # about Pudong's share of Shanghai's 12345 (docs/deployment.md)
ALARM_EPISODES_PER_DAY = 500
RAIN_START, RAIN_END = 14 * 60, 17 * 60  # a cloudburst in the afternoon
RAIN_SCENARIOS = ("EM01", "EM05", "PF04")  # waterlogging, pumps, blocked drain inlets
RAIN_CALL_FACTOR = 3.0  # calls about water during the rain
STORM_DEVICES = 40  # water-level and drain sensors that fire together in the rain
PLANNED_WORKS_PER_DAY = 20  # maintenance windows over devices that will fire meanwhile
REPEAT_CALL_SHARE = 0.06  # a citizen calls again about the same problem (催办)
RESENT_CALL_SHARE = 0.02  # the hotline's system submits a call twice (a retry)
CONVERTED_SHARE = 0.03  # a problem first answered as a consultation, converted later
# Questions the hotline refers to a named outside body, with what the caller is told.
REFERRALS = (
    (("电费", "供电", "停电"), "浦东供电公司", "95598"),
    (("燃气费", "燃气公司"), "浦东燃气公司", "962777"),
    (("社保", "公积金", "养老金", "个人所得税", "退税"), "浦东新区社保和税务咨询", "12333 / 12366"),
    (("离婚", "合同", "违约", "分割", "动迁"), "浦东新区法律援助中心", "12348"),
    (("地铁", "公交", "末班车"), "上海交通服务热线", "12328"),
)

Kind = Literal["call", "alarm"]


@dataclass(frozen=True)
class Street:
    code: str
    name_zh: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Call:
    """A citizen's call to 12345; `label` is what a careful dispatcher would decide
    (None: no work order at all). `kind` is what the hotline agent records: a complaint
    (a work order), or a call record (CallWorkflow): a consultation answered on the spot,
    a referral to `referral` (body, what the caller is told), a suggestion or praise.
    `converts_after`: minutes after the call at which a consultation turns out to need
    action and is converted into a work order of `label`. `repeat_of`: the number of an
    earlier call about the same problem at the same place (a citizen's 催办). `resent`:
    the hotline's system submits the same number twice."""

    number: int
    minute: int
    text: str
    label: str | None
    street: Street
    lat: float
    lon: float
    phone: str
    kind: CallKind = CallKind.COMPLAINT
    referral: tuple[str, str] | None = None
    converts_after: int | None = None
    repeat_of: int | None = None
    resent: bool = False


@dataclass(frozen=True)
class AlarmTemplate:
    scenario_id: str
    sensor_type: str
    metric: str
    detection: str | None


@dataclass(frozen=True)
class Device:
    device_id: str
    template: AlarmTemplate
    street: Street
    lat: float
    lon: float


@dataclass(frozen=True)
class AlarmEpisode:
    """One device's alarm: it fires at `minute`, repeats every `repeat_every` minutes
    `repeats` times; it clears by itself at `clears_at` (a recovery or a false alarm) or
    only once someone fixes it (None)."""

    device: Device
    minute: int
    repeats: int
    repeat_every: int
    clears_at: int | None
    false_alarm: bool = False
    storm: bool = False


@dataclass(frozen=True)
class PlannedWork:
    """施工/检修: a maintenance window over one device from `start` to `end` (minutes of
    the day), declared before the day begins; never over a protected scenario (gas,
    fire), which a window silences only with a supervisor's override."""

    device_id: str
    scenario_id: str
    start: int
    end: int
    reason: str


@dataclass
class DayLoad:
    day: date
    calls: list[Call] = field(default_factory=list)
    episodes: list[AlarmEpisode] = field(default_factory=list)
    works: list[PlannedWork] = field(default_factory=list)

    def local(self, minute: int) -> datetime:
        return datetime.combine(self.day, time(0), tzinfo=SHANGHAI) + timedelta(minutes=minute)


@cache
def streets() -> tuple[Street, ...]:
    with STREETS.open(encoding="utf-8") as handle:
        return tuple(
            Street(row["code"], row["name_zh"], float(row["approx_lat"]), float(row["approx_lon"]))
            for row in csv.DictReader(handle)
        )


@cache
def corpus() -> tuple[tuple[str, str | None], ...]:
    """The labelled hotline texts (the 12345 style): text and the scenario a dispatcher
    would give it, None for calls that are no work order."""
    rows = []
    with CORPUS.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                rows.append((record["text"], record.get("expected_scenario")))
    return tuple(rows)


def alarm_templates(rules: RuleSet) -> list[AlarmTemplate]:
    """One template per alarm rule of the scenario catalogue: the devices the rules know."""
    templates = []
    for scenario in rules.rules:
        for alarm in scenario.alarms:
            if alarm.sensor_type == "video_ai":
                metric = "detection"  # the camera's class is in attributes.detection
            else:
                metric = alarm.metrics[0] if alarm.metrics else "status"
            templates.append(AlarmTemplate(scenario.id, alarm.sensor_type, metric, alarm.detection))
    return templates


def _near(rng: random.Random, street: Street) -> tuple[float, float]:
    return (
        round(street.lat + rng.uniform(-0.004, 0.004), 6),
        round(street.lon + rng.uniform(-0.004, 0.004), 6),
    )


def _minute_of(rng: random.Random, shape: list[float]) -> int:
    hour = rng.choices(range(24), weights=shape)[0]
    return hour * 60 + rng.randrange(60)


def plan_day(
    day: date, seed: int, scale: float, rules: RuleSet, protected: frozenset[str] = frozenset()
) -> DayLoad:
    rng = random.Random(f"{seed}:{day.isoformat()}")
    load = DayLoad(day)
    town = streets()
    texts = corpus()
    water = [row for row in texts if row[1] in RAIN_SCENARIOS]

    for _ in range(round(CALLS_PER_DAY * scale)):
        minute = _minute_of(rng, CALL_SHAPE)
        in_rain = RAIN_START <= minute < RAIN_END
        pool = water if in_rain and water and rng.random() < 1 - 1 / RAIN_CALL_FACTOR else texts
        text, label = rng.choice(pool)
        street = rng.choice(town)
        lat, lon = _near(rng, street)
        phone = f"139{rng.randrange(10**8):08d}"
        call = Call(0, minute, text, label, street, lat, lon, phone)
        load.calls.append(_recorded(rng, call))
    _add_repeats(rng, load)

    templates = alarm_templates(rules)
    devices: dict[str, Device] = {}

    def device(template: AlarmTemplate, street: Street) -> Device:
        index = len(devices) + 1
        device_id = f"{template.sensor_type.upper()}-{street.code}-{index:05d}"
        lat, lon = _near(rng, street)
        devices[device_id] = Device(device_id, template, street, lat, lon)
        return devices[device_id]

    for _ in range(round(ALARM_EPISODES_PER_DAY * scale)):
        template = rng.choice(templates)
        minute = _minute_of(rng, [1.0] * 24)
        roll = rng.random()
        if roll < 0.15:  # a false alarm: clears within two minutes
            clears: int | None = minute + rng.randint(1, 2)
            episode = AlarmEpisode(device(template, rng.choice(town)), minute, 0, 1, clears, True)
        elif roll < 0.45:  # recovers by itself after a while
            clears = minute + rng.randint(10, 120)
            repeats = rng.randint(0, 5)
            episode = AlarmEpisode(
                device(template, rng.choice(town)), minute, repeats, 5, clears, False
            )
        else:  # needs someone to fix it
            episode = AlarmEpisode(
                device(template, rng.choice(town)), minute, rng.randint(0, 8), 10, None
            )
        load.episodes.append(episode)

    storm_templates = [t for t in templates if t.scenario_id in RAIN_SCENARIOS] or templates
    for _ in range(max(1, round(STORM_DEVICES * scale))):
        template = rng.choice(storm_templates)
        minute = RAIN_START + rng.randrange(30)
        episode = AlarmEpisode(
            device(template, rng.choice(town)), minute, 30, 1, RAIN_END + rng.randrange(60),
            storm=True,
        )  # fmt: skip
        load.episodes.append(episode)

    works = [
        e for e in load.episodes if not e.storm and e.device.template.scenario_id not in protected
    ]
    for episode in rng.sample(works, min(len(works), round(PLANNED_WORKS_PER_DAY * scale))):
        start = max(0, episode.minute - rng.randint(10, 60))
        load.works.append(
            PlannedWork(
                episode.device.device_id,
                episode.device.template.scenario_id,
                start,
                episode.minute + rng.randint(60, 240),
                "计划检修",
            )
        )
    load.works.sort(key=lambda w: (w.start, w.device_id))

    _number(load)
    load.episodes.sort(key=lambda e: (e.minute, e.device.device_id))
    return load


def _recorded(rng: random.Random, call: Call) -> Call:
    """What the hotline agent records the call as. A call no scenario claims becomes a call
    record of the kind the call rules suggest (rules/calls.py; a question the hotline
    refers elsewhere, a referral), or a complaint that the dispatcher triages when the
    rules cannot tell; a few real problems are first answered as a consultation and
    converted later; a few numbers are sent twice by the hotline's system."""
    resent = rng.random() < RESENT_CALL_SHARE
    if call.label is None:
        kind = suggest_kind(call.text).kind
        referral = None
        if kind is CallKind.CONSULTATION:
            referral = next(
                (
                    (body, ref)
                    for words, body, ref in REFERRALS
                    if any(w in call.text for w in words)
                ),
                None,
            )
            kind = CallKind.REFERRAL if referral else kind
        return replace(call, kind=kind, referral=referral, resent=resent)
    if rng.random() < CONVERTED_SHARE:
        return replace(
            call, kind=CallKind.CONSULTATION, converts_after=rng.randint(30, 240), resent=resent
        )
    return replace(call, resent=resent)


def _add_repeats(rng: random.Random, load: DayLoad) -> None:
    """Citizens who call again about a problem they reported earlier in the day: the same
    words prefixed, a few metres from the first caller (the incident links them)."""
    complaints = [c for c in load.calls if c.kind is CallKind.COMPLAINT and c.label]
    for first in complaints:
        if rng.random() >= REPEAT_CALL_SHARE:
            continue
        minute = first.minute + rng.randint(30, 600)
        if minute >= 24 * 60:
            continue
        again = replace(
            first,
            minute=minute,
            text=f"再次来电：{first.text}",
            lat=round(first.lat + rng.uniform(-0.0001, 0.0001), 6),
            lon=round(first.lon + rng.uniform(-0.0001, 0.0001), 6),
            phone=f"138{rng.randrange(10**8):08d}",
            resent=False,
            repeat_of=id(first),  # replaced by the first call's number in _number
        )
        load.calls.append(again)


def _number(load: DayLoad) -> None:
    """Calls in the order they come, numbered from 1; a repeat names its first call."""
    load.calls.sort(key=lambda c: (c.minute, c.text, c.street.code))
    numbers = {id(call): n for n, call in enumerate(load.calls, start=1)}
    load.calls = [
        replace(
            call,
            number=n,
            repeat_of=numbers[call.repeat_of] if call.repeat_of is not None else None,
        )
        for n, call in enumerate(load.calls, start=1)
    ]
