"""The vocabulary of a work order: every closed set of values is a StrEnum here.

These values travel through Temporal history, search attributes, the API and
YAML rules, so they are strings, never integer codes.
"""

from __future__ import annotations

from enum import StrEnum


class Source(StrEnum):
    """Where a ticket came from."""

    HOTLINE = "hotline"  # 12345 citizen hotline
    GRID = "grid"  # grid inspector on patrol
    OPINION = "opinion"  # public-opinion monitoring, web forms
    IOT = "iot"  # sensor alarm
    VIDEO = "video"  # AI video detection
    OPEN311 = "open311"  # an Open311 client


class Tier(StrEnum):
    """The three tiers of the city hierarchy, from top to bottom."""

    DISTRICT = "district"  # 区城运中心 and the district departments
    STREET = "street"  # 街镇城运分中心 (36 streets and towns)
    VILLAGE = "village"  # 居村工作站 (village / residential work stations)

    def above(self) -> Tier | None:
        """The tier that supervises this one, or None at the district."""
        order = [Tier.VILLAGE, Tier.STREET, Tier.DISTRICT]
        index = order.index(self)
        return order[index + 1] if index + 1 < len(order) else None


class Priority(StrEnum):
    P1 = "P1"  # emergency, life or property at risk
    P2 = "P2"  # urgent
    P3 = "P3"  # normal
    P4 = "P4"  # routine


class Dimension(StrEnum):
    """Pudong's three governance dimensions: 安全 / 干净 / 有序."""

    SAFE = "safe"
    CLEAN = "clean"
    ORDERLY = "orderly"


class ClosureCheck(StrEnum):
    """How the fix is proven before a ticket may close."""

    SENSOR_RECOVERY = "sensor_recovery"
    CALLBACK = "callback"
    VIDEO_RECHECK = "video_recheck"
    PHOTO_REVIEW = "photo_review"


class Stage(StrEnum):
    """Where a ticket is in its life. Stored in the TicketStage search attribute."""

    INTAKE = "intake"
    TRIAGE = "triage"  # no rule matched: a district dispatcher classifies it
    CLASSIFIED = "classified"
    AWAITING_ACCEPT = "awaiting_accept"  # dispatched to a person, not yet accepted
    ESCALATED = "escalated"  # not accepted in time; now awaiting accept one tier up
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    VERIFYING = "verifying"  # closure check under way
    REOPENED = "reopened"  # closure check failed; back with the same person
    CLOSED = "closed"
    CLOSED_UNFIXED = "closed_unfixed"  # closed by ruling although the check never passed
    DISMISSED = "dismissed"  # triage found no work order (a question, a wrong number)
    # Calls that are not work orders (CallWorkflow, workflows/call.py): one block.
    ANSWERED = "answered"  # a consultation answered on the spot: closed at once
    REFERRED = "referred"  # referred to a named outside body, the reference given
    RECORDED = "recorded"  # a suggestion or praise in a department's inbox, reply due
    REPLIED = "replied"  # the department replied to the suggestion
    CONVERTED = "converted"  # a consultation or referral became a work order, same number

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset(
    {
        Stage.CLOSED,
        Stage.CLOSED_UNFIXED,
        Stage.DISMISSED,
        Stage.ANSWERED,
        Stage.REFERRED,
        Stage.REPLIED,
        Stage.CONVERTED,
    }
)


class CallKind(StrEnum):
    """What a hotline call is, as the agent records it at submission."""

    COMPLAINT = "complaint"  # a complaint or report: a work order (TicketWorkflow)
    CONSULTATION = "consultation"  # a question answered on the spot
    REFERRAL = "referral"  # belongs to a named outside body (utility, court, …)
    SUGGESTION = "suggestion"  # a suggestion or praise for a department, which replies


class Clock(StrEnum):
    """The SLA clocks a ticket runs; escalation steps say which one they watch."""

    ACCEPT = "accept"
    CONTACT = "contact"  # first contact with the citizen, runs from acceptance
    RESOLVE = "resolve"
    TRIAGE = "triage"  # an unclassified ticket waiting for a district dispatcher
    VERIFY = "verify"  # the evidence of the closure check (callback, photo review, recheck)

    @property
    def colours_ticket(self) -> bool:
        """Whether the clock's yellow and red marks are the ticket's SLA colour."""
        return self in (Clock.ACCEPT, Clock.RESOLVE)


