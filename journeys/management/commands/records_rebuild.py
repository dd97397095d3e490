"""Re-project participants' entity records from the event log (after a mapping change, or to repair)."""

import time

from django.core.management.base import BaseCommand, CommandError

from journeys.models import Participant
from journeys.services.records import compile_mappings, records_rebuild

PROGRESS_EVERY = 500  # participants between progress lines


class Command(BaseCommand):
    help = (
        "Rebuild entity records from the event log with the active mappings: every participant, or "
        "those given with --user-id. Each participant is rebuilt in its own transaction while "
        "ingestion goes on; running it again writes the same records."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--user-id",
            action="append",
            dest="user_ids",
            default=[],
            metavar="USER_ID",
            help="Only this participant (repeat the option for several).",
        )

    def handle(self, *args, user_ids: list[str], **options) -> None:
        participants = Participant.objects.order_by("pk")
        if user_ids:
            participants = participants.filter(user_id__in=user_ids)
            missing = set(user_ids) - set(participants.values_list("user_id", flat=True))
            if missing:
                raise CommandError(f"No participant with user_id {', '.join(sorted(missing))}.")
        total = participants.count()
        self.stdout.write(f"rebuilding the records of {total} participant(s)")
        mappings = compile_mappings()  # from the table, once: the cache is what may have failed
        started = time.monotonic()
        done = written = 0
        last_pk = 0
        while True:
            chunk = list(participants.filter(pk__gt=last_pk)[:PROGRESS_EVERY])
            if not chunk:
                break
            for participant in chunk:
                written += records_rebuild(participant=participant, mappings=mappings)
            done += len(chunk)
            last_pk = chunk[-1].pk
            self.stdout.write(
                f"  {done}/{total} participants, {written} records written "
                f"({time.monotonic() - started:.1f} s)"
            )
        self.stdout.write(self.style.SUCCESS(f"rebuilt {done} participant(s): {written} records written"))
