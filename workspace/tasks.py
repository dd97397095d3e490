"""Thin Celery wrappers for the workspace: text extraction, exports, sweeping and purging.

The ``*_enqueue`` functions are the only code that puts the workspace's work on the broker; the
channels (``TEXT_EXTRACTIONS``, ``EXPORT_RENDERS``) call them after commit once ``queues_connect``
ran. With the broker down the row stays pending and the maintenance sweep sends it again.
"""

from celery import shared_task

from journeys.broker import task_send
from workspace.services.exports import EXPORT_RENDERS, export_render
from workspace.services.files import TEXT_EXTRACTIONS, attachment_extract_text
from workspace.services.maintenance import pending_sweep
from workspace.services.spaces import workspace_purge_deleted


@shared_task(name="workspace.attachment_extract_text", ignore_result=True)
def attachment_extract_text_task(attachment_id: int) -> None:
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
    export_render(export_id=export_id)


@shared_task(name="workspace.pending_sweep", ignore_result=True)
def workspace_pending_sweep_task() -> int:
    """Beat: re-dispatch text extractions and exports whose message was lost."""
    return pending_sweep()


@shared_task(name="workspace.purge_deleted", ignore_result=True)
def workspace_purge_deleted_task() -> dict[str, int]:
    """Beat, daily: remove for good what was soft-deleted past the retention period."""
    return workspace_purge_deleted()


def attachment_extract_text_enqueue(attachment_ids: list[int]) -> None:
    """Ask a worker to read one document's text."""
    [pk] = attachment_ids  # one attachment per message (the channel's chunk)
    task_send(attachment_extract_text_task, pk, left_to="the workspace sweep")


def export_render_enqueue(export_ids: list[int]) -> None:
    """Ask a worker to render one export."""
    [pk] = export_ids  # one export per message (the channel's chunk)
    task_send(export_render_task, pk, left_to="the workspace sweep")


def queues_connect() -> None:
    """Give the workspace's channels their senders (the app's ``ready``)."""
    TEXT_EXTRACTIONS.connect(attachment_extract_text_enqueue)
    EXPORT_RENDERS.connect(export_render_enqueue)
