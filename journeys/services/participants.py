"""Participants: created on first sight, updated through the API or journey actions."""

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from journeys.errors import Conflict
from journeys.models import Participant


def participants_get_or_create(*, user_ids: Iterable[str]) -> dict[str, Participant]:
    """Participants by ``user_id``, creating the missing ones in one statement.

    Safe under concurrency: a participant created by another request between the read and the
    insert is skipped by ``ignore_conflicts`` and read back.
    """
    wanted = set(user_ids)
    found = {p.user_id: p for p in Participant.objects.filter(user_id__in=wanted)}
    missing = wanted - found.keys()
    if missing:
        Participant.objects.bulk_create(
            [Participant(user_id=user_id) for user_id in missing], ignore_conflicts=True
        )
        found.update({p.user_id: p for p in Participant.objects.filter(user_id__in=missing)})
    return found


def participants_lock_or_create(*, user_ids: Iterable[str]) -> dict[str, Participant]:
    """Participants by ``user_id``, created when missing, each row locked until the transaction ends.

    Ingestion holds its participants this way, so two batches sharing participants queue for them
    instead of deadlocking. Every step goes in ``user_id`` order, the order every ingesting
    transaction uses: the missing rows are inserted sorted (an insert racing another insert of
    the same ``user_id`` waits for it), then all rows are locked sorted (``FOR NO KEY UPDATE``:
    events and records may still reference them meanwhile).
    """
    wanted = sorted(set(user_ids))
    existing = set(Participant.objects.filter(user_id__in=wanted).values_list("user_id", flat=True))
    missing = [user_id for user_id in wanted if user_id not in existing]
    if missing:
        Participant.objects.bulk_create(
            [Participant(user_id=user_id) for user_id in missing], ignore_conflicts=True
        )
    return {
        p.user_id: p
        for p in Participant.objects.select_for_update(no_key=True)
        .filter(user_id__in=wanted)
        .order_by("user_id")
    }


@transaction.atomic
def participant_create(
    *, user_id: str, attributes: dict[str, Any] | None = None, tags: list[str] | None = None
) -> Participant:
    if Participant.objects.filter(user_id=user_id).exists():
        raise Conflict(f"A participant with user_id {user_id!r} already exists.", code="exists")
    return Participant.objects.create(user_id=user_id, attributes=attributes or {}, tags=_unique(tags or []))


@transaction.atomic
def participant_update(
    *,
    participant: Participant,
    attributes: dict[str, Any] | None = None,
    replace_attributes: bool = False,
    tags: list[str] | None = None,
) -> Participant:
    """Merge (or replace) attributes; a ``None`` attribute value removes that attribute."""
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    fields = ["updated_at"]
    if attributes is not None:
        merged = {} if replace_attributes else dict(participant.attributes)
        for name, value in attributes.items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        participant.attributes = merged
        fields.append("attributes")
    if tags is not None:
        participant.tags = _unique(tags)
        fields.append("tags")
    participant.save(update_fields=fields)
    return participant


def participants_merge_attributes(
    *, participants: dict[str, Participant], changes: Iterable[tuple[str, dict[str, Any]]]
) -> int:
    """Merge attributes carried by events into their participants, in the order given.

    ``changes`` are ``(user_id, attributes)`` pairs; a ``None`` value removes that attribute, as
    ``PATCH /participants`` does. ``participants`` are the rows ingestion holds locked
    (``participants_lock_or_create``). Returns how many participants changed.
    """
    merged_by_user: dict[str, dict[str, Any]] = {}
    for user_id, attributes in changes:
        if attributes:
            merged_by_user.setdefault(user_id, {}).update(attributes)
    if not merged_by_user:
        return 0
    changed = []
    for participant in (participants[user_id] for user_id in sorted(merged_by_user)):
        attributes = dict(participant.attributes)
        for name, value in merged_by_user[participant.user_id].items():
            if value is None:
                attributes.pop(name, None)
            else:
                attributes[name] = value
        if attributes != participant.attributes:
            participant.attributes = attributes
            changed.append(participant)
    for participant in changed:
        participant.save(update_fields=["attributes", "updated_at"])
    return len(changed)


@transaction.atomic
def participant_tag(*, participant: Participant, add: Iterable[str] = (), remove: Iterable[str] = ()) -> bool:
    """Apply and remove tags under a row lock. Returns whether anything changed."""
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    removed = set(remove)
    tags = [t for t in participant.tags if t not in removed]
    tags = _unique([*tags, *add])
    if tags == participant.tags:
        return False
    participant.tags = tags
    participant.save(update_fields=["tags", "updated_at"])
    return True


def _unique(tags: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(tags))
