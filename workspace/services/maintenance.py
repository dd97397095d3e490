"""Work whose message was lost (broker down, worker killed) is found in the tables and sent again."""

from datetime import timedelta

from django.utils import timezone

from workspace.models import Attachment, Export

SWEEP_AFTER = timedelta(seconds=60)  # older than this and still pending: its message was lost


def pending_sweep() -> int:
    from workspace.tasks import attachment_extract_text_task, export_render_task

    cutoff = timezone.now() - SWEEP_AFTER
    attachments = list(
        Attachment.objects.filter(
            text_status=Attachment.TextStatus.PENDING, created_at__lt=cutoff
        ).values_list("pk", flat=True)[:500]
    )
    exports = list(
        Export.objects.filter(status=Export.Status.PENDING, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:100]
    )
    for pk in attachments:
        attachment_extract_text_task.delay(pk)
    for pk in exports:
        export_render_task.delay(pk)
    return len(attachments) + len(exports)
