"""What the responder's page may offer one person on one ticket, decided without I/O.

The page (cityops/api/routes_responder.py) asks ``verdict(action, view)`` before it runs
a workflow update, so a person sees at once, in Chinese, why an action is not open to
them, and a second tap on something already done says so instead of failing. The
workflow's validators stay the authority: a refusal they raise anyway (someone acted in
between) is put into Chinese by ``explain_refusal``, which never repeats the workflow's
message, since that names other people's ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal
from urllib.parse import quote

from cityops.domain.models import TicketStatus
from cityops.domain.stages import ClosureCheck, Stage
from cityops.domain.zones import SHANGHAI

WORKING = (Stage.ACCEPTED, Stage.REOPENED)
UNACCEPTED = (Stage.AWAITING_ACCEPT, Stage.ESCALATED)
AFTER_RESOLVE = (Stage.RESOLVED, Stage.VERIFYING)

STAGE_ZH = {
    Stage.INTAKE: "刚受理",
    Stage.TRIAGE: "待人工分类",
    Stage.CLASSIFIED: "已分类",
    Stage.AWAITING_ACCEPT: "待接单",
    Stage.ESCALATED: "已升级待接单",
    Stage.ACCEPTED: "处置中",
    Stage.RESOLVED: "已办结待核验",
    Stage.VERIFYING: "核验中",
    Stage.REOPENED: "核验未通过，重新处置",
    Stage.CLOSED: "已办结",
    Stage.CLOSED_UNFIXED: "已裁定关闭",
    Stage.DISMISSED: "已作废",
}
SLA_ZH = {"green": "正常", "yellow": "临近时限", "red": "已超时"}
CLOSURE_ZH = {
    ClosureCheck.CALLBACK: "12345 回访市民",
    ClosureCheck.PHOTO_REVIEW: "上传现场照片，派单人审核",
    ClosureCheck.SENSOR_RECOVERY: "传感器恢复正常",
    ClosureCheck.VIDEO_RECHECK: "视频复检",
}


class PageAction(StrEnum):
    """Every action the page offers; the value is the form's path segment."""

    ACCEPT = "accept"
    CONTACT = "contact"
    PAUSE = "pause"
    RESUME = "resume"
    EXTEND = "extend"
    RETURN = "return"
    TRANSFER = "transfer"
    RESOLVE = "resolve"
    REVEAL = "reveal"


ACTION_ZH = {
    PageAction.ACCEPT: "接单",
    PageAction.CONTACT: "记录首次联系",
    PageAction.PAUSE: "暂停计时（等待市民）",
    PageAction.RESUME: "恢复计时",
    PageAction.EXTEND: "申请延期",
    PageAction.RETURN: "退单",
    PageAction.TRANSFER: "转派下级",
    PageAction.RESOLVE: "办结",
    PageAction.REVEAL: "查看完整号码",
}


@dataclass(frozen=True)
class ResponderView:
    """One ticket as one person's page needs it: the workflow's status plus what the
    workflow input and the organisation add."""

    status: TicketStatus
    person_id: str
    lat: float | None = None
    lon: float | None = None
    caller_phone: str | None = None
    caller_name: str | None = None
    closure_check: ClosureCheck | None = None
    dispatched_at: datetime | None = None
    child_units: list[tuple[str, str]] = field(default_factory=list)  # (code, name) below

    @property
    def is_theirs(self) -> bool:
        return self.status.assignee_id == self.person_id and not self.status.stage.is_final

    @property
    def photo_required(self) -> bool:
        return self.closure_check is ClosureCheck.PHOTO_REVIEW


@dataclass(frozen=True)
class Allowed:
    kind: Literal["allowed"] = "allowed"


@dataclass(frozen=True)
class Already:
    """Done before: a second tap. Shown as a plain confirmation, not an error."""

    message: str
    kind: Literal["already"] = "already"


