"""Webhook steps' signing secrets were stored in plain text in step configs and the versions
frozen from them; from now on they are encrypted at rest (``journeys.crypto``)."""

from django.db import migrations, models


def encrypt_existing_secrets(apps, schema_editor):
    from journeys.services.webhook_secrets import webhook_secrets_reencrypt

    webhook_secrets_reencrypt(
        step_model=apps.get_model("journeys", "Step"),
        version_model=apps.get_model("journeys", "JourneyVersion"),
    )


def decrypt_secrets(apps, schema_editor):
    """Going back: the plain values the older code expects."""
    from journeys.crypto import secret_decrypt

    Step = apps.get_model("journeys", "Step")
    JourneyVersion = apps.get_model("journeys", "JourneyVersion")
    for step in Step.objects.filter(action_type="trigger_webhook").iterator():
        if isinstance(step.config, dict) and isinstance(step.config.get("secret"), str):
            step.config["secret"] = secret_decrypt(step.config["secret"])
            step.save(update_fields=["config"])
    for version in JourneyVersion.objects.iterator():
        for frozen in (version.definition or {}).get("steps", []):
            config = frozen.get("config")
            if isinstance(config, dict) and isinstance(config.get("secret"), str):
                config["secret"] = secret_decrypt(config["secret"])
        version.save(update_fields=["definition"])


class Migration(migrations.Migration):
    dependencies = [
        ("journeys", "0005_steprun_frozen_request_body"),
    ]

    operations = [
        migrations.AddField(
            model_name="journeyversion",
            name="secrets_rotated_at",
            field=models.DateTimeField(
                blank=True, help_text="When a webhook step's signing secret was last rotated.", null=True
            ),
        ),
        migrations.RunPython(encrypt_existing_secrets, decrypt_secrets),
    ]
