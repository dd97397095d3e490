"""Re-encrypt every stored secret under the first key of SECRETS_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand
from django.db import transaction

from journeys.crypto import encrypted_columns_reencrypt
from journeys.services.webhook_secrets import webhook_secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Rotate the encryption key of secrets at rest: put the new key first in "
        "SECRETS_ENCRYPTION_KEYS (keep the old ones after it), run this, then drop the old keys. "
        "Also encrypts any secret still stored in plain text. Safe to run again."
    )

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            steps = webhook_secrets_reencrypt()
            columns = encrypted_columns_reencrypt()
        self.stdout.write(f"re-encrypted {steps} webhook step secrets and {columns} other secrets")
