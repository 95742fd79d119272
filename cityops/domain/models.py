"""Pydantic messages: every workflow, activity, update, signal and query input and output.

Safe to import inside the workflow sandbox (no I/O, no clocks). Messages are frozen
and reject unknown fields, so a typo in a caller is an error, not a silent drop.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    Strict,
    field_validator,
)
from pydantic_core import core_schema

from cityops.domain.limits import (
    MEASURE,
    Address,
    Attributes,
    CameraId,
    DeviceId,
    Email,
    Instant,
    Measure,
    Name,
    Note,
    PersonId,
    Phone,
    Reason,
    Reference,
    ReferralBody,
    ScenarioId,
    SensorWord,
    Text,
    TicketId,
    UnitCode,
    Url,
)
from cityops.domain.stages import (
    CallbackResult,
    CallKind,
    Clock,
    ClosureCheck,
    Dimension,
    LinkKind,
    NoticeKind,
    Priority,
    Reader,
    RecoveryPolicy,
    ReviewDecision,
    Source,
    Stage,
    StepKind,
    Tier,
)


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_M = TypeVar("_M", bound=Message)
_FIELDS: dict[type[Message], frozenset[str]] = {}


def trusted(cls: type[_M], **values: Any) -> _M:
    """A message built from values the engine computed and checked itself, unvalidated.

    Why: the classifier builds several messages per text, and in a batch validation
    was a third of the time. pydantic's `model_construct` does not help here (in
    pydantic 2.14 it is about twice as slow as validating: it walks the fields in
    Python); this sets the fields directly. Every field must be given, so nothing
    falls back to a default, and the result equals the validated message (==, dumps).
    Never use it for anything that came from outside.
    """
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = frozenset(cls.model_fields)
    if values.keys() != names:
        raise TypeError(f"{cls.__name__}: trusted() needs exactly the fields {sorted(names)}")
    message = object.__new__(cls)
    object.__setattr__(message, "__dict__", values)
    object.__setattr__(message, "__pydantic_fields_set__", set(names))
    object.__setattr__(message, "__pydantic_extra__", None)
    object.__setattr__(message, "__pydantic_private__", None)
    return message


def _timestamp_text(value: Any) -> Any:
    """A timestamp from the wire is text (or already a datetime): 0 or true is no time."""
    if isinstance(value, str | datetime):
        return value
    raise ValueError("must be an ISO 8601 timestamp string with a UTC offset")


# Wire types of the edge: a number is a JSON number (not false, not "31.2"), a time is text.
Latitude = Annotated[float, Strict(), Field(ge=-90, le=90)]
Longitude = Annotated[float, Strict(), Field(ge=-180, le=180)]
WireTimestamp = Annotated[Instant, BeforeValidator(_timestamp_text)]
# A wire time that may be a sentinel outside the years an instant may take (Alertmanager's
# "0001-01-01T00:00:00Z", no end yet).
WireTimestampOrZero = Annotated[AwareDatetime, BeforeValidator(_timestamp_text)]


class _Reading:
    """An alarm's measured `value`: a number or a short text; one error naming `value`
    (not one per member of the union) when it is neither."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.union_schema(
            [core_schema.float_schema(allow_inf_nan=False), handler.generate_schema(Measure)],
            custom_error_type="reading_type",
            custom_error_message=(
                f"must be a number or text of at most {MEASURE.max_length} characters"
            ),
        )


Reading = Annotated[float | str, _Reading]


# --------------------------------------------------------------------------- intake


class AlarmEvent(Message):
    """One alarm state change from the IoT platform (spec: alarm_event.md)."""

    model_config = ConfigDict(frozen=True, extra="ignore")  # platforms add fields; we keep ours

    event_id: DeviceId
    device_id: DeviceId
    sensor_type: SensorWord
    metric: SensorWord
    value: Reading | None = None
    unit: Measure | None = None
    status: Literal["firing", "resolved"]
    lat: Latitude
    lon: Longitude
    occurred_at: WireTimestamp
    attributes: Attributes = Field(
        default_factory=dict,
        description="The platform's own fields (at most 32, 4 KiB as JSON); `site` is the "
        "place (an address, at most 500 characters)",
    )

    @property
    def site(self) -> str | None:
        site = self.attributes.get("site")
        return str(site) if site else None

    @property
    def detection(self) -> str | None:
        detection = self.attributes.get("detection")
        return str(detection) if detection else None


