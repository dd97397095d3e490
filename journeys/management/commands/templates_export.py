"""Write templates to files (one per template, YAML or JSON), as the API's export does."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from journeys.models import JourneyTemplate
from journeys.services.template_files import FILE_FORMATS, template_document, template_dumps


class Command(BaseCommand):
    help = (
        "Export templates with their published versions: every template in the library, or the "
        "keys given. Files are named <key>.<format> in --output-dir; '-' writes them to standard output "
        "(progress goes to standard error)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("keys", nargs="*", metavar="KEY", help="Templates to export (default: all).")
        parser.add_argument("--format", dest="file_format", choices=FILE_FORMATS, default="yaml")
        parser.add_argument(
            "--output-dir", default=".", help="Where to write the files ('-': standard output)."
        )

    def handle(self, *args, keys: list[str], file_format: str, output_dir: str, **options) -> None:
        templates = JourneyTemplate.objects.filter(deleted_at__isnull=True).order_by("key")
        if keys:
            templates = templates.filter(key__in=keys)
            missing = sorted(set(keys) - set(templates.values_list("key", flat=True)))
            if missing:
                raise CommandError(f"No template with the key {', '.join(missing)}.")
        to_stdout = output_dir == "-"
        directory = Path(output_dir)
        if not to_stdout and not directory.is_dir():
            raise CommandError(f"{directory} is not a directory.")
        total = templates.count()
        for done, template in enumerate(templates, start=1):
            document = template_document(template=template)
            text = template_dumps(document, file_format=file_format)
            if to_stdout:
                self.stdout.write(text, ending="")
                continue
            path = directory / f"{template.key}.{file_format}"
            path.write_text(text)
            versions = len(document["versions"])
            self.stderr.write(f"[{done}/{total}] {template.key} -> {path} ({versions} published version(s))")
        if not to_stdout:
            self.stderr.write(self.style.SUCCESS(f"{total} template(s) exported"))
