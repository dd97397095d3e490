"""Run every registered bootstrap step (defaults, beat's schedule, the demo) and make sure an
admin account exists. Idempotent."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from journeys import bootstrap


class Command(BaseCommand):
    help = (
        "Load default mappings, rules, templates, the demo; sync periodic tasks; create the admin "
        "account from DJANGO_SUPERUSER_USERNAME/DJANGO_SUPERUSER_PASSWORD (or a generated password, "
        "printed once). Safe to run again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-demo", action="store_true", help="Skip demo journeys and participants.")
        parser.add_argument("--no-admin", action="store_true", help="Do not create an admin account.")

    def handle(self, *args, no_demo: bool = False, no_admin: bool = False, **options) -> None:
        for step in bootstrap.steps(include_demo=not no_demo):
            with transaction.atomic():
                summary = step.load()
            self.stdout.write(f"{step.name}: {summary}")
        if not no_admin:
            self._ensure_admin()
        self.stdout.write(self.style.SUCCESS("bootstrap complete"))

    def _ensure_admin(self) -> None:
        user_model = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        user = user_model.objects.filter(username=username).first()
        if user is not None:
            if password and not user.check_password(password):
                user.set_password(password)
                user.save(update_fields=["password"])
                self.stdout.write(f"admin account {username!r}: password updated from the environment")
            else:
                self.stdout.write(f"admin account {username!r}: exists")
            return
        generated = password is None
        password = password or secrets.token_urlsafe(12)
        user_model.objects.create_superuser(
            username=username, email=os.environ.get("DJANGO_SUPERUSER_EMAIL", ""), password=password
        )
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"admin account created: username {username!r}, password {password!r} "
                    "(shown only now; set DJANGO_SUPERUSER_PASSWORD to choose one)"
                )
            )
        else:
            self.stdout.write(f"admin account {username!r}: created")
