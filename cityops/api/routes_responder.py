"""The responder's page: ``/r/{token}``, opened from any notice on a phone.

One signed link per person and ticket (cityops/domain/tokens.py, page kind) shows the
ticket and the actions this person may take now; each action is a form POSTed to
``/r/{token}/{action}`` that runs the same workflow update as the API, with the person
from the token and ``via: page`` in the note, and is logged (cityops/db/page_links.py).
A done action redirects back to the page (a reload sends nothing twice); a second tap on
something already done says so; a refused one says why in Chinese, with no other
person's id. ``/r/{token}/mine`` lists the person's open tickets, most urgent first.
``/photos/{id}`` and ``/photos/{id}/thumb`` serve after-photos from the photo store.

Server-rendered (jinja2, autoescaped), no script and nothing fetched from elsewhere: the
CSS is inline, so the page works on a weak connection and behind a closed network.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, TypeVar

import jinja2
import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile

from cityops.api.context import AppContext, get_context
from cityops.api.openapi_docs import responses
from cityops.config import Settings
from cityops.db.page_links import PageLog
from cityops.domain.masking import mask_phone
from cityops.domain.models import (
    AcceptInput,
    AfterPhoto,
    ContactInput,
    ExtensionRequest,
    PauseInput,
    ResolveInput,
    ResumeInput,
    ReturnInput,
    ReturnReason,
    ReturnReasonCode,
    TicketStatus,
    TransferInput,
)
from cityops.domain.responder import (
    ACTION_ZH,
    CLOSURE_ZH,
    SLA_ZH,
    STAGE_ZH,
    Already,
    PageAction,
    Refused,
    ResponderView,
    available,
    explain_refusal,
    local_time,
    map_links,
    verdict,
)
from cityops.domain.tokens import (
    PAGE_PATH,
    PageClaim,
    TokenError,
    TokenForged,
    sign_page_token,
    verify_page_token,
)
from cityops.domain.zones import SHANGHAI
from cityops.media.exif import ACCEPTED_FORMATS, PhotoFacts, PhotoRejected, read_photo
from cityops.media.register import PHOTO_ID_PATTERN, PhotoRegister, TicketPhotoRow
from cityops.media.store import PhotoMissing, PhotoStoreError, photo_store
from cityops.rules.handling import default_handling_rules
from cityops.service import tickets
from cityops.service.responder import Responder
from cityops.service.tickets import (
    TicketError,
    TicketNotFound,
    TicketRejected,
    TicketUnavailable,
    TicketUpdate,
)
from cityops.workflows.ticket import TicketWorkflow
from cityops.workflows.verification import distance_m

M = TypeVar("M", bound=BaseModel)

log = structlog.get_logger(__name__)
router = APIRouter(tags=["responder page"])
TEMPLATES = Path(__file__).resolve().parent / "templates"
VIA_PAGE = "via: page"
# Edge limits: every field is bounded before it reaches the workflow.
TEXT_LIMIT = 500
MAX_FORM_FIELDS = 12
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the text fields around the photo
PHOTO_CLOCK_SKEW = timedelta(minutes=10)  # a phone clock a little ahead is not a forgery
REVEAL_REASONS = {
    "contact": "联系市民了解情况",
    "visit": "上门前与市民确认",
    "callback": "处置后向市民反馈",
}
# The page is a credential in the URL: no caches, no Referer, nothing from elsewhere.
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}
_DONE = {
    PageAction.ACCEPT: "已接单，请按时限处置",
    PageAction.CONTACT: "已记录首次联系",
    PageAction.PAUSE: "已暂停计时，市民回复后请恢复计时",
    PageAction.RESUME: "已恢复计时",
    PageAction.EXTEND: "延期申请已提交，等待上级审批",
    PageAction.RETURN: "已退单，工单已转回派单人或您建议的单位",
    PageAction.TRANSFER: "已转派下级工作站",
    PageAction.RESOLVE: "已提交办结，等待核验",
}


# --------------------------------------------------------------------------- wiring


@dataclass(frozen=True)
class PageContext:
    settings: Settings
    responder: Responder
    log: PageLog
    photos: PhotoRegister
    photo_radius_m: float


def get_page_context(
    request: Request, context: Annotated[AppContext, Depends(get_context)]
) -> PageContext:
    """Built once per app from the app's context (the same client and database)."""
    built: PageContext | None = getattr(request.app.state, "responder_page", None)
    if built is None or built.responder.client is not context.client:
        built = PageContext(
            settings=context.settings,
            responder=Responder(context.client, context.engine),
            log=PageLog(context.engine),
            photos=PhotoRegister(context.engine, photo_store(context.settings)),
            photo_radius_m=default_handling_rules().closure.photo_radius_m,
        )
        request.app.state.responder_page = built
    return built


