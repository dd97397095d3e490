"""Files people keep at a journey or a step, saved research, and before/after image pairs."""

from django.db import models

from workspace.models.spaces import SoftDeletable, WorkspaceOwned


def _upload_to(attachment: "Attachment", filename: str) -> str:
    return f"workspace/{attachment.workspace_id}/{attachment.sha256[:2]}/{attachment.sha256}/{filename}"


class Attachment(WorkspaceOwned, SoftDeletable):
    """An uploaded image or document, checked by content and stored through Django's storage API.

    Images are re-encoded on upload (metadata such as GPS is dropped) and analysed offline:
    dimensions, dominant colours and a perceptual hash for near-duplicates. Documents have their
    text extracted by a Celery task so they can be searched.
    """

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        DOCUMENT = "document", "Document"

    class TextStatus(models.TextChoices):
        NOT_APPLICABLE = "n/a", "Not applicable"
        PENDING = "pending", "Pending"
        DONE = "done", "Extracted"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    file = models.FileField(upload_to=_upload_to, max_length=300)
    thumbnail = models.FileField(upload_to=_upload_to, max_length=300, blank=True)
    filename = models.CharField(max_length=200, help_text="The sanitised name shown to people.")
    content_type = models.CharField(max_length=100, help_text="Detected from the content, not the name.")
    size = models.PositiveBigIntegerField(help_text="Bytes as stored.")
    sha256 = models.CharField(max_length=64, db_index=True)
    caption = models.CharField(max_length=300, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    dominant_colors = models.JSONField(
        default=list, blank=True, help_text='["#aabbcc", …], most common first'
    )
    phash = models.CharField(
        max_length=16, blank=True, db_index=True, help_text="64-bit perceptual hash, hex."
    )
    text = models.TextField(blank=True, help_text="Text extracted from a document.")
    text_status = models.CharField(
        max_length=10, choices=TextStatus.choices, default=TextStatus.NOT_APPLICABLE
    )
    metadata = models.JSONField(default=dict, blank=True, help_text="pages, title, author of a document.")

    class Meta:
        indexes = [models.Index(fields=["workspace", "step_key"])]

    def __str__(self) -> str:
        return self.filename


class BeforeAfterPair(WorkspaceOwned):
    """Two images of the same step, the state before the work and after it, shown side by side."""

    before = models.ForeignKey(Attachment, on_delete=models.CASCADE, related_name="+")
    after = models.ForeignKey(Attachment, on_delete=models.CASCADE, related_name="+")
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["before", "after"], name="workspace_pair_once")]

    def __str__(self) -> str:
        return f"{self.before_id} → {self.after_id}"


class ResearchItem(WorkspaceOwned, SoftDeletable):
    """A search result someone kept: a product, a contractor, an idea."""

    query = models.CharField(max_length=300, blank=True)
    title = models.CharField(max_length=300)
    url = models.URLField(max_length=1000)
    snippet = models.TextField(blank=True)
    note = models.TextField(blank=True)
    provider = models.CharField(max_length=50, blank=True, help_text="Empty when saved by hand.")

    def __str__(self) -> str:
        return self.title
