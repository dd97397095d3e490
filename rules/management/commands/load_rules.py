"""``manage.py load_rules <folder>``: upsert every rule in a folder of YAML/JSON files."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from journeys.errors import ValidationFailed
from rules.services.rules import rules_load_folder


class Command(BaseCommand):
    help = (
        "Load rule definitions from the .yaml/.yml/.json files of a folder, upserting by rule_id. "
        "All files are validated first; one error loads nothing. Running it again changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("folder", type=Path)

    def handle(self, *args, folder: Path, **options) -> None:
        try:
            report = rules_load_folder(folder=folder)
        except ValidationFailed as exc:
            lines = [f"  {where}: {' '.join(messages)}" for where, messages in exc.errors.items()]
            raise CommandError("nothing loaded; fix these first:\n" + "\n".join(lines)) from None
        for label, ids in (("created", report.created), ("updated", report.updated)):
            for rule_id in ids:
                self.stdout.write(f"{label}: {rule_id}")
        self.stdout.write(self.style.SUCCESS(f"rules: {report.summary()}"))