Page = Annotated[PageContext, Depends(get_page_context)]


class PageProblem(Exception):
    """Stop and show this page: a refused link, a refused action, a bad field."""

    def __init__(self, status: int, heading: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.heading = heading
        self.message = message
        self.extra = extra


class FieldProblem(PageProblem):
    """A form field is wrong: 422, naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(422, "填写有误", f"{field}：{message}", field=field)
        self.field = field


# --------------------------------------------------------------------------- pages


IMAGE_TYPES = sorted(set(ACCEPTED_FORMATS.values()))
_PAGE_PROBLEMS = responses(400, 403, 404, 410, 503, html=True)
_PHOTO: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The photo (or its thumbnail)",
        "content": {
            kind: {"schema": {"type": "string", "format": "binary"}} for kind in IMAGE_TYPES
        },
    },
    404: {
        "description": "No such photo",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
    503: {
        "description": "The photo store is unavailable",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
}


@router.get(PAGE_PATH + "{token}", response_class=HTMLResponse, responses=_PAGE_PROBLEMS)
async def ticket_page(token: str, request: Request, page: Page) -> Response:
    try:
        claim, view = await _open(token, page)
    except PageProblem as problem:
        return _problem_page(problem, token)
    done = request.query_params.get("done", "")
    flash = ("ok", _DONE[PageAction(done)]) if done in _DONE else None
    return await _render_ticket(page, token, claim, view, flash=flash)


@router.get(
    PAGE_PATH + "{token}/mine",
    response_class=HTMLResponse,
    responses=responses(400, 403, 410, 503, html=True),
)
async def my_tickets(token: str, page: Page) -> Response:
    try:
        claim = _claim(token, page)
        if datetime.now(UTC) - claim.issued_at > timedelta(days=page.settings.page_list_days):
            raise PageProblem(
                410, "链接已过期", "这个链接太旧，不能再查看我的工单，请从最新的通知打开。"
            )
        rows = await page.responder.my_tickets(claim.person_id)
    except PageProblem as problem:
        return _problem_page(problem, token)
    except TicketError:
        return _problem_page(PageProblem(503, "暂时不可用", "系统暂时不可用，请稍后再试。"), token)
    now = datetime.now(UTC)
    links = {
        row.ticket_id: _page_path(
            sign_page_token(row.ticket_id, claim.person_id, now, _secret(page))
        )
        for row in rows
    }
    html = _template("responder_mine.html.j2").render(
        rows=rows,
        links=links,
        person_name=page.responder.person_name(claim.person_id) or "",
        back=_page_path(token),
        **_display_helpers(),
    )
    return HTMLResponse(html, headers=_HEADERS)


@router.post(
    PAGE_PATH + "{token}/{action}",
    response_class=HTMLResponse,
    responses={
        303: {"description": "Done: back to the ticket page"},
        **responses(400, 403, 404, 409, 410, 422, 503, html=True),
    },
)
async def act(token: str, action: str, request: Request, page: Page) -> Response:
    try:
        chosen = PageAction(action)
    except ValueError:
        return _problem_page(PageProblem(404, "没有这个操作", "页面上没有这个操作。"), token)
    try:
        claim, view = await _open(token, page)
    except PageProblem as problem:
        return _problem_page(problem, token)
    try:
        form = await _form(request, chosen, page.settings.photo_max_bytes)
        judged = verdict(chosen, view)
        if isinstance(judged, Already):
            page.log.record_action(view.status.ticket_id, claim.person_id, chosen, "already")
            return await _render_ticket(page, token, claim, view, flash=("info", judged.message))
        if isinstance(judged, Refused):
            raise PageProblem(409, "不能操作", judged.message)
        if chosen is PageAction.REVEAL:
            return await _reveal(page, token, claim, view, form)
        await _perform(page, chosen, view, form)
    except PageProblem as problem:
        page.log.record_action(
            view.status.ticket_id, claim.person_id, chosen, "refused", problem.message
        )
        return await _render_ticket(
            page, token, claim, view, flash=("error", problem.message), status=problem.status
        )
    page.log.record_action(view.status.ticket_id, claim.person_id, chosen, "done")
    log.info(
        "page_action", ticket_id=view.status.ticket_id, person_id=claim.person_id, action=chosen
    )
    if chosen in (PageAction.RETURN, PageAction.TRANSFER):
        # The ticket has left this person: their page for it is closed from now on.
        done = PageProblem(200, ACTION_ZH[chosen] + "完成", _DONE[chosen], mine=True)
        return _problem_page(done, token)
    return RedirectResponse(f"{_page_path(token)}?done={chosen.value}", 303, headers=_HEADERS)


@router.get("/photos/{photo_id}", response_class=Response, responses=_PHOTO)
async def photo(photo_id: str, page: Page) -> Response:
    return await _photo(photo_id, page, thumb=False)


@router.get("/photos/{photo_id}/thumb", response_class=Response, responses=_PHOTO)
async def photo_thumb(photo_id: str, page: Page) -> Response:
    return await _photo(photo_id, page, thumb=True)


# --------------------------------------------------------------------------- the link


def _secret(page: PageContext) -> str:
    return page.settings.secret


def _claim(token: str, page: PageContext) -> PageClaim:
    try:
        claim = verify_page_token(token, _secret(page))
    except TokenForged:
        log.warning("page_token_forged", token_prefix=token[:16])
        raise PageProblem(403, "链接无法验证", "这个链接不是本系统签发的，或已被改动。") from None
    except TokenError:
        raise PageProblem(400, "链接无效", "这个链接不完整或已损坏，请从通知中重新打开。") from None
    if page.log.is_revoked(claim.person_id, claim.ticket_id, claim.issued_at):
        raise PageProblem(410, "链接已收回", "这个链接已被收回，请使用最新通知中的链接。")
    return claim


async def _open(token: str, page: PageContext) -> tuple[PageClaim, ResponderView]:
    """A genuine, unrevoked link to an open ticket that is this person's now."""
    claim = _claim(token, page)
    try:
        view = await page.responder.view(claim.ticket_id, claim.person_id)
    except TicketNotFound:
        raise PageProblem(404, "没有这张工单", f"没有工单 {claim.ticket_id}。") from None
    except TicketRejected:
        raise PageProblem(
            410, "工单已关闭", f"工单 {claim.ticket_id} 已关闭，链接已失效。"
        ) from None
    except TicketUnavailable:
        raise PageProblem(503, "暂时不可用", "系统暂时不可用，请稍后再打开。") from None
    stage = view.status.stage
    if stage.is_final:
        raise PageProblem(
            410, "工单已结束", f"工单 {claim.ticket_id} {STAGE_ZH[stage]}，链接已失效。"
        )
    if view.status.assignee_id != claim.person_id:
        raise PageProblem(
            403,
            "不是您的工单",
            f"工单 {claim.ticket_id} 目前不由您处理（已转派、退单或升级），这个链接已失效。",
            mine=True,
        )
    return claim, view


def _page_path(token: str) -> str:
    return f"{PAGE_PATH}{token}"


# --------------------------------------------------------------------------- actions


async def _form(request: Request, action: PageAction, photo_max: int) -> FormData:
    limit = (photo_max if action is PageAction.RESOLVE else 0) + FORM_OVERHEAD
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise FieldProblem("photo" if action is PageAction.RESOLVE else "form", "请求缺少长度")
    if int(length) > limit:
        raise (
            FieldProblem("photo", f"照片不能超过 {photo_max // (1024 * 1024)} MB，请压缩或重新拍摄")
            if action is PageAction.RESOLVE
            else FieldProblem("form", "提交的内容过长")
        )
    try:
        return await request.form(
            max_files=1 if action is PageAction.RESOLVE else 0,
            max_fields=MAX_FORM_FIELDS,
            max_part_size=FORM_OVERHEAD,
        )
    except Exception as error:  # multipart errors have no common base: bad input, not a 500
        raise FieldProblem("form", f"表单无法读取（{type(error).__name__}）") from None


def _text(form: FormData, name: str, label: str, *, required: bool = False) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise FieldProblem(name, f"请填写{label}")
    if len(text) > TEXT_LIMIT:
        raise FieldProblem(name, f"{label}不能超过 {TEXT_LIMIT} 字")
    return text


def _tagged(text: str) -> str:
    return f"{text} ({VIA_PAGE})" if text else VIA_PAGE


def _message(model: type[M], **fields: Any) -> M:
    try:
        return model(**fields)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "form"
        raise FieldProblem(field, "内容不符合要求") from None


async def _perform(
    page: PageContext, action: PageAction, view: ResponderView, form: FormData
) -> None:
    person = view.person_id
    if action is PageAction.ACCEPT:
        await _update(page, view, TicketWorkflow.accept, AcceptInput(person_id=person), action)
    elif action is PageAction.CONTACT:
        note = _tagged(_text(form, "note", "联系情况"))
        await _update(
            page,
            view,
            TicketWorkflow.contact_citizen,
            ContactInput(person_id=person, note=note),
            action,
        )
    elif action is PageAction.PAUSE:
        reason = _tagged(_text(form, "reason", "暂停原因", required=True))
        await _update(
            page,
            view,
            TicketWorkflow.pause_clock,
            PauseInput(person_id=person, reason=reason),
            action,
        )
    elif action is PageAction.RESUME:
        note = _tagged(_text(form, "note", "说明"))
        await _update(
            page,
            view,
            TicketWorkflow.resume_clock,
            ResumeInput(person_id=person, note=note),
            action,
        )
    elif action is PageAction.EXTEND:
        request = _message(
            ExtensionRequest,
            person_id=person,
            new_deadline=_local_deadline(form),
            reason=_tagged(_text(form, "reason", "延期理由", required=True)),
        )
        await _update(page, view, TicketWorkflow.request_extension, request, action)
    elif action is PageAction.RETURN:
        await _update(page, view, TicketWorkflow.return_ticket, _return_input(form, person), action)
    elif action is PageAction.TRANSFER:
        await _update(page, view, TicketWorkflow.transfer, _transfer_input(form, view), action)
    elif action is PageAction.RESOLVE:
        await _resolve(page, view, form)


async def _update(
    page: PageContext,
    view: ResponderView,
    update: TicketUpdate[M],
    request: M,
    action: PageAction,
) -> TicketStatus:
    try:
        return await tickets.update(page.responder.client, view.status.ticket_id, update, request)
    except TicketRejected as refused:
        # Someone acted in between, or a rule the page does not see: ask the ticket again
        # so a double tap that raced itself still reads as done.
        log.info("page_action_refused", ticket_id=view.status.ticket_id, reason=str(refused))
        fresh = await page.responder.view(view.status.ticket_id, view.person_id)
        again = verdict(action, fresh)
        if isinstance(again, Already):
            return fresh.status
        raise PageProblem(409, "不能操作", explain_refusal(str(refused))) from None
    except TicketNotFound:
        raise PageProblem(404, "没有这张工单", "工单不存在。") from None
    except TicketUnavailable:
        raise PageProblem(
            503, "暂时不可用", "系统暂时不可用，请稍后再试，您的操作尚未提交。"
        ) from None


def _local_deadline(form: FormData) -> datetime:
    text = _text(form, "new_deadline", "新的办结时限", required=True)
    try:
        local = datetime.strptime(text[:16], "%Y-%m-%dT%H:%M")
    except ValueError:
        raise FieldProblem("new_deadline", "请选择日期和时间") from None
    return local.replace(tzinfo=SHANGHAI)


def _return_input(form: FormData, person: str) -> ReturnInput:
    code_text = _text(form, "code", "退单原因", required=True)
    try:
        code = ReturnReasonCode(code_text)
    except ValueError:
        raise FieldProblem("code", "请选择退单原因") from None
    suggested = _text(form, "suggested_unit", "建议承办单位") or None
    if suggested is not None and not all(ch.isalnum() or ch in "-_" for ch in suggested):
        raise FieldProblem("suggested_unit", "请填写单位编码，如 T02 或 T01-03")
    note = _tagged(_text(form, "note", "说明", required=True))
    try:
        reason = ReturnReason(code=code, note=note, suggested_unit=suggested)
    except ValidationError:
        raise FieldProblem("suggested_unit", "单位编码不能超过 32 个字符") from None
    return ReturnInput(person_id=person, reason=reason)


def _transfer_input(form: FormData, view: ResponderView) -> TransferInput:
    target = _text(form, "target_unit", "转派单位", required=True)
    if target not in {code for code, _ in view.child_units}:
        raise FieldProblem("target_unit", "只能转派给本单位下属的工作站")
    reason = _tagged(_text(form, "reason", "转派原因", required=True))
    return TransferInput(by=view.person_id, target_unit=target, reason=reason)


async def _resolve(page: PageContext, view: ResponderView, form: FormData) -> None:
    note = _text(form, "note", "办理结果", required=True)
    upload = form.get("photo")
    photo: AfterPhoto | None = None
    if isinstance(upload, UploadFile) and (upload.filename or upload.size):
        data = await upload.read(page.settings.photo_max_bytes + 1)
        if len(data) > page.settings.photo_max_bytes:
            raise FieldProblem(
                "photo",
                f"照片不能超过 {page.settings.photo_max_bytes // (1024 * 1024)} MB",
            )
        if not data:
            raise FieldProblem("photo", "照片文件是空的")
        photo, link = await _store_photo(page, view, data)
        if photo is None:
            note = f"{note} 照片：{link}"
    elif view.photo_required:
        raise FieldProblem("photo", "此类工单办结须上传现场处置后照片")
    request = ResolveInput(person_id=view.person_id, note=_tagged(note), photo=photo)
    await _update(page, view, TicketWorkflow.resolve, request, PageAction.RESOLVE)


async def _store_photo(
    page: PageContext, view: ResponderView, data: bytes
) -> tuple[AfterPhoto | None, str]:
    """Check the photo against the closure rules, then keep it. Returns the AfterPhoto
    for the workflow when the photo says when and where it was taken."""
    try:
        facts = read_photo(data)
    except PhotoRejected as rejected:
        raise FieldProblem("photo", str(rejected)) from None
    distance = _check_photo(page, view, facts)
    try:
        row = await asyncio.to_thread(
            page.photos.save, view.status.ticket_id, view.person_id, data, facts, distance
        )
    except PhotoStoreError:
        log.exception("photo_store_failed", ticket_id=view.status.ticket_id)
        raise PageProblem(503, "照片保存失败", "照片暂时无法保存，请稍后再提交。") from None
    link = f"{page.settings.public_url.rstrip('/')}/photos/{row.photo_id}"
    if not facts.has_place_and_time:
        return None, link
    assert facts.taken_at is not None and facts.lat is not None and facts.lon is not None
    return AfterPhoto(url=link, taken_at=facts.taken_at, lat=facts.lat, lon=facts.lon), link


def _check_photo(page: PageContext, view: ResponderView, facts: PhotoFacts) -> float | None:
    """The closure rules, said in Chinese before the workflow says them in English:
    taken after dispatch, near the place. Returns the distance when it can be known."""
    if not facts.has_place_and_time:
        if view.photo_required:
            raise FieldProblem(
                "photo",
                "照片没有拍摄时间或位置信息（EXIF），请用手机相机在现场拍摄并开启定位后上传",
            )
        return None
    assert facts.taken_at is not None and facts.lat is not None and facts.lon is not None
    if view.dispatched_at is not None and facts.taken_at < view.dispatched_at:
        raise FieldProblem(
            "photo",
            f"照片拍摄于 {local_time(facts.taken_at)}，早于派单时间 "
            f"{local_time(view.dispatched_at)}，请在处置后现场拍摄",
        )
    if facts.taken_at > datetime.now(UTC) + PHOTO_CLOCK_SKEW:
        raise FieldProblem("photo", "照片的拍摄时间晚于现在，请检查手机时间后重新拍摄")
    if view.lat is None or view.lon is None:
        return None
    distance = distance_m((view.lat, view.lon), (facts.lat, facts.lon))
    if view.photo_required and distance > page.photo_radius_m:
        raise FieldProblem(
            "photo",
            f"照片拍摄位置距工单地点约 {distance:.0f} 米，超出 {page.photo_radius_m:.0f} 米范围，"
            "请到现场拍摄",
        )
    return distance


async def _reveal(
    page: PageContext, token: str, claim: PageClaim, view: ResponderView, form: FormData
) -> Response:
    code = _text(form, "reason", "查看原因", required=True)
    reason = REVEAL_REASONS.get(code)
    if reason is None:
        raise FieldProblem("reason", "请选择查看号码的原因")
    page.log.record_reveal(view.status.ticket_id, claim.person_id, reason)
    page.log.record_action(
        view.status.ticket_id, claim.person_id, PageAction.REVEAL, "done", reason
    )
    log.info("caller_phone_revealed", ticket_id=view.status.ticket_id, person_id=claim.person_id)
    return await _render_ticket(
        page,
        token,
        claim,
        view,
        flash=("info", "号码查看已登记（查看人、时间、原因）"),
        revealed=view.caller_phone,
    )


# --------------------------------------------------------------------------- rendering


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # everything a citizen or a workflow wrote is escaped
        undefined=jinja2.StrictUndefined,
    )


