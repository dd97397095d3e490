"""Foreign keys that lead a composite index lose the index of their own.

Every insert wrote both; every query on the key alone can use the composite's first column. Only
the indexes are dropped (the constraints stay as they are: re-creating them would check every row
of these tables).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("journeys", "0011_service_directory"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "journeys_entityrecord_participant_id_78b83f5f"',
                    'CREATE INDEX IF NOT EXISTS "journeys_entityrecord_participant_id_78b83f5f" ON "journeys_entityrecord" ("participant_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "journeys_event_participant_id_bdeb07bf"',
                    'CREATE INDEX IF NOT EXISTS "journeys_event_participant_id_bdeb07bf" ON "journeys_event" ("participant_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "journeys_steprun_user_journey_id_c123d1df"',
                    'CREATE INDEX IF NOT EXISTS "journeys_steprun_user_journey_id_c123d1df" ON "journeys_steprun" ("user_journey_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "journeys_userjourney_journey_id_a6a77c3b"',
                    'CREATE INDEX IF NOT EXISTS "journeys_userjourney_journey_id_a6a77c3b" ON "journeys_userjourney" ("journey_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "journeys_userjourney_participant_id_dfea3482"',
                    'CREATE INDEX IF NOT EXISTS "journeys_userjourney_participant_id_dfea3482" ON "journeys_userjourney" ("participant_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="entityrecord",
                    name="participant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="records",
                        to="journeys.participant",
                    ),
                ),
                migrations.AlterField(
                    model_name="event",
                    name="participant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="journeys.participant",
                    ),
                ),
                migrations.AlterField(
                    model_name="steprun",
                    name="user_journey",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="step_runs",
                        to="journeys.userjourney",
                    ),
                ),
                migrations.AlterField(
                    model_name="userjourney",
                    name="journey",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="user_journeys",
                        to="journeys.journey",
                    ),
                ),
                migrations.AlterField(
                    model_name="userjourney",
                    name="participant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="user_journeys",
                        to="journeys.participant",
                    ),
                ),
            ],
        ),
    ]
