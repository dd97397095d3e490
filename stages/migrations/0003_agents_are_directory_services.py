"""Stage agents become entries of the service directory (``journeys.Service``): one registry.

Every agent is copied into the directory under its ``agent_id`` as key, with its endpoint,
secret (re-encrypted as it is written) and activity; the default pipeline's agents that never got
an endpoint become the built-in local agent, so their tasks run instead of failing. ``Agent``
stays as a proxy of ``journeys.Service`` (its permissions and admin pages keep their names).
"""

from django.db import migrations, models

DEFAULT_AGENT_IDS = {"connector-agent", "search-agent", "security-agent", "dataops-agent", "deploy-agent"}


def agents_into_directory(apps, schema_editor):
    Agent = apps.get_model("stages", "Agent")
    Service = apps.get_model("journeys", "Service")
    for agent in Agent.objects.order_by("pk").iterator():
        local = not agent.endpoint_url and agent.agent_id in DEFAULT_AGENT_IDS
        Service.objects.update_or_create(
            key=agent.agent_id,
            defaults={
                "name": agent.name,
                "kind": "built-in" if local else "http",
                "handler": "local-agent" if local else "",
                "endpoint_url": agent.endpoint_url,
                "secret": agent.secret,
                "active": agent.active,
                "description": agent.description,
            },
        )


def agents_out_of_directory(apps, schema_editor):
    Agent = apps.get_model("stages", "Agent")
    Service = apps.get_model("journeys", "Service")
    for service in Service.objects.order_by("pk").iterator():
        Agent.objects.update_or_create(
            agent_id=service.key[:100],
            defaults={
                "name": service.name,
                "endpoint_url": service.endpoint_url if service.kind == "http" else "",
                "secret": service.secret,
                "active": service.active,
                "description": service.description,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("journeys", "0011_service_directory"),
        ("stages", "0002_encrypt_agent_secrets"),
    ]

    operations = [
        migrations.RunPython(agents_into_directory, agents_out_of_directory),
        migrations.DeleteModel(name="Agent"),
        migrations.AlterField(
            model_name="worktask",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending (dependencies)"),
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("waiting", "Waiting for completion"),
                    ("needs_configuration", "Needs configuration (its agent)"),
                    ("succeeded", "Succeeded"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                ],
                default="pending",
                max_length=20,
            ),
        ),
        migrations.CreateModel(
            name="Agent",
            fields=[],
            options={"ordering": ["key"], "proxy": True, "indexes": [], "constraints": []},
            bases=("journeys.service",),
        ),
    ]
