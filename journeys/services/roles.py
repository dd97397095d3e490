"""Staff roles as Django groups: what analysts, operators and designers may do, in every app.

The API and the admin both check Django permissions, so membership of these groups is all a
staff member needs. The roles build on each other (``STAFF_ROLES``): an operator and a designer
can do everything an analyst can, and add their own.

What a role may do is data, not code: every app that has something to grant keeps a table in its
own ``roles.py`` module, ``ROLE_PERMISSIONS = {"analyst": ["app.codename", …], …}``, listing
only what each role adds to the roles it includes. The loader finds those modules in every
installed app (as the admin finds ``admin.py``), so journeys never imports the other apps and a
new permission is one line in its app's table.

The loader is idempotent and only adds permissions: permissions staff granted to a group by hand
are kept. An unknown role or permission in a table is a configuration error, not a silent skip.
"""

from importlib import import_module

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from django.utils.module_loading import module_has_submodule

ROLES_MODULE = "roles"

# Each role with the roles whose permissions it includes.
STAFF_ROLES: dict[str, tuple[str, ...]] = {
    "analyst": (),  # reads journeys, runs, rules, flags, stages (and analytics)
    "operator": ("analyst",),  # also runs them: pause, resume, retry, measurements, approvals, stage moves
    "designer": ("analyst",),  # also builds them: journeys, rules, entity mappings, pipelines
}


def staff_role_permissions() -> dict[str, list[str]]:
    """Every role's permissions (``app.codename``): its apps' tables plus what it includes."""
    own: dict[str, list[str]] = {role: [] for role in STAFF_ROLES}
    for app_config in apps.get_app_configs():
        if not module_has_submodule(app_config.module, ROLES_MODULE):
            continue
        table = getattr(import_module(f"{app_config.name}.{ROLES_MODULE}"), "ROLE_PERMISSIONS", None)
        for role, perms in (table or {}).items():
            if role not in STAFF_ROLES:
                raise ImproperlyConfigured(
                    f"{app_config.name}.{ROLES_MODULE} grants to unknown role {role!r}; "
                    f"the roles are {', '.join(STAFF_ROLES)}."
                )
            own[role].extend(perms)

    def collect(role: str) -> list[str]:
        inherited = [perm for included in STAFF_ROLES[role] for perm in collect(included)]
        return list(dict.fromkeys([*inherited, *own[role]]))

    return {role: collect(role) for role in STAFF_ROLES}


def staff_roles_load() -> str:
    """Create the role groups and give them the permissions of every app's role table."""
    table = staff_role_permissions()
    wanted = {perm for perms in table.values() for perm in perms}
    found = _permissions(wanted)
    unknown = sorted(wanted - set(found))
    if unknown:
        raise ImproperlyConfigured(f"Role tables name permissions that do not exist: {', '.join(unknown)}.")
    added = 0
    for role, perms in table.items():
        group, _ = Group.objects.get_or_create(name=role)
        existing = set(group.permissions.values_list("pk", flat=True))
        missing = [found[perm] for perm in perms if found[perm].pk not in existing]
        group.permissions.add(*missing)
        added += len(missing)
    return f"roles {', '.join(STAFF_ROLES)}: {added} permissions added"


def _permissions(names: set[str]) -> dict[str, Permission]:
    """``app.codename`` → Permission, for those that exist, in one query."""
    if not names:
        return {}
    query = Q()
    for name in names:
        app_label, _, codename = name.partition(".")
        query |= Q(content_type__app_label=app_label, codename=codename)
    return {
        f"{perm.content_type.app_label}.{perm.codename}": perm
        for perm in Permission.objects.filter(query).select_related("content_type")
    }
