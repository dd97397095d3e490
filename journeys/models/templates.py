"""The template library: journey templates as data, their frozen versions, and reviews.

A template is edited as a draft (``definition``); publishing freezes the draft into a
``TemplateVersion`` that never changes again, and journeys designed from the template record the
version they came from. Who sees a template is its ``visibility``: its author only, staff, or
everyone who may read templates (the catalogue, which needs a published version).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from journeys.models.journeys import JourneyType


class JourneyTemplate(models.Model):
    """A journey template: name, type, description, and a draft definition (settings and steps).

    ``definition`` holds the journey settings a template may carry (``trigger_type``,
    ``priority``, ``re_entry``, ``goal_event``…) and ``steps``; name, type and description are
    columns. Deleting is soft (``deleted_at``); the key is unique among templates not deleted.
    """

    class Visibility(models.TextChoices):
        PRIVATE = "private", "Private to its author"
        STAFF = "staff", "Shared with staff"
        CATALOGUE = "catalogue", "Published to the catalogue"

    key = models.SlugField(max_length=80, help_text="Names the template in URLs and files (onboarding).")
    name = models.CharField(max_length=200, help_text="The name journeys designed from it are given.")
    journey_type = models.CharField(max_length=50, choices=JourneyType.choices, default=JourneyType.CUSTOM)
    description = models.TextField(blank=True)
    definition = models.JSONField(
        default=dict, blank=True, help_text='The draft: journey settings and "steps" (a list).'
    )
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="journey_templates",
        help_text="Empty for the templates that ship with the product.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=Q(deleted_at__isnull=True), name="template_unique_live_key"
            ),
        ]
        permissions = [("publish_journeytemplate", "Can publish and share journey templates")]

    def __str__(self) -> str:
        return self.name


class TemplateVersion(models.Model):
    """A published, frozen template: ``definition`` is name, type, description, settings and steps.

    Immutable once saved: ``save`` refuses to change an existing row.
    """

    template = models.ForeignKey(JourneyTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    changelog = models.TextField(blank=True)
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="template_version_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.template.key} v{self.number}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and TemplateVersion.objects.filter(pk=self.pk).exists():
            raise ValidationError("A published template version cannot be changed; publish a new one.")
        super().save(*args, **kwargs)


class TemplateReview(models.Model):
    """One user's rating (1 to 5) and review of a template; one per user and template."""

    template = models.ForeignKey(JourneyTemplate, on_delete=models.CASCADE, related_name="reviews")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["template", "user"], name="template_review_one_per_user"),
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="template_review_rating_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rating}/5 for {self.template.key}"