class IncidentLink(Message):
    """The incident a citizen's ticket belongs to from its start (docs/incidents.md): a
    repeat call or a report of what a sensor saw has a primary ticket, which carries the
    work and whose closure closes this one."""

    incident_id: TicketId
    kind: LinkKind
    primary_ticket_id: TicketId | None = Field(
        default=None, description="None when this ticket opened the incident"
    )
    primary_workflow_id: str | None = Field(
        default=None,
        max_length=200,
        description="The primary ticket's workflow, resolved at submission: this ticket "
        "tells it of the repeat call and waits on it. None: handled as a ticket of its own",
    )
    primary_run_id: str | None = Field(
        default=None, max_length=64, description="Its run (an alarm ticket's id has many runs)"
    )


class RepeatCallEntry(Message):
    """One of the latest repeat calls an open ticket keeps (its own number, when, the
    caller's masked phone and the start of the text: the caller's ticket has the rest)."""

    ticket_id: str = Field(max_length=64)
    at: AwareDatetime
    kind: LinkKind
    caller_phone_masked: str | None = Field(default=None, max_length=32)
    text: str | None = Field(default=None, max_length=200)


class TicketIncidents(Message):
    """A ticket's part in its incidents (docs/incidents.md), as its status shows it."""

    incident_ids: list[str] = Field(default_factory=list)
    link: LinkKind | None = Field(default=None, description="How this ticket joined at intake")
    primary_ticket_id: str | None = Field(
        default=None, description="The open ticket this one waits on (it carries the work)"
    )
    waiting_on_primary: bool = False
    repeat_calls: int = Field(
        default=0,
        description="Calls about this one: citizens calling again, or residents reporting "
        "what its sensor or camera found first (each kept call's kind says which)",
    )
    latest_calls: list[RepeatCallEntry] = Field(
        default_factory=list, description="The latest few repeat calls, newest last"
    )
    stepped_up_from: Priority | None = Field(
        default=None, description="The priority before repeat calls stepped it up"
    )


# The ticket engine revision a new ticket starts on, carried in its input (so a replay reads
# it from the history). Revision 1 has every workflow change up to `sensor-hold-shown` built
# in: such a ticket asks no `workflow.patched` for them, so it records no patch marker and
# no TemporalChangeVersion upsert (two history events and a visibility write each). 0 is a
# ticket started before revisions: it asks each patch as it did. Whoever starts a ticket's
# run stamps it (`on_current_engine`); workers must be deployed before the intake that
# stamps a new revision. Revision 2: a new ticket's assignment notice runs as a local
# activity in the workflow task that dispatches it (one activity task, its three history
# events and a second workflow task fewer before the accept clock's timer).
ENGINE_REVISION = 2


class TicketIntake(Message):
    """Everything known about a complaint or alarm when it arrives: the workflow input."""

    ticket_id: TicketId = Field(description="Our ticket number")
    source: Source
    text: Text | None = None
    address: Address | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    caller_name: Name | None = None
    caller_phone: Phone | None = None
    received_at: AwareDatetime
    external_id: TicketId | None = Field(
        default=None, description="The hotline's own number, for idempotency"
    )
    service_code: ScenarioId | None = Field(
        default=None, description="A scenario id chosen by the submitter (Open311): skips text"
    )
    alarm: AlarmEvent | None = None
    incident: IncidentLink | None = None
    split_from: TicketId | None = Field(
        default=None, description="The ticket whose secondary issue this one was split from"
    )
    triage_reason: str | None = Field(
        default=None,
        max_length=500,
        description="Set by intake: a person must look first (e.g. outside Pudong), and why",
    )
    media_url: Url | None = Field(
        default=None, description="A photo of the problem (Open311 media_url)"
    )
    caller_email: Email | None = None
    engine: int = Field(
        default=0, ge=0, description="The engine revision the ticket started on (ENGINE_REVISION)"
    )

    def on_current_engine(self) -> TicketIntake:
        """This intake as a new run starts it: on the current engine revision."""
        return self.model_copy(update={"engine": ENGINE_REVISION})

    @field_validator("text", "address", "caller_name")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        stripped = value.strip()
        return stripped or None


