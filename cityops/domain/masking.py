"""Masking callers' personal data for people and logs that must not see it whole. Pure.

- ``mask_phone("13900001234")`` is ``139****1234``: what responders see in notices and pages.
- ``mask_name("王先生")`` is ``王**``.
- ``redact_text(text, names=…, phones=…)`` masks the caller's known name and phone and any
  phone-like run of digits (a mobile, a landline, an ID number) in free text.

Safe inside the workflow sandbox (no I/O, no clocks): the workflow masks notice facts and
the UI details with it, the store masks the register's text, logging masks every event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# Phone-like digits in free text: a mobile (139 0000 1234, +86 139-0000-1234), a landline
# with its area code (021-58881234), or any bare run of seven or more digits (a local
# number, an ID number). Dates (2026-12-03) and house or ticket numbers stay as they are.
_PHONE_LIKE = re.compile(
    r"(?<![\dA-Za-z])(?:"
    r"(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}"
    r"|0\d{2,3}[ -]?\d{7,8}"
    r"|\d{7,}[Xx]?"
    r")(?![\dA-Za-z])"
)
_DIGITS = re.compile(r"\d")
# Line and paragraph breaks of every kind, and the other control characters (a terminal's
# escape sequences among them): what untrusted text may not carry into one line.
LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def digits_of(phone: str) -> str:
    """Only the digits, without a +86 / 86 country prefix on a mobile number."""
    digits = "".join(_DIGITS.findall(phone))
    if len(digits) == 13 and digits.startswith("86"):
        return digits[2:]
    return digits


def mask_phone(phone: str | None) -> str | None:
    """``139****1234`` for a mobile; other numbers keep at most their last two digits."""
    if not phone:
        return None
    digits = digits_of(phone)
    if len(digits) >= 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 4:
        return f"****{digits[-2:]}"
    return "****"


def mask_name(name: str | None) -> str | None:
    """The first character and a star for each other one: 王先生 → 王**."""
    if not name:
        return None
    name = name.strip()
    return name[:1] + "*" * max(len(name) - 1, 1)


def redact_text(
    text: str | None, *, names: Iterable[str | None] = (), phones: Iterable[str | None] = ()
) -> str:
    """Free text with the caller's name and phone and any phone-like digits masked."""
    if not text:
        return ""
    for phone in phones:
        if phone and phone.strip():
            text = text.replace(phone.strip(), mask_phone(phone) or "****")
    for name in names:
        # A one-character "name" would mask every occurrence of a common character.
        if name and len(name.strip()) >= 2:
            text = text.replace(name.strip(), mask_name(name) or "*")
    return _PHONE_LIKE.sub(lambda m: mask_phone(m.group(0)) or "****", text)


def redact_facts(
    facts: Mapping[str, str], *, names: Iterable[str | None] = (), phones: Iterable[str | None] = ()
) -> dict[str, str]:
    """Every value of a notice's facts through ``redact_text``, links excepted (deadlines
    and codes come through unchanged: they hold no phone-like digits)."""
    names, phones = list(names), list(phones)
    return {
        key: value
        if value.startswith(("http://", "https://"))
        else redact_text(value, names=names, phones=phones)
        for key, value in facts.items()
    }