def _template(name: str) -> jinja2.Template:
    return _environment().get_template(name)


def _display_helpers() -> dict[str, Any]:
    return {
        "when": local_time,
        "stage_zh": STAGE_ZH,
        "sla_zh": SLA_ZH,
        "action_zh": ACTION_ZH,
        "closure_zh": CLOSURE_ZH,
    }


EVENT_ZH = {
    "received": "受理",
    "classified": "分类",
    "needs_triage": "待人工分类",
    "triaged": "人工分类",
    "dispatched": "派单",
    "accepted": "接单",
    "citizen_contacted": "首次联系市民",
    "clock_paused": "暂停计时",
    "clock_resumed": "恢复计时",
    "pause_extended": "延长暂停",
    "pause_reminded": "暂停将到期提醒",
    "pause_expired": "暂停到期，恢复计时",
    "extension_requested": "申请延期",
    "extension_approved": "延期获批",
    "extension_rejected": "延期未获批",
    "returned": "退单",
    "transferred": "转派",
    "escalated": "升级",
    "reminded": "提醒",
    "urged": "催办",
    "supervised": "督办",
    "resolved": "办结",
    "verifying": "核验",
    "reopened": "重新处置",
    "photo_approved": "照片审核通过",
    "photo_rejected": "照片审核未通过",
    "notice_failed": "通知未送达",
    "closed": "关闭",
}