# --------------------------------------------------------------------------- classification


class ScenarioRef(Message):
    """A scenario's catalogue facts, snapshotted into the ticket."""

    id: str
    name_zh: str
    name_en: str
    category_id: str
    category_zh: str
    category_en: str
    dimension: Dimension
    priority: Priority
    lead_department: str
    handling_tier: Tier
    closure_check: ClosureCheck


class RuleMatch(Message):
    """One rule that fired for a scenario, and how much it counted."""

    scenario_id: str
    rule: str  # e.g. "keyword:燃气" or "alarm:gas_detector/lel_percent"
    weight: float


class Candidate(Message):
    """One scenario the text may be, with the probability the engine gives it."""

    scenario_id: str
    name_zh: str
    probability: float = Field(ge=0.0, le=1.0)


class SecondaryIssue(Message):
    """A second problem the caller named besides the main one ("另外…", "顺便…").

    Recorded on the ticket; a dispatcher may split it into a ticket of its own.
    """

    scenario: ScenarioRef
    confidence: float = Field(ge=0.0, le=1.0)
    text: Text  # the part of the call that names it


class Classification(Message):
    """What the rules decided and why. scenario is None means triage by a person."""

    scenario: ScenarioRef | None
    confidence: float = Field(ge=0.0, le=1.0)
    runner_up: str | None = None
    matched: list[RuleMatch] = Field(default_factory=list)
    rules_version: str
    reason: str = ""  # human-readable why, e.g. "below threshold 0.5"
    # The three likeliest scenarios of the text (best first; probabilities sum to <= 1),
    # for the hotline agent, who may choose one as the service code.
    candidates: list[Candidate] = Field(default_factory=list)
    # The engine's own choice when the submitter's service code overrode it: recorded so
    # a disagreement can be reviewed; None when the engine agreed or had no text.
    suggested: str | None = None
    secondary: SecondaryIssue | None = None

    @property
    def needs_triage(self) -> bool:
        return self.scenario is None


# --------------------------------------------------------------------------- routing


class Assignment(Message):
    """One accountable unit and person at one tier."""

    tier: Tier
    unit_code: str  # "DISTRICT", "T01", "T01-03", or a department code at district tier
    unit_name: str
    person_id: str
    person_name: str
    department: str | None = None


class RoutePlan(Message):
    """Where a ticket goes: the assignee and the path upward, frozen at dispatch."""

    street_code: str | None
    station_code: str | None
    assignee: Assignment
    escalation_path: list[Assignment] = Field(
        default_factory=list, description="The tiers above the assignee, nearest first"
    )
    co_handlers: list[Assignment] = Field(default_factory=list)
    dispatcher: Assignment | None = Field(
        default=None, description="Who dispatched it: reviews photos, takes returns"
    )
    leaders: list[Assignment] = Field(
        default_factory=list,
        description="The district center's duty leader on duty, then its director: the top "
        "of every chain, above the escalation path",
    )
    rule: str = "default"
    jurisdiction_reason: str = ""


# --------------------------------------------------------------------------- SLA and escalation


class SlaPolicy(Message):
    """How long each clock runs, and on which calendar."""

    accept_within: timedelta
    resolve_within: timedelta
    first_contact_within: timedelta | None = None
    working_time: bool = Field(description="True: count working hours/days of the CN calendar")


