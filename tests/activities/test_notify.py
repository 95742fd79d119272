"""send_notice against real local servers: an HTTP receiver and an aiosmtpd SMTP server."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from sqlmodel import create_engine
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from cityops.activities.channels import ChannelSenders, SmtpSettings
from cityops.activities.delivery_log import DeliveryLog, InMemoryDeliveryLog, SqlDeliveryLog
from cityops.activities.notify import InMemoryContactDirectory, NotifyActivities, NotifySettings
from cityops.domain.models import ChannelKind, ContactChannel, Notice, NoticeReceipt, Recipient
from cityops.domain.stages import NoticeKind, Tier
from cityops.domain.tokens import verify_accept_token, verify_page_token
from cityops.schema import metadata
from tests.activities.receivers import HttpReceiver, SmtpInbox, http_receiver, smtp_inbox

SECRET = "notify-test-secret"
NOW = datetime(2026, 9, 30, 10, 0, tzinfo=UTC)
ZHANG = Recipient(person_id="p-zhang", name="张三", unit_code="T01-03", tier=Tier.VILLAGE)
LI = Recipient(person_id="p-li", name="李四", unit_code="T01", tier=Tier.STREET)
TICKET = "T20260930-0007"


def make_notice(
    *recipients: Recipient, kind: NoticeKind = NoticeKind.ASSIGNED, key: str = "wf/run/1"
) -> Notice:
    return Notice(
        kind=kind,
        ticket_id=TICKET,
        idempotency_key=key,
        recipients=list(recipients or [ZHANG]),
        title=f"{TICKET} 占道经营 浦东南路100号",
        facts={
            "scenario": "S0101 占道经营",
            "place": "浦东南路100号",
            "accept_deadline": "2026-10-08T02:30:00+00:00",
        },
    )


@dataclass
class Harness:
    http: HttpReceiver
    inbox: SmtpInbox
    client: httpx.AsyncClient
    contacts: dict[str, list[ContactChannel]] = field(default_factory=dict)
    log: DeliveryLog = field(default_factory=InMemoryDeliveryLog)
    sleeps: list[float] = field(default_factory=list)

    def webhook(self, path: str) -> ContactChannel:
        return ContactChannel(kind=ChannelKind.WEBHOOK, target=self.http.url(path))

    def activities(self) -> NotifyActivities:
        async def record_sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        senders = ChannelSenders(
            self.client,
            SmtpSettings(host="127.0.0.1", port=self.inbox.port, sender="cityops@pudong.example"),
            clock_ms=lambda: 1_790_000_000_000,
        )
        settings = NotifySettings(public_url="https://ops.pudong.example", token_secret=SECRET)
        return NotifyActivities(
            InMemoryContactDirectory(self.contacts),
            self.log,
            settings=settings,
            senders=senders,
            clock=lambda: NOW,
            sleep=record_sleep,
        )

    async def send(
        self,
        notice: Notice,
        attempt: int = 1,
        *,
        run: tuple[str, str] | None = None,
        local: bool = False,
    ) -> NoticeReceipt:
        """As the activity of workflow `run` (workflow id, run id), else of the test's own;
        `local`: as a local activity."""
        env = ActivityEnvironment()
        env.info = dataclasses.replace(env.info, attempt=attempt, is_local=local)
        if run is not None:
            env.info = dataclasses.replace(env.info, workflow_id=run[0], workflow_run_id=run[1])
        return await env.run(self.activities().send_notice, notice)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    with http_receiver() as http, smtp_inbox() as inbox:
        async with httpx.AsyncClient(timeout=5.0) as client:
            yield Harness(http=http, inbox=inbox, client=client)


# --------------------------------------------------------------------------- each channel


async def test_webhook_receives_json_with_text_and_a_working_accept_link(harness: Harness) -> None:
    harness.contacts["p-zhang"] = [harness.webhook("/hook/zhang")]
    receipt = await harness.send(make_notice())
    assert receipt.delivered_to == ["p-zhang"]
    assert receipt.delivered_via == {"p-zhang": "webhook"}
    [request] = harness.http.to("/hook/zhang")
    assert request.headers["idempotency-key"] == "wf/run/1"
    body = request.body
    assert body["kind"] == "assigned"
    assert body["ticket_id"] == TICKET
    assert "工单编号：T20260930-0007" in body["text"]
    assert "接单时限：2026-10-08 10:30" in body["text"]
    token = body["accept_url"].removeprefix("https://ops.pudong.example/a/")
    claim = verify_accept_token(token, SECRET, NOW, person_id="p-zhang")
    assert claim.ticket_id == TICKET
    assert f"[一键接单]({body['accept_url']})" in body["text"]


async def test_email_arrives_at_smtp_server_in_chinese_with_the_links(harness: Harness) -> None:
    harness.contacts["p-zhang"] = [
        ContactChannel(kind=ChannelKind.EMAIL, target="zhang@t01.example")
    ]
    receipt = await harness.send(make_notice())
    assert receipt.delivered_via == {"p-zhang": "email"}
    [mail] = harness.inbox.messages
    assert harness.inbox.recipients == [["zhang@t01.example"]]
    assert mail["Subject"] == f"{TICKET} 占道经营 浦东南路100号"
    assert mail["X-Cityops-Ticket"] == TICKET
    body = part(mail, "plain")
    assert "您有一张新派发的工单" in body
    assert "地点：浦东南路100号" in body
    assert "https://ops.pudong.example/a/" in body
    assert f"https://ops.pudong.example/tickets/{TICKET}" in body
    page = part(mail, "html")
    links = Anchors.of(page)
    assert links.texts["一键接单"][0].startswith("https://ops.pudong.example/a/")
    assert links.texts["查看工单"] == [f"https://ops.pudong.example/tickets/{TICKET}"]
    assert "<li>地点：浦东南路100号</li>" in page


async def test_wecom_robot_gets_its_markdown_format(harness: Harness) -> None:
    harness.contacts["p-zhang"] = [
        ContactChannel(kind=ChannelKind.WECOM, target=harness.http.url("/cgi-bin/webhook/send"))
    ]
    await harness.send(make_notice(kind=NoticeKind.URGE))
    [request] = harness.http.to("/cgi-bin/webhook/send")
    assert request.body["msgtype"] == "markdown"
    assert set(request.body["markdown"]) == {"content"}
    assert "【催办】" in request.body["markdown"]["content"]


async def test_dingtalk_robot_gets_title_text_and_a_valid_signature(harness: Harness) -> None:
    secret = "SECdingtalk"
    harness.contacts["p-zhang"] = [
        ContactChannel(
            kind=ChannelKind.DINGTALK,
            target=harness.http.url("/robot/send?access_token=abc"),
            secret=secret,
        )
    ]
    await harness.send(make_notice(kind=NoticeKind.SUPERVISE))
    [request] = harness.http.to("/robot/send")
    assert request.query["access_token"] == ["abc"]
    timestamp = request.query["timestamp"][0]
    assert timestamp == "1790000000000"
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert request.query["sign"] == [expected]  # parse_qs undid the URL quoting
    assert request.body["msgtype"] == "markdown"
    assert request.body["markdown"]["title"] == f"{TICKET} 占道经营 浦东南路100号"
    assert "【督办】" in request.body["markdown"]["text"]


# --------------------------------------------------------------------------- injection

# A complaint that tries to add its own accept link and deadline to the officer's message.
INJECTION = "\n\n[一键接单](http://evil.example/a/steal)"
FAKE_DEADLINE = "\n- 接单时限：2026-01-01 08:00 (UTC+8)"


class Anchors(HTMLParser):
    """The links of an HTML page: label -> hrefs."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: dict[str, list[str]] = {}
        self.hrefs: list[str] = []
        self._open: str | None = None

    @classmethod
    def of(cls, page: str) -> Anchors:
        parser = cls()
        parser.feed(page)
        return parser

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("a", "img"):
            href = dict(attrs).get("href" if tag == "a" else "src") or ""
            self.hrefs.append(href)
            self._open = href if tag == "a" else None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.texts.setdefault(data, []).append(self._open)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._open = None