@dataclass(frozen=True)
class Refused:
    message: str
    kind: Literal["refused"] = "refused"


Verdict = Allowed | Already | Refused


def verdict(action: PageAction, view: ResponderView) -> Verdict:
    """May this person take this action on this ticket now, and if not, why."""
    status = view.status
    stage = status.stage
    if stage.is_final:
        return Refused(f"工单{STAGE_ZH[stage]}，不能再操作")
    if status.assignee_id != view.person_id:
        return Refused("这张工单目前不由您处理，无需操作")
    if action is PageAction.ACCEPT:
        if stage in UNACCEPTED:
            return Allowed()
        if stage in (*WORKING, *AFTER_RESOLVE):
            return Already("这张工单已由您接单，无需再次接单")
        return Refused(f"工单{STAGE_ZH[stage]}，暂不能接单")
    if action is PageAction.RETURN:
        if stage in UNACCEPTED:
            return Allowed()
        return Refused("已接单的工单不能退单；如确非本单位职责，请联系派单人改派")
    if action is PageAction.TRANSFER:
        if stage in AFTER_RESOLVE:
            return Refused("工单已办结待核验，不能再转派")
        if not view.child_units:
            return Refused("您所在单位下没有可转派的工作站")
        return Allowed()
    if action is PageAction.REVEAL:
        return Allowed() if view.caller_phone else Refused("市民未留电话")
    if action is PageAction.RESOLVE and stage in AFTER_RESOLVE:
        return Already("已提交办结，正在核验，无需重复提交")
    if stage in UNACCEPTED:
        return Refused("请先接单")
    if stage not in WORKING:
        return Refused(f"工单{STAGE_ZH[stage]}，现在不能{ACTION_ZH[action]}")
    return _while_working(action, view)


def _while_working(action: PageAction, view: ResponderView) -> Verdict:
    status = view.status
    if action is PageAction.CONTACT and status.contacted_at is not None:
        return Already(f"已于 {local_time(status.contacted_at)} 记录首次联系")
    if action is PageAction.PAUSE and status.paused:
        return Already("计时已暂停，等待市民期间不计时")
    if action is PageAction.RESUME and not status.paused:
        return Already("计时正在进行，无需恢复")
    if action is PageAction.EXTEND and status.pending_extension is not None:
        return Already("延期申请已提交，正在等待上级审批")
    return Allowed()


def available(view: ResponderView) -> list[PageAction]:
    """The actions the page shows as buttons now (reveal is shown with the phone)."""
    return [
        action
        for action in PageAction
        if action is not PageAction.REVEAL and isinstance(verdict(action, view), Allowed)
    ]


# The workflow's refusals (English, naming ids), matched by the words that say why.
_REFUSALS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"is closed; it takes no more"), "工单已关闭，不能再操作"),
    (re.compile(r"not assigned to this ticket|is not the assignee"), "这张工单目前不由您处理"),
    (re.compile(r"only a dispatched ticket can be accepted"), "工单当前不在待接单状态"),
    (re.compile(r"accept it before resolving"), "请先接单再办结"),
    (
        re.compile(r"photo\.taken_at"),
        "照片拍摄时间早于派单时间，请在现场处置后重新拍摄",
    ),
    (re.compile(r"photo\.lat/lon: taken (\d+) m from the place \(limit (\d+) m\)"), ""),
    (re.compile(r"^photo: "), "此类工单办结须上传现场处置后照片（带拍摄时间和位置）"),
    (re.compile(r"already waiting for a decision"), "延期申请已提交，正在等待上级审批"),
    (re.compile(r"no more extensions: the limit is (\d+)"), ""),
    (re.compile(r"deadline .* has passed"), "办结时限已过，不能再申请延期"),
    (re.compile(r"new_deadline must be after"), "新的办结时限须晚于当前办结时限"),
    (re.compile(r"may not transfer"), "只能转派给本单位下属的工作站"),
    (re.compile(r"can be transferred only before"), "工单已办结待核验，不能再转派"),
    (re.compile(r"only a ticket not yet accepted can be returned"), "已接单的工单不能退单"),
    (re.compile(r"first contact already recorded"), "已记录首次联系"),
    (re.compile(r"already paused"), "计时已暂停"),
    (re.compile(r"clock is not paused"), "计时正在进行，无需恢复"),
    (re.compile(r"only while it is being worked on"), "工单当前不在处置中"),
]