class StepKind(StrEnum):
    """What an escalation step does when its time comes."""

    REMIND = "remind"  # remind the assignee
    URGE = "urge"  # 催办 through the unit's dispatcher
    ESCALATE = "escalate"  # hand the ticket one tier up
    SUPERVISE = "supervise"  # 督办 from the tier above; flags the ticket overdue


class CallbackResult(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    UNSATISFIED = "unsatisfied"


class ReviewDecision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class NoticeKind(StrEnum):
    """Kinds of message sent to people; each has a template."""

    ASSIGNED = "assigned"
    REMINDER = "reminder"
    ESCALATED = "escalated"
    URGE = "urge"
    SUPERVISE = "supervise"
    OVERDUE = "overdue"
    EXTENSION_REQUESTED = "extension_requested"
    EXTENSION_DECIDED = "extension_decided"
    RETURNED = "returned"  # 退单: re-routed to a new unit after a return or transfer
    REOPENED = "reopened"
    CALLBACK_REQUEST = "callback_request"
    REVIEW_REQUEST = "review_request"  # photo_review: the dispatcher is asked to review
    CO_HANDLING = "co_handling"
    CLOSED = "closed"
    SUGGESTION = "suggestion"  # a suggestion or praise in the department's inbox: reply due
    TRIAGE_REQUEST = "triage_request"  # an unclassified ticket: classify or dismiss it
    RECHECK_REQUEST = "recheck_request"  # video_recheck: the camera side is asked to look again
    RECONSIDERATION_REQUESTED = "reconsideration_requested"  # to the district that ruled
    RECONSIDERATION_DECIDED = "reconsideration_decided"  # to the unit that asked
    SENSOR_RECOVERED = "sensor_recovered"  # the device reports normal: confirm on site
    RECOVERY_REQUEST = "recovery_request"  # sensor_recovery: fixed, but the device is not normal
    GROUPED = "grouped"  # several follow-ups about one incident to one person, in one message

    @property
    def groupable(self) -> bool:
        """Follow-ups that may wait a short window to go out as one message per incident."""
        return self in (NoticeKind.ESCALATED, NoticeKind.URGE, NoticeKind.SUPERVISE)


class Reader(StrEnum):
    """Who a notice is for, relative to the ticket: the wording (and the accept link)
    depends on it."""

    ASSIGNEE = "assignee"  # holds the ticket and must act (accept, fix)
    SUPERVISOR = "supervisor"  # the dispatcher or a tier above: oversees, decides, reviews
    CO_HANDLER = "co_handler"  # informed, takes part
    HOTLINE = "hotline"  # the 12345 hotline: calls the citizen back, tells them the news
    CAMERA = "camera"  # the video platform: re-detects at the camera


class RecoveryPolicy(StrEnum):
    """What a sensor reporting normal before anyone fixed anything means, per scenario."""

    CLOSE_AS_RECOVERED = "close_as_recovered"  # after the hold: closed, verified by sensor
    STOP_CHASE_AND_TELL = "stop_chase_and_tell"  # keep the ticket, stop the chase, tell them
    NEVER_AUTO_CLOSE = "never_auto_close"  # note it; the chase and the check go on


class SlaColour(StrEnum):
    """How close a clock is to its deadline: shown in search attributes and ticket details."""

    GREEN = "green"  # under 80% of the budget used
    YELLOW = "yellow"  # 80% or more used
    RED = "red"  # deadline passed


class LinkKind(StrEnum):
    """How a citizen's report joined an open incident (docs/incidents.md)."""

    NEW = "new"  # no open incident matched: it opened one of its own
    REPEAT_CALL = "repeat_call"  # citizens are calling again about an open ticket (催办)
    KNOWN_FROM_SENSORS = "known_from_sensors"  # a sensor or camera reported it first
