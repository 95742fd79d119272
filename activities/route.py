"""Routing activities: re-plan a ticket after a return (退单) or a transfer. Each returns a
RoutePlan the workflow snapshots. (The first route is planned by `plan_dispatch` in
activities/dispatch.py, through the same OrgRouter.)

The router (organisation, areas, rules) is built once per worker and reused, so these
are cheap enough to run as local activities. A unit code that does not exist can never
succeed on retry, so it fails the activity for good.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio import activity
from temporalio.exceptions import ApplicationError

from cityops.domain.models import ReturnRequest, RoutePlan, TransferRequest
from cityops.org.directory import OrgError
from cityops.org.routing import OrgRouter


class RoutingActivities:
    def __init__(self, router: OrgRouter) -> None:
        self._router = router

    @activity.defn(name="return_ticket")
    def return_ticket(self, request: ReturnRequest) -> RoutePlan:
        with _org_errors_are_final():
            return self._router.return_ticket(
                request.current, request.reason, request.returns_so_far, request.at
            )

    @activity.defn(name="transfer_ticket")
    def transfer_ticket(self, request: TransferRequest) -> RoutePlan:
        with _org_errors_are_final():
            return self._router.transfer(
                request.current, request.target_unit, request.reason, request.at
            )


@contextmanager
def _org_errors_are_final() -> Iterator[None]:
    try:
        yield
    except OrgError as exc:
        raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from exc
