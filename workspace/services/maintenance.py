"""Work whose message was lost (broker down, worker killed) is found in the tables and sent again."""

from datetime import timedelta

from django.utils import timezone

from workspace.models import Attachment, Export
from workspace.services.exports import EXPORT_RENDERS
from workspace.services.files import TEXT_EXTRACTIONS

SWEEP_AFTER = timedelta(seconds=60)  # older than this and still pending: its message was lost


def pending_sweep() -> int:
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
    TEXT_EXTRACTIONS.enqueue_on_commit(attachments)
    EXPORT_RENDERS.enqueue_on_commit(exports)
    return len(attachments) + len(exports)
