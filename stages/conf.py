"""The stages app's knobs. Read at call time (never at import) so tests and deployments can
override them in settings; each has a default that suits production."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # A worker holds a claimed task this long; past it the task counts as abandoned.
    "STAGES_TASK_LEASE_SECONDS": 300,
    # A queued task still unclaimed this long after it became due lost its message.
    "STAGES_TASK_SWEEP_AFTER_SECONDS": 30,
    "STAGES_TASK_SWEEP_BATCH": 500,  # tasks re-dispatched per sweep
    "STAGES_AUTO_PROMOTE_BATCH": 500,  # journeys checked per auto-promotion sweep
    "STAGES_HISTORY_RETENTION_DAYS": 730,  # seed §10.1: two years
    "STAGES_MAX_RETRY_DELAY_SECONDS": 3600,
}


def setting(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])