class _Step(Message):
    """A step fires at a fraction of the watched clock's budget (0.8 = 80% used,
    1.0 = at the deadline), so one chain serves every priority and calendar."""

    clock: Clock
    at: float = Field(ge=0.0, le=10.0, description="Fraction of the clock budget")
    repeat: int = Field(default=0, ge=0, le=10, description="Times to repeat after the first")
    every: float = Field(default=1.0, gt=0.0, le=10.0, description="Fraction between repeats")

    def fire_points(self) -> list[float]:
        return [self.at + i * self.every for i in range(self.repeat + 1)]


class RemindStep(_Step):
    kind: Literal[StepKind.REMIND] = StepKind.REMIND


class UrgeStep(_Step):
    kind: Literal[StepKind.URGE] = StepKind.URGE


class EscalateStep(_Step):
    kind: Literal[StepKind.ESCALATE] = StepKind.ESCALATE


class SuperviseStep(_Step):
    kind: Literal[StepKind.SUPERVISE] = StepKind.SUPERVISE


EscalationStep = Annotated[
    RemindStep | UrgeStep | EscalateStep | SuperviseStep, Field(discriminator="kind")
]


class EscalationPlan(Message):
    """A named chain of steps, snapshotted into the ticket at dispatch."""

    chain: str = "default"
    steps: list[EscalationStep]

    def for_clock(self, clock: Clock) -> list[EscalationStep]:
        return [s for s in self.steps if s.clock is clock]


class VerifyWait(Message):
    """How long a closure check's evidence may take before its chain climbs: `within` on
    the calendar, or by the end of the next working day (the 12345 callback practice)."""

    within: timedelta | None = None
    working_time: bool = False
    by_end_of_next_working_day: bool = False


class DispatchPlan(Message):
    """The snapshot a ticket follows from dispatch to closure."""

    classification: Classification
    scenario: ScenarioRef
    route: RoutePlan
    sla: SlaPolicy
    escalation: EscalationPlan
    recovery_hold: timedelta = Field(
        default=timedelta(minutes=10), description="sensor_recovery: how long normal must last"
    )
    max_reopens: int = 2
    max_extensions: int = 2
    photo_radius_m: float = 200.0
    pause_within: timedelta = Field(
        default=timedelta(days=2), description="A pause with no stated end ends this long after"
    )
    pause_longest: timedelta = Field(
        default=timedelta(days=14), description="No pause (extended or not) lasts longer"
    )
    recovery_patience: timedelta = timedelta(hours=1)
    on_recovery: RecoveryPolicy = Field(
        default=RecoveryPolicy.NEVER_AUTO_CLOSE,
        description="A sensor reporting normal before the fix: what it means for this scenario",
    )
    verify_waits: dict[ClosureCheck, VerifyWait] = Field(default_factory=dict)
    incident_key: str | None = Field(
        default=None,
        description="Tickets with the same key are one incident (the scenario's alarm "
        "grouping: device, site, street or station); their follow-up notices are grouped",
    )
    notice_group_window: timedelta | None = Field(
        default=None, description="How long follow-ups to one person wait to go out together"
    )


class TriagePlan(Message):
    """Who triages an unclassified ticket, by when, and the chain above them."""

    route: RoutePlan
    within: timedelta
    working_time: bool = False
    escalation: EscalationPlan


class TriageRequest(Message):
    intake: TicketIntake
    at: AwareDatetime


class NextWorkingDayRequest(Message):
    """The working time from `start` to the end of the next working day after start's day."""

    start: AwareDatetime


class WaitBudget(Message):
    """A clock's budget on the working calendar (literal working hours, under a day)."""

    budget: timedelta
    deadline: AwareDatetime


class SupervisorRequest(Message):
    """Who supervises (督办) for the district center at `at`."""

    at: AwareDatetime


class DistrictSupervisor(Message):
    """The district center's duty supervisor at an instant: the 督办 owner of a ticket
    whose chain has pressed its top in vain, and who decides a district-tier unit's
    extension; and how often a stalled ticket is supervised again."""

    person: Assignment
    supervise_every: timedelta = Field(default=timedelta(days=1), gt=timedelta(0))


# --------------------------------------------------------------------------- updates and signals


