"""The responder's page against the real app, a Temporal dev server and the seeded
organisation: what it shows, each action through the workflow's updates, idempotent
second taps, refusals in Chinese without other people's ids, the phone reveal log,
photo checks, link revocation, and "my tickets"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from cityops.db.page_links import PageLog
from cityops.domain.tokens import sign_accept_token
from cityops.domain.zones import SHANGHAI
from tests.api.responder_helpers import (
    PLACE,
    dispatched,
    open_ticket,
    page_actions,
    page_path,
    reveals,
    status,
    submit,
)
from tests.api.stack import Api
from tests.conftest import eventually
from tests.photos import jpeg


async def test_the_page_shows_what_the_responder_needs_and_no_full_phone(api: Api) -> None:
    _, _, path = await open_ticket(api)
    page = await api.http.get(path)
    assert page.status_code == 200, page.text
    html = page.text
    assert "暴露垃圾与偷倒建筑垃圾" in html and "CA02" in html
    assert "浦东新区张江镇碧波路690号" in html
    assert "味道很大" in html  # the citizen's words
    assert "139****1234" in html and "13900001234" not in html and "王**" in html
    assert re.search(
        r"接单时限</dt><dd class=\"green\"><strong>\d{4}-\d\d-\d\d \d\d:\d\d \(UTC\+8\)", html
    )
    assert f"geo:{PLACE[0]:.6f},{PLACE[1]:.6f}" in html and "uri.amap.com" in html
    assert 'action="' + path + '/accept"' in html and 'action="' + path + '/return"' in html
    assert "/resolve" not in html  # not before accepting
    assert "<script" not in html and "<link" not in html and 'src="http' not in html
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]


async def test_accept_through_the_page_and_a_second_tap_says_it_is_yours(api: Api) -> None:
    ticket, assignee, path = await open_ticket(api)
    first = await api.http.post(path + "/accept")
    assert first.status_code == 303 and first.headers["location"] == path + "?done=accept"
    shown = await api.http.get(first.headers["location"])
    assert "已接单，请按时限处置" in shown.text and "处置中" in shown.text
    again = await api.http.post(path + "/accept")
    assert again.status_code == 200
    assert "已由您接单" in again.text and "flash info" in again.text
    assert (await status(api, ticket))["stage"] == "accepted"
    assert page_actions(api, ticket) == [
        (assignee, "accept", "done"),
        (assignee, "accept", "already"),
    ]


async def test_someone_elses_link_is_refused_in_chinese_without_ids(api: Api) -> None:
    ticket, assignee, _ = await open_ticket(api)
    stranger = page_path(api, ticket, "P-T02-01-1")
    for response in (await api.http.get(stranger), await api.http.post(stranger + "/accept")):
        assert response.status_code == 403
        assert "目前不由您处理" in response.text
        assert assignee not in response.text
    assert (await status(api, ticket))["stage"] == "awaiting_accept"


async def test_forged_accept_kind_and_revoked_links_are_refused(api: Api) -> None:
    ticket, assignee, path = await open_ticket(api)
    token = path.removeprefix("/r/")
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert (await api.http.get(f"/r/{forged}")).status_code == 403
    accept_token = sign_accept_token(
        ticket, assignee, datetime.now(UTC) + timedelta(days=1), api.settings.secret
    )
    assert (await api.http.get(f"/r/{accept_token}")).status_code == 403
    assert (await api.http.get("/r/" + "x" * 2000)).status_code == 400
    PageLog(api.engine).revoke(assignee, ticket_id=ticket, by="test", reason="lost phone")
    revoked = await api.http.post(path + "/accept")
    assert revoked.status_code == 410 and "已被收回" in revoked.text
    assert (await status(api, ticket))["stage"] == "awaiting_accept"
    fresh = page_path(api, ticket, assignee, datetime.now(UTC) + timedelta(milliseconds=5))
    assert (await api.http.get(fresh)).status_code == 200


async def test_contact_pause_resume_with_second_taps_and_field_errors(api: Api) -> None:
    ticket, _, path = await open_ticket(api)
    assert (await api.http.post(path + "/contact")).status_code == 409  # before accepting
    assert (await api.http.post(path + "/accept")).status_code == 303
    done = await api.http.post(path + "/contact", data={"note": "已电话联系王先生"})
    assert done.status_code == 303
    again = await api.http.post(path + "/contact", data={"note": "again"})
    assert again.status_code == 200 and "已于" in again.text and "(UTC+8)" in again.text
    missing = await api.http.post(path + "/pause", data={"reason": "  "})
    assert missing.status_code == 422 and "reason" in missing.text
    too_long = await api.http.post(path + "/pause", data={"reason": "等" * 501})
    assert too_long.status_code == 422 and "reason" in too_long.text
    assert (await api.http.post(path + "/pause", data={"reason": "等业主开门"})).status_code == 303
    paused = await status(api, ticket)
    assert paused["paused"] is True
    history = {entry["event"]: entry for entry in paused["history"]}
    assert history["citizen_contacted"]["detail"] == "已电话联系王先生 (via: page)"
    # The pause's end (sla.yaml pause.within, none stated on the page) is kept with it.
    assert history["clock_paused"]["detail"].startswith("等业主开门 (via: page) (until ")
    assert "计时暂停中" in (await api.http.get(path)).text
    assert (await api.http.post(path + "/resume", data={"note": ""})).status_code == 303
    assert (await api.http.post(path + "/resume")).status_code == 200  # already running
    assert (await status(api, ticket))["paused"] is False


async def test_revealing_the_phone_is_logged_with_who_and_why(api: Api) -> None:
    ticket, assignee, path = await open_ticket(api)
    refused = await api.http.post(path + "/reveal", data={"reason": "curious"})
    assert refused.status_code == 422 and "13900001234" not in refused.text
    shown = await api.http.post(path + "/reveal", data={"reason": "contact"})
    assert shown.status_code == 200
    assert 'href="tel:13900001234"' in shown.text and "已登记" in shown.text
    assert reveals(api, ticket) == [(assignee, "联系市民了解情况")]
    assert "13900001234" not in (await api.http.get(path)).text  # shown once, not kept open


async def test_request_an_extension_once_and_the_second_is_already_waiting(api: Api) -> None:
    ticket, _, path = await open_ticket(api)
    await api.http.post(path + "/accept")
    deadline = datetime.fromisoformat((await status(api, ticket))["resolve_deadline"])
    later = (deadline + timedelta(days=2)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
    asked = await api.http.post(
        path + "/extend", data={"new_deadline": later, "reason": "需协调物业"}
    )
    assert asked.status_code == 303, asked.text
    pending = (await status(api, ticket))["pending_extension"]
    assert pending["reason"] == "需协调物业 (via: page)"
    again = await api.http.post(path + "/extend", data={"new_deadline": later, "reason": "x"})
    assert again.status_code == 200 and "等待上级审批" in again.text
    bad = await api.http.post(path + "/extend", data={"new_deadline": "tomorrow", "reason": "x"})
    assert bad.status_code == 200  # pending already: the second tap wins over the bad date


async def test_return_with_a_reason_and_suggested_unit_moves_the_ticket(api: Api) -> None:
    ticket, assignee, path = await open_ticket(api)
    returned = await api.http.post(
        path + "/return",
        data={"code": "not_our_jurisdiction", "suggested_unit": "T02", "note": "在隔壁镇"},
    )
    assert returned.status_code == 200 and "已退单" in returned.text
    moved = await status(api, ticket)
    assert moved["assignee_id"] != assignee and moved["street_code"] == "T02"
    returned_entry = next(e for e in moved["history"] if e["event"] == "returned")
    assert "via: page" in returned_entry["detail"]
    gone = await api.http.get(path)
    assert gone.status_code == 403 and moved["assignee_id"] not in gone.text
    assert "/mine" in gone.text


async def test_transfer_down_to_a_station_of_ones_own_street(api: Api) -> None:
    # TR03 potholes are handled by the street: the street's person may hand it down.
    ticket, assignee, path = await open_ticket(
        api, text="碧波路上有个大坑，车开过去很危险", service_code="TR03"
    )
    page = await api.http.get(path)
    stations = re.findall(r'<option value="(T01-\d+)">', page.text)
    assert stations, "the street's stations are offered"
    bad = await api.http.post(path + "/transfer", data={"target_unit": "T02-01", "reason": "x"})
    assert bad.status_code == 422 and "target_unit" in bad.text
    done = await api.http.post(
        path + "/transfer", data={"target_unit": stations[0], "reason": "由居委处理"}
    )
    assert done.status_code == 200 and "已转派" in done.text
    moved = await status(api, ticket)
    assert moved["assignee_id"] != assignee and moved["tier"] == "village"


async def test_resolve_checks_the_photo_against_the_closure_rules(api: Api) -> None:
    ticket, _, path = await open_ticket(api)
    await api.http.post(path + "/accept")
    # EXIF keeps whole seconds: a second on, so "now" is not before the dispatch instant.
    now = datetime.now(UTC) + timedelta(seconds=1)

    async def resolve(photo: bytes | None, name: str = "after.jpg") -> str:
        files = {"photo": (name, photo, "image/jpeg")} if photo is not None else None
        response = await api.http.post(path + "/resolve", data={"note": "已清运"}, files=files)
        assert response.status_code == 422, response.text
        flash = re.search(r'class="flash error" role="status">([^<]*)<', response.text)
        assert flash is not None and flash.group(1).startswith("photo："), response.text
        return flash.group(1)

    assert "须上传" in await resolve(None)
    assert "不是可识别的图片" in await resolve(b"GIF89a not really")
    assert "没有拍摄时间或位置" in await resolve(jpeg())
    assert "早于派单时间" in await resolve(jpeg(now - timedelta(days=1), *PLACE))
    assert "超出 200 米" in await resolve(jpeg(now, PLACE[0] + 0.01, PLACE[1]))
    big = jpeg(now, *PLACE) + b"\0" * (api.settings.photo_max_bytes + 1)
    assert "10 MB" in await resolve(big)
    assert (await status(api, ticket))["stage"] == "accepted"

    good = jpeg(now, PLACE[0] + 0.0003, PLACE[1])  # about 33 m away
    done = await api.http.post(
        path + "/resolve",
        data={"note": "已清运"},
        files={"photo": ("after.jpg", good, "image/jpeg")},
    )
    assert done.status_code == 303, done.text
    assert (await status(api, ticket))["stage"] in ("resolved", "verifying")
    shown = await api.http.get(path)
    thumb = re.search(r'src="(/photos/[0-9a-f]{32}/thumb)"', shown.text)
    assert thumb is not None and "约 33 米" in shown.text
    image = await api.http.get(thumb.group(1))
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    full = await api.http.get(thumb.group(1).removesuffix("/thumb"))
    assert full.content == good

    async def review_notice() -> str:
        notices = [n for n in api.notifier.notices if n.ticket_id == ticket]
        facts = [n.facts for n in notices if n.kind.value == "review_request"]
        assert facts, [n.kind.value for n in notices]
        return facts[-1]["photo_url"]

    photo_url = await eventually(review_notice)
    assert photo_url.endswith(thumb.group(1).removesuffix("/thumb"))
    again = await api.http.post(path + "/resolve", data={"note": "x"})
    assert again.status_code == 200 and "已提交办结" in again.text
    assert (await api.http.get("/photos/not-an-id")).status_code == 404


async def test_my_tickets_lists_open_tickets_most_urgent_first(api: Api) -> None:
    # Two tickets at the same place go to whoever is on duty there; submitted back to back
    # they meet the same person unless a shift changes in between, so try a third.
    first, assignee, path = await open_ticket(api)
    # Another problem at the same place (the same garbage again would be a repeat call
    # waiting on the first), first street vending, then a fire lane.
    for text, code in (("小区门口有流动摊贩占道经营", "CA04"), ("小区消防通道被车堵住了", "PS06")):
        second = await submit(api, text=text, service_code=code)
        if (await dispatched(api, second))["assignee_id"] == assignee:
            break
    else:
        raise AssertionError("no two tickets met the same on-duty person")
    assert (await api.http.post(path + "/accept")).status_code == 303
    accepted, waiting = await status(api, first), await status(api, second)
    assert waiting["accept_deadline"] < accepted["resolve_deadline"]

    async def listed() -> str:
        page = await api.http.get(path + "/mine")
        assert page.status_code == 200
        assert first in page.text and second in page.text
        return page.text

    html = await eventually(listed)
    assert html.index(second) < html.index(first)  # the nearer deadline first
    old = page_path(api, first, assignee, datetime.now(UTC) - timedelta(days=31))
    assert (await api.http.get(old + "/mine")).status_code == 410
