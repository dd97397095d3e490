"""Agents' signing secrets were stored in plain text; from now on they are encrypted at rest
(``journeys.crypto.EncryptedTextField``), and endpoint URLs are checked by the SSRF guard when saved."""

import journeys.crypto
import journeys.webhooks
from django.db import migrations, models


def encrypt_existing_secrets(apps, schema_editor):
    # The historical field already is the encrypted one: a plain value reads as itself and is
    # written back encrypted.
    Agent = apps.get_model("stages", "Agent")
    for agent in Agent.objects.order_by("pk").iterator():
        agent.save(update_fields=["secret"])


def decrypt_secrets(apps, schema_editor):
    """Going back: the plain values the older code expects (its column holds 100 characters)."""
    Agent = apps.get_model("stages", "Agent")
    for agent in Agent.objects.order_by("pk").iterator():
        Agent.objects.filter(pk=agent.pk).update(secret=models.Value(agent.secret))


class Migration(migrations.Migration):
    dependencies = [
        ("stages", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="agent",
            name="endpoint_url",
            field=models.URLField(
                blank=True,
                help_text="Where intents are POSTed. Internal addresses need WEBHOOK_ALLOWED_HOSTS.",
                validators=[journeys.webhooks.validate_public_target],
            ),
        ),
        migrations.AlterField(
            model_name="agent",
            name="secret",
            field=journeys.crypto.EncryptedTextField(
                default=journeys.webhooks.webhook_secret_generate,
                help_text="The signing secret, encrypted at rest; shown once.",
            ),
        ),
        migrations.RunPython(encrypt_existing_secrets, decrypt_secrets),
    ]