def on_behalf(by: str | None, acted_by: str | None) -> str | None:
    """How an action P-X did for P-Y reads: "P-X on behalf of P-Y"; P-Y when P-Y did it."""
    if acted_by is None or acted_by == by:
        return by
    return f"{acted_by} on behalf of {by}" if by else acted_by


class Acted(Message):
    """An action done by a named person (its `by` or `person_id`), perhaps through someone
    else: `acted_by` is who actually did it on their behalf (the operator at the CLI, or
    an API key with the act_for permission). Set by the API and the CLI from who is
    calling, never taken from a request body; the history records both."""

    acted_by: str | None = Field(
        default=None, max_length=100, description="Who did it on the named person's behalf"
    )


class TriageDecision(Acted):
    scenario_id: ScenarioId
    by: PersonId
    note: Note = ""


class AcceptInput(Acted):
    person_id: PersonId


class ResolveInput(Acted):
    person_id: PersonId
    note: Note = ""
    photo: AfterPhoto | None = None


class AfterPhoto(Message):
    url: Url
    taken_at: Instant
    lat: float = Field(allow_inf_nan=False)
    lon: float = Field(allow_inf_nan=False)


class CallbackInput(Acted):
    result: CallbackResult
    by: PersonId
    note: Note = ""


class ReviewInput(Acted):
    decision: ReviewDecision
    by: PersonId
    reason: Note = ""


class RecheckInput(Message):
    """A video re-detection result: still_detected False means the problem is gone."""

    still_detected: bool
    camera_id: CameraId = ""
    checked_at: Instant | None = None


class UrgeInput(Acted):
    by: PersonId
    note: Note = ""


class RuleClosureInput(Acted):
    """A supervisor's ruling that closes a ticket although the fix was never proven."""

    by: PersonId
    reason: Reason


class PauseInput(Acted):
    """Update: the assignee stops the resolve clock while waiting on the citizen."""

    person_id: PersonId
    reason: Reason
    until: datetime | None = Field(
        default=None,
        description="When the pause ends at the latest (default: the plan's pause_within "
        "from now). While paused, a later `until` extends the pause",
    )


class ResumeInput(Acted):
    person_id: PersonId
    note: Note = ""


class ContactInput(Acted):
    """Update: the assignee has spoken to the citizen (first contact)."""

    person_id: PersonId
    note: Note = ""


class ExtensionRequest(Acted):
    """Update: the assignee asks for more time (延期) before the resolve deadline."""

    person_id: PersonId
    new_deadline: Instant
    reason: Reason


class ExtensionDecision(Acted):
    """Update: the tier above approves or rejects the pending extension."""

    by: PersonId
    approve: bool
    note: Note = ""


class DismissInput(Acted):
    """Update: a district dispatcher closes a triage ticket that is no work order."""

    by: PersonId
    reason: Reason


class StatusInput(Message):
    """Query input; empty today, a message so fields can be added."""

    include_history: bool = True


# --------------------------------------------------------------------------- notices


# The 12345 hotline's callback desk: not one of the three tiers but the hotline system,
# reached through channels configured for the deployment (CITYOPS_HOTLINE_CONTACT).
HOTLINE_DESK_ID = "hotline"
# The video platform's re-check desk: asked to re-detect at the camera (CITYOPS_CAMERA_CONTACT).
CAMERA_DESK_ID = "camera"


class Recipient(Message):
    person_id: str
    name: str
    unit_code: str
    tier: Tier
    reader: Reader = Reader.ASSIGNEE  # the wording and the accept link depend on it


class Notice(Message):
    """A message to people about a ticket; idempotency_key makes retries safe."""

    kind: NoticeKind
    ticket_id: str
    idempotency_key: str
    recipients: list[Recipient]
    title: str
    facts: dict[str, str] = Field(default_factory=dict)
    accept_link: bool = Field(
        default=True,
        description="Put a one-tap accept link in the message of each recipient who may "
        "accept (reader `assignee`)",
    )
    items: list[NoticeItem] = Field(
        default_factory=list, description="kind grouped: the follow-ups this message carries"
    )
    group_key: str | None = Field(
        default=None,
        description="A follow-up about an incident: notices with the same key to the same "
        "person within the window go out as one message",
    )
    group_window: timedelta | None = None
    workflow_id: str = Field(default="", description="The ticket's workflow, told of failures")
    after_local_attempt: bool = Field(
        default=False,
        description="Sent as an activity after a local attempt failed: the delivery log is "
        "asked on the first attempt too (the local one may have reached some)",
    )


