"""Attachments, before/after pairs, saved research and search across a journey's documents."""

import json
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import QuerySet

from journeys.errors import DomainError, ValidationFailed
from journeys.queue import Channel
from journeys.webhooks import DeliveryFailed, TargetRefused, http_post
from workspace.models import Attachment, BeforeAfterPair, ResearchItem, Workspace
from workspace.services.spaces import activity_record, recorded_create, recorded_soft_delete
from workspace.uploads import hamming, prepare_upload

# A document's text is read by a worker; the maintenance sweep sends again what was lost.
TEXT_EXTRACTIONS = Channel(name="attachment text extractions", chunk=1)
NEAR_DUPLICATE_BITS = 10  # of 64: perceptual hashes this close show the same scene


class ProviderUnavailable(DomainError):
    status_code = 503
    default_code = "provider_unavailable"


def attachment_upload(
    *, workspace: Workspace, actor, content: bytes, filename: str, step_key: str = "", caption: str = ""
) -> Attachment:
    """Check, clean and store an upload; a document's text is extracted after commit."""
    prepared = prepare_upload(
        content=content, filename=filename, max_bytes=settings.WORKSPACE_MAX_UPLOAD_BYTES
    )
    attachment = Attachment(
        workspace=workspace,
        step_key=step_key,
        created_by=actor,
        kind=prepared.kind,
        filename=prepared.filename,
        content_type=prepared.content_type,
        size=len(prepared.content),
        sha256=prepared.sha256,
        caption=caption,
        width=prepared.width,
        height=prepared.height,
        dominant_colors=prepared.dominant_colors,
        phash=prepared.phash,
        text_status=(
            Attachment.TextStatus.PENDING
            if prepared.kind == "document"
            else Attachment.TextStatus.NOT_APPLICABLE
        ),
    )
    # Files go to storage first: a failed transaction leaves an orphan file, never a row without one.
    attachment.file.save(prepared.filename, ContentFile(prepared.content), save=False)
    if prepared.thumbnail:
        attachment.thumbnail.save(
            "thumb-" + prepared.filename.rsplit(".", 1)[0] + ".jpg",
            ContentFile(prepared.thumbnail),
            save=False,
        )
    with transaction.atomic():
        attachment.save()
        activity_record(
            workspace=workspace,
            actor=actor,
            verb="attachment.uploaded",
            summary=f"Uploaded {attachment.filename}",
            target=attachment,
            step_key=step_key,
        )
        if attachment.kind == Attachment.Kind.DOCUMENT:
            TEXT_EXTRACTIONS.enqueue_on_commit([attachment.pk])
    return attachment


def attachment_extract_text(*, attachment_id: int) -> Attachment | None:
    """Read a document's text and metadata (pages, title, author) so it can be searched."""
    from workspace.documents import extract_text

    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None or attachment.kind != Attachment.Kind.DOCUMENT:
        return None
    with attachment.file.open("rb") as handle:
        content = handle.read()
    try:
        text, metadata = extract_text(content, content_type=attachment.content_type)
    except Exception as error:  # a broken PDF is the user's file, not our failure
        attachment.text_status = Attachment.TextStatus.FAILED
        attachment.metadata = {"error": f"{type(error).__name__}: {error}"[:500]}
    else:
        attachment.text = text
        attachment.metadata = metadata
        attachment.text_status = Attachment.TextStatus.DONE
    attachment.save(update_fields=["text", "metadata", "text_status"])
    return attachment


def attachment_near_duplicates(*, attachment: Attachment) -> list[tuple[Attachment, int]]:
    """Other images of the workspace that show (nearly) the same picture, closest first."""
    if not attachment.phash:
        return []
    others = Attachment.objects.alive().filter(workspace_id=attachment.workspace_id).exclude(pk=attachment.pk)
    found = [
        (other, distance)
        for other in others.exclude(phash="")
        if (distance := hamming(attachment.phash, other.phash)) <= NEAR_DUPLICATE_BITS
    ]
    return sorted(found, key=lambda pair: pair[1])


@transaction.atomic
def attachment_delete(*, attachment: Attachment, actor) -> None:
    recorded_soft_delete(
        attachment, actor=actor, verb="attachment.deleted", summary=f"Deleted {attachment.filename}"
    )


