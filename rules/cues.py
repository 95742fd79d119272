"""Splitting a call that names two problems into the main part and the secondary part.

Why: a caller who lists several matters usually says which one is the reason for the
call ("停车的事先放一边，主要是…煤气味；另外…单车"). Scoring the whole text lets the
wordier or stronger-worded topic win; the caller's own cue is better evidence.

How: the cue phrases of `_engine.yaml` (`cues`) cut the text into parts. A forward cue
(主要是, 另外, 顺便) starts a part that runs to the next cue or sentence end (。；！？);
a closing marker (这个是主要的, 先不说) gives its role to the part before it, back to
the previous cut. Parts with no cue are neutral: they belong to the main problem (the
call's setting: "我邻居是个孤老，主要是…"). Without any cue nothing is split.

Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from cityops.rules.schema import CallCues

MAIN, SECONDARY, NEUTRAL = "main", "secondary", "neutral"
_SENTENCE_END = "。；;！？!?\n"
_STRIP = " ，,。；;：:、！？!?\n"


class CallParts(NamedTuple):
    """The call cut by its cues. Without cues: whole = the text, nothing else.

    main: the parts a main cue marks ("" when the caller named none);
    whole: every part but the secondary ones, in order (the main parts with their
    setting); secondary: the other problem, or None.
    """

    whole: str
    main: str = ""
    secondary: str | None = None
    cue: str | None = None  # the cue that decided, for the explanation


class CueSplitter:
    def __init__(self, cues: CallCues) -> None:
        kinds: dict[str, tuple[str, bool]] = {}  # phrase -> (role, closes the part before)
        for phrase in cues.main:
            kinds[phrase] = (MAIN, False)
        for phrase in cues.secondary:
            kinds[phrase] = (SECONDARY, False)
        for phrase in cues.main_after:
            kinds[phrase] = (MAIN, True)
        for phrase in cues.secondary_after:
            kinds[phrase] = (SECONDARY, True)
        self._kinds = kinds
        # Longest first: at one position the longer phrase wins ("另外一回事" over "另外").
        ordered = sorted(kinds, key=len, reverse=True)
        self._regex = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def split(self, text: str) -> CallParts:
        if self._regex is None:
            return CallParts(text)
        found = list(self._regex.finditer(text))
        if not found:
            return CallParts(text)
        parts: list[tuple[str, str]] = []  # (role, text)
        role = NEUTRAL
        start = 0
        decisive: str | None = None

        def close(end: int, as_role: str) -> None:
            piece = text[start:end]
            if piece.strip(_STRIP):
                parts.append((as_role, piece))

        position = 0
        for match in found:
            # A sentence end between the last cut and this cue ends the current part.
            for index in range(position, match.start()):
                if text[index] in _SENTENCE_END:
                    close(index + 1, role)
                    start, role = index + 1, NEUTRAL
            cue_role, closes_before = self._kinds[match.group()]
            if closes_before:
                close(match.end(), cue_role if role == NEUTRAL else role)
                start, role = match.end(), NEUTRAL
            else:
                close(match.start(), role)
                start, role = match.start(), cue_role
            if cue_role == MAIN or decisive is None:
                decisive = match.group()
            position = match.end()
        close(len(text), role)
        whole = "".join(piece for kind, piece in parts if kind != SECONDARY)
        main = "".join(piece for kind, piece in parts if kind == MAIN)
        secondary = "".join(piece for kind, piece in parts if kind == SECONDARY)
        if not whole.strip(_STRIP):  # only secondary parts: nothing to call main
            return CallParts(text)
        if not secondary.strip(_STRIP):  # a main cue alone still says what matters most
            return CallParts(text, main if main.strip(_STRIP) else "", None, decisive)
        return CallParts(whole, main, secondary.strip(_STRIP), decisive)