# Follow-ups about one incident to one person are gathered by one NoticeGroupWorkflow per
# (person, incident); its names live here so the activity that starts it (signal-with-start,
# which takes names) and the workflow that declares them agree.
NOTICE_GROUP_WORKFLOW = "NoticeGroupWorkflow"
NOTICE_GROUP_SIGNAL = "add_notice"


NOTICE_GROUP_PREFIX = "notices-"


def notice_group_workflow_id(person_id: str, group_key: str) -> str:
    return f"{NOTICE_GROUP_PREFIX}{person_id}-{group_key}"


class NoticeGroupStart(Message):
    person_id: str
    group_key: str
    window: timedelta


class NoticeUndelivered(Message):
    """Signal to a ticket: a grouped follow-up about it reached nobody."""

    kind: NoticeKind
    person_id: str
    reason: str = ""


class NoticeItem(Message):
    """One follow-up inside a grouped notice."""

    kind: NoticeKind
    ticket_id: str
    workflow_id: str = ""
    title: str
    facts: dict[str, str] = Field(default_factory=dict)
    accept_link: bool = False


class DeliveryFailure(Message):
    """Why one recipient got nothing: every channel tried, with its last error."""

    person_id: str
    reason: str


class NoticeReceipt(Message):
    delivered_to: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    grouped: list[str] = Field(
        default_factory=list, description="Handed to the person's notice group for the incident"
    )
    delivered_via: dict[str, str] = Field(
        default_factory=dict, description="person_id -> channel kind that accepted the message"
    )
    failures: list[DeliveryFailure] = Field(default_factory=list)


class TicketRecord(Message):
    """The ticket row written to the store at each stage change."""

    ticket_id: str
    workflow_id: str
    stage: Stage
    intake: TicketIntake
    scenario_id: str | None = None
    street_code: str | None = None
    assignee_id: str | None = None
    tier: Tier | None = None
    event: str = ""
    at: AwareDatetime


# --------------------------------------------------------------------------- status


class HistoryEntry(Message):
    at: datetime
    stage: Stage
    event: str
    by: str | None = None
    acted_by: str | None = Field(
        default=None, description="Who did it on behalf of `by` (an operator, a delegate)"
    )
    detail: str = ""
    count: int = Field(default=1, description="Repeats summarised in this row (alarm events)")
    last_at: datetime | None = Field(default=None, description="The last of the repeats")

    @property
    def who(self) -> str | None:
        """Who did it as people read it: "P-X on behalf of P-Y" when someone acted for `by`."""
        return on_behalf(self.by, self.acted_by)


class Referral(Message):
    """Where a referral sent the caller: the outside body, and the reference given to them
    (its phone number, case number or address)."""

    body: ReferralBody = Field(description="e.g. 浦东供电公司 95598")
    reference: Reference = Field(description="What the caller was told")


class CallFacts(Message):
    """What a call that is no work order carries in its status (CallWorkflow)."""

    kind: CallKind
    answer: str | None = None
    link: str | None = None
    referral: Referral | None = None
    department: str | None = Field(default=None, description="suggestion: the inbox's unit")
    reply_deadline: datetime | None = None
    reply: str | None = None
    rating: CallbackResult | None = Field(
        default=None, description="consultation: the caller's one-question rating"
    )
    open_until: datetime | None = Field(
        default=None, description="consultation/referral: may be rated or converted until"
    )


# Who may split a secondary issue into its own ticket: the person's role in the
# organisation (cityops.org PersonRole values), looked up by the service.
SPLITTER_ROLES = frozenset({"dispatcher", "supervisor"})


