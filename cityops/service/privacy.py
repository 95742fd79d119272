"""Erasure in Temporal: delete the histories of a caller's closed tickets.

A running ticket keeps its history (the work order is still being done); its payloads stay
encrypted, and it goes with the namespace's retention once it closes, or with the next
erasure run. docs/privacy.md says how long that is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import (
    DeleteWorkflowExecutionRequest,
    DescribeWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from cityops.service.tickets import workflow_id_for


@dataclass
class HistoryErasure:
    deleted: list[str] = field(default_factory=list)  # closed: history deleted now
    still_open: list[str] = field(default_factory=list)  # running: kept until it closes
    absent: list[str] = field(default_factory=list)  # already gone (retention)


async def delete_closed_histories(
    client: Client, namespace: str, ticket_ids: list[str]
) -> HistoryErasure:
    outcome = HistoryErasure()
    service = client.workflow_service
    for ticket_id in ticket_ids:
        execution = WorkflowExecution(workflow_id=workflow_id_for(ticket_id))
        try:
            described = await service.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(namespace=namespace, execution=execution)
            )
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                outcome.absent.append(ticket_id)
                continue
            raise
        status = described.workflow_execution_info.status
        if status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING:
            outcome.still_open.append(ticket_id)
            continue
        await service.delete_workflow_execution(
            DeleteWorkflowExecutionRequest(namespace=namespace, workflow_execution=execution)
        )
        outcome.deleted.append(ticket_id)
    return outcome
