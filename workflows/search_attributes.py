"""The custom search attributes a supervisor filters tickets by in the Temporal UI.

Registered with the server before any workflow upserts them (`cityops up` passes
them to the dev server; tests do the same), so this list is the one source.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)
from temporalio.service import RPCError, RPCStatusCode

from cityops.domain.models import TicketIntake, TicketStatus
from cityops.domain.stages import CallKind

TICKET_ID = SearchAttributeKey.for_keyword("TicketId")
SCENARIO = SearchAttributeKey.for_keyword("TicketScenario")
CATEGORY = SearchAttributeKey.for_keyword("TicketCategory")
DIMENSION = SearchAttributeKey.for_keyword("TicketDimension")
PRIORITY = SearchAttributeKey.for_keyword("TicketPriority")
SOURCE = SearchAttributeKey.for_keyword("TicketSource")
STREET = SearchAttributeKey.for_keyword("TicketStreet")
TIER = SearchAttributeKey.for_keyword("TicketTier")
STAGE = SearchAttributeKey.for_keyword("TicketStage")
ASSIGNEE = SearchAttributeKey.for_keyword("TicketAssignee")
# KeywordList: the SQLite visibility store allows only 10 Keyword attributes. The colour,
# then `paused` while the resolve clock stands still and `stalled` while a wait's chain has
# pressed its top in vain (workflows/stall.py).
SLA_COLOUR = SearchAttributeKey.for_keyword_list("TicketSla")
ACCEPT_DEADLINE = SearchAttributeKey.for_datetime("TicketAcceptDeadline")
RESOLVE_DEADLINE = SearchAttributeKey.for_datetime("TicketResolveDeadline")
# When the latest pause of the resolve clock ends (the third and last Datetime slot of the
# SQLite visibility store). Like the other deadlines it keeps its last value once the pause
# is over (the time-skipping test server cannot describe an unset Datetime);
# with `TicketSla='paused'` it says when each pause standing ends.
PAUSE_DEADLINE = SearchAttributeKey.for_datetime("TicketPauseDeadline")
OVERDUE = SearchAttributeKey.for_bool("TicketOverdue")
ESCALATIONS = SearchAttributeKey.for_int("TicketEscalations")
REOPENS = SearchAttributeKey.for_int("TicketReopens")
# The call's kind (complaint, consultation, referral, suggestion). A KeywordList because
# all ten Keyword slots of the SQLite visibility store are taken; `TicketKind='referral'`
# matches as for a Keyword. A converted call's work order lists both kinds.
KIND = SearchAttributeKey.for_keyword_list("TicketKind")
# The incidents a ticket belongs to (docs/incidents.md), so `TicketIncident='IN…'` lists an
# incident's tickets. A KeywordList for the same reason as TicketKind; a list because an
# alarm ticket of a storm's incident may also be joined by a citizen's report.
INCIDENT = SearchAttributeKey.for_keyword_list("TicketIncident")

ALL = (
    TICKET_ID,
    SCENARIO,
    CATEGORY,
    DIMENSION,
    PRIORITY,
    SOURCE,
    STREET,
    TIER,
    STAGE,
    ASSIGNEE,
    SLA_COLOUR,
    ACCEPT_DEADLINE,
    RESOLVE_DEADLINE,
    PAUSE_DEADLINE,
    OVERDUE,
    ESCALATIONS,
    REOPENS,
    KIND,
    INCIDENT,
)

# temporal CLI type names, for `temporal server start-dev --search-attribute Name=Type`
_CLI_TYPE = {
    "KEYWORD": "Keyword",
    "KEYWORD_LIST": "KeywordList",
    "DATETIME": "Datetime",
    "BOOL": "Bool",
    "INT": "Int",
}


def dev_server_args() -> list[str]:
    args: list[str] = []
    for key in ALL:
        args += ["--search-attribute", f"{key.name}={_CLI_TYPE[key.indexed_value_type.name]}"]
    return args


def initial(intake: TicketIntake, *kinds: CallKind) -> TypedSearchAttributes:
    """Set at start, so a ticket is listable by number, source and (for a call) kind
    before its first task."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(TICKET_ID, intake.ticket_id),
        SearchAttributePair(SOURCE, intake.source.value),
        SearchAttributePair(STAGE, "intake"),
    ]
    if kinds:
        pairs.append(SearchAttributePair(KIND, [kind.value for kind in kinds]))
    if intake.incident is not None:
        pairs.append(SearchAttributePair(INCIDENT, [intake.incident.incident_id]))
    return TypedSearchAttributes(pairs)


def updates(status: TicketStatus) -> list[SearchAttributeUpdate[Any]]:
    """What the workflow upserts: every attribute the ticket's status can fill."""
    # `TicketSla='paused'` and `TicketSla='stalled'` list those tickets, whatever the colour.
    sla = [status.sla_colour]
    sla += ["paused"] if status.paused else []
    sla += ["stalled"] if status.stalled_since is not None else []
    changes: list[SearchAttributeUpdate[Any]] = [
        TICKET_ID.value_set(status.ticket_id),
        SOURCE.value_set(status.source.value),
        STAGE.value_set(status.stage.value),
        SLA_COLOUR.value_set(sla),
        OVERDUE.value_set(status.overdue),
        ESCALATIONS.value_set(status.escalations),
        REOPENS.value_set(status.reopens),
    ]
    scenario = status.classification.scenario if status.classification else None
    if scenario is not None:
        changes += [
            SCENARIO.value_set(scenario.id),
            CATEGORY.value_set(scenario.category_id),
            DIMENSION.value_set(scenario.dimension.value),
            # The scenario's priority, or the one repeat calls stepped it up to.
            PRIORITY.value_set((status.priority or scenario.priority).value),
        ]
    if status.street_code:
        changes.append(STREET.value_set(status.street_code))
    if status.assignee_id is not None and status.tier is not None:
        changes += [TIER.value_set(status.tier.value), ASSIGNEE.value_set(status.assignee_id)]
    if status.accept_deadline is not None:
        changes.append(ACCEPT_DEADLINE.value_set(status.accept_deadline))
    if status.resolve_deadline is not None:
        changes.append(RESOLVE_DEADLINE.value_set(status.resolve_deadline))
    if status.pause_deadline is not None:
        changes.append(PAUSE_DEADLINE.value_set(status.pause_deadline))
    return changes


async def register(client: Client, namespace: str) -> list[str]:
    """Add any of ours the namespace lacks; returns the names added. Safe to repeat.

    The time-skipping test server cannot list search attributes, only add them,
    so there we add them all.
    """
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        existing = set(listed.custom_attributes)
    except RPCError as exc:
        if exc.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type)
        for key in ALL
        if key.name not in existing
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(search_attributes=missing, namespace=namespace)
        )
    return sorted(missing)