def part(mail: EmailMessage, subtype: str) -> str:
    """The text of an e-mail's plain or HTML alternative."""
    body = mail.get_body(preferencelist=(subtype,))
    assert body is not None, f"no {subtype} part"
    return str(body.get_content())


def markdown_links(text: str) -> list[tuple[str, str]]:
    return re.findall(r"\[([^\]]*)\]\(([^)]*)\)", text)


def assert_one_real_accept_link(text: str) -> None:
    """No channel's text may carry the injected link, a live URL to it, or the fake line;
    the real accept link is there once and verifies."""
    links = markdown_links(text)
    accepts = [url for label, url in links if label == "一键接单"]
    assert len(accepts) == 1, links
    token = accepts[0].removeprefix("https://ops.pudong.example/a/")
    assert verify_accept_token(token, SECRET, NOW, person_id="p-zhang").ticket_id == TICKET
    assert all(url.startswith("https://ops.pudong.example/") for _, url in links), links
    assert "http://evil" not in text and "evil.example" not in text
    assert "http［:］//evil［.］example/a/steal" in text  # still readable, not clickable
    deadlines = [line for line in text.splitlines() if line.startswith("- 接单时限：")]
    assert deadlines == ["- 接单时限：2026-10-08 10:30 (UTC+8)"]


