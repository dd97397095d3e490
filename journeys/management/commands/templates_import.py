"""Load template files (as exported) into the library, each file on its own."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from journeys.errors import ValidationFailed
from journeys.models import JourneyTemplate
from journeys.services.template_files import template_import, template_loads


class Command(BaseCommand):
    help = (
        "Import template files (.yaml, .yml or .json) with their published versions. Each file is "
        "imported whole or not at all; files that are refused are listed with every problem, "
        "and the command then fails."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument(
            "--visibility",
            choices=JourneyTemplate.Visibility.values,
            default=JourneyTemplate.Visibility.STAFF,
            help="Who sees the imported templates (private needs --author; catalogue needs a version).",
        )
        parser.add_argument("--author", help="Username of the imported templates' author.")

    def handle(self, *args, files: list[str], visibility: str, author: str | None, **options) -> None:
        actor = None
        if author:
            actor = get_user_model().objects.filter(username=author).first()
            if actor is None:
                raise CommandError(f"No user {author!r}.")
        refused = 0
        for done, name in enumerate(files, start=1):
            path = Path(name)
            prefix = f"[{done}/{len(files)}] {path}"
            try:
                text = path.read_text()
                with transaction.atomic():
                    document = template_loads(text, file_format="json" if path.suffix == ".json" else "yaml")
                    template = template_import(document=document, actor=actor, visibility=visibility)
            except OSError as exc:
                refused += 1
                self.stderr.write(self.style.ERROR(f"{prefix}: cannot read: {exc.strerror}"))
                continue
            except ValidationFailed as exc:
                refused += 1
                self.stderr.write(self.style.ERROR(f"{prefix}: refused"))
                for field, messages in exc.errors.items():
                    for message in messages if isinstance(messages, list) else [messages]:
                        self.stderr.write(f"    {field}: {message}")
                continue
            versions = template.versions.count()
            self.stdout.write(f"{prefix} -> {template.key} ({versions} published version(s), {visibility})")
        if refused == len(files):
            raise CommandError(f"No file imported: {refused} refused.")
        if refused:
            raise CommandError(f"{refused} of {len(files)} file(s) refused; the others were imported.")
        self.stdout.write(self.style.SUCCESS(f"{len(files)} template(s) imported"))