def explain_refusal(message: str) -> str:
    """The workflow's refusal in Chinese, without the ids it names."""
    for pattern, chinese in _REFUSALS:
        found = pattern.search(message)
        if found is None:
            continue
        if pattern.pattern.startswith("photo\\.lat"):
            return (
                f"照片拍摄位置距工单地点约 {found.group(1)} 米，超出 {found.group(2)} 米范围，"
                "请到现场拍摄"
            )
        if pattern.pattern.startswith("no more extensions"):
            return f"延期次数已用完（每张工单最多 {found.group(1)} 次）"
        return chinese
    return "工单当前状态不允许此操作，请刷新页面后再试"


# --------------------------------------------------------------------------- display


def local_time(moment: datetime | None) -> str:
    """Shanghai time with the zone marked: ``2026-12-03 15:30 (UTC+8)``."""
    if moment is None:
        return "—"
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") + " (UTC+8)"


@dataclass(frozen=True)
class MapLinks:
    geo: str  # opens the phone's own map app
    amap: str  # 高德 web/app, told the point is WGS-84
    osm: str


def map_links(lat: float, lon: float, label: str = "") -> MapLinks:
    name = quote(label[:60] or "工单地点")
    return MapLinks(
        geo=f"geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}({name})",
        amap=(
            f"https://uri.amap.com/marker?position={lon:.6f},{lat:.6f}"
            f"&name={name}&coordinate=wgs84&callnative=1"
        ),
        osm=f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=18/{lat:.6f}/{lon:.6f}",
    )


def effective_closure_check(
    scenario_check: ClosureCheck,
    *,
    alarm_sensor_type: str | None,
    has_caller_phone: bool,
) -> ClosureCheck:
    """How the fix will be proven, given the evidence the ticket can have: the same rule
    as the workflow's (a sensor check needs a device, a video check a camera)."""
    if scenario_check is ClosureCheck.SENSOR_RECOVERY and (
        alarm_sensor_type is None or alarm_sensor_type == "video_ai"
    ):
        return ClosureCheck.CALLBACK if has_caller_phone else ClosureCheck.PHOTO_REVIEW
    if scenario_check is ClosureCheck.VIDEO_RECHECK and alarm_sensor_type != "video_ai":
        return ClosureCheck.PHOTO_REVIEW
    return scenario_check


# --------------------------------------------------------------------------- my tickets


@dataclass(frozen=True)
class MyTicket:
    """One row of a person's open tickets, from the visibility store alone."""

    ticket_id: str
    stage: Stage
    scenario_id: str | None
    priority: str | None
    sla: str
    overdue: bool
    accept_deadline: datetime | None
    resolve_deadline: datetime | None

    @property
    def deadline(self) -> datetime | None:
        """The deadline that matters now: accepting, until accepted; then resolving."""
        return self.accept_deadline if self.stage in UNACCEPTED else self.resolve_deadline


_SLA_RANK = {"red": 0, "yellow": 1, "green": 2}


def most_urgent_first(rows: list[MyTicket]) -> list[MyTicket]:
    """Overdue first, then red, yellow, green, then the nearest deadline, then priority."""
    far = datetime.max.replace(tzinfo=SHANGHAI)
    return sorted(
        rows,
        key=lambda row: (
            not row.overdue,
            _SLA_RANK.get(row.sla, 3),
            row.deadline or far,
            row.priority or "P9",
            row.ticket_id,
        ),
    )
