"""Incidents: one problem seen through many eyes. Pure rules for linking a new report
(a citizen's call) to an open incident of the same scenario at the same place.

A report links when its scenario is the incident's and either its point lies within the
scenario's radius of a point already reported, or its normalised address equals one
already reported. `find_link` decides; the register (`cityops/db/incidents.py`) supplies
the open candidates and records the outcome. No I/O here.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, Field

from cityops.domain.geo import distance_m
from cityops.domain.limits import fitted_key
from cityops.domain.models import Message, SlaPolicy
from cityops.domain.stages import LinkKind, Priority, Source, Stage

SENSOR_SOURCES = frozenset({Source.IOT, Source.VIDEO})

# Prefixes that say nothing about the spot: the city, the district, a street or town
# name (张江镇, 花木街道, 沪东新村街道), a 路/弄 and number stays.
_CITY = re.compile(r"^(上海市|上海)")
_DISTRICT = re.compile(r"^浦东新区")
_TOWN = re.compile(r"^[\u4e00-\u9fff]{2,6}?(街道|镇)")
# A whole road is no spot: "笃行路" alone links nothing by address (by distance it may).
_WHOLE_ROAD = re.compile(r"(路|街|公路|大道)$")
_NOISE = re.compile(r"[\s,，.。、·\-—_()（）\[\]【】:：;；\"'“”‘’]+")
_TRAILING = re.compile(r"(门口|门前|附近|旁边|对面|边上|这里|那里|一带)+$")


def normalise_address(address: str | None) -> str | None:
    """The part of an address that names the spot, comparable across callers.

    Full-width forms are folded (NFKC), spaces and punctuation dropped, the city,
    district and street/town prefix cut, and vague trailing words (门口, 附近) cut:
    "浦东新区张江镇碧波路690号门口" and "碧波路 690 号" give "碧波路690号".
    None when nothing specific is left: fewer than 3 characters, a whole road, or only a
    street or town ("浦东新区合庆镇": every report in the town would share it).
    """
    if not address:
        return None
    text = _NOISE.sub("", unicodedata.normalize("NFKC", address)).lower()
    text = _DISTRICT.sub("", _CITY.sub("", text))
    town = _TOWN.match(text)
    if town and len(text) == town.end():
        return None
    if town:
        text = text[town.end() :]
    text = _TRAILING.sub("", text)
    return fitted_key(text) if len(text) >= 3 and not _WHOLE_ROAD.search(text) else None


class LinkBasis(StrEnum):
    """Why a report joined an incident."""

    DISTANCE = "distance"  # within the scenario's radius of a point already reported
    ADDRESS = "address"  # the same normalised address


class RepeatRule(Message):
    """How repeat reports of one scenario are recognised and what they do."""

    radius_m: float = Field(gt=0, le=5000)
    max_age: timedelta = Field(description="An incident older than this takes no new report")
    step_up_after: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Raise the open ticket's priority one step at this many repeat calls",
    )


class Report(Message):
    """A new citizen report, as far as linking needs it."""

    scenario_id: str
    at: AwareDatetime
    lat: float | None = None
    lon: float | None = None
    address_key: str | None = None


class OpenReport(Message):
    """One earlier report of an open incident (or of an open sensor ticket with none)."""

    ticket_id: str
    source: Source
    scenario_id: str
    at: AwareDatetime
    incident_id: str | None = None
    lat: float | None = None
    lon: float | None = None
    address_key: str | None = None


class LinkDecision(Message):
    target: OpenReport
    basis: LinkBasis
    kind: LinkKind
    distance_m: float | None = None


def find_link(
    report: Report, candidates: list[OpenReport], rule: RepeatRule
) -> LinkDecision | None:
    """The open report this one repeats, or None.

    Among matches: one already in an incident first, then the nearest (an address match
    counts as 0 m), then the earliest. A sensor or camera report makes the link
    'known from sensors'; a citizen's, a repeat call.
    """
    matches: list[tuple[bool, float, datetime, LinkDecision]] = []
    for other in candidates:
        if other.scenario_id != report.scenario_id or report.at - other.at > rule.max_age:
            continue
        decision = _match(report, other, rule)
        if decision is not None:
            ranked = decision.distance_m if decision.distance_m is not None else 0.0
            matches.append((other.incident_id is None, ranked, other.at, decision))
    if not matches:
        return None
    return min(matches, key=lambda m: m[:3])[3]


def _match(report: Report, other: OpenReport, rule: RepeatRule) -> LinkDecision | None:
    kind = LinkKind.KNOWN_FROM_SENSORS if other.source in SENSOR_SOURCES else LinkKind.REPEAT_CALL
    if (
        report.lat is not None
        and report.lon is not None
        and other.lat is not None
        and other.lon is not None
    ):
        metres = distance_m((report.lat, report.lon), (other.lat, other.lon))
        if metres <= rule.radius_m:
            return LinkDecision(
                target=other, basis=LinkBasis.DISTANCE, kind=kind, distance_m=round(metres, 1)
            )
    if report.address_key and report.address_key == other.address_key:
        return LinkDecision(target=other, basis=LinkBasis.ADDRESS, kind=kind)
    return None


_STEP_UP = {Priority.P4: Priority.P3, Priority.P3: Priority.P2, Priority.P2: Priority.P1}


def stepped_priority(current: Priority, repeat_calls: int, rule: RepeatRule) -> Priority | None:
    """The priority an open ticket steps up to at its `repeat_calls`-th repeat call, or
    None when it stays: one step each time the count reaches a multiple of the rule's
    `step_up_after`, never above P1."""
    every = rule.step_up_after
    if every is None or repeat_calls <= 0 or repeat_calls % every:
        return None
    return _STEP_UP.get(current)


# What a repeat call hands its primary of the caller's words: the start of the text (the
# caller's own ticket keeps all of it), so the primary's history and status stay small.
REPEAT_TEXT_KEPT = 200


class RepeatCall(Message):
    """Signal to an open ticket: a citizen called again about it (a citizen 催办), or
    reported what its sensor saw. Sent by the caller's own ticket, which then waits on it."""

    ticket_id: str = Field(max_length=64, description="The new caller's own ticket number")
    incident_id: str = Field(max_length=64)
    kind: LinkKind
    at: AwareDatetime
    workflow_id: str = Field(max_length=200, description="The caller's ticket, told at closure")
    run_id: str | None = Field(default=None, max_length=64)
    caller_phone_masked: str | None = Field(default=None, max_length=32)
    text: str | None = Field(default=None, max_length=REPEAT_TEXT_KEPT)


