"""Ids on every log line of a piece of work: which step run, user journey and participant.

Bound with structlog's context variables, so every line logged inside — by our code or a library,
through the standard ``logging`` module — carries them in the JSON log format
(``LOG_FORMAT=json``). Context variables are per thread, so a step executed on the dispatcher's
thread pool binds its own ids there.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from structlog.contextvars import bound_contextvars

from journeys.registries import ActionContext


@contextmanager
def step_run_logging(action: ActionContext) -> Iterator[None]:
    with bound_contextvars(
        step_run_id=action.step_run_id,
        user_journey_id=action.user_journey_id,
        journey_id=action.journey_id,
        participant=action.participant.user_id,
    ):
        yield


@contextmanager
def evaluation_logging(participant_user_ids: list[str]) -> Iterator[None]:
    with bound_contextvars(participants=participant_user_ids):
        yield