class SplitInput(Acted):
    """Update: record that the secondary issue became the ticket `new_ticket_id`.

    The service starts that ticket first (its number derived from this one, so a retry
    starts nothing new), then runs this update; the workflow's validator is the
    authority on whether the split may happen.
    """

    by: PersonId
    by_role: str = Field(min_length=1, max_length=32, description="The person's org role")
    new_ticket_id: TicketId


class SplitRecord(Message):
    """On the original ticket: its secondary issue became another ticket."""

    new_ticket_id: str
    scenario_id: str
    by: str
    at: datetime


class TicketStatus(Message):
    ticket_id: str
    stage: Stage
    source: Source
    text: str | None
    address: str | None
    caller_phone_masked: str | None = Field(
        default=None, description="The caller's phone as responders see it: 139****1234"
    )
    scenario_id: str | None = None
    scenario_name: str | None = None
    priority: Priority | None = None
    street_code: str | None = None
    station_code: str | None = Field(
        default=None, description="The work station the route names, if any (e.g. T01-03)"
    )
    tier: Tier | None = None
    assignee_id: str | None = None
    assignee_name: str | None = None
    accepted_by: str | None = Field(
        default=None, description="Who has accepted it; None while it waits for acceptance"
    )
    accept_deadline: datetime | None = None
    resolve_deadline: datetime | None = None
    contact_deadline: datetime | None = None
    triage_deadline: datetime | None = None
    verify_deadline: datetime | None = None
    waiting_on: str | None = Field(
        default=None, description="Who the ticket waits for now (triage, verification)"
    )
    contacted_at: datetime | None = None
    paused: bool = False
    pause_deadline: datetime | None = Field(
        default=None,
        description="While paused: when the pause ends (then the resolve clock runs again "
        "and the one above the assignee hears); None for a pause from before pauses ended",
    )
    sla_colour: str = "green"
    overdue: bool = False
    escalations: int = 0
    reopens: int = 0
    alarm_events: int = 0
    returns: int = 0
    extensions: int = 0
    pending_extension: ExtensionRequest | None = None
    calendar_unconfirmed_after: date | None = Field(
        default=None,
        description="A working-time deadline falls after this day, the last one the "
        "holiday calendar is confirmed for: it may move when the schedule is listed",
    )
    bound_unit: str | None = Field(
        default=None, description="The unit a district ruling named: it cannot return it"
    )
    pending_reconsideration: ReconsiderationRequest | None = None
    chase_stopped: bool = False
    stalled_since: datetime | None = Field(
        default=None,
        description="The wait's chain pressed its top in vain: since then the district "
        "center's duty supervisor is told every day (督办) until someone acts",
    )
    stalled_clock: Clock | None = Field(default=None, description="Which wait is stalled")
    stall_supervisor: str | None = Field(
        default=None, description="Who was last told of the stalled ticket (督办)"
    )
    classification: Classification | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    call: CallFacts | None = Field(
        default=None, description="Set for a call that is no work order, or was converted"
    )
    split: SplitRecord | None = Field(
        default=None, description="The secondary issue was split into this ticket"
    )
    split_from: str | None = Field(
        default=None, description="This ticket is another's secondary issue, split off"
    )
    incident: TicketIncidents | None = Field(
        default=None, description="Its incidents, repeat calls and the primary it waits on"
    )


class SplitOutcome(Message):
    """What split_secondary answers: the new ticket's number and the original's status."""

    new_ticket_id: str
    status: TicketStatus


class TicketOutcome(Message):
    ticket_id: str
    stage: Stage
    fixed: bool
    reopens: int
    escalations: int
    closed_at: datetime


ResolveInput.model_rebuild()
Notice.model_rebuild()


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"  # plain HTTP POST of the notice as JSON
    EMAIL = "email"  # SMTP
    WECOM = "wecom"  # 企业微信 group robot
    DINGTALK = "dingtalk"  # 钉钉 group robot


class ContactChannel(Message):
    """One way to reach a person, in the order they prefer."""

    kind: ChannelKind
    target: str = Field(min_length=1, description="URL or e-mail address")
    secret: str | None = Field(
        default=None, description="DingTalk robot signing secret (加签), when the robot has one"
    )


