"""Thin Celery wrappers for the workspace: text extraction, exports, sweeping and purging."""

from celery import shared_task
from django.db import transaction


def enqueue_text_extraction(attachment_id: int) -> None:
    transaction.on_commit(lambda: attachment_extract_text_task.delay(attachment_id))


def enqueue_export(export_id: int) -> None:
    transaction.on_commit(lambda: export_render_task.delay(export_id))


@shared_task(name="workspace.attachment_extract_text", ignore_result=True)
def attachment_extract_text_task(attachment_id: int) -> None:
    from workspace.services.files import attachment_extract_text

    attachment_extract_text(attachment_id=attachment_id)


@shared_task(
    name="workspace.export_render",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=3,
)
def export_render_task(export_id: int) -> None:
    from workspace.services.exports import export_render

    export_render(export_id=export_id)


@shared_task(name="workspace.pending_sweep", ignore_result=True)
def workspace_pending_sweep_task() -> int:
    """Beat: re-dispatch text extractions and exports whose message was lost."""
    from workspace.services.maintenance import pending_sweep

    return pending_sweep()


@shared_task(name="workspace.purge_deleted", ignore_result=True)
def workspace_purge_deleted_task() -> dict[str, int]:
    """Beat, daily: remove for good what was soft-deleted past the retention period."""
    from workspace.services.spaces import workspace_purge_deleted

    return workspace_purge_deleted()