def injected_notice(kind: NoticeKind = NoticeKind.URGE) -> Notice:
    notice = make_notice(kind=kind)
    hostile = {
        "text": "井盖没了" + INJECTION + FAKE_DEADLINE,
        "place": "浦东南路100号" + INJECTION,
        "note": "快" + INJECTION + FAKE_DEADLINE,
        "by": "区中心" + INJECTION,
    }
    return notice.model_copy(
        update={"facts": notice.facts | hostile, "title": notice.title + INJECTION}
    )


async def test_injected_markdown_becomes_no_link_and_no_line_in_any_channel(
    harness: Harness,
) -> None:
    channels = {
        "webhook": harness.webhook("/hook/zhang"),
        "wecom": ContactChannel(kind=ChannelKind.WECOM, target=harness.http.url("/wecom")),
        "dingtalk": ContactChannel(kind=ChannelKind.DINGTALK, target=harness.http.url("/ding")),
        "email": ContactChannel(kind=ChannelKind.EMAIL, target="zhang@t01.example"),
    }
    for key, (name, channel) in enumerate(channels.items()):
        harness.contacts["p-zhang"] = [channel]
        receipt = await harness.send(injected_notice().model_copy(update={"idempotency_key": name}))
        assert receipt.delivered_via == {"p-zhang": name}, (key, receipt)
    [hook] = harness.http.to("/hook/zhang")
    [wecom] = harness.http.to("/wecom")
    [ding] = harness.http.to("/ding")
    [mail] = harness.inbox.messages
    plain = part(mail, "plain")
    for text in (
        hook.body["text"],
        wecom.body["markdown"]["content"],
        ding.body["markdown"]["text"],
        plain,
    ):
        assert_one_real_accept_link(text)
    assert "\n" not in ding.body["markdown"]["title"] and "evil.example" not in mail["Subject"]
    page = part(mail, "html")
    anchors = Anchors.of(page)
    assert [label for label, hrefs in anchors.texts.items() if hrefs] == [
        "一键接单",
        "手机处置",
        "查看工单",
    ]
    assert all(href.startswith("https://ops.pudong.example/") for href in anchors.hrefs)
    assert "evil.example" not in page and page.count("<li>接单时限：") == 1
    # The webhook's consumer gets the facts as data (JSON), exactly as they were.
    assert hook.body["facts"]["text"].endswith(INJECTION + FAKE_DEADLINE)


# --------------------------------------------------------------------------- failures


async def test_transient_webhook_error_is_retried_with_backoff(harness: Harness) -> None:
    harness.contacts["p-zhang"] = [harness.webhook("/flaky")]
    harness.http.script("/flaky", (503, {"error": "busy"}))
    receipt = await harness.send(make_notice())
    assert receipt.delivered_via == {"p-zhang": "webhook"}
    assert len(harness.http.to("/flaky")) == 2
    assert harness.sleeps == [0.5]