async def _render_ticket(
    page: PageContext,
    token: str,
    claim: PageClaim,
    view: ResponderView,
    *,
    flash: tuple[str, str] | None = None,
    status: int = 200,
    revealed: str | None = None,
) -> Response:
    ticket = view.status
    photos: list[TicketPhotoRow] = await asyncio.to_thread(page.photos.for_ticket, ticket.ticket_id)
    links = (
        map_links(view.lat, view.lon, ticket.address or "")
        if view.lat is not None and view.lon is not None
        else None
    )
    now_local = datetime.now(SHANGHAI)
    html = _template("responder_ticket.html.j2").render(
        t=ticket,
        view=view,
        base=_page_path(token),
        flash=flash,
        actions=available(view),
        links=links,
        masked_phone=mask_phone(view.caller_phone),
        caller_name=(view.caller_name[:1] + "**") if view.caller_name else None,
        revealed=revealed,
        reveal_reasons=REVEAL_REASONS,
        return_codes=[
            (ReturnReasonCode.NOT_OUR_JURISDICTION.value, "不属于本辖区"),
            (ReturnReasonCode.NOT_OUR_DUTY.value, "不属于本单位职责"),
        ],
        photos=photos,
        photo_radius=page.photo_radius_m,
        person_name=page.responder.person_name(claim.person_id) or "",
        event_zh=EVENT_ZH,
        min_deadline=now_local.strftime("%Y-%m-%dT%H:%M"),
        **_display_helpers(),
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _problem_page(problem: PageProblem, token: str) -> Response:
    html = _template("responder_message.html.j2").render(
        heading=problem.heading,
        message=problem.message,
        mine=_page_path(token) + "/mine" if problem.extra.get("mine") else None,
    )
    return HTMLResponse(html, status_code=problem.status, headers=_HEADERS)


async def _photo(photo_id: str, page: PageContext, *, thumb: bool) -> Response:
    if not re.match(PHOTO_ID_PATTERN, photo_id):
        return Response("no such photo", 404, media_type="text/plain")
    row = await asyncio.to_thread(page.photos.get, photo_id)
    if row is None:
        return Response("no such photo", 404, media_type="text/plain")
    try:
        data = await asyncio.to_thread(page.photos.store.get, row.thumb_key if thumb else row.key)
    except PhotoMissing:
        return Response("photo missing from the store", 404, media_type="text/plain")
    except PhotoStoreError:
        log.exception("photo_read_failed", photo_id=photo_id)
        return Response("photo store unavailable", 503, media_type="text/plain")
    return Response(
        data,
        media_type="image/jpeg" if thumb else row.content_type,
        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
