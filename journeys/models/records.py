from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

ENTITY_NAME_VALIDATOR = RegexValidator(
    r"^[a-z][a-z0-9_]{0,99}$",
    "Use lower-case letters, digits and underscores, starting with a letter (e.g. kintell_sessions).",
)
EVENT_PATTERN_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9_.:\-*?]{1,200}$",
    "An event type or a glob such as kintell.session.* (letters, digits, . _ - : and * ?).",
)
FIELD_PATH_VALIDATOR = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$",
    "A payload field or dot path such as enrollment_id or enrollment.id.",
)


class EntityMapping(models.Model):
    """Projects events of a type (exact or glob) into one entity of the participant context.

    Without ``key_field`` every event adds a record. With it, events carrying the same key
    update one record (its fields merged, newest event wins), e.g. an enrollment whose status
    changes. One event may feed several entities.
    """

    event_type = models.CharField(max_length=200, validators=[EVENT_PATTERN_VALIDATOR])
    entity = models.CharField(max_length=100, validators=[ENTITY_NAME_VALIDATOR])
    key_field = models.CharField(
        max_length=200,
        blank=True,
        validators=[FIELD_PATH_VALIDATOR],
        help_text="Payload field whose value identifies the record; empty: one record per event.",
    )
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["entity", "event_type"]
        constraints = [
            models.UniqueConstraint(fields=["event_type", "entity"], name="mapping_unique_type_entity"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.entity}"


class EntityRecord(models.Model):
    """One record of a participant's entity: the participant context rules read."""

    participant = models.ForeignKey(
        "journeys.Participant", on_delete=models.CASCADE, related_name="records", db_index=False
    )  # indexed by record_context (its first column)
    entity = models.CharField(max_length=100)
    key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001  (NULL: unkeyed)
    data = models.JSONField(default=dict)
    event_type = models.CharField(max_length=200, blank=True, help_text="The newest event's type.")
    occurred_at = models.DateTimeField(help_text="When the newest event behind this record happened.")
    last_event = models.ForeignKey(
        "journeys.Event", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "entity", "key"],
                condition=Q(key__isnull=False),
                name="record_unique_key_per_entity",
            ),
        ]
        indexes = [
            models.Index(fields=["participant", "entity", "occurred_at"], name="record_context"),
        ]

    def __str__(self) -> str:
        return f"{self.entity}[{self.key or self.pk}]"