async def test_permanent_webhook_error_falls_through_to_email_without_retry(
    harness: Harness,
) -> None:
    harness.contacts["p-zhang"] = [
        harness.webhook("/gone"),
        ContactChannel(kind=ChannelKind.EMAIL, target="zhang@t01.example"),
    ]
    harness.http.script("/gone", (404, {"error": "no such hook"}))
    receipt = await harness.send(make_notice())
    assert receipt.delivered_via == {"p-zhang": "email"}
    assert len(harness.http.to("/gone")) == 1
    assert harness.sleeps == []
    assert len(harness.inbox.messages) == 1


async def test_robot_refusing_the_message_falls_through_to_the_next_channel(
    harness: Harness,
) -> None:
    harness.contacts["p-zhang"] = [
        ContactChannel(kind=ChannelKind.WECOM, target=harness.http.url("/wecom")),
        harness.webhook("/hook"),
    ]
    harness.http.script("/wecom", (200, {"errcode": 93000, "errmsg": "invalid webhook url"}))
    receipt = await harness.send(make_notice())
    assert receipt.delivered_via == {"p-zhang": "webhook"}
    assert len(harness.http.to("/hook")) == 1


async def test_smtp_451_is_retried_and_then_accepted(harness: Harness) -> None:
    harness.contacts["p-zhang"] = [ContactChannel(kind=ChannelKind.EMAIL, target="z@t01.example")]
    harness.inbox.refuse_next = 1
    receipt = await harness.send(make_notice())
    assert receipt.delivered_via == {"p-zhang": "email"}
    assert harness.inbox.refused == 1
    assert len(harness.inbox.messages) == 1


async def test_recipient_with_every_channel_down_is_reported_while_others_get_it(
    harness: Harness,
) -> None:
    harness.contacts["p-zhang"] = [
        harness.webhook("/down"),
        ContactChannel(kind=ChannelKind.EMAIL, target="zhang@t01.example"),
    ]
    harness.contacts["p-li"] = [harness.webhook("/li")]
    harness.http.script("/down", (500, {}), (500, {}))
    harness.inbox.refuse_next = 2
    receipt = await harness.send(make_notice(ZHANG, LI))
    assert receipt.delivered_to == ["p-li"]
    assert receipt.failed == ["p-zhang"]
    [failure] = receipt.failures
    assert failure.person_id == "p-zhang"
    assert "webhook: HTTP 500" in failure.reason
    assert "email: SMTP 451" in failure.reason


async def test_nobody_reached_on_transient_errors_raises_so_temporal_retries(
    harness: Harness,
) -> None:
    harness.contacts["p-zhang"] = [harness.webhook("/down")]
    harness.http.script("/down", *[(503, {})] * 4)
    with pytest.raises(ApplicationError, match="reached nobody") as raised:
        await harness.send(make_notice(), attempt=1)
    assert not raised.value.non_retryable
    receipt = await harness.send(make_notice(), attempt=5)  # the give-up attempt answers
    assert receipt.failed == ["p-zhang"]
    assert "HTTP 503" in receipt.failures[0].reason


async def test_unknown_person_or_no_channel_is_a_failure_not_a_retry(harness: Harness) -> None:
    harness.contacts["p-li"] = []
    receipt = await harness.send(make_notice(ZHANG, LI))
    assert receipt.failed == ["p-zhang", "p-li"]
    reasons = {f.person_id: f.reason for f in receipt.failures}
    assert reasons["p-zhang"].startswith("unknown person")
    assert reasons["p-li"] == "no contact channel"


async def test_unreachable_host_is_transient(harness: Harness) -> None:
    from tests.activities.receivers import free_port

    closed = f"http://127.0.0.1:{free_port()}/nobody-listens"
    harness.contacts["p-zhang"] = [ContactChannel(kind=ChannelKind.WEBHOOK, target=closed)]
    with pytest.raises(ApplicationError, match="ConnectError"):
        await harness.send(make_notice())
    assert harness.sleeps == [0.5]


# --------------------------------------------------------------------------- idempotency


