"""Exports: a PDF of the journey, made by a task, downloadable when ready."""

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from journeys.errors import Conflict
from journeys.queue import Channel
from workspace.models import Export, Workspace
from workspace.services.spaces import activity_record

# Pending exports are rendered by a worker; the maintenance sweep sends again what was lost.
EXPORT_RENDERS = Channel(name="workspace exports", chunk=1)


@transaction.atomic
def export_request(*, workspace: Workspace, actor) -> Export:
    """Start an export; one already waiting is returned instead of a second."""
    pending = Export.objects.filter(workspace=workspace, status=Export.Status.PENDING).first()
    if pending is not None:
        return pending
    export = Export.objects.create(workspace=workspace, requested_by=actor)
    activity_record(
        workspace=workspace,
        actor=actor,
        verb="export.requested",
        summary="PDF export requested",
        target=export,
    )
    EXPORT_RENDERS.enqueue_on_commit([export.pk])
    return export


def export_render(*, export_id: int) -> Export | None:
    """Render the PDF of a pending export (safe to run twice: a finished export is left alone)."""
    from workspace.pdf import render_journey_pdf
    from workspace.selectors import journey_timeline

    export = Export.objects.select_related("workspace__user_journey__journey").filter(pk=export_id).first()
    if export is None or export.status != Export.Status.PENDING:
        return export
    try:
        content, pages = render_journey_pdf(journey_timeline(workspace=export.workspace))
    except Exception as error:
        Export.objects.filter(pk=export.pk, status=Export.Status.PENDING).update(
            status=Export.Status.FAILED,
            error=f"{type(error).__name__}: {error}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    name = f"journey-{export.workspace.user_journey_id}-{export.pk}.pdf"
    export.file.save(name, ContentFile(content), save=False)
    updated = Export.objects.filter(pk=export.pk, status=Export.Status.PENDING).update(
        status=Export.Status.READY, file=export.file.name, pages=pages, finished_at=timezone.now()
    )
    if not updated:
        raise Conflict("The export finished elsewhere.", current_state="ready")
    export.refresh_from_db()
    return export
