"""Render a Notice for one recipient from the Chinese templates in activities/templates/.

One template per NoticeKind (``notice_<kind>.md.j2``), all extending notice_base.md.j2.
Templates read the notice's facts through ``fact(key)`` (a dash when missing) and
``when(key)`` (an ISO instant shown as Shanghai local time), so a workflow that leaves a
fact out gets a readable message, never a crash. Pure apart from reading the templates.

Untrusted text (the complaint, the place, a note, a reason, a name: everything a fact or
the title carries) can never become markup in any channel. Every ``{{ … }}`` the templates
print passes through ``neutral`` unless it is one of the links this module was given
(``Trusted``): line breaks become spaces (no fake line such as a deadline), the characters
markdown acts on become their full-width forms (no link, image, emphasis or heading: a
Chinese reader sees ordinary punctuation), and a URL loses its scheme and dots
(``http［:］//evil［.］example``), so no client makes it clickable. The result is safe as
WeCom and DingTalk markdown and as plain text; ``to_html`` makes the HTML part of an
e-mail from it, escaping everything but the template's own links.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlsplit

import jinja2

from cityops.domain.masking import LINE_BREAKS
from cityops.domain.models import Notice, Recipient
from cityops.domain.stages import NoticeKind
from cityops.domain.zones import shown

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
MISSING = "—"
TICKET_PATH = "/tickets/"


class NoticeTemplateMissing(LookupError):
    """No template for a NoticeKind: a new kind was added without its template."""


class Trusted(str):
    """Text this module built or was given as a link: printed as it is."""


# What markdown (WeCom, DingTalk, any renderer) acts on, as full-width forms.
_MARKDOWN = str.maketrans(
    {
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "<": "＜",
        ">": "＞",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "#": "＃",
        "!": "！",
        "|": "｜",
        "~": "～",
        "\\": "＼",
        "{": "｛",
        "}": "｝",
    }
)
# A URL's scheme, and the host after it; "www." hosts without one.
_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,15}):(//)?([^\s/?#]*)")
_WWW = re.compile(r"(?i)\bwww\.([^\s/?#]*)")


def _defang(match: re.Match[str]) -> str:
    scheme, slashes, host = match.group(1), match.group(2) or "", match.group(3)
    if not slashes and scheme.lower() not in ("javascript", "data", "mailto", "tel", "vbscript"):
        return match.group(0)  # "注意:明天" is no URL
    return f"{scheme}［:］{slashes}{host.replace('.', '［.］')}"


def neutral(value: object) -> str:
    """Untrusted text as it may appear in any notice: one line, no markup, no live URL."""
    text = LINE_BREAKS.sub(" ", str(value)).translate(_MARKDOWN)
    text = _URL.sub(_defang, text)
    return _WWW.sub(lambda m: "www［.］" + m.group(1).replace(".", "［.］"), text)


def _finalize(value: object) -> object:
    return value if isinstance(value, Trusted) else neutral(value)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=False,  # markdown and plain text, not HTML: `neutral` escapes instead
        finalize=_finalize,  # every printed value, unless Trusted
        undefined=jinja2.StrictUndefined,  # a typo in a template fails the tests, not silently
        keep_trailing_newline=False,
    )


def trusted(value: str | None) -> Trusted | None:
    return None if value is None else Trusted(value)


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
    photo_link: str | None = None,
) -> str:
    """`link_for` and `accept_for` give the details page and the accept link of the other
    tickets a grouped message names; `photo_link` the after-photo, when it is one of ours
    (any other photo URL is shown as text, not as a link)."""
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

    def linked(ticket_id: str) -> Trusted:
        return Trusted(link_for(ticket_id) if link_for else ticket_link)

    def accept_link(ticket_id: str) -> Trusted | None:
        return trusted(accept_for(ticket_id)) if accept_for else None

    elsewhere = None if photo_link else web_link(notice.facts.get("photo_url", ""))
    text = template.render(
        notice=notice,
        recipient=recipient,
        title=notice.title,
        accept_url=trusted(accept_url),
        ticket_url=Trusted(ticket_link),
        page_url=trusted(page_link),
        photo_url=trusted(photo_link),
        photo_elsewhere=elsewhere,
        photo_host=urlsplit(elsewhere).hostname or "" if elsewhere else None,
        has=has,
        fact=fact,
        when=when,
        when_value=format_instant,
        kinds=KIND_LABELS,
        ticket_link=linked,
        accept_for=accept_link,
    )
    return _squeeze_blank_lines(text)


PHOTO_PATH = "/photos/"


def own_photo(url: str, public_url: str) -> str | None:
    """An after-photo in this system's own store (uploaded from the responder's page):
    shown as a link with a thumbnail. Any other photo URL is someone else's."""
    link = web_link(url)
    ours = f"{public_url.rstrip('/')}{PHOTO_PATH}"
    return link if link is not None and link.startswith(ours) else None


def web_link(url: str) -> Trusted | None:
    """An http(s) URL someone gave, as a link target no channel can misread (the
    characters that end a markdown link or a line are percent-encoded); None for any
    other scheme."""
    url = url.strip()
    if LINE_BREAKS.search(url) is not None:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return Trusted(quote(url, safe=":/?#@!$&'*+,;=%~.-_"))


def format_instant(value: str) -> str:
    """``2026-10-08T02:30:00+00:00`` → ``2026-10-08 10:30 (UTC+8)``: Shanghai time with the
    zone marked (Trusted: it is ours); other text is shown as is (and neutralised)."""
    value = value.strip()
    if not value:
        return MISSING
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return Trusted(moment.strftime("%Y-%m-%d %H:%M"))
    return Trusted(shown(moment))


# The template's own markdown, the only markup a rendered notice holds: a heading, list
# items, links and an image. Untrusted text has no ASCII brackets left (`neutral`).
_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def to_html(markdown: str) -> str:
    """The HTML part of an e-mail, from a rendered notice: every character escaped, then
    the template's heading, list and links made into tags."""
    blocks: list[str] = []
    items: list[str] = []

    def inline(line: str) -> str:
        escaped = html.escape(line, quote=True)

        def tag(match: re.Match[str]) -> str:
            image, label, url = match.groups()
            if image:
                return f'<img alt="{label}" src="{url}" width="240">'
            return f'<a href="{url}">{label}</a>'

        return _LINK.sub(tag, escaped)

    def close_list() -> None:
        if items:
            blocks.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
            items.clear()

    for line in markdown.splitlines():
        if line.startswith("- "):
            items.append(inline(line[2:]))
            continue
        close_list()
        if line.startswith("### "):
            blocks.append(f"<h3>{inline(line[4:])}</h3>")
        elif line.strip():
            blocks.append(f"<p>{inline(line)}</p>")
    close_list()
    body = "\n".join(blocks)
    return f'<!DOCTYPE html>\n<html><body style="font-family:sans-serif">\n{body}\n</body></html>\n'


def _squeeze_blank_lines(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    squeezed: list[str] = []
    for line in lines:
        if line or (squeezed and squeezed[-1]):
            squeezed.append(line)
    return "\n".join(squeezed) + "\n"
