"""A ticket's whole history, as Temporal stores it, holds the caller's phone and name only
encrypted; with the key it decodes and replays. Notices and UI details show them masked."""

from __future__ import annotations

from datetime import UTC

from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from cityops.domain.models import (
    AcceptInput,
    CallbackInput,
    ContactInput,
    ResolveInput,
    TicketIntake,
    TicketOutcome,
)
from cityops.domain.stages import CallbackResult, Stage
from cityops.privacy.codec import ENCODING, EncryptionCodec
from cityops.privacy.keys import load_keyring
from cityops.service import tickets
from cityops.workers.client import data_converter
from cityops.workers.main import WORKFLOWS, sandbox_runner
from cityops.workflows.ticket import TicketWorkflow
from tests.privacy.payloads import payloads_in
from tests.workflows.harness import Harness, intake

PHONE, NAME = "13900001234", "王先生"
SECRETS = (PHONE.encode(), NAME.encode())


def sdk_bookkeeping(path: str) -> bool:
    """Payloads no codec sees: search attributes (must hold no contact, and don't) and the
    SDK's own marker data (a local activity's sequence number, a patch id). Checked above
    to hold no phone or name like every other payload."""
    marker = "marker_recorded_event_attributes.details"
    return "search_attributes" in path or (marker in path and "details[result]" not in path)


async def run_ticket(h: Harness) -> WorkflowHistory:
    """A callback ticket from intake to closed, the caller named in the text and a note."""
    handle = await h.start(
        intake(
            "T-PRIV",
            scenario="CH01",
            text=f"我是{NAME}，工地夜间施工太吵，电话{PHONE}",
            caller_name=NAME,
            # The server's own instant: a fixed date hours behind the server's wall clock
            # ran the accept chain at once, racing the test's accept.
            received_at=(await h.env.get_current_time()).astimezone(UTC),
        )
    )
    person = "P-T01-D"
    await tickets.update(h.client, "T-PRIV", TicketWorkflow.accept, AcceptInput(person_id=person))
    await tickets.update(
        h.client,
        "T-PRIV",
        TicketWorkflow.contact_citizen,
        ContactInput(person_id=person, note=f"已联系{NAME}"),
    )
    await tickets.update(
        h.client, "T-PRIV", TicketWorkflow.resolve, ResolveInput(person_id=person, note="停工")
    )
    await h.until(lambda: "callback_request" in h.notifier.kinds())
    happy = CallbackInput(result=CallbackResult.SATISFIED, by="hotline-agent-7")
    await tickets.update(h.client, "T-PRIV", TicketWorkflow.callback, happy)
    outcome = await handle.result()
    assert isinstance(outcome, TicketOutcome) and outcome.stage is Stage.CLOSED
    return await handle.fetch_history()


async def test_history_without_the_key_shows_no_phone_or_name_and_decodes_with_it(
    env: WorkflowEnvironment, h: Harness
) -> None:
    history = await run_ticket(h)
    raw = history.to_json().encode() + History(events=history.events).SerializeToString()
    for secret in SECRETS:
        assert secret not in raw

    found = list(payloads_in(History(events=history.events)))
    assert len(found) > 20  # inputs, results, updates, summaries, details: the walk is real
    for path, payload in found:
        for secret in SECRETS:
            assert secret not in payload.data, path
        if not sdk_bookkeeping(path):
            assert payload.metadata["encoding"] == ENCODING, (path, payload.data[:300].decode())
    summary_paths = [p for p, _ in found if "user_metadata" in p]
    assert summary_paths, "summaries and details are stored and encrypted"

    # With the key the workflow input decodes to the caller's data, and the history replays.
    codec = EncryptionCodec(load_keyring())
    started = history.events[0].workflow_execution_started_event_attributes
    [plain] = await codec.decode(started.input.payloads)
    decoded = data_converter().payload_converter.from_payload(plain, TicketIntake)
    assert (decoded.caller_phone, decoded.caller_name) == (PHONE, NAME)
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=data_converter(), workflow_runner=sandbox_runner()
    )
    await replayer.replay_workflow(history)


async def test_notices_carry_the_phone_masked_and_the_caller_masked_in_free_text(
    env: WorkflowEnvironment, h: Harness
) -> None:
    await run_ticket(h)
    assert h.notifier.notices
    for notice in h.notifier.notices:
        everything = notice.model_dump_json()
        assert PHONE not in everything and NAME not in everything
        assert notice.facts["caller_phone"] == "139****1234"
    assigned = next(n for n in h.notifier.notices if n.kind.value == "assigned")
    assert assigned.facts["text"] == "我是王**，工地夜间施工太吵，电话139****1234"
    status = await h.status("T-PRIV")
    assert status.caller_phone_masked == "139****1234"
    assert status.text and PHONE in status.text  # the keyed API still gives responders the text
