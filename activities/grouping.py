"""The group_notice activity: hand a follow-up notice to its recipients' notice groups.

For each recipient, signal-with-start the NoticeGroupWorkflow of (person, incident): the
first follow-up starts the group and goes out at once; later ones within the window join
it and go out together (workflows/notice_group.py). The names come from domain.models,
where the workflow takes them too, since signal-with-start is called by name.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from cityops.domain.models import (
    NOTICE_GROUP_SIGNAL,
    NOTICE_GROUP_WORKFLOW,
    Notice,
    NoticeGroupStart,
    NoticeReceipt,
    notice_group_workflow_id,
)


class NoticeGroupActivities:
    @activity.defn(name="group_notice")
    async def group_notice(self, notice: Notice) -> NoticeReceipt:
        assert notice.group_key is not None and notice.group_window is not None
        client = activity.client()
        queue = activity.info().task_queue
        for recipient in notice.recipients:
            await client.start_workflow(
                NOTICE_GROUP_WORKFLOW,
                NoticeGroupStart(
                    person_id=recipient.person_id,
                    group_key=notice.group_key,
                    window=notice.group_window,
                ),
                id=notice_group_workflow_id(recipient.person_id, notice.group_key),
                task_queue=queue,
                start_signal=NOTICE_GROUP_SIGNAL,
                start_signal_args=[notice.model_copy(update={"recipients": [recipient]})],
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                static_summary=f"follow-ups to {recipient.name} about {notice.group_key}",
            )
        return NoticeReceipt(grouped=[r.person_id for r in notice.recipients])
