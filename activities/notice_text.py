"""Render a Notice for one recipient from the Chinese templates in activities/templates/.

One template per NoticeKind (``notice_<kind>.md.j2``), all extending notice_base.md.j2.
Templates read the notice's facts through ``fact(key)`` (a dash when missing) and
``when(key)`` (an ISO instant shown as Shanghai local time), so a workflow that leaves a
fact out gets a readable message, never a crash. Pure apart from reading the templates.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import jinja2

from cityops.domain.models import Notice, Recipient
from cityops.domain.stages import NoticeKind
from cityops.domain.zones import shown

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
MISSING = "—"
TICKET_PATH = "/tickets/"


class NoticeTemplateMissing(LookupError):
    """No template for a NoticeKind: a new kind was added without its template."""


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=False,  # markdown and plain text, not HTML
        undefined=jinja2.StrictUndefined,  # a typo in a template fails the tests, not silently
        keep_trailing_newline=False,
    )


def template_name(kind: NoticeKind) -> str:
    return f"notice_{kind.value}.md.j2"


def ticket_url(public_url: str, ticket_id: str) -> str:
    return f"{public_url.rstrip('/')}{TICKET_PATH}{ticket_id}"


# How a grouped message names each follow-up it carries.
KIND_LABELS = {
    NoticeKind.ESCALATED.value: "升级",
    NoticeKind.URGE.value: "催办",
    NoticeKind.SUPERVISE.value: "督办",
}


def render_notice(
    notice: Notice,
    recipient: Recipient,
    accept_url: str | None,
    ticket_link: str,
    page_link: str | None = None,
    *,
    link_for: Callable[[str], str] | None = None,
    accept_for: Callable[[str], str | None] | None = None,
) -> str:
    """`link_for` and `accept_for` give the details page and the accept link of the other
    tickets a grouped message names."""
    try:
        template = _environment().get_template(template_name(notice.kind))
    except jinja2.TemplateNotFound as error:
        raise NoticeTemplateMissing(
            f"{TEMPLATE_DIR / template_name(notice.kind)}: no template for notice kind "
            f"{notice.kind.value!r}"
        ) from error

    def has(key: str) -> bool:
        return bool(notice.facts.get(key, "").strip())

    def fact(key: str) -> str:
        return notice.facts.get(key, "").strip() or MISSING

    def when(key: str) -> str:
        return format_instant(notice.facts.get(key, ""))

    text = template.render(
        notice=notice,
        recipient=recipient,
        title=notice.title,
        accept_url=accept_url,
        ticket_url=ticket_link,
        page_url=page_link,
        has=has,
        fact=fact,
        when=when,
        when_value=format_instant,
        kinds=KIND_LABELS,
        ticket_link=link_for or (lambda ticket_id: ticket_link),
        accept_for=accept_for or (lambda ticket_id: None),
    )
    return _squeeze_blank_lines(text)


def format_instant(value: str) -> str:
    """``2026-10-08T02:30:00+00:00`` → ``2026-10-08 10:30 (UTC+8)``: Shanghai time with the
    zone marked; other text is shown as is."""
    value = value.strip()
    if not value:
        return MISSING
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return shown(moment)


def _squeeze_blank_lines(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    squeezed: list[str] = []
    for line in lines:
        if line or (squeezed and squeezed[-1]):
            squeezed.append(line)
    return "\n".join(squeezed) + "\n"
