"""Routing: which unit and which on-duty person get a ticket, and the path above them.

Pure: no I/O, no clock. The inputs are the scenario, the located place, the intake, the
organisation snapshot, the routing rules and the instant of dispatch; the output is a
RoutePlan snapshot the workflow follows, so later rule or roster edits never change a
ticket already dispatched. Returns (退单) and transfers produce new plans the same way.

Errors::

    RoutingRulesError   routing.yaml is missing or invalid (names file and field)
    org.directory.OrgError and subclasses
                        the organisation cannot answer (unknown unit, nobody at all)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cityops.domain.models import (
    Assignment,
    Place,
    ReturnReason,
    RoutePlan,
    ScenarioRef,
    TicketIntake,
)
from cityops.domain.stages import Priority, Source, Tier
from cityops.org.directory import (
    Member,
    NobodyAvailableError,
    OrgDirectory,
    local_weekday_minute,
)
from cityops.org.models import DISTRICT_CENTER, UnitKind
from cityops.rules.handling import RULES_DIR

__all__ = [
    "Place",
    "RoutingRules",
    "RoutingRulesError",
    "load_routing_rules",
    "plan_return",
    "plan_route",
    "plan_transfer",
    "plan_triage",
]

ROUTING_FILE = RULES_DIR / "routing.yaml"  # the YAML rules live together under rules/


class RoutingRulesError(ValueError):
    """routing.yaml is missing or invalid; the message names the file and field."""


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Hours(_Rule):
    """A span of local time; from > to wraps midnight (22:00-07:00)."""

    start: time = Field(alias="from")
    end: time = Field(alias="to")

    def contains(self, minute: int) -> bool:
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        if start <= end:
            return start <= minute < end
        return minute >= start or minute < end


class When(_Rule):
    scenarios: frozenset[str] | None = None
    categories: frozenset[str] | None = None
    sources: frozenset[Source] | None = None
    priorities: frozenset[Priority] | None = None
    tiers: frozenset[Tier] | None = None
    hours: Hours | None = None

    def matches(self, scenario: ScenarioRef, source: Source, minute: int) -> bool:
        return (
            (self.scenarios is None or scenario.id in self.scenarios)
            and (self.categories is None or scenario.category_id in self.categories)
            and (self.sources is None or source in self.sources)
            and (self.priorities is None or scenario.priority in self.priorities)
            and (self.tiers is None or scenario.handling_tier in self.tiers)
            and (self.hours is None or self.hours.contains(minute))
        )


class Route(_Rule):
    tier: Tier | None = None  # None: the scenario's handling_tier
    department: str | None = Field(default=None, min_length=1)  # None: lead_department
    co_handle_street: bool | None = None  # None: only for district-tier tickets


class RoutingRule(_Rule):
    name: str = Field(min_length=1, max_length=80)
    why: str = ""
    when: When = When()
    route: Route = Route()


class RoutingRules(_Rule):
    max_returns_before_ruling: int = Field(default=2, ge=1, le=10)
    default: RoutingRule = RoutingRule(name="default")
    rules: list[RoutingRule] = Field(default_factory=list)

    def pick(self, scenario: ScenarioRef, source: Source, at: datetime) -> RoutingRule:
        _, minute = local_weekday_minute(at)
        for rule in self.rules:
            if rule.when.matches(scenario, source, minute):
                return rule
        return self.default


def load_routing_rules(path: Path = ROUTING_FILE) -> RoutingRules:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RoutingRulesError(f"{path.name}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise RoutingRulesError(f"{path.name}: not valid YAML: {exc}") from exc
    try:
        rules = RoutingRules.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise RoutingRulesError(f"{path.name}: {problems}") from exc
    names = [rule.name for rule in rules.rules]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RoutingRulesError(f"{path.name}: rules: duplicate names {duplicates}")
    return rules


@lru_cache(maxsize=1)
def default_routing_rules() -> RoutingRules:
    return load_routing_rules()


# --------------------------------------------------------------------------- routing


def plan_route(
    scenario: ScenarioRef,
    place: Place,
    intake: TicketIntake,
    directory: OrgDirectory,
    rules: RoutingRules,
    at: datetime,
) -> RoutePlan:
    """The unit and on-duty person for a classified, located ticket."""
    rule = rules.pick(scenario, intake.source, at)
    tier = rule.route.tier or scenario.handling_tier
    department = rule.route.department or scenario.lead_department
    reason = place.reason
    if tier is Tier.DISTRICT and directory.has_unit(department):
        unit_code = department
    elif tier is Tier.DISTRICT:
        unit_code = directory.center.code
        reason += f"; no department {department!r} in the organisation: district center"
    elif place.street_code is None or not directory.has_unit(place.street_code):
        unit_code = directory.center.code
        reason += "; place unknown: the district center dispatches by hand"
    elif tier is Tier.VILLAGE and place.station_code and directory.has_unit(place.station_code):
        unit_code = place.station_code
    else:
        unit_code = place.street_code
        if tier is Tier.VILLAGE:
            reason += "; work station unknown: the street sub-center assigns one"
    plan = _plan_at(directory, unit_code, at, department, place, rule.name, reason)
    co_handle = rule.route.co_handle_street
    if co_handle is None:
        co_handle = tier is Tier.DISTRICT
    if co_handle and place.street_code and directory.has_unit(place.street_code):
        street = _assign(directory, directory.on_duty(place.street_code, at))
        if street.unit_code != plan.assignee.unit_code:
            plan = plan.model_copy(update={"co_handlers": [street]})
    return plan


def plan_triage(place: Place, directory: OrgDirectory, at: datetime) -> RoutePlan:
    """An unclassified ticket: the district center's on-duty dispatcher decides by hand,
    with the place located so far kept for them."""
    return _plan_at(
        directory,
        directory.center.code,
        at,
        None,
        place,
        "triage",
        f"{place.reason}; not classified: the district center triages it",
    )


def district_supervisor(directory: OrgDirectory, at: datetime) -> Assignment:
    """The district center's duty supervisor (督办) at `at`: who is told, every day, of a
    ticket whose chain pressed its top in vain, and who decides a district-tier unit's
    extension (see OrgDirectory.duty_supervisor)."""
    person = directory.duty_supervisor(at)
    if person is None:
        raise NobodyAvailableError(f"no {DISTRICT_CENTER!r} unit: import the organisation first")
    return _assign(directory, person)


def plan_inbox(
    unit_code: str | None, place: Place, directory: OrgDirectory, at: datetime
) -> RoutePlan:
    """A suggestion's inbox: the named unit (a department, or any unit) when the
    organisation has it, else the district center; its on-duty person owns the reply and
    the dispatchers above are the way up."""
    if unit_code and directory.has_unit(unit_code):
        target, reason = unit_code, f"inbox of {unit_code}"
    else:
        target = directory.center.code
        unknown = f"no unit {unit_code!r}" if unit_code else "no department named"
        reason = f"{unknown}: the district center's inbox"
    return _plan_at(directory, target, at, None, place, "inbox", reason)


def plan_return(
    current: RoutePlan,
    reason: ReturnReason,
    returns_so_far: int,
    directory: OrgDirectory,
    rules: RoutingRules,
    at: datetime | None = None,
) -> RoutePlan:
    """Where a returned ticket goes next (退单).

    The last allowed return goes to the district center for a final ruling; a return
    naming another existing unit re-routes there; otherwise it goes back to the
    dispatcher who sent it. `at` picks the on-duty person; None takes the dispatcher.
    """
    count = returns_so_far + 1
    returner = current.assignee.unit_code
    note = f" ({reason.note})" if reason.note else ""
    said = f"return {count} by {returner}: {reason.code.value}{note}"
    place = Place(street_code=current.street_code, station_code=current.station_code)
    department = current.assignee.department
    if count >= rules.max_returns_before_ruling:
        return _plan_at(
            directory,
            directory.center.code,
            at,
            department,
            place,
            "return:final-ruling",
            f"{said}; {count} returns: the district center rules",
            co_handlers=current.co_handlers,
        )
    suggested = reason.suggested_unit
    if suggested and suggested != returner and directory.has_unit(suggested):
        new_place = _place_of(directory, suggested, place)
        return _plan_at(
            directory,
            suggested,
            at,
            department,
            new_place,
            f"return:rerouted-to-{suggested}",
            f"{said}; re-routed to the unit named in the return",
            co_handlers=_co_handlers_in(directory, current.co_handlers, new_place),
        )
    back_to = current.dispatcher.unit_code if current.dispatcher else directory.center.code
    return _plan_at(
        directory,
        back_to,
        at,
        department,
        place,
        "return:back-to-dispatcher",
        f"{said}; back to the dispatching unit to route by hand",
        co_handlers=current.co_handlers,
    )


def plan_transfer(
    current: RoutePlan,
    target_unit: str,
    reason: str,
    directory: OrgDirectory,
    at: datetime | None = None,
) -> RoutePlan:
    """A dispatcher hands the ticket to another unit; the reason is kept in the plan."""
    place = Place(street_code=current.street_code, station_code=current.station_code)
    new_place = _place_of(directory, target_unit, place)
    return _plan_at(
        directory,
        target_unit,
        at,
        current.assignee.department,
        new_place,
        f"transfer:{target_unit}",
        f"transferred from {current.assignee.unit_code}: {reason}",
        co_handlers=_co_handlers_in(directory, current.co_handlers, new_place),
    )


# --------------------------------------------------------------------------- helpers


def _plan_at(
    directory: OrgDirectory,
    unit_code: str,
    at: datetime | None,
    department: str | None,
    place: Place,
    rule: str,
    reason: str,
    co_handlers: Sequence[Assignment] = (),
) -> RoutePlan:
    """Assignee = who answers for the unit at `at`; above them the dispatchers of each
    enclosing unit, nearest first; the nearest of those dispatched the ticket."""
    person = directory.on_duty(unit_code, at) if at else directory.dispatcher_of(unit_code)
    assignee = _assign(directory, person, department)
    path = [
        _assign(directory, directory.dispatcher_of(code, at))
        for code in _ancestors(directory, person.unit_code)
    ]
    return RoutePlan(
        street_code=place.street_code,
        station_code=place.station_code,
        assignee=assignee,
        escalation_path=path,
        co_handlers=list(co_handlers),
        dispatcher=path[0] if path else assignee,
        leaders=[_assign(directory, leader) for leader in directory.leaders(at)],
        rule=rule,
        jurisdiction_reason=reason.lstrip("; "),
    )


def _ancestors(directory: OrgDirectory, unit_code: str) -> list[str]:
    codes: list[str] = []
    parent = directory.parent(unit_code)
    while parent is not None:
        codes.append(parent.code)
        parent = directory.parent(parent.code)
    return codes


def _assign(directory: OrgDirectory, person: Member, department: str | None = None) -> Assignment:
    unit = directory.unit(person.unit_code)
    if unit.kind is UnitKind.DEPARTMENT:
        department = unit.code
    return Assignment(
        tier=unit.tier,
        unit_code=unit.code,
        unit_name=unit.name,
        person_id=person.id,
        person_name=person.name,
        department=department,
    )


def _place_of(directory: OrgDirectory, unit_code: str, fallback: Place) -> Place:
    """The place a unit stands for: its street and station, or the ticket's own place
    when the unit has none (a district department)."""
    unit = directory.unit(unit_code)
    street = directory.street_of(unit_code)
    if street is None:
        return fallback
    station = unit.code if unit.kind is UnitKind.STATION else None
    if street.code == fallback.street_code and station is None:
        station = fallback.station_code if unit.kind is UnitKind.SUBCENTER else None
    return Place(street_code=street.code, station_code=station)


def _co_handlers_in(
    directory: OrgDirectory, co_handlers: Sequence[Assignment], place: Place
) -> list[Assignment]:
    """Co-handlers stay only while the ticket stays in their street."""
    kept = []
    for co in co_handlers:
        street = directory.street_of(co.unit_code) if directory.has_unit(co.unit_code) else None
        if street is not None and street.code == place.street_code:
            kept.append(co)
    return kept
