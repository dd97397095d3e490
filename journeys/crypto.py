"""Secrets at rest: signing secrets and provider tokens are stored encrypted, never in plain text.

Encryption is ``cryptography``'s Fernet (AES-128-CBC with an HMAC-SHA256 tag, a timestamp and a
random IV per value) under the keys in ``settings.SECRETS_ENCRYPTION_KEYS``. The first key
encrypts; every key decrypts (``MultiFernet``), so a key is rotated by putting a new key first,
running ``manage.py reencrypt_secrets`` (every stored value is re-encrypted under the new key),
then dropping the old one.

A stored value reads ``fernet:<token>``, so it is recognisable inside JSON (a webhook step's
``config.secret``) as well as in a column (``EncryptedTextField``). A value without the prefix is
a plain one written before encryption existed; it reads as itself until the data migration or
``reencrypt_secrets`` encrypts it.

What people see is masked (``whsec_••••••••Ab3=``): a secret is shown in full only once, when it
is created or rotated.
"""

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:"
MASK = "••••••••"  # never part of a real secret, so a masked value sent back is recognisable
VISIBLE_TAIL = 4  # characters of a secret left visible, to tell two secrets apart


class SecretUnreadable(Exception):
    """A stored secret no configured key can decrypt (a key was dropped too early, or tampering)."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("SECRETS_ENCRYPTION_KEYS holds no key.")
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.SECRETS_ENCRYPTION_KEYS))


def is_encrypted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def is_masked(value: Any) -> bool:
    return isinstance(value, str) and MASK in value


def secret_encrypt(plain: str) -> str:
    """``plain`` encrypted under the first key, in the stored form ``fernet:<token>``."""
    return PREFIX + _current().encrypt(plain.encode()).decode()


def secret_decrypt(stored: str) -> str:
    """The plain text of a stored secret (a legacy plain value reads as itself)."""
    if not is_encrypted(stored):
        return stored
    try:
        return _current().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with SECRETS_ENCRYPTION_KEYS; keep the key it was "
            "encrypted with in the list (after the new one) until reencrypt_secrets has run."
        ) from exc


def secret_reencrypt(stored: str) -> str:
    """The stored form under the first key: a plain value is encrypted, a token re-encrypted."""
    if not is_encrypted(stored):
        return secret_encrypt(stored)
    try:
        return PREFIX + _current().rotate(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("A stored secret cannot be decrypted with SECRETS_ENCRYPTION_KEYS.") from exc


def secret_mask(value: str) -> str:
    """What staff and API clients see of a (plain or stored) secret: its kind and its last
    characters, e.g. ``whsec_••••••••Ab3=``."""
    if not value:
        return ""
    try:
        plain = secret_decrypt(value)
    except SecretUnreadable:
        return f"{MASK} (unreadable: check SECRETS_ENCRYPTION_KEYS)"
    kind, underscore, _ = plain.partition("_")
    head = f"{kind}_" if underscore and len(kind) <= 8 else ""
    return f"{head}{MASK}{plain[-VISIBLE_TAIL:]}"


class EncryptedTextField(models.TextField):
    """A text column holding a secret encrypted at rest; Python code sees the plain text.

    Not searchable or orderable by content (each value has its own IV).
    """

    def from_db_value(self, value: str | None, expression, connection) -> str | None:
        return value if value is None else secret_decrypt(value)

    def to_python(self, value: Any) -> Any:
        return secret_decrypt(value) if is_encrypted(value) else value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value in (None, "") or is_encrypted(value):
            return value
        return secret_encrypt(value)


def encrypted_columns_reencrypt() -> int:
    """Re-encrypt every ``EncryptedTextField`` value of every model under the first key (plain
    legacy values are encrypted). Answers how many values were rewritten."""
    from django.apps import apps

    rewritten = 0
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if not fields:
            continue
        rows = model._base_manager.only("pk", *(f.attname for f in fields)).order_by("pk")
        for row in rows.iterator():
            values = {f.attname: secret_encrypt(v) for f in fields if (v := getattr(row, f.attname))}
            if values:
                model._base_manager.filter(pk=row.pk).update(**values)
                rewritten += len(values)
    return rewritten
