"""Foreign keys that lead a composite index lose the index of their own.

Every insert wrote both; every query on the key alone can use the composite's first column. Only
the indexes are dropped (the constraints stay as they are: re-creating them would check every row
of these tables).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("journeys", "0012_foreign_keys_indexed_by_composites"),
        ("rules", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "journey_flags_participant_id_97fe323e"',
                    'CREATE INDEX IF NOT EXISTS "journey_flags_participant_id_97fe323e" ON "journey_flags" ("participant_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "journey_flag_history_participant_id_42160954"',
                    'CREATE INDEX IF NOT EXISTS "journey_flag_history_participant_id_42160954" ON "journey_flag_history" ("participant_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "journey_milestones_participant_id_d5d6b3c3"',
                    'CREATE INDEX IF NOT EXISTS "journey_milestones_participant_id_d5d6b3c3" ON "journey_milestones" ("participant_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="flag",
                    name="participant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="flags",
                        to="journeys.participant",
                    ),
                ),
                migrations.AlterField(
                    model_name="flaghistory",
                    name="participant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="flag_history",
                        to="journeys.participant",
                    ),
                ),
                migrations.AlterField(
                    model_name="milestone",
                    name="participant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="milestones",
                        to="journeys.participant",
                    ),
                ),
            ],
        ),
    ]
