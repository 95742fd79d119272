"""NoticeGroupWorkflow: follow-up notices (escalated, urge, supervise) about the tickets of
one incident to one person, gathered into as few messages as the window allows.

One run per (person, incident), started by the first follow-up (signal-with-start from the
`group_notice` activity). The first follow-up goes out at once: grouping never delays it.
Those that arrive within the window after it go out together as one `grouped` message at
the window's end; then the run waits one more window and ends when nothing came. A
follow-up nobody could be reached by is reported back to each ticket it was about.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from cityops.activities.notify import NotifyActivities
    from cityops.domain.models import (
        NOTICE_GROUP_SIGNAL,
        NOTICE_GROUP_WORKFLOW,
        Notice,
        NoticeGroupStart,
        NoticeItem,
        NoticeReceipt,
        NoticeUndelivered,
    )
    from cityops.domain.stages import NoticeKind

from cityops.workflows.ticket import NOTIFY_RETRY, NOTIFY_TIMEOUT, TicketWorkflow


def grouped(notices: list[Notice], idempotency_key: str) -> Notice:
    """One message carrying several follow-ups to the same person."""
    first = notices[0]
    tickets = list(dict.fromkeys(n.ticket_id for n in notices))
    return Notice(
        kind=NoticeKind.GROUPED,
        ticket_id=first.ticket_id,
        idempotency_key=idempotency_key,
        recipients=first.recipients,
        title=f"同一事件 {len(tickets)} 张工单的 {len(notices)} 条催督办/升级通知",
        facts={"group_key": first.group_key or "", "tickets": "、".join(tickets)},
        accept_link=False,
        items=[
            NoticeItem(
                kind=n.kind,
                ticket_id=n.ticket_id,
                workflow_id=n.workflow_id,
                title=n.title,
                facts=n.facts,
                accept_link=n.accept_link,
            )
            for n in notices
        ],
    )


@workflow.defn(name=NOTICE_GROUP_WORKFLOW)
class NoticeGroupWorkflow:
    @workflow.init
    def __init__(self, start: NoticeGroupStart) -> None:
        self._pending: list[Notice] = []
        self._seen: set[str] = set()  # a retried group_notice activity signals again
        self._messages = 0

    @workflow.signal(name=NOTICE_GROUP_SIGNAL)
    def add(self, notice: Notice) -> None:
        if notice.idempotency_key not in self._seen:
            self._seen.add(notice.idempotency_key)
            self._pending.append(notice)

    @workflow.run
    async def run(self, start: NoticeGroupStart) -> int:
        await workflow.wait_condition(lambda: bool(self._pending))
        first = self._pending.pop(0)
        await self._send(first, [first])  # at once: never delayed by grouping
        while True:
            await workflow.sleep(start.window, summary=f"gather follow-ups for {start.window}")
            if not self._pending:
                return self._messages  # a quiet window: the incident's storm is over
            batch, self._pending = self._pending, []
            info = workflow.info()
            key = f"{info.workflow_id}/{info.run_id}/{self._messages + 1}"
            await self._send(grouped(batch, key) if len(batch) > 1 else batch[0], batch)

    async def _send(self, notice: Notice, about: list[Notice]) -> None:
        self._messages += 1
        receipt: NoticeReceipt = await workflow.execute_activity_method(
            NotifyActivities.send_notice,
            notice,
            summary=f"notify {notice.kind.value}: {len(about)} follow-up(s)",
            start_to_close_timeout=NOTIFY_TIMEOUT,
            retry_policy=NOTIFY_RETRY,
        )
        if not receipt.failed:
            return
        reason = "; ".join(f.reason for f in receipt.failures)
        for item in about:
            if not item.workflow_id:
                continue
            failure = NoticeUndelivered(kind=item.kind, person_id=receipt.failed[0], reason=reason)
            handle = workflow.get_external_workflow_handle(item.workflow_id)
            try:
                await handle.signal(TicketWorkflow.notice_undelivered, failure)
            except Exception:
                workflow.logger.info("ticket %s is closed; failure not reported", item.workflow_id)
