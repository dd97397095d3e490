"""``manage.py export_rules <folder|->``: write every rule as YAML that ``load_rules`` reads back."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from rules.models import Rule
from rules.services.rules import rules_export


class Command(BaseCommand):
    help = "Export rules as one <rule_id>.yaml per rule into a folder, or as YAML documents to stdout (-)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("target", help="A folder (created if missing), or - for stdout.")
        parser.add_argument("--active-only", action="store_true", help="Skip inactive rules.")

    def handle(self, *args, target: str, active_only: bool = False, **options) -> None:
        rules = Rule.objects.order_by("-priority", "rule_id")
        if active_only:
            rules = rules.filter(active=True)
        if target == "-":
            rules_export(rules=rules, stream=self.stdout)
            return
        folder = Path(target)
        if folder.exists() and not folder.is_dir():
            raise CommandError(f"{folder} exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        count = rules_export(rules=rules, folder=folder)
        self.stderr.write(f"exported {count} rules to {folder}")
