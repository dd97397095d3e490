"""API keys for other services: created with the secret shown once, checked by hash."""

import hmac
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from journeys.models import ApiKey
from journeys.models.api_keys import hash_api_key_secret

LAST_USED_RESOLUTION_SECONDS = 60  # write last_used_at at most once a minute per key


def api_key_create(
    *,
    name: str,
    user: AbstractBaseUser,
    scope: str = ApiKey.Scope.INGEST,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its full secret text (which is not stored and cannot be shown again)."""
    full_key, prefix, hashed = ApiKey.generate()
    api_key = ApiKey.objects.create(
        name=name, user=user, scope=scope, prefix=prefix, hashed_secret=hashed, expires_at=expires_at
    )
    return api_key, full_key


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The usable key matching ``raw_key`` (``jo_<prefix>.<secret>``), or ``None``."""
    if not raw_key.startswith("jo_") or "." not in raw_key:
        return None
    prefix, _, secret = raw_key[3:].partition(".")
    api_key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
    if api_key is None or not api_key.is_usable or not api_key.user.is_active:
        return None

    if not hmac.compare_digest(api_key.hashed_secret, hash_api_key_secret(secret)):
        return None
    now = timezone.now()
    if (
        api_key.last_used_at is None
        or (now - api_key.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS
    ):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return api_key


def api_key_revoke(*, api_key: ApiKey) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
