"""The custom search attributes a supervisor filters tickets by in the Temporal UI.

Registered with the server before any workflow upserts them (`cityops up` passes
them to the dev server; tests do the same), so this list is the one source.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

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
SLA_COLOUR = SearchAttributeKey.for_keyword("TicketSla")
ACCEPT_DEADLINE = SearchAttributeKey.for_datetime("TicketAcceptDeadline")
RESOLVE_DEADLINE = SearchAttributeKey.for_datetime("TicketResolveDeadline")
OVERDUE = SearchAttributeKey.for_bool("TicketOverdue")
ESCALATIONS = SearchAttributeKey.for_int("TicketEscalations")
REOPENS = SearchAttributeKey.for_int("TicketReopens")

ALL = (
    TICKET_ID, SCENARIO, CATEGORY, DIMENSION, PRIORITY, SOURCE, STREET, TIER, STAGE,
    ASSIGNEE, SLA_COLOUR, ACCEPT_DEADLINE, RESOLVE_DEADLINE, OVERDUE, ESCALATIONS, REOPENS,
)

# temporal CLI type names, for `temporal server start-dev --search-attribute Name=Type`
_CLI_TYPE = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool", "INT": "Int"}


def dev_server_args() -> list[str]:
    args: list[str] = []
    for key in ALL:
        args += ["--search-attribute", f"{key.name}={_CLI_TYPE[key.indexed_value_type.name]}"]
    return args
