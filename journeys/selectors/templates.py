"""Reads of the template library, always through what the reader may see.

Visibility: a private template is seen by its author only; a template shared with staff by staff
users (and its author); a catalogue template by everyone (the API still asks for the ``view``
permission first). Nobody else learns that a template exists: it is simply not found.
"""

from django.db.models import Avg, Count, Max, Q, QuerySet

from journeys.errors import NotFound
from journeys.models import JourneyTemplate, TemplateReview, TemplateVersion

Visibility = JourneyTemplate.Visibility


def templates_visible_to(user) -> QuerySet[JourneyTemplate]:
    """Live templates ``user`` may see, with their rating and latest version number annotated.

    ``user=None`` (the system, bootstrap, a script) sees the catalogue only.
    """
    shown = Q(visibility=Visibility.CATALOGUE)
    if user is not None and getattr(user, "is_authenticated", False):
        shown |= Q(author=user)
        if user.is_staff:
            shown |= Q(visibility=Visibility.STAFF)
    return templates_live().filter(shown)


def templates_live() -> QuerySet[JourneyTemplate]:
    """Every template not deleted, whoever may see it (for superusers in the admin), annotated
    with ``average_rating``, ``review_count`` and ``latest_version``."""
    return (
        JourneyTemplate.objects.filter(deleted_at__isnull=True)
        .select_related("author")
        .annotate(
            average_rating=Avg("reviews__rating"),
            review_count=Count("reviews", distinct=True),
            latest_version=Max("versions__number"),
        )
        .order_by("key")
    )


def template_get(*, key: str, user) -> JourneyTemplate:
    """A template ``user`` may see, by its key or its name."""
    visible = templates_visible_to(user)
    found = visible.filter(key=key).first() or visible.filter(name=key).order_by("id").first()
    if found is None:
        raise NotFound(f"No journey template {key!r}.")
    return found


def template_versions(*, template: JourneyTemplate) -> QuerySet[TemplateVersion]:
    return template.versions.select_related("published_by").order_by("-number")


def template_version_get(*, template: JourneyTemplate, number: int | None = None) -> TemplateVersion:
    """Version ``number`` of ``template``, or its latest when ``number`` is None."""
    versions = template_versions(template=template)
    found = versions.filter(number=number).first() if number is not None else versions.first()
    if found is None:
        wanted = f"version {number}" if number is not None else "a published version"
        raise NotFound(f"The template {template.key!r} has no {wanted}.")
    return found


def template_reviews(*, template: JourneyTemplate) -> QuerySet[TemplateReview]:
    return template.reviews.select_related("user")


def catalogue_templates() -> QuerySet[JourneyTemplate]:
    """Catalogue templates with a published version: what journeys can be designed from by type."""
    return templates_visible_to(None).filter(latest_version__isnull=False).order_by("id")
