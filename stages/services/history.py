"""Retention (seed §10.1: journey history kept two years, then purged)."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from stages.conf import setting
from stages.models import Snapshot, StagedJourney, StageTransition
from stages.models.stages import CLOSED_STAGES

PURGE_CHUNK = 500  # journeys deleted per statement, to keep transactions short


def stage_history_purge(*, retention_days: int | None = None, now: datetime | None = None) -> dict[str, int]:
    """Delete journeys that ended before the cutoff (with their history, snapshots,
    measurements and units of work), then history rows and snapshots older than the cutoff of
    journeys still running. Returns counts by kind."""
    days = retention_days if retention_days is not None else setting("STAGES_HISTORY_RETENTION_DAYS")
    cutoff = (now or timezone.now()) - timedelta(days=days)
    purged = {"journeys": 0, "transitions": 0, "snapshots": 0}
    while True:
        pks = list(
            StagedJourney.objects.filter(stage__in=CLOSED_STAGES, ended_at__lt=cutoff).values_list(
                "pk", flat=True
            )[:PURGE_CHUNK]
        )
        if not pks:
            break
        with transaction.atomic():
            purged["journeys"] += (
                StagedJourney.objects.filter(pk__in=pks).delete()[1].get(StagedJourney._meta.label, 0)
            )
    with transaction.atomic():
        purged["snapshots"] = Snapshot.objects.filter(created_at__lt=cutoff).delete()[0]
        purged["transitions"] = StageTransition.objects.filter(transitioned_at__lt=cutoff).delete()[0]
    return purged