class PrimaryClosed(Message):
    """Signal to a ticket waiting on its primary: the primary closed, so this one closes
    with the primary's verified outcome (docs/incidents.md)."""

    ticket_id: str = Field(max_length=64, description="The primary ticket")
    stage: Stage
    fixed: bool
    resolution: str | None = Field(default=None, max_length=500)
    closed_at: AwareDatetime


class IncidentJoined(Message):
    """Signal to a running ticket: the intake linked it to an incident after it started
    (an alarm storm's grouping, or a citizen's report of what its sensor saw)."""

    incident_id: str = Field(min_length=1, max_length=64)


class StepUpRequest(Message):
    """Does this repeat call step the ticket's urgency up (rules/incidents.yaml)?"""

    scenario_id: str
    priority: Priority
    repeat_calls: int = Field(ge=1)


class StepUp(Message):
    """The priority it steps up to and that priority's SLA; None: it stays."""

    priority: Priority | None = None
    sla: SlaPolicy | None = None


class TicketRole(StrEnum):
    """A ticket's part in its incident."""

    FIRST = "first"  # the report that opened it; carries the work
    GROUPED = "grouped"  # another device of an alarm storm (rules' grouping), own work
    REPEAT_CALL = "repeat_call"  # a citizen again: own number and callback, no own work
    KNOWN_FROM_SENSORS = "known_from_sensors"  # a citizen about what a sensor reported


class IncidentTicket(Message):
    ticket_id: str
    role: TicketRole
    source: Source | None = None
    device_id: str | None = None
    basis: LinkBasis | None = None
    linked_at: datetime
    stage: str | None = Field(default=None, description="From the ticket register; None: not yet")
    open: bool
    text: str | None = None


class Incident(Message):
    """One problem, every report of it: the view the API and CLI show."""

    incident_id: str
    scenario_id: str
    group_by: str
    group_key: str
    street_code: str | None
    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    primary_ticket_id: str | None = None
    opened_at: datetime
    window_ends_at: datetime
    first_report_at: datetime
    last_report_at: datetime
    sources: list[Source]
    ticket_count: int
    repeat_calls: int
    known_from_sensors: bool = Field(
        description="A sensor or camera reported it before a citizen called: proactive discovery"
    )
    open: bool
    tickets: list[IncidentTicket] = Field(default_factory=list)
