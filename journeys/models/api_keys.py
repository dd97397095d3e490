import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

API_KEY_PREFIX_LENGTH = 8  # hex characters; the visible, indexed part of a key


def hash_api_key_secret(secret: str) -> str:
    """Keys are 256-bit random strings, so a plain SHA-256 is as strong as a slow hash here."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(models.Model):
    """A credential for another service, acting as ``user`` (whose permissions apply).

    Only a hash is stored; the full key (``jo_<prefix>.<secret>``) is shown once at creation.
    An ``ingest`` key may only post events.
    """

    class Scope(models.TextChoices):
        INGEST = "ingest", "Ingest events only"
        FULL = "full", "Full API (the user's permissions)"

    name = models.CharField(max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.INGEST)
    prefix = models.CharField(max_length=API_KEY_PREFIX_LENGTH, unique=True, editable=False)
    hashed_secret = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @staticmethod
    def generate() -> tuple[str, str, str]:
        """A new (full key, prefix, hashed secret)."""
        prefix = secrets.token_hex(API_KEY_PREFIX_LENGTH // 2)
        secret = secrets.token_urlsafe(32)
        return f"jo_{prefix}.{secret}", prefix, hash_api_key_secret(secret)