async def test_retried_activity_does_not_resend_to_a_channel_that_accepted(
    harness: Harness,
) -> None:
    harness.contacts["p-zhang"] = [harness.webhook("/zhang")]
    harness.contacts["p-li"] = [harness.webhook("/li-down"), harness.webhook("/li-later")]
    harness.http.script("/li-down", *[(503, {})] * 10)
    harness.http.script("/li-later", *[(503, {})] * 2)
    first = await harness.send(make_notice(ZHANG, LI))
    assert first.delivered_to == ["p-zhang"]
    assert first.failed == ["p-li"]
    second = await harness.send(make_notice(ZHANG, LI), attempt=2)
    assert second.delivered_to == ["p-zhang", "p-li"]
    assert second.delivered_via == {"p-zhang": "webhook", "p-li": "webhook"}
    assert len(harness.http.to("/zhang")) == 1  # not sent again
    assert len(harness.http.to("/li-later")) == 3


class CountingLog(InMemoryDeliveryLog):
    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    async def accepted_channel(self, idempotency_key: str, person_id: str) -> str | None:
        self.lookups += 1
        return await super().accepted_channel(idempotency_key, person_id)


async def test_a_runs_own_notice_is_looked_up_only_when_retried(harness: Harness) -> None:
    """Its key (workflow/run/sequence) is minted by the run that schedules the activity, so
    only an earlier attempt can have delivered it: the first attempt asks the log nothing."""
    log = harness.log = CountingLog()
    harness.contacts["p-zhang"] = [harness.webhook("/zhang")]
    await harness.send(make_notice(key="wf/run/1"), run=("wf", "run"))
    assert log.lookups == 0 and len(harness.http.to("/zhang")) == 1
    await harness.send(make_notice(key="wf/run/1"), attempt=2, run=("wf", "run"))
    assert log.lookups == 1 and len(harness.http.to("/zhang")) == 1  # not sent again


async def test_a_local_activitys_notice_is_looked_up_on_its_first_attempt(
    harness: Harness,
) -> None:
    """A worker that dies inside a workflow task runs its local activities again from
    attempt 1: a delivery an earlier worker made is found, not sent twice."""
    log = harness.log = CountingLog()
    harness.contacts["p-zhang"] = [harness.webhook("/zhang")]
    await harness.send(make_notice(key="wf/run/1"), run=("wf", "run"), local=True)
    again = await harness.send(make_notice(key="wf/run/1"), run=("wf", "run"), local=True)
    assert log.lookups == 2 and again.delivered_via == {"p-zhang": "webhook"}
    assert len(harness.http.to("/zhang")) == 1


async def test_a_notice_passed_on_by_another_workflow_is_never_sent_twice(
    harness: Harness,
) -> None:
    """A notice group sends a ticket's follow-up under the ticket's key: even its first
    attempt asks the log, so a notice a closed group already sent is not sent again."""
    harness.contacts["p-zhang"] = [harness.webhook("/zhang")]
    await harness.send(make_notice(key="ticket-1/run-a/3"), run=("group-1", "run-x"))
    again = await harness.send(make_notice(key="ticket-1/run-a/3"), run=("group-1", "run-y"))
    assert again.delivered_via == {"p-zhang": "webhook"}
    assert len(harness.http.to("/zhang")) == 1


async def test_sql_delivery_log_survives_a_new_worker(harness: Harness, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'notify.db'}")
    metadata.create_all(engine)
    harness.contacts["p-zhang"] = [ContactChannel(kind=ChannelKind.EMAIL, target="z@t01.example")]
    harness.log = SqlDeliveryLog(engine)
    await harness.send(make_notice(key="wf/run/9"))
    harness.log = SqlDeliveryLog(create_engine(f"sqlite:///{tmp_path / 'notify.db'}"))
    receipt = await harness.send(make_notice(key="wf/run/9"), attempt=2)
    assert receipt.delivered_via == {"p-zhang": "email"}
    assert len(harness.inbox.messages) == 1
    await harness.send(make_notice(key="wf/run/10"))  # a new notice is a new key
    assert len(harness.inbox.messages) == 2


async def test_sql_delivery_log_keeps_the_first_channel_on_a_duplicate_record(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'log.db'}")
    metadata.create_all(engine)
    log = SqlDeliveryLog(engine)
    assert await log.accepted_channel("k", "p") is None
    await log.record("k", "p", "email:abc")
    await log.record("k", "p", "webhook:def")
    assert await log.accepted_channel("k", "p") == "email:abc"