class Pause(Message):
    """A stretch during which a clock stood still (waiting on the citizen)."""

    start: AwareDatetime
    end: AwareDatetime


class DeadlinesRequest(Message):
    """Instants at given fractions of a clock budget, on the ticket's calendar, pushed
    later by the clock's pauses (measured on the same calendar)."""

    start: AwareDatetime
    budget: timedelta
    fractions: list[float]
    working_time: bool
    pauses: list[Pause] = Field(default_factory=list)


class DeadlinesResult(Message):
    instants: list[datetime]
    unconfirmed_after: date | None = Field(
        default=None,
        description="Set when the deadline (fraction 1.0) falls after this day, the last "
        "one the working calendar is confirmed for: counted by weekends only beyond it",
    )


class PlanRequest(Message):
    intake: TicketIntake
    classification: Classification
    at: AwareDatetime


class NewTicketRequest(Message):
    """Everything a new ticket needs before its first notice, asked in one local activity:
    classify; if classified, plan the dispatch and compute the accept clock's instants
    from `accept_start` (when the ticket came in)."""

    intake: TicketIntake
    at: AwareDatetime
    accept_start: AwareDatetime


class NewTicketPlan(Message):
    classification: Classification
    plan: DispatchPlan | None = Field(default=None, description="None: it needs triage")
    accept: DeadlinesRequest | None = Field(
        default=None, description="The accept clock's request: every fraction its chain names"
    )
    accept_instants: DeadlinesResult | None = None


# ------------------------------------------------------------ jurisdiction, returns, transfers


class PlaceBasis(StrEnum):
    """How a ticket's place was decided."""

    ADDRESS = "address"  # a street/town name in the address
    COORDINATES = "coordinates"  # the point falls in a street/town polygon
    NONE = "none"  # neither: the district center dispatches by hand


class Place(Message):
    """Where a ticket happened, in the organisation's terms."""

    street_code: str | None = None
    station_code: str | None = None
    basis: PlaceBasis = PlaceBasis.NONE
    reason: str = ""


class ReturnReasonCode(StrEnum):
    """Why a unit sends a ticket back (退单)."""

    NOT_OUR_JURISDICTION = "not_our_jurisdiction"  # the place is another unit's
    NOT_OUR_DUTY = "not_our_duty"  # the matter is another department's


class ReturnReason(Message):
    code: ReturnReasonCode
    note: Note = ""
    suggested_unit: UnitCode | None = Field(
        default=None, description="The unit the returner says is right"
    )


class ReturnInput(Acted):
    """Update: the assignee returns the ticket as not theirs."""

    person_id: PersonId
    reason: ReturnReason


class ReconsiderationRequest(Acted):
    """Update: the unit a binding district ruling named asks the district to reconsider."""

    person_id: PersonId
    reason: Reason
    suggested_unit: UnitCode | None = None


class ReconsiderationDecision(Acted):
    """Update: the district decides a reconsideration; approving names the unit that
    takes the ticket instead (the new ruling binds that unit)."""

    by: PersonId
    approve: bool
    target_unit: UnitCode | None = None
    note: Note = ""


class TransferInput(Acted):
    """Update: a dispatcher hands the ticket to another unit."""

    by: PersonId
    target_unit: UnitCode
    reason: Reason


class ReturnRequest(Message):
    current: RoutePlan
    reason: ReturnReason
    returns_so_far: int = Field(ge=0)
    at: AwareDatetime


class TransferRequest(Message):
    current: RoutePlan
    target_unit: str = Field(min_length=1, max_length=32)
    reason: str = Field(min_length=1, max_length=2000)
    at: AwareDatetime


TicketStatus.model_rebuild()  # it names ReconsiderationRequest, defined above this line


class StatusAndTimers(Message):
    """Query answer: a ticket's status and when each timer it runs now is due."""

    status: TicketStatus
    timers: list[datetime] = Field(default_factory=list)
