"""Splitting a call's secondary issue into its own ticket: what the workflow checks and
records. Pure (no Temporal, no I/O), so the rules are tested on their own.

Why here and not in the service: the workflow is the authority on its own state (is
there a secondary issue, was it split already), checked in the update's validator
against the state at that moment; the service has only a status read earlier.
"""

from __future__ import annotations

from datetime import datetime

from cityops.domain.models import (
    SPLITTER_ROLES,
    Classification,
    SplitInput,
    SplitRecord,
)

SPLIT_EVENT = "secondary_split"  # the history event on the original ticket
SPLIT_FROM_EVENT = "split_from"  # the history event on the new ticket


def check_split(
    classification: Classification | None, done: SplitRecord | None, request: SplitInput
) -> None:
    """Raise ValueError with the reason when this split may not happen."""
    if request.by_role not in SPLITTER_ROLES:
        raise ValueError(
            f"{request.by} is a {request.by_role}: only a dispatcher or a supervisor "
            "splits a secondary issue"
        )
    if classification is None or classification.secondary is None:
        raise ValueError("the ticket has no secondary issue to split")
    if done is not None:
        raise ValueError(
            f"the secondary issue was already split into ticket {done.new_ticket_id} by {done.by}"
        )


def split_record(classification: Classification, request: SplitInput, at: datetime) -> SplitRecord:
    """What the original ticket keeps; call after check_split."""
    assert classification.secondary is not None
    return SplitRecord(
        new_ticket_id=request.new_ticket_id,
        scenario_id=classification.secondary.scenario.id,
        by=request.by,
        at=at,
    )


def split_detail(classification: Classification, record: SplitRecord) -> str:
    """The history line: which problem went where."""
    assert classification.secondary is not None
    scenario = classification.secondary.scenario
    return f"secondary {scenario.id} {scenario.name_zh} → ticket {record.new_ticket_id}"