# --------------------------------------------------------------------------- accept links


async def test_closed_notice_and_switched_off_link_carry_no_accept_link(harness: Harness) -> None:
    harness.contacts["p-zhang"] = [harness.webhook("/hook")]
    await harness.send(make_notice(kind=NoticeKind.CLOSED, key="k1"))
    quiet = make_notice(kind=NoticeKind.SUPERVISE, key="k2").model_copy(
        update={"accept_link": False}
    )
    await harness.send(quiet)
    closed, supervised = harness.http.to("/hook")
    for request in (closed, supervised):
        assert request.body["accept_url"] is None
        assert "一键接单" not in request.body["text"]


async def test_each_recipient_gets_a_link_only_they_can_use(harness: Harness) -> None:
    harness.contacts["p-zhang"] = [harness.webhook("/zhang")]
    harness.contacts["p-li"] = [harness.webhook("/li")]
    await harness.send(make_notice(ZHANG, LI))
    [to_zhang] = harness.http.to("/zhang")
    [to_li] = harness.http.to("/li")
    zhang_token = to_zhang.body["accept_url"].rsplit("/", 1)[1]
    li_token = to_li.body["accept_url"].rsplit("/", 1)[1]
    assert verify_accept_token(zhang_token, SECRET, NOW).person_id == "p-zhang"
    assert verify_accept_token(li_token, SECRET, NOW).person_id == "p-li"


async def test_each_recipient_gets_their_own_page_link_but_not_on_a_closed_notice(
    harness: Harness,
) -> None:
    harness.contacts["p-zhang"] = [harness.webhook("/zhang")]
    harness.contacts["p-li"] = [harness.webhook("/li")]
    await harness.send(make_notice(ZHANG, LI))
    for person, path in (("p-zhang", "/zhang"), ("p-li", "/li")):
        [request] = harness.http.to(path)
        link = request.body["page_url"]
        assert link.startswith("https://ops.pudong.example/r/")
        assert f"[手机处置]({link})" in request.body["text"]
        claim = verify_page_token(link.rsplit("/", 1)[1], SECRET)
        assert (claim.ticket_id, claim.person_id, claim.issued_at) == (TICKET, person, NOW)
        assert link.rsplit("/", 1)[1] != request.body["accept_url"].rsplit("/", 1)[1]
    await harness.send(make_notice(ZHANG, kind=NoticeKind.CLOSED, key="k-closed"))
    closed = harness.http.to("/zhang")[-1]
    assert closed.body["page_url"] is None and "手机处置" not in closed.body["text"]


def test_the_desks_are_reached_through_their_configured_channels() -> None:
    from cityops.activities.notify import WithDesks, parse_contact
    from cityops.domain.models import CAMERA_DESK_ID, HOTLINE_DESK_ID, ChannelKind

    class Organisation:
        def channels_for(self, person_id: str) -> list[ContactChannel]:
            if person_id != "P-1":
                raise LookupError(person_id)
            return [ContactChannel(kind=ChannelKind.EMAIL, target="p1@example.org")]

    desk = parse_contact("webhook:http://127.0.0.1:9/callbacks")
    camera = parse_contact("webhook:http://127.0.0.1:9/rechecks")
    directory = WithDesks(Organisation(), {HOTLINE_DESK_ID: [desk], CAMERA_DESK_ID: [camera]})
    assert directory.channels_for(HOTLINE_DESK_ID) == [desk]
    assert directory.channels_for(CAMERA_DESK_ID) == [camera]
    assert directory.channels_for("P-1")[0].target == "p1@example.org"
    with pytest.raises(LookupError):
        directory.channels_for("P-2")


def test_a_malformed_hotline_contact_names_the_problem() -> None:
    from cityops.activities.notify import parse_contact

    with pytest.raises(ValueError, match="expected kind:target"):
        parse_contact("hotline@example.org")
    with pytest.raises(ValueError, match="kind must be one of"):
        parse_contact("fax:021-12345")