@transaction.atomic
def pair_create(
    *, workspace: Workspace, actor, before_id: int, after_id: int, note: str = ""
) -> BeforeAfterPair:
    """Mark two images of the same step as before and after."""
    images = {
        a.pk: a
        for a in Attachment.objects.alive().filter(
            workspace=workspace, pk__in=[before_id, after_id], kind=Attachment.Kind.IMAGE
        )
    }
    errors: dict[str, list[str]] = {}
    if before_id == after_id:
        errors["after"] = ["Before and after must be two different images."]
    for field, pk in (("before", before_id), ("after", after_id)):
        if pk not in images:
            errors.setdefault(field, []).append("No image with this id in this journey.")
    if not errors and images[before_id].step_key != images[after_id].step_key:
        errors["after"] = ["Before and after must belong to the same step."]
    if errors:
        raise ValidationFailed(errors)
    pair, _ = BeforeAfterPair.objects.get_or_create(
        workspace=workspace,
        before=images[before_id],
        after=images[after_id],
        defaults={"note": note, "created_by": actor, "step_key": images[before_id].step_key},
    )
    activity_record(
        workspace=workspace,
        actor=actor,
        verb="pair.created",
        summary=f"Paired {images[before_id].filename} (before) with {images[after_id].filename} (after)",
        target=pair,
        step_key=pair.step_key,
    )
    return pair


def documents_search(*, workspace: Workspace, query: str) -> QuerySet[Attachment]:
    """Documents of the workspace whose text or name matches, best first.

    Postgres ranks by full-text search (English stemming); elsewhere every word must appear.
    """
    query = query.strip()
    if not query:
        raise ValidationFailed({"q": ["Say what to search for."]})
    documents = Attachment.objects.alive().filter(workspace=workspace)
    if connection.vendor == "postgresql":
        vector = (
            SearchVector("filename", weight="A")
            + SearchVector("caption", weight="B")
            + SearchVector("text", weight="C")
        )
        search = SearchQuery(query, search_type="websearch")
        return documents.annotate(rank=SearchRank(vector, search)).filter(rank__gt=0).order_by("-rank", "-id")
    for word in query.split():
        documents = documents.filter(text__icontains=word) | documents.filter(filename__icontains=word)
    return documents.order_by("-id")


@transaction.atomic
def research_save(*, workspace: Workspace, actor, data: dict[str, Any]) -> ResearchItem:
    return recorded_create(
        ResearchItem,
        workspace=workspace,
        actor=actor,
        verb="research.saved",
        summary=lambda item: f"Saved {item.title}",
        **data,
    )


@transaction.atomic
def research_delete(*, item: ResearchItem, actor) -> None:
    """Forget a saved result (soft: staff can restore it)."""
    recorded_soft_delete(item, actor=actor, verb="research.deleted", summary=f"Removed {item.title}")


def research_search(*, query: str, limit: int = 10) -> list[dict[str, str]]:
    """Ask the configured search provider; without one, research is saved by hand only.

    The provider is an HTTP endpoint (``WORKSPACE_SEARCH_PROVIDER_URL``) that takes
    ``{"query": …, "limit": …}`` and answers ``{"results": [{"title", "url", "snippet"}]}``.
    """
    url = settings.WORKSPACE_SEARCH_PROVIDER_URL
    if not url:
        raise ValidationFailed(
            {"q": ["No search provider is configured; save results by hand (POST …/research)."]}
        )
    if not query.strip():
        raise ValidationFailed({"q": ["Say what to search for."]})
    try:
        delivery = http_post(url=url, body=json.dumps({"query": query, "limit": limit}))
        results = json.loads(delivery.body).get("results", [])
    except (DeliveryFailed, TargetRefused, ValueError, AttributeError) as error:
        raise ProviderUnavailable(f"The search provider did not answer: {error}") from error
    return [
        {
            "title": str(r.get("title", ""))[:300],
            "url": str(r.get("url", "")),
            "snippet": str(r.get("snippet", "")),
        }
        for r in results[:limit]
        if isinstance(r, dict) and r.get("url")
    ]
