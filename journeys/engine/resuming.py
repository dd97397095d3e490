"""How a walk resumes: an awaited event arrives or its wait times out, a claimed run falls due,
an action executed outside the transaction comes back with its outcome.

Part of the ``Walker`` (``journeys.engine.runner``), which gives these methods its context,
its writes and its ``finish``/``fail_run``/``record``; every caller holds the user journey's
row lock.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from journeys.engine.decisions import event_decide, timeout_decide
from journeys.models import Event, StepRun, UserJourney


@dataclass
class ActionOutcome:
    """What happened when a side-effecting action ran outside the transaction."""

    result: dict[str, Any] | None = None
    error: str | None = None
    permanent: bool = False
    skipped: str | None = None
    deferred_until: datetime | None = None
    trace: dict[str, Any] | None = None
    side_effect_done: bool = False


class Resuming:
    """The walker's entry points for what happens after a walk stopped (a mixin of ``Walker``)."""

    def wake(self, run: StepRun, event: Event) -> bool:
        """An awaited event arrived: finish the wait with it (when its condition holds)."""
        step = self.definition[run.step_key]
        match = event_decide(step, self.walk_context(event.payload))
        if not match.counts:
            run.trace = {
                **run.trace,
                "ignored": [
                    *run.trace.get("ignored", [])[-9:],
                    {"event": event.pk, "condition": match.trace},
                ],
            }
            self.writes.run(run, fields=["trace"])
            return False
        result = {
            "event_id": event.pk,
            "event_type": event.type,
            "payload": event.payload,
            "timed_out": False,
        }
        self.walk(self.finish(run, result, payload=event.payload))
        return True

    def time_out(self, run: StepRun) -> None:
        """A wait_for_event run fell due. An event that arrived meanwhile but whose wake-up has
        not run yet still counts: the log is checked under the row lock, so none is lost."""
        step = self.definition[run.step_key]
        since = run.trace.get("wait", {}).get("since")
        candidates = Event.objects.filter(participant_id=self.uj.participant_id, type=run.waiting_for)
        if since:
            candidates = candidates.filter(received_at__gte=since)
        for event in candidates.order_by("id")[:50]:
            if event_decide(step, self.walk_context(event.payload)).counts:
                self.wake(run, event)
                return
        result = {"timed_out": True}
        nxt = timeout_decide(step)
        self._trace(run, nxt.trace)
        self.record(run, StepRun.Status.SUCCEEDED, result)
        self._step_result(step, result)
        self.walk(nxt)

    def run_due(self, run: StepRun) -> None:
        """A claimed run whose body is database-only: enter it, or finish its wait, or retry it."""
        step = self.definition[run.step_key]
        if not run.entered:
            self._walk_on(self.enter(run))
        elif step.kind == "wait_for_event":
            self.time_out(run)
        elif step.kind == "wait":
            self.walk(self.finish(run, {"waited_until": run.due_at.isoformat() if run.due_at else None}))
        elif step.kind == "action":
            action = step.action
            if action is None:
                self.fail_run(run, f"Unknown action type {step.action_type!r}.", permanent=True)
                self.save()
                return
            self._walk_on(self.execute_inline(run, action))
        else:  # a manual step is never due by time; anything else finishes as it enters
            self._walk_on(self.enter(run))

    def complete_action(self, run: StepRun, outcome: "ActionOutcome") -> None:
        """Record the outcome of an action executed outside the transaction, and walk on."""
        if outcome.deferred_until is not None:
            run.defer(until=outcome.deferred_until, trace=outcome.trace)
            self.writes.run(run)
            return
        if outcome.skipped is not None:
            if outcome.trace:
                run.trace = {**run.trace, "skipped": outcome.trace}
            nxt = self.finish(run, {"skipped": outcome.skipped}, status=StepRun.Status.SKIPPED)
        elif outcome.error is not None:
            nxt = self.fail_run(run, outcome.error, permanent=outcome.permanent)
        else:
            nxt = self.finish(run, outcome.result or {})
        self._walk_on(nxt)

    def settle(self, run: StepRun, outcome: "ActionOutcome | None") -> None:
        """Record a claimed run that is still ours, its user journey locked, and walk on:
        its action's ``outcome`` when one ran, else what falls due with it. A journey that
        stopped being active since the claim gets the run back (paused) or cancelled (ended);
        a side effect that happened meanwhile is recorded as done."""
        uj = self.uj
        ended = {"cancelled": f"user journey {uj.state}"}
        if outcome is not None:
            if uj.is_live:
                self.complete_action(run, outcome)
            elif outcome.side_effect_done:
                self.record(run, StepRun.Status.SUCCEEDED, outcome.result or {})
            else:
                self.record(run, StepRun.Status.CANCELLED, ended)
        elif uj.state == UserJourney.State.ACTIVE:
            self.run_due(run)
        elif uj.is_live:  # paused since the claim
            run.give_back()
            self.writes.run(run, fields=list(StepRun.GIVE_BACK_FIELDS))
        else:
            self.record(run, StepRun.Status.CANCELLED, ended)
